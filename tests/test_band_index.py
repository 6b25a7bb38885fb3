"""``cluster.BandIndex`` proposes exactly the candidates datasketch's ``MinHashLSH`` proposes for the same MinHashes."""

from __future__ import annotations

import random

from datasketch import MinHashLSH

from newsroom.dedupe.cluster import BandIndex, ClusterParams
from newsroom.dedupe.features import NUM_PERM, minhash

WORDS = [
    "bitcoin",
    "ether",
    "etf",
    "sec",
    "files",
    "suit",
    "against",
    "exchange",
    "over",
    "token",
    "sale",
    "rises",
    "falls",
    "record",
    "inflows",
    "fund",
]


def test_band_index_gives_datasketch_candidates() -> None:
    rng = random.Random(7)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(600)]
    mhs = [m for m in (minhash(t) for t in texts) if m is not None]
    threshold = ClusterParams().near_copy
    ours, theirs = BandIndex(threshold, NUM_PERM), MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    for key, mh in enumerate(mhs[:400]):
        ours.insert(key, mh)
        theirs.insert(key, mh, check_duplication=False)
    for key in range(0, 400, 3):  # removals leave both the same
        ours.remove(key)
        theirs.remove(key)
    hits = 0
    for mh in mhs:
        found = ours.query(mh)
        assert found == set(theirs.query(mh))
        hits += bool(found)
    assert hits > 100


def test_minhash_equals_datasketch_copy_and_update() -> None:
    """``features.minhash`` builds its MinHash from the template without ``MinHash.copy``'s checks: the same values,
    seed, scheme and permutations as ``_TEMPLATE.copy()`` then ``update_batch``, and the template is left as it was."""
    from newsroom.dedupe import features
    from newsroom.dedupe.features import _TEMPLATE, shingles

    before = _TEMPLATE.hashvalues.copy()
    rng = random.Random(11)
    for _ in range(200):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
        features._minhashes.clear()  # computed afresh, not remembered
        ours = minhash(text)
        theirs = _TEMPLATE.copy()
        theirs.update_batch(shingles(text))
        assert ours is not None
        assert ours == theirs and ours.jaccard(theirs) == 1.0
        assert (ours.hashvalues == theirs.hashvalues).all() and ours.hashvalues.dtype == theirs.hashvalues.dtype
        assert (ours.seed, ours.scheme, ours.num_perm) == (theirs.seed, theirs.scheme, theirs.num_perm)
        assert ours.permutations is _TEMPLATE.permutations
        assert ours.hashvalues is not _TEMPLATE.hashvalues
    assert (before == _TEMPLATE.hashvalues).all()

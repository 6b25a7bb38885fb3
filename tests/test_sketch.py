"""``sketch.signatures`` (many MinHashes in one NumPy pass) gives datasketch's own values: the same as a copy of the
template updated with ``update_batch``, for any shingles, any batch and any order; ``features.minhashes`` agrees with
``features.minhash`` and with a fresh computation."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsroom.dedupe import features, sketch
from newsroom.dedupe.features import _TEMPLATE, minhash, minhashes, shingles


def _datasketch(grams: list[bytes]) -> sketch.MinHash | None:
    if not grams:
        return None
    m = _TEMPLATE.copy()
    m.update_batch(grams)
    return m


def _same(ours: sketch.MinHash | None, theirs: sketch.MinHash | None) -> None:
    if theirs is None:
        assert ours is None
        return
    assert ours is not None
    assert ours == theirs and ours.jaccard(theirs) == 1.0
    assert ours.hashvalues.dtype == theirs.hashvalues.dtype and ours.hashvalues.shape == theirs.hashvalues.shape
    assert (ours.seed, ours.scheme, ours.num_perm) == (theirs.seed, theirs.scheme, theirs.num_perm)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=40), max_size=30), max_size=12))
def test_signatures_equal_datasketch_update_batch(batch: list[list[bytes]]) -> None:
    before = _TEMPLATE.hashvalues.copy()
    for ours, grams in zip(sketch.signatures(batch, _TEMPLATE), batch, strict=True):
        _same(ours, _datasketch(grams))
    assert (before == _TEMPLATE.hashvalues).all()  # the template is left as it was


def test_signatures_over_several_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch larger than one NumPy pass (``_SIGNATURE_ROWS``): the same values."""
    monkeypatch.setattr(sketch, "_SIGNATURE_ROWS", 50)
    rng = random.Random(3)
    words = [f"w{i}".encode() for i in range(300)]
    batch = [[rng.choice(words) for _ in range(rng.randint(0, 70))] for _ in range(120)]
    results = sketch.signatures(batch, _TEMPLATE)
    for ours, grams in zip(results, batch, strict=True):
        _same(ours, _datasketch(grams))
    # each result owns its values: changing one leaves the others
    owned = [m for m in results if m is not None]
    first = owned[1].hashvalues.copy()
    owned[0].hashvalues = np.zeros_like(owned[0].hashvalues)
    assert (owned[1].hashvalues == first).all()


def test_signatures_refuse_another_scheme() -> None:
    other = sketch.MinHash(num_perm=8, seed=1, scheme="affine64")
    with pytest.raises(ValueError, match="affine32"):
        sketch.signatures([[b"a"]], other)


def test_minhashes_equal_minhash_and_datasketch_on_corpus_headlines(corpus: Path) -> None:
    """The events and UCI dev files' headlines, with and without a teaser as ``Doc.basis`` writes it, in batches:
    ``minhashes`` gives datasketch's values, and ``minhash`` the very object ``minhashes`` remembered."""
    texts: list[str] = []
    for name in ("events/crypto_events_dev.csv", "dedup/uci_news_dev.csv"):
        with (corpus / name).open(newline="", encoding="utf-8") as f:
            texts += [row["TITLE"] for row in csv.DictReader(f)]
    assert len(texts) > 2000
    texts += [f"{t}\n{t}. More to follow." for t in texts[:500]] + ["", "the of and", texts[0]]
    features._minhashes.clear()
    for start in range(0, len(texts), 500):
        chunk = texts[start : start + 500]
        for text, ours in zip(chunk, minhashes(chunk), strict=True):
            _same(ours, _datasketch(shingles(text)))
            assert minhash(text) is ours
    features._minhashes.clear()
    for text in texts[:300]:  # one at a time, as before
        _same(minhash(text), _datasketch(shingles(text)))

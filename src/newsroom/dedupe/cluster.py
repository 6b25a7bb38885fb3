"""Incremental same-story clustering: a new item joins one existing story or starts its own; history is never
re-clustered. Pure, in memory; ``stories.py`` loads the recent stories from the store into a ``StoryIndex``.

An item joins, in this order of evidence:
1. **exact**: a story holding the same canonical URL or the same exact fingerprint (any time);
2. **near-copy**: a story holding an item whose MinHash (word bigrams of headline + teaser) is estimated at
   Jaccard ≥ ``near_copy``, within the time window (datasketch LSH proposes candidates; its bands also let near
   misses through, so each estimate is checked);
3. **same event**: the best story by ``cos(item, story centroid) + entity bonus − asset-conflict penalty
   − amount-conflict penalty − same-source penalty`` over the stories active within the time window that began
   at most ``max_span_hours`` before the item, when that reaches ``threshold``. Without that cap a story whose
   members keep coming every day never leaves the window and grows without end (later developments then get no
   article of their own). Vectors are centred on the running mean of the items seen (see ``StoryIndex.centred``).
   A story whose members all come from the item's own source is not joined on meaning: a site does not cover one
   event twice in a day, but it does run series ("Most Influential: …", "… – Daily Crypto Recap") whose headlines
   embed alike. Such a story is joined by its own source only through tiers 1–2; another site's item joins it as
   usual.

A copy (tiers 1–2) repeats a member: it counts for the story's heat but moves neither the centroid nor the running mean,
so it never needs embedding (``cluster`` given an embedder embeds only the rest; on the benchmark's stream that is about
62% of the items). The centroid is the mean of the other members' embeddings, so an item is compared with what the story
is about as a whole, not with its single nearest member: that is what stops single-link chaining (A≈B, B≈C, so A, C and
everything near C collapse into one). The entity bonus counts the item's named-entity keys (capitalised names) that a
fair share of the story's members carry; an asset counts once (``$BTC``, not also "bitcoin") and domain words ("crypto",
"blockchain") not at all, since in a crypto feed nearly every headline shares them. A conflict is both sides naming
allow-listed assets with none in common; an amount conflict, both naming deal-sized money amounts (≥ $1 million, two
significant digits) with none in common: two raises or two hacks of one day read alike, but their amounts differ.

Figures and the choice of ``threshold`` (dev file only): README, "Stories and offline classification".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Set
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash, MinHashLSH

from ..embeddings import Embedder
from .features import NUM_PERM, amount_keys, entity_keys, event_keys, minhash

HOUR = 3600.0


@dataclass(frozen=True)
class Doc:
    """One item as the clusterer sees it. ``published`` is in epoch seconds."""

    title: str
    text: str = ""
    url: str = ""
    fingerprint: str = ""
    published: float = 0.0
    source: str = ""

    @property
    def basis(self) -> str:
        """The text compared for near-copies: the headline and the start of the teaser."""
        return f"{self.title}\n{self.text[:400]}"


@dataclass(frozen=True)
class ClusterParams:
    window_hours: float = 48.0  # an item joins only stories seen within this many hours of it
    max_span_hours: float = 72.0  # …and, on meaning, only stories that began at most this many hours before it
    threshold: float = 0.32  # combined similarity (of centred vectors) needed to join on meaning
    centre_after: int = 20  # items seen before vectors are centred on the running mean
    near_copy: float = 0.6  # estimated Jaccard of word bigrams that makes a near-copy
    entity_bonus: float = 0.04  # per shared entity key…
    entity_bonus_cap: float = 0.12  # …up to this much
    asset_conflict: float = 0.10  # penalty when both name allow-listed assets and share none
    amount_conflict: float = 0.20  # penalty when both name deal-sized money amounts and share none
    same_source: float = 0.05  # penalty when the story already holds an item of the item's source
    top_k: int = 8  # stories checked in full after the centroid search


@dataclass
class StoryState:
    story_id: int
    centroid: np.ndarray  # sum of the members' unit vectors
    count: int
    first_seen: float
    last_seen: float
    keys: Counter[str] = field(default_factory=Counter)
    sources: set[str] = field(default_factory=set)

    def shared_keys(self, keys: frozenset[str]) -> float:
        """How many of ``keys`` the story carries in at least a quarter of its members (at least one member)."""
        need = max(1.0, self.count / 4)
        return float(sum(1 for k in keys if self.keys.get(k, 0) >= need))

    def assets(self) -> set[str]:
        return self._common("$")

    def amounts(self) -> set[str]:
        return self._common("#")

    def _common(self, prefix: str) -> set[str]:
        """The keys with ``prefix`` that at least a quarter of the members carry (at least one member)."""
        need = max(1.0, self.count / 4)
        return {k for k, c in self.keys.items() if k.startswith(prefix) and c >= need}


@dataclass(frozen=True)
class Match:
    story_id: int
    reason: str  # "url" | "fingerprint" | "near-copy" | "similar"
    score: float


class StoryIndex:
    """The active stories and what is needed to match new items against them."""

    def __init__(self, dim: int, params: ClusterParams | None = None) -> None:
        self.params = params or ClusterParams()
        self.dim = dim
        self.stories: dict[int, StoryState] = {}
        self._by_url: dict[str, int] = {}
        self._by_fp: dict[str, int] = {}
        self._lsh = MinHashLSH(threshold=self.params.near_copy, num_perm=NUM_PERM)
        self._lsh_n = 0
        self._minhashes: dict[str, MinHash] = {}  # LSH key -> its MinHash, to check a candidate's estimate
        # the centroid search runs over dense arrays of the stories that may still be active
        self._mat = np.zeros((256, dim), dtype=np.float32)
        self._last = np.full(256, -np.inf)
        self._first = np.full(256, -np.inf)
        self._ids = np.zeros(256, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._n = 0
        self._latest = -np.inf
        self._sum = np.zeros(dim, dtype=np.float64)  # running sum of all raw vectors seen
        self._seen = 0

    def observe(self, vectors: np.ndarray) -> None:
        """Count raw vectors in the running mean (``add`` does it for its own item; ``load`` callers use this)."""
        v = np.atleast_2d(vectors)
        self._sum += v.sum(axis=0)
        self._seen += v.shape[0]

    def centred(self, vector: np.ndarray) -> np.ndarray:
        """The vector minus the running mean of what the index has seen, unit length. In a stream of one domain
        (all crypto) every headline shares the domain's direction; removing it keeps "same topic" from passing for
        "same event"."""
        v = vector.astype(np.float32)
        if self._seen >= self.params.centre_after:
            v = v - (self._sum / self._seen).astype(np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-9)

    # ---- matching ----------------------------------------------------------------------------------------------

    def match(self, doc: Doc, vector: np.ndarray) -> Match | None:
        """The story ``doc`` belongs to, or None when it starts a new one. Does not change the index."""
        return self.copy_match(doc) or self.similar(doc, vector)

    def copy_match(self, doc: Doc) -> Match | None:
        """The story holding a copy of ``doc`` (tiers 1-2: the same URL or fingerprint, a near-copy), found without
        its embedding."""
        if doc.url and doc.url in self._by_url:
            return Match(self._by_url[doc.url], "url", 1.0)
        if doc.fingerprint and doc.fingerprint in self._by_fp:
            return Match(self._by_fp[doc.fingerprint], "fingerprint", 1.0)
        window = self.params.window_hours * HOUR
        mh = minhash(doc.basis)
        if mh is not None and self._lsh_n:
            for key in self._lsh.query(mh):
                story = self.stories.get(int(str(key).split(":", 1)[0]))
                if (
                    story is not None
                    and abs(doc.published - story.last_seen) <= window
                    and mh.jaccard(self._minhashes[key]) >= self.params.near_copy  # LSH bands also pass near misses
                ):
                    return Match(story.story_id, "near-copy", 1.0)
        return None

    def similar(self, doc: Doc, vector: np.ndarray) -> Match | None:
        """The best story for ``doc`` on meaning (tier 3), or None."""
        if self._n == 0:
            return None
        window = self.params.window_hours * HOUR
        inactive = np.abs(self._last[: self._n] - doc.published) > window
        inactive |= doc.published - self._first[: self._n] > self.params.max_span_hours * HOUR
        n_active = self._n - int(np.count_nonzero(inactive))
        if n_active == 0:
            return None
        # every row in one contiguous product (compaction keeps the arrays near the window), then mask: cheaper than
        # gathering the active rows into a copy for each item
        sims = self._mat[: self._n] @ self.centred(vector)
        sims[inactive] = -np.inf
        k = min(self.params.top_k, n_active)
        top = np.argpartition(-sims, k - 1)[:k]
        keys = entity_keys(doc.title)
        item_assets = {k for k in keys if k.startswith("$")}
        named = event_keys(keys)
        item_amounts = amount_keys(doc.title)
        best: Match | None = None
        for j in top:
            story = self.stories[int(self._ids[j])]
            score = float(sims[j])
            if doc.source and doc.source in story.sources:
                if story.sources == {doc.source}:
                    continue  # a one-source story: its own site joins it only as a copy (tiers 1-2)
                score -= self.params.same_source  # a site rarely covers one event twice, but it happens
            score += min(self.params.entity_bonus_cap, self.params.entity_bonus * story.shared_keys(named))
            if _conflict(item_assets, story.assets()):
                score -= self.params.asset_conflict
            if _conflict(item_amounts, story.amounts()):
                score -= self.params.amount_conflict
            if score >= self.params.threshold and (best is None or score > best.score):
                best = Match(story.story_id, "similar", score)
        return best

    # ---- updating ------------------------------------------------------------------------------------------------

    def add(self, story_id: int, doc: Doc, vector: np.ndarray | None) -> StoryState:
        """Record ``doc`` as a member of ``story_id`` (a new story when the index does not know it yet). A copy of a
        member (``copy_match``) is added with ``vector=None``: it repeats what the story already says, so it moves
        neither the centroid nor the running mean, and it never needs embedding."""
        story = self.stories.get(story_id)
        if vector is None:
            if story is None:
                raise ValueError(f"story {story_id} is new: its first member needs a vector")
        else:
            vec = self.centred(vector)
            self.observe(vector)
        if story is None:
            story = StoryState(story_id, vec.copy(), 1, doc.published, doc.published)
            self.stories[story_id] = story
        else:
            if vector is not None:
                story.centroid += vec
            story.count += 1
            story.first_seen = min(story.first_seen, doc.published)
            story.last_seen = max(story.last_seen, doc.published)
        story.keys.update(entity_keys(doc.title) | amount_keys(doc.title))
        if doc.source:
            story.sources.add(doc.source)
        self._index_doc(story_id, doc)
        self._put_row(story)
        return story

    def load(self, state: StoryState, members: Iterable[Doc]) -> None:
        """Put a stored story (its centroid, counts and keys already known) and its members' keys in the index."""
        self.stories[state.story_id] = state
        for doc in members:
            self._index_doc(state.story_id, doc)
        self._put_row(state)

    def _index_doc(self, story_id: int, doc: Doc) -> None:
        if doc.url:
            self._by_url.setdefault(doc.url, story_id)
        if doc.fingerprint:
            self._by_fp.setdefault(doc.fingerprint, story_id)
        mh = minhash(doc.basis)
        if mh is not None:
            key = f"{story_id}:{self._lsh_n}"
            self._lsh.insert(key, mh, check_duplication=False)
            self._minhashes[key] = mh
            self._lsh_n += 1
        self._latest = max(self._latest, doc.published)

    def _put_row(self, story: StoryState) -> None:
        row = self._row.get(story.story_id)
        if row is None:
            if self._n == len(self._ids):
                self._compact()
            row = self._n
            self._n += 1
            self._row[story.story_id] = row
            self._ids[row] = story.story_id
        norm = float(np.linalg.norm(story.centroid))
        self._mat[row] = story.centroid / max(norm, 1e-9)
        self._last[row] = story.last_seen
        self._first[row] = story.first_seen

    def _compact(self) -> None:
        """Drop stories that fell out of the window from the search arrays; grow them when still full."""
        horizon = self._latest - 2 * self.params.window_hours * HOUR
        keep = np.nonzero(self._last[: self._n] >= horizon)[0]
        size = len(self._ids) if keep.size < len(self._ids) // 2 else len(self._ids) * 2
        mat = np.zeros((size, self.dim), dtype=np.float32)
        last = np.full(size, -np.inf)
        first = np.full(size, -np.inf)
        ids = np.zeros(size, dtype=np.int64)
        mat[: keep.size], last[: keep.size], ids[: keep.size] = self._mat[keep], self._last[keep], self._ids[keep]
        first[: keep.size] = self._first[keep]
        self._mat, self._last, self._first, self._ids, self._n = mat, last, first, ids, int(keep.size)
        self._row = {int(sid): i for i, sid in enumerate(ids[: keep.size])}


def _conflict(mine: Set[str], theirs: Set[str]) -> bool:
    """Both sides name assets (or amounts) and share none."""
    return bool(mine) and bool(theirs) and not mine & theirs


def _near_copy(doc: Doc, mh: MinHash, other: Doc, window: float, bar: float) -> bool:
    """``copy_match``'s near-copy test against one earlier document instead of its story."""
    return abs(doc.published - other.published) <= window and mh.jaccard(minhash(other.basis)) >= bar


def _copies_ahead(index: StoryIndex, part: list[Doc]) -> set[int]:
    """The positions in ``part`` that will join as copies, foreseen before any of them is added: copies of the
    index's stories, and copies of an earlier document of ``part`` itself (same URL or fingerprint, near-copy). A
    wrong guess costs time only: ``cluster`` embeds a missed copy in vain, or an unforeseen non-copy on its own."""
    window, bar = index.params.window_hours * HOUR, index.params.near_copy
    urls: set[str] = set()
    fps: set[str] = set()
    lsh = MinHashLSH(threshold=index.params.near_copy, num_perm=NUM_PERM)
    copies = set()
    for i, doc in enumerate(part):
        mh = minhash(doc.basis)
        near = mh is not None and any(_near_copy(doc, mh, part[int(j)], window, bar) for j in lsh.query(mh))
        if (
            (doc.url and doc.url in urls)
            or (doc.fingerprint and doc.fingerprint in fps)
            or near
            or index.copy_match(doc) is not None
        ):
            copies.add(i)
        urls.add(doc.url)
        fps.add(doc.fingerprint)
        if mh is not None:
            lsh.insert(str(i), mh, check_duplication=False)
    return copies


def cluster(
    docs: list[Doc], vectors: np.ndarray | Embedder, params: ClusterParams | None = None, chunk: int = 4096
) -> list[int]:
    """Cluster documents incrementally in the given order; returns a story number per document. ``vectors`` holds
    one row per document, or is an embedder: then only the documents that are not copies of earlier ones are
    embedded, a chunk at a time (a copy found within its own chunk was embedded in vain; the result is the same)."""
    index = StoryIndex(vectors.shape[1] if isinstance(vectors, np.ndarray) else vectors.dim, params)
    labels: list[int] = []
    for start in range(0, len(docs), chunk):
        part = docs[start : start + chunk]
        if isinstance(vectors, np.ndarray):
            rows = dict(enumerate(vectors[start : start + chunk]))
        else:
            ahead = _copies_ahead(index, part)
            need = [i for i in range(len(part)) if i not in ahead]
            rows = dict(zip(need, vectors.embed([part[i].title for i in need]), strict=True)) if need else {}
        for i, doc in enumerate(part):
            copy = index.copy_match(doc)
            if copy is not None:
                index.add(copy.story_id, doc, None)
                labels.append(copy.story_id)
                continue
            vec = rows[i] if i in rows else vectors.embed([doc.title])[0]  # type: ignore[union-attr]
            m = index.similar(doc, vec)
            story_id = m.story_id if m else len(index.stories)
            index.add(story_id, doc, vec)
            labels.append(story_id)
    return labels

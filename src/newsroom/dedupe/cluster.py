"""Incremental same-event clustering: a new item joins one existing story or starts its own; history is never
re-clustered. Pure, in memory; ``stories.py`` rebuilds a ``StoryIndex`` from the store once per process.

A story is one real-world event (DESIGN §2), so a join must be earned; merging two events loses one of them. An item
joins, in this order of evidence:
1. **exact**: a story holding the same canonical URL or the same exact fingerprint (any time);
2. **near-copy**: a story holding an item whose MinHash (word bigrams of headline + teaser) is estimated at
   Jaccard ≥ ``near_copy``, within the time window (datasketch LSH proposes candidates; each estimate is checked);
3. **same event**: a story whose members the pair model (``pairs.py``: embedding cosine, shared names, rare words,
   figures and act, conflicting assets, amounts and acts, publisher, time gap) judges the same event: the mean
   probability over its ``linkage`` most probable members (all of them when it has fewer) reaches ``join``. Linkage
   over the members, never a drifting centroid: one similar member out of three does not carry an item in, so A≈B
   and B≈C do not pull C into A's story once the story has grown. Only the ``candidates`` members nearest by cosine
   within the window are scored (a fixed cost per item); a story's members outside them count as probability 0.
   A **dense** story, one holding at least ``dense_members`` of those nearest members (after the vetoes) with one
   of them at ``dense_best``, needs only ``dense_join``: an item among many members of one story is a further
   report of it (UCI's topic stories: dev B-cubed 0.650 -> 0.692), while a crypto item's wrong candidate stories
   held one or two of its nearest members (README, "Stories").
   Stories that began more than ``max_span_hours`` before the item are not joined on meaning. Genre pieces
   (price predictions, technical analysis, wraps, live pages, newsletters, sponsored posts) neither join nor are
   joined on meaning; a question or an explainer (``features.opinion``) on either side of a pair counts only toward a
   dense story (two speculations on one coin in one week read alike).

A copy (tiers 1–2) repeats a member: it counts for the story's heat but is never compared on meaning, so it needs no
embedding (``cluster`` given an embedder embeds only the rest); nor does a genre piece, which is never compared on
meaning either (about one item in eight of the crypto dev file).

Deterministic: ``cluster`` and ``StoryIndex.assign`` process items sorted by ``Doc.order`` (published time, source,
external id), and each decision is a function of the item and the story's members alone (no running statistics), so
the same items give the same stories in any input order and any chunking of a time-ordered stream.

Figures and the choice of ``join`` and ``linkage`` (dev files only, cross-validated): README, "Stories".
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..embeddings import Embedder
from .features import NUM_PERM, item_type, minhash, minhashes
from .pairs import PairModel, Profile, conflicting, default_model, incompatible, pair_features, profile
from .sketch import MinHash, lsh_params

HOUR = 3600.0


def one_blas_thread() -> threadpool_limits:
    """numpy's BLAS (OpenBLAS) on one thread while items are matched: the nearest-member search is one small
    matrix-vector product per item (a few hundred members x 384), which OpenBLAS splits over every core and whose
    threads then spin between calls. On the shared 2-core machine (load average 5-9) clustering 20,000 of
    ``bench/dedupe.py``'s items from cached vectors took 40.8 s of CPU with OpenBLAS's two threads and 13.3 s with
    one (the same stories). Restored on exit; about a millisecond per call (once per batch). torch's encoders run on
    OpenMP and oneDNN, which this leaves alone."""
    return threadpool_limits(limits=1, user_api="blas")


_BANDS = "_newsroom_bands"  # the attribute of a MinHash that keeps its band keys (``BandIndex._hashes``)


class BandIndex:
    """``MinHashLSH``'s candidates with plain dicts: the same bands (``sketch.lsh_params``), so a query returns the
    same keys as datasketch's index holding the same MinHashes, at a fraction of the cost per insert, query and
    removal (its storage layer, checks and key bookkeeping are most of a poll's near-copy time)."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        bands, rows = lsh_params(threshold, num_perm)
        self._shape = (bands, rows)
        self._ranges = [(i * rows, (i + 1) * rows) for i in range(bands)]
        self._tables: list[dict[bytes, dict[Hashable, None]]] = [{} for _ in range(bands)]
        self._keys: dict[Hashable, list[bytes]] = {}

    def _hashes(self, mh: MinHash) -> list[bytes]:
        """The band keys of ``mh``, kept on it: one signature is inserted and queried several times (the copy
        foresight's index and the story index), and ``features.minhash`` hands out one object per text, never
        changed once built."""
        kept = getattr(mh, _BANDS, None)
        if kept is not None and kept[0] == self._shape:
            return kept[1]
        raw, size = mh.hashvalues.tobytes(), mh.hashvalues.itemsize  # one copy, sliced per band
        hashes = [raw[start * size : end * size] for start, end in self._ranges]
        setattr(mh, _BANDS, (self._shape, hashes))
        return hashes

    def insert(self, key: Hashable, mh: MinHash) -> None:
        hashes = self._hashes(mh)
        self._keys[key] = hashes
        for h, table in zip(hashes, self._tables, strict=True):
            table.setdefault(h, {})[key] = None

    def query(self, mh: MinHash) -> set[Hashable]:
        found: set[Hashable] = set()
        for h, table in zip(self._hashes(mh), self._tables, strict=True):
            bucket = table.get(h)
            if bucket:
                found.update(bucket)
        return found

    def remove(self, key: Hashable) -> None:
        for h, table in zip(self._keys.pop(key), self._tables, strict=True):
            bucket = table[h]
            del bucket[key]
            if not bucket:
                del table[h]


@dataclass(frozen=True)
class Doc:
    """One item as the clusterer sees it. ``published`` is in epoch seconds; ``richness`` is the length of the text
    an article would be written from (``lead`` picks the richest member)."""

    title: str
    text: str = ""
    url: str = ""
    fingerprint: str = ""
    published: float = 0.0
    source: str = ""
    external_id: str = ""
    richness: int = 0

    @property
    def basis(self) -> str:
        """The text compared for near-copies: the headline and the start of the teaser."""
        return f"{self.title}\n{self.text[:400]}"

    @property
    def on_meaning(self) -> bool:
        """Whether the item is ever compared on meaning (needs a vector): not a genre piece (``features.item_type``)."""
        return not item_type(self.title)

    @property
    def order(self) -> tuple[float, str, str, str, str]:
        """The order items are clustered in: whatever order they arrived in, the same stories come out."""
        return (self.published, self.source, self.external_id, self.url, self.title)


def lead(docs: Sequence[Doc]) -> int:
    """The position of a story's lead among its members in arrival order: the richest, the earliest on a tie. The
    pipeline writes the article from this item (``stories._join`` applies the same rule as members arrive)."""
    best = 0
    for i, doc in enumerate(docs):
        if doc.richness > docs[best].richness:
            best = i
    return best


@dataclass(frozen=True)
class ClusterParams:
    window_hours: float = 48.0  # an item joins only stories seen within this many hours of it
    max_span_hours: float = 72.0  # …and, on meaning, only stories that began at most this many hours before it
    near_copy: float = 0.6  # estimated Jaccard of word bigrams that makes a near-copy
    join: float = 0.4  # mean same-event probability over the story's closest members needed to join on meaning
    linkage: int = 3  # …averaged over this many of its members, the most probable (all of them when fewer)
    min_cosine: float = 0.35  # members less similar than this are not candidates
    candidates: int = 12  # nearest members scored by the pair model
    dense_members: int = 4  # a story holding at least this many of those nearest members (not vetoed) …
    dense_best: float = 0.4  # … when one of them reaches this probability
    dense_join: float = 0.1  # … joins at this mean probability instead of ``join`` (``dense_members`` 0: off)


@dataclass
class StoryState:
    story_id: int
    count: int
    first_seen: float
    last_seen: float
    sources: set[str] = field(default_factory=set)
    compared: int = 0  # members compared on meaning (not copies, not genre pieces)
    lsh_keys: list[int] = field(default_factory=list)  # its members' near-copy signatures in the index


@dataclass(frozen=True)
class Match:
    story_id: int
    reason: str  # "url" | "fingerprint" | "near-copy" | "similar"
    score: float


class StoryIndex:
    """The stories within the time window and what is needed to match new items against their members."""

    def __init__(
        self, dim: int, params: ClusterParams | None = None, model: PairModel | None = None, *, meaning: bool = True
    ) -> None:
        self.params = params or ClusterParams()
        self.meaning = meaning  # False: only copies join (``stories.same_event = false``), nothing is embedded
        self.model = model or default_model()
        self.dim = dim
        self.stories: dict[int, StoryState] = {}
        self._by_url: dict[str, int] = {}
        self._by_fp: dict[str, int] = {}
        self._lsh = BandIndex(self.params.near_copy, NUM_PERM)
        self._lsh_n = 0
        self._minhashes: dict[int, tuple[int, MinHash, str]] = {}  # LSH key -> its story, MinHash and headline
        self._pending: dict[int, list[tuple[str, str]]] = {}  # provisional story -> its URLs and fingerprints
        # the members compared on meaning, as dense arrays for the nearest-member search
        self._mat = np.zeros((256, dim), dtype=np.float32)
        self._time = np.full(256, -np.inf)
        self._sid = np.zeros(256, dtype=np.int64)
        self._prof: list[Profile | None] = [None] * 256
        self._n = 0
        self._latest = -np.inf
        self._pruned_at = -np.inf

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
        if mh is None or not self._lsh_n:
            return None
        found: list[int] = []
        for key in self._lsh.query(mh):
            story_id, other, title = self._minhashes[key]
            story = self.stories.get(story_id)
            if (
                story is not None
                and abs(doc.published - story.last_seen) <= window
                and mh.jaccard(other) >= self.params.near_copy  # LSH bands also pass near misses
                and not conflicting(doc.title, title)  # "Bitcoin ETF sees $500M inflows" / "Ether ETF sees …"
            ):
                found.append(story_id)
        return Match(min(found), "near-copy", 1.0) if found else None  # the oldest story: LSH order is arbitrary

    def knows_url(self, url: str) -> bool:
        return url in self._by_url

    def knows_fingerprint(self, fp: str) -> bool:
        return fp in self._by_fp

    def remember(self, story_id: int, url: str, fingerprint: str) -> None:
        """An older story's URL or fingerprint (from the store): a copy joins it at any age."""
        if url:
            self._by_url.setdefault(url, story_id)
        if fingerprint:
            self._by_fp.setdefault(fingerprint, story_id)

    def similar(self, doc: Doc, vector: np.ndarray) -> Match | None:
        """The story of the same event on meaning (tier 3), or None."""
        item = profile(doc.title, vector, doc.source, doc.published)
        if not self.meaning or item.kind or self._n == 0:
            return None
        p = self.params
        sims = self._mat[: self._n] @ item.vector
        near = (np.abs(self._time[: self._n] - doc.published) <= p.window_hours * HOUR) & (sims >= p.min_cosine)
        rows = np.nonzero(near)[0]
        if rows.size == 0:
            return None
        rows = rows[np.lexsort((rows, -sims[rows]))][: p.candidates]  # most similar first, ties by position
        members: list[Profile] = [self._prof[r] for r in rows]  # type: ignore[misc]
        features = np.array([pair_features(item, m, float(sims[r])) for r, m in zip(rows, members, strict=True)])
        per_story: dict[int, list[tuple[float, Profile]]] = {}
        for r, m, prob in zip(rows, members, self.model.probability(features).tolist(), strict=True):
            per_story.setdefault(int(self._sid[r]), []).append((prob, m))
        best: Match | None = None
        for story_id in sorted(per_story):
            story = self.stories.get(story_id)
            if story is None or not self._in_window(story, doc.published):
                continue
            pairs = per_story[story_id]
            dense = p.dense_members and len(pairs) >= p.dense_members
            bar = min(p.join, p.dense_join) if dense else p.join
            if _linkage_score([prob for prob, _ in pairs], p.linkage, story.compared) < bar:
                continue  # cannot join even before the vetoes (which only lower a member's probability to 0)
            kept = [(prob, m) for prob, m in pairs if not incompatible(item, m)]  # a vetoed member counts as 0
            if dense and (len(kept) < p.dense_members or max(prob for prob, _ in kept) < p.dense_best):
                dense, bar = False, p.join  # too few members left after the vetoes, or none of them probable enough
            # a question or an explainer on either side joins only a dense story (``features.opinion``)
            probs = [prob for prob, m in kept if dense or not (item.opinion or m.opinion)]
            score = _linkage_score(probs, p.linkage, story.compared)  # members not among the nearest count as 0
            if score >= bar and (best is None or score > best.score):
                best = Match(story_id, "similar", score)
        return best

    def _in_window(self, story: StoryState, at: float) -> bool:
        p = self.params
        return abs(at - story.last_seen) <= p.window_hours * HOUR and at - story.first_seen <= p.max_span_hours * HOUR

    # ---- updating ------------------------------------------------------------------------------------------------

    def add(self, story_id: int, doc: Doc, vector: np.ndarray | None) -> StoryState:
        """Record ``doc`` as a member of ``story_id`` (a new story when the index does not know it yet). A copy of a
        member (``copy_match``) is added with ``vector=None``: it repeats what the story already says, so it is never
        compared on meaning and never needs embedding."""
        story = self.stories.get(story_id)
        if story is None:
            story = StoryState(story_id, 0, doc.published, doc.published)
            self.stories[story_id] = story
        story.count += 1
        story.first_seen = min(story.first_seen, doc.published)
        story.last_seen = max(story.last_seen, doc.published)
        if doc.source:
            story.sources.add(doc.source)
        if vector is not None:
            member = profile(doc.title, np.asarray(vector, dtype=np.float32), doc.source, doc.published)
            if not member.kind:
                story.compared += 1
                self._put_row(story_id, member)
        self._index_doc(story_id, doc)
        return story

    def assign(
        self,
        docs: Sequence[Doc],
        vectors: Callable[[list[int]], np.ndarray],
        new_story: Callable[[], int],
        ahead: set[int] | None = None,
    ) -> list[Match]:
        """Give each of ``docs`` a story, in ``Doc.order`` whatever order they came in; returns the match of each
        (reason "new" where it started a story). ``vectors(positions)`` embeds the given documents (called once, for the
        documents that are not copies); ``new_story()`` names a new story. ``ahead``: ``copies_ahead`` of the docs in
        ``Doc.order`` when the caller has it already (a guess: it changes what is embedded, never a decision)."""
        order = sorted(range(len(docs)), key=lambda i: docs[i].order)
        minhashes([d.basis for d in docs])  # the batch's signatures in one pass (remembered for what follows)
        if ahead is None:
            ahead = copies_ahead(self, [docs[i] for i in order]) if self.meaning else set(range(len(order)))
        need = [order[k] for k in range(len(order)) if k not in ahead and docs[order[k]].on_meaning]
        rows = dict(zip(need, vectors(need), strict=True)) if need else {}
        out: list[Match] = [Match(-1, "new", 0.0)] * len(docs)
        with one_blas_thread() if self.meaning else nullcontext():  # without meaning, no matrix product to limit
            for i in order:
                doc = docs[i]
                found = self.copy_match(doc)
                vec = None
                if found is None and self.meaning and doc.on_meaning:  # a genre piece: never on meaning
                    vec = rows[i] if i in rows else vectors([i])[0]  # a foreseen copy that turned out not to be one
                    found = self.similar(doc, vec)
                if found is None:
                    found = Match(new_story(), "new", 0.0)
                self.add(found.story_id, doc, vec)
                out[i] = found
        return out

    def rename(self, names: dict[int, int]) -> None:
        """Give provisional story numbers (``assign``'s ``new_story``, negative) their stored ids."""
        for old, new in names.items():
            story = self.stories.pop(old)
            story.story_id = new
            self.stories[new] = story
            for url, fp in self._pending.pop(old, []):
                if url and self._by_url.get(url) == old:
                    self._by_url[url] = new
                if fp and self._by_fp.get(fp) == old:
                    self._by_fp[fp] = new
            for key in story.lsh_keys:
                self._minhashes[key] = (new, *self._minhashes[key][1:])
        rows = np.nonzero(self._sid[: self._n] < 0)[0]
        for r in rows:
            self._sid[r] = names.get(int(self._sid[r]), int(self._sid[r]))

    def _index_doc(self, story_id: int, doc: Doc) -> None:
        self.remember(story_id, doc.url, doc.fingerprint)
        if story_id < 0:
            self._pending.setdefault(story_id, []).append((doc.url, doc.fingerprint))
        mh = minhash(doc.basis)
        if mh is not None:
            key = self._lsh_n
            self._lsh.insert(key, mh)
            self._minhashes[key] = (story_id, mh, doc.title)
            self.stories[story_id].lsh_keys.append(key)
            self._lsh_n += 1
        self._latest = max(self._latest, doc.published)
        if self._latest - self._pruned_at > self.params.window_hours * HOUR:
            self._prune()

    def _put_row(self, story_id: int, member: Profile) -> None:
        if self._n == len(self._sid):
            self._compact()
        self._mat[self._n] = member.vector
        self._time[self._n] = member.published
        self._sid[self._n] = story_id
        self._prof[self._n] = member
        self._n += 1

    def _compact(self) -> None:
        """Drop members that fell out of the window from the search arrays; grow them when still full."""
        horizon = self._latest - 2 * self.params.window_hours * HOUR
        keep = np.nonzero(self._time[: self._n] >= horizon)[0]
        size = len(self._sid) if keep.size < len(self._sid) // 2 else len(self._sid) * 2
        mat = np.zeros((size, self.dim), dtype=np.float32)
        time = np.full(size, -np.inf)
        sid = np.zeros(size, dtype=np.int64)
        mat[: keep.size], time[: keep.size], sid[: keep.size] = self._mat[keep], self._time[keep], self._sid[keep]
        self._mat, self._time, self._sid, self._n = mat, time, sid, int(keep.size)
        self._prof = [self._prof[k] for k in keep] + [None] * (size - keep.size)

    def _prune(self) -> None:
        """Forget the stories that fell out of the window (their members' signatures too); their URLs and
        fingerprints stay, since a copy joins at any age. Runs once per window of published time; a story still
        waiting for its stored id (``rename``) stays."""
        horizon = self._latest - 2 * self.params.window_hours * HOUR
        for story_id in [s for s, st in self.stories.items() if st.last_seen < horizon and s >= 0]:
            for key in self.stories.pop(story_id).lsh_keys:
                self._lsh.remove(key)
                del self._minhashes[key]
        self._pruned_at = self._latest


def _linkage_score(probs: list[float], linkage: int, compared: int) -> float:
    """The mean of the ``linkage`` highest of a story's member probabilities, over ``min(linkage, compared)``
    members: those not among the nearest candidates count as 0."""
    return sum(sorted(probs, reverse=True)[:linkage]) / min(linkage, compared)


def _near_copy(doc: Doc, mh: MinHash, other: Doc, window: float, bar: float) -> bool:
    """``copy_match``'s near-copy test against one earlier document instead of its story."""
    return (
        abs(doc.published - other.published) <= window
        and mh.jaccard(minhash(other.basis)) >= bar
        and not conflicting(doc.title, other.title)
    )


def copies_ahead(index: StoryIndex, part: list[Doc], earlier: Sequence[Doc] = ()) -> set[int]:
    """The positions in ``part`` that will join as copies, foreseen before any of them is added: copies of the
    index's stories, and copies of an earlier document of ``part`` itself (same URL or fingerprint, near-copy), or of
    ``earlier``: documents that will be added to the index before ``part`` (``cluster`` foresees the next chunk while
    the current one is assigned). A wrong guess costs time only: a missed copy is embedded in vain, an unforeseen
    non-copy on its own."""
    window, bar = index.params.window_hours * HOUR, index.params.near_copy
    urls: set[str] = set()
    fps: set[str] = set()
    lsh = BandIndex(index.params.near_copy, NUM_PERM)
    every = [*earlier, *part]
    copies = set()
    for i, (doc, mh) in enumerate(zip(every, minhashes([d.basis for d in every]), strict=True)):
        if i >= len(earlier) and (
            (doc.url and doc.url in urls)
            or (doc.fingerprint and doc.fingerprint in fps)  # before the near-copy scan: a syndicated copy is cheap
            or (mh is not None and any(_near_copy(doc, mh, every[int(j)], window, bar) for j in lsh.query(mh)))
            or index.copy_match(doc) is not None
        ):
            copies.add(i - len(earlier))
        urls.add(doc.url)
        fps.add(doc.fingerprint)
        if mh is not None:
            lsh.insert(i, mh)
    return copies


def cluster(
    docs: list[Doc],
    vectors: np.ndarray | Embedder,
    params: ClusterParams | None = None,
    chunk: int = 4096,
    model: PairModel | None = None,
) -> list[int]:
    """Cluster documents incrementally in ``Doc.order``; returns a story number per document (in the order given).
    ``vectors`` holds one row per document, or is an embedder: then only the documents that are not copies of earlier
    ones are embedded, ``chunk`` documents at a time (the stories are the same for any ``chunk``); by an embedder
    that ``overlaps`` (``embeddings.ProcessEmbedder``), each chunk while the chunk before it is assigned
    (``_overlapped``)."""
    index = StoryIndex(vectors.shape[1] if isinstance(vectors, np.ndarray) else vectors.dim, params, model)
    order = sorted(range(len(docs)), key=lambda i: docs[i].order)
    parts = [order[start : start + chunk] for start in range(0, len(order), chunk)]
    labels = [0] * len(docs)
    counter = iter(range(len(docs)))
    if getattr(vectors, "overlaps", False):  # an embedder that computes outside this process's GIL
        return _overlapped(docs, vectors, index, parts, labels, counter)  # type: ignore[arg-type]
    for part in parts:

        def rows(positions: list[int], part: list[int] = part) -> np.ndarray:
            if isinstance(vectors, np.ndarray):
                return vectors[[part[k] for k in positions]]
            return vectors.embed([docs[part[k]].title for k in positions])

        for i, m in zip(part, index.assign([docs[i] for i in part], rows, lambda: next(counter)), strict=True):
            labels[i] = m.story_id
    return labels


def _overlapped(
    docs: list[Doc], embedder: Embedder, index: StoryIndex, parts: list[list[int]], labels: list[int], counter: Any
) -> list[int]:
    """``cluster`` with an embedder that computes outside this process (``embeddings.ProcessEmbedder``): while chunk
    k is assigned on this thread, chunk k + 1's non-copies are embedded, a second thread waiting for them, so the
    clustering and the embedding share the cores. Chunk k + 1's copies are foreseen before chunk k is added
    (``copies_ahead`` with chunk k as ``earlier``); what is embedded is only a guess, never a decision, so the stories
    are those of embedding each chunk in turn."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed") as pool:

        def foresee(k: int) -> tuple[set[int], list[int], Future[np.ndarray]]:
            part = [docs[i] for i in parts[k]]
            earlier = [docs[i] for i in parts[k - 1]] if k else []
            ahead = copies_ahead(index, part, earlier) if index.meaning else set(range(len(part)))
            need = [j for j in range(len(part)) if j not in ahead and part[j].on_meaning]
            return ahead, need, pool.submit(embedder.embed, [part[j].title for j in need])

        coming = foresee(0) if parts else None
        for k, part in enumerate(parts):
            assert coming is not None
            ahead, need, future = coming
            coming = foresee(k + 1) if k + 1 < len(parts) else None

            def rows(positions: list[int], part: list[int] = part, need: list[int] = need, future=future) -> np.ndarray:
                if positions == need:
                    return future.result()
                return embedder.embed([docs[part[j]].title for j in positions])

            matches = index.assign([docs[i] for i in part], rows, lambda: next(counter), ahead)
            for i, m in zip(part, matches, strict=True):
                labels[i] = m.story_id
    return labels

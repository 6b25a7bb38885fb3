"""Same-story clustering: metrics, the incremental clusterer with the real embedding model, the store round trip."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from newsroom.dedupe.cluster import ClusterParams, Doc, StoryIndex, cluster
from newsroom.dedupe.features import amount_keys, minhash
from newsroom.dedupe.metrics import articles, bcubed, pairwise
from newsroom.embeddings import default_embedder
from newsroom.stages.stories import assign_stories, forget_index
from newsroom.store.db import Store
from newsroom.store.tables import ItemRow, SourceRow, StoryRow
from newsroom.text import fingerprint

T0 = datetime(2025, 12, 12, 9, tzinfo=UTC)


def test_metrics_by_hand() -> None:
    gold = ["a", "a", "b", "b"]
    assert pairwise(["x", "x", "y", "y"], gold) == (1.0, 1.0, 1.0)
    p, r, _ = pairwise(["x", "x", "x", "x"], gold)  # one big cluster: all pairs claimed, 2 of 6 right
    assert (p, r) == (2 / 6, 1.0)
    bp, br, _ = bcubed(["x", "y", "z", "w"], gold)  # singletons: perfect precision, half recall
    assert (bp, br) == (1.0, 0.5)
    # one story led by item 0 over both events: "b" gets no article; two stories led from "a": one duplicate
    assert articles(gold, [0]) == (1, 0)
    assert articles(gold, [0, 1, 2]) == (0, 1)


STORY = [
    "SEC approves BlackRock and Fidelity spot bitcoin ETFs",
    "SEC gives green light to spot bitcoin ETFs from BlackRock, Fidelity",
]
OTHER = [
    "Hackers drain $40 million from DeFi lending protocol",
    "Ethereum developers set date for Pectra upgrade",
]
LATE_PARAPHRASE = "BlackRock, Fidelity spot bitcoin ETFs win SEC approval"


def _docs(titles: list[str], start: datetime, source: str = "s") -> list[Doc]:
    return [
        Doc(title=t, published=(start + timedelta(minutes=10 * i)).timestamp(), source=f"{source}{i}")
        for i, t in enumerate(titles)
    ]


def test_time_window_and_exact_tiers() -> None:
    emb = default_embedder()
    first = Doc(title=STORY[0], url="https://a.example/etf", fingerprint="f1", published=T0.timestamp())
    index = StoryIndex(emb.dim)
    index.add(7, first, emb.embed([first.title])[0])
    too_late = Doc(title=STORY[1], published=(T0 + timedelta(days=5)).timestamp())
    assert index.match(too_late, emb.embed([too_late.title])[0]) is None  # outside the 48 h window
    same_url = Doc(title="Anything at all", url="https://a.example/etf", published=(T0 + timedelta(days=9)).timestamp())
    assert index.match(same_url, emb.embed([same_url.title])[0]).reason == "url"  # type: ignore[union-attr]
    copy = Doc(title=STORY[0] + " - Reuters", published=(T0 + timedelta(hours=1)).timestamp())
    assert index.match(copy, np.zeros(emb.dim, dtype=np.float32)).reason == "near-copy"  # type: ignore[union-attr]


def test_a_story_stops_joining_on_meaning_max_span_hours_after_it_began() -> None:
    """Members arriving every few hours would keep a story inside the window forever; past ``max_span_hours`` from
    its first item it takes no more paraphrases (a later development is a new story with its own article), while a
    copy of one of its items still joins."""
    emb = default_embedder()
    titles = [*STORY, LATE_PARAPHRASE, "Spot bitcoin ETFs of BlackRock and Fidelity cleared by the SEC"]
    vecs = emb.embed(titles)
    index = StoryIndex(emb.dim, ClusterParams(max_span_hours=6))
    index.add(0, Doc(title=titles[0], published=T0.timestamp(), source="site-0"), vecs[0])
    for i, hours in ((1, 1), (2, 2)):
        doc = Doc(title=titles[i], published=(T0 + timedelta(hours=hours)).timestamp(), source=f"site-{i}")
        m = index.match(doc, vecs[i])
        assert m is not None and m.story_id == 0 and m.reason == "similar"
        index.add(0, doc, vecs[i])

    def at(hours: int, title: str) -> Doc:
        return Doc(title=title, published=(T0 + timedelta(hours=hours)).timestamp(), source="site-9")

    assert index.match(at(5, titles[3]), vecs[3]) is not None  # still inside 6 h of the first item
    assert index.match(at(7, titles[3]), vecs[3]) is None  # 7 h: not on meaning
    copy = index.match(at(7, titles[0] + " - Reuters"), vecs[0])
    assert copy is not None and copy.reason == "near-copy"


def test_amount_keys_name_deal_sized_money_to_two_digits() -> None:
    assert amount_keys("Sequoia leads $793 million Series B") == amount_keys("Startup raises $790M from Sequoia")
    assert amount_keys("Hackers drain $40 million from lending protocol") == {"#USD:4.0e+07"}
    # a price and a percentage move with the hour of the report; a deal-sized outflow is kept
    assert amount_keys("Bitcoin slides 5.5% to $89,500 as ETF outflows hit $1.2bn") == {"#USD:1.2e+09"}
    assert amount_keys("Whale moves 10,000 BTC to an exchange") == frozenset()


class CountingEmbedder:
    """The real embedder, counting the headlines it is asked for."""

    def __init__(self) -> None:
        self.inner = default_embedder()
        self.dim = self.inner.dim
        self.asked: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.asked += texts
        return self.inner.embed(texts)


def test_a_near_miss_of_the_lsh_bands_is_not_a_near_copy() -> None:
    """MinHash LSH returns candidates by band collisions, some below the Jaccard bar: the estimate is checked."""
    emb = default_embedder()
    turkey = Doc(title="Turkey enacts new exchange licensing rules", published=T0.timestamp(), source="a")
    japan = Doc(title="Japan enacts new exchange licensing rules", published=T0.timestamp() + 600, source="b")
    index = StoryIndex(emb.dim)
    index.add(0, turkey, emb.embed([turkey.title])[0])
    mh = minhash(japan.basis)
    assert mh is not None and index._lsh.query(mh)  # a band collision: LSH offers the other country's law…
    assert mh.jaccard(minhash(turkey.basis)) < index.params.near_copy  # …whose estimated Jaccard is below 0.6
    assert index.copy_match(japan) is None
    copy = Doc(title=turkey.title + " - Reuters", published=T0.timestamp() + 900, source="c")
    assert index.copy_match(copy) is not None


def test_copies_are_not_embedded_and_are_never_compared_on_meaning() -> None:
    at = T0.timestamp()
    docs = [
        Doc(title=STORY[0], url="https://a.example/1", fingerprint="f1", published=at, source="a"),
        Doc(title=STORY[0], url="https://b.example/1", fingerprint="f1", published=at + 60, source="b"),  # same text
        Doc(title=STORY[0] + " - Reuters", url="https://c.example/1", published=at + 120, source="c"),  # near-copy
        Doc(title=OTHER[0], url="https://a.example/2", published=at + 180, source="a"),
        Doc(title=STORY[1], url="https://d.example/1", published=at + 240, source="d"),  # a paraphrase
        Doc(title=STORY[0], url="https://a.example/1", published=at + 300, source="a"),  # the first link again
    ]
    counting = CountingEmbedder()
    labels = cluster(docs, counting, chunk=4)  # a copy and its original in one chunk, and across chunks
    assert labels == [0, 0, 0, 1, 0, 0]
    assert counting.asked == [STORY[0], OTHER[0], STORY[1]]  # the three copies were never embedded
    assert labels == cluster(docs, default_embedder().embed([d.title for d in docs]))  # as with every vector given

    index = StoryIndex(default_embedder().dim)
    index.add(0, docs[0], default_embedder().embed([STORY[0]])[0])
    assert index.copy_match(docs[2]) is not None
    state = index.add(0, docs[2], None)
    assert state.count == 2 and state.compared == 1  # counted for heat, not a member compared on meaning


def _item(source: str, n: int, title: str, at: datetime, summary: str = "") -> ItemRow:
    return ItemRow(
        source_key=source,
        external_id=f"{source}-{n}",
        url=f"https://{source}.example/{n}",
        title=title,
        summary=summary,
        content="",
        categories=[],
        published_at=at,
        fingerprint=fingerprint(title, summary),
    )


def _assign(s, item: ItemRow, **kw) -> StoryRow:  # type: ignore[no-untyped-def]
    s.add(item)
    s.flush()
    return assign_stories(s, [item], **kw)[0]


def test_story_round_trip_in_the_store(store: Store) -> None:
    with store.session() as s:
        for key in ("coindesk", "decrypt", "theblock"):
            s.add(SourceRow(key=key, name=key, type="RSS", url=f"https://{key}.example/rss"))
    with store.session() as s:
        a = _item("coindesk", 1, STORY[0], T0, summary="short")
        first = _assign(s, a)
        b = _item("decrypt", 1, OTHER[0], T0 + timedelta(minutes=5))
        assert _assign(s, b).id != first.id
        story_id = first.id
    forget_index(store.engine)
    with store.session() as s:  # a fresh process: the index is rebuilt from the store
        late = _item("theblock", 1, LATE_PARAPHRASE, T0 + timedelta(hours=5), summary="a much longer teaser " * 5)
        joined = _assign(s, late)
        assert joined.id == story_id
        again = _item("coindesk", 2, STORY[1], T0 + timedelta(hours=6))  # same source again: no new source
        assert _assign(s, again).id == story_id
    with store.session() as s:
        story = s.get_one(StoryRow, story_id)
        assert story.source_count == 2 and story.item_count == 3
        assert story.lead_item_id == late.id  # the richest member leads while the story is unwritten
        assert story.last_seen_at.replace(tzinfo=UTC) == T0 + timedelta(hours=6)
        assert story.first_seen_at.replace(tzinfo=UTC) == T0
        members = s.scalars(select(ItemRow.source_key).where(ItemRow.story_id == story_id)).all()
        assert sorted(members) == ["coindesk", "coindesk", "theblock"]
        assert len(s.scalars(select(StoryRow)).all()) == 2


def test_same_event_off_joins_only_copies(sqlite_store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """stories.same_event = false: a paraphrase starts its own story, the same link still joins (also from beyond
    the window, found in the store), no embeddings."""
    import newsroom.stages.stories as stories

    monkeypatch.setattr(stories, "default_embedder", lambda: (_ for _ in ()).throw(AssertionError("embedded")))
    with sqlite_store.session() as s:
        for key in ("coindesk", "theblock"):
            s.add(SourceRow(key=key, name=key, type="RSS", url=f"https://{key}.example/rss"))
    with sqlite_store.session() as s:
        a = _item("coindesk", 1, STORY[0], T0, summary="short")
        first = _assign(s, a, same_event=False)
        late = _item("theblock", 1, LATE_PARAPHRASE, T0 + timedelta(hours=1))
        assert _assign(s, late, same_event=False).id != first.id
    forget_index(sqlite_store.engine)
    with sqlite_store.session() as s:
        copy = _item(
            "theblock", 2, "Another headline entirely", T0 + timedelta(days=30), summary="a longer teaser " * 9
        )
        copy.url = a.url
        joined = _assign(s, copy, same_event=False)
        assert joined.id == first.id
        assert joined.source_count == 2 and joined.item_count == 2 and joined.lead_item_id == copy.id


def test_lsh_params_are_datasketchs_own_choice() -> None:
    """``sketch.KNOWN_PARAMS`` (bands and rows without SciPy's integrals) is what datasketch's optimiser picks."""
    import datasketch

    from newsroom.dedupe import sketch

    for (threshold, num_perm), params in sketch.KNOWN_PARAMS.items():
        chosen = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert (chosen.b, chosen.r) == params
    assert sketch.lsh_params(0.8, 64) == (lambda x: (x.b, x.r))(datasketch.MinHashLSH(threshold=0.8, num_perm=64))
    assert sketch.MinHash is datasketch.MinHash and sketch.MinHashLSH is datasketch.MinHashLSH


def test_items_are_matched_with_numpy_blas_on_one_thread_and_the_setting_is_restored(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """OpenBLAS splits the nearest-member product over every core and its threads spin between calls: three times the
    CPU for the same stories on the shared 2-core machine (``cluster.one_blas_thread``)."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    seen: list[set[int]] = []
    original = StoryIndex.similar

    def spying(self, doc, vector):  # type: ignore[no-untyped-def]
        seen.append(blas_threads())
        return original(self, doc, vector)

    monkeypatch.setattr(StoryIndex, "similar", spying)
    at = T0.timestamp()
    docs = [Doc(title=t, url=f"https://a.example/{k}", published=at + k, source="a") for k, t in enumerate(STORY)]
    vectors = default_embedder().embed([d.title for d in docs])
    assert cluster(docs, vectors) == cluster(docs, default_embedder().embed([d.title for d in docs]))
    assert seen and all(s <= {1} for s in seen)  # one thread (or no OpenBLAS loaded at all)
    assert blas_threads() == before

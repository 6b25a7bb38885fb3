"""The poll stage against a real HTTP server on 127.0.0.1 serving every feed of ../shared/corpus/feeds.

The server is pytest-httpserver (werkzeug) on loopback; its handlers are scripted (``ScriptedFeed``): they serve the
corpus bytes, answer 304 when the validators match (or ignore them, for the idempotency test), and inject faults
(garbage, 500s, slow or oversized bodies, redirects). The settings allow private networks because the server is on
loopback; the guard itself is tested with them disallowed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import event, func, select
from werkzeug import Request, Response

from newsroom.config import FetchConfig, Settings, SourceConfig
from newsroom.sources.base import Batch
from newsroom.sources.feeds import fetch_feed, parse_feed
from newsroom.sources.normalise import finalise
from newsroom.stages import poll
from newsroom.stages.poll import SourcePollReport, backoff_delay, poll_sources, record_poll, sync_sources
from newsroom.store.db import Store
from newsroom.store.tables import ItemRow, SourceRow, StoryRow
from source_support import http_server, serve, server

__all__ = ["http_server", "server"]  # the loopback server fixtures (source_support)
pytestmark = pytest.mark.anyio  # anyio's pytest plugin (installed with httpx) runs the async tests


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


FEEDS = {
    "coindesk": "coindesk.rss",
    "cointelegraph": "coingtelegraph-all.rss",
    "decrypt": "decrypt.rss",
    "theblock": "theblock.rss",
    "prnewswire": "prnewswire-news-releases-list.rss",
}
NOW = datetime(2025, 12, 13, 12, 0, tzinfo=UTC)
OLDEST_PLAUSIBLE = datetime(2025, 11, 1, tzinfo=UTC)
CAPTURE_END = datetime(2025, 12, 14, tzinfo=UTC)


class ScriptedFeed:
    """A scripted feed endpoint: serves fixed bytes with validators and records every request it gets."""

    def __init__(
        self,
        body: bytes,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        conditional: bool = True,
        status: int = 200,
        content_type: str = "application/rss+xml; charset=utf-8",
    ) -> None:
        self.body = body
        self.etag = etag
        self.last_modified = last_modified
        self.conditional = conditional
        self.status = status
        self.content_type = content_type
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(dict(request.headers))
        headers = {}
        if self.etag:
            headers["ETag"] = self.etag
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
        if self.conditional and self.status == 200:
            inm, ims = request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
            if (self.etag and inm == self.etag) or (not self.etag and self.last_modified and ims == self.last_modified):
                return Response(status=304, headers=headers)
        return Response(self.body, status=self.status, headers=headers, content_type=self.content_type)


def make_settings(urls: dict[str, str], **overrides: Any) -> Settings:
    fetch = {"allow_private_networks": True, "timeout_seconds": 5, **overrides.pop("fetch", {})}
    return Settings(
        sources=[SourceConfig(key=k, name=k.title(), url=u, interval_minutes=10) for k, u in urls.items()],
        fetch=FetchConfig(**fetch),
        max_items_per_source=overrides.pop("max_items_per_source", 100),
        **overrides,
    )


def entry_count(data: bytes) -> int:
    """Counted independently of the parser under test."""
    return len(re.findall(rb"<item[\s>]", data))


def corpus_bytes(corpus: Path, key: str) -> bytes:
    return (corpus / "feeds" / FEEDS[key]).read_bytes()


def serve_corpus(server: HTTPServer, corpus: Path, **kw: Any) -> tuple[dict[str, str], dict[str, ScriptedFeed]]:
    urls, handlers = {}, {}
    for key in FEEDS:
        handlers[key] = ScriptedFeed(corpus_bytes(corpus, key), etag=f'"{key}-v1"', **kw)
        urls[key] = serve(server, f"/{FEEDS[key]}", handlers[key])
    return urls, handlers


def counts_by_source(store: Store) -> dict[str, int]:
    with store.session() as s:
        return dict(s.execute(select(ItemRow.source_key, func.count()).group_by(ItemRow.source_key)).all())


def table_count(store: Store, table: type) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def source_row(store: Store, key: str) -> SourceRow:
    with store.session() as s:
        return s.scalars(select(SourceRow).where(SourceRow.key == key)).one()


def by_key(reports: list[SourcePollReport]) -> dict[str, SourcePollReport]:
    return {r.key: r for r in reports}


# ---- every corpus feed through the real path ---------------------------------------------------------------------


async def test_polls_every_corpus_feed(store: Store, corpus: Path, server: HTTPServer) -> None:
    urls, handlers = serve_corpus(server, corpus)
    settings = make_settings(urls)
    done: list[str] = []
    reports = await poll_sources(store, settings, now=NOW, on_source_done=lambda r: done.append(r.key))

    expected = {key: entry_count(corpus_bytes(corpus, key)) for key in FEEDS}
    assert expected == {"coindesk": 25, "cointelegraph": 30, "decrypt": 58, "theblock": 19, "prnewswire": 20}
    assert sorted(done) == sorted(FEEDS)
    for key, report in by_key(reports).items():
        assert (report.status, report.http_status, report.error) == ("ok", 200, None), key
        assert report.new_items == expected[key]
        assert report.seen_items == 0
        assert handlers[key].requests[0]["User-Agent"] == settings.fetch.user_agent
        assert "If-None-Match" not in handlers[key].requests[0]
    assert counts_by_source(store) == expected

    with store.session() as s:
        items = list(s.scalars(select(ItemRow)))
        pairs = {(i.source_key, i.external_id) for i in items}
        assert len(pairs) == len(items) == sum(expected.values())
        for item in items:
            assert item.published_at.tzinfo is not None and item.published_at.utcoffset() == timedelta(0)
            assert OLDEST_PLAUSIBLE <= item.published_at < CAPTURE_END
            assert "utm_" not in item.url and "#" not in item.url
            assert item.story_id is not None
            assert len(item.fingerprint) == 64
        assert all(i.categories for i in items if i.source_key == "theblock")
        newest = dict(
            s.execute(select(ItemRow.source_key, func.max(ItemRow.published_at)).group_by(ItemRow.source_key)).all()
        )
        for key, when in newest.items():
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            assert datetime(2025, 12, 12, tzinfo=UTC) <= when < CAPTURE_END, key
        rows = {r.key: r for r in s.scalars(select(SourceRow))}
        # No two entries share a link. PR Newswire re-issued one release under a new id (same title and text):
        # the exact-fingerprint rule always joins those; same-event clustering (stories.py) may join more.
        assert len({i.url for i in items}) == len(items)
        by_fingerprint: dict[str, set[int | None]] = {}
        for i in items:
            by_fingerprint.setdefault(i.fingerprint, set()).add(i.story_id)
        assert len(by_fingerprint) == sum(expected.values()) - 1
        assert all(len(ids) == 1 for ids in by_fingerprint.values())
        assert table_count(store, StoryRow) <= len(by_fingerprint)
        for story in s.scalars(select(StoryRow)):
            members = [i for i in items if i.story_id == story.id]
            assert story.lead_item_id in {i.id for i in members}
            assert story.source_count == len({i.source_key for i in members})
        twins = [i for i in items if sum(j.fingerprint == i.fingerprint for j in items) > 1]
        assert len(twins) == 2 and {i.source_key for i in twins} == {"prnewswire"}
        assert twins[0].story_id == twins[1].story_id
    for key, row in rows.items():
        assert row.last_status == "ok" and row.last_error is None and row.error_count == 0
        assert row.etag == f'"{key}-v1"'
        assert row.last_polled_at == row.last_success_at == NOW
        assert row.next_poll_at == NOW + timedelta(minutes=10)
        assert row.items_seen == expected[key]


async def test_the_block_offsets_stored_as_utc(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    body = corpus_bytes(corpus, "theblock")
    url = serve(server, "/theblock.rss", ScriptedFeed(body))
    await poll_sources(sqlite_store, make_settings({"theblock": url}), now=NOW)
    raw_dates = sorted(parsedate_to_datetime(d.decode()) for d in re.findall(rb"<pubDate>([^<]+)</pubDate>", body))
    assert any(d.utcoffset() == timedelta(hours=-5) for d in raw_dates)
    with sqlite_store.session() as s:
        stored = sorted(s.scalars(select(ItemRow.published_at)))
    assert stored == raw_dates  # equal instants
    assert all(d.utcoffset() == timedelta(0) for d in stored)


# ---- conditional GET and idempotency ---------------------------------------------------------------------------


async def test_conditional_get_304_stores_nothing(store: Store, corpus: Path, server: HTTPServer) -> None:
    urls, handlers = serve_corpus(server, corpus)
    settings = make_settings(urls)
    await poll_sources(store, settings, now=NOW)
    items, stories = table_count(store, ItemRow), table_count(store, StoryRow)

    later = NOW + timedelta(minutes=11)
    reports = await poll_sources(store, settings, now=later)
    assert {r.status for r in reports} == {"not_modified"}
    assert all(r.http_status == 304 and r.new_items == 0 for r in reports)
    for key, handler in handlers.items():
        assert handler.requests[-1]["If-None-Match"] == f'"{key}-v1"'
    assert (table_count(store, ItemRow), table_count(store, StoryRow)) == (items, stories)
    row = source_row(store, "decrypt")
    assert row.last_status == "not_modified" and row.etag == '"decrypt-v1"'
    assert row.last_success_at == later and row.next_poll_at == later + timedelta(minutes=10)


async def test_last_modified_validator(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    stamp = "Fri, 12 Dec 2025 22:02:50 GMT"
    handler = ScriptedFeed(corpus_bytes(corpus, "decrypt"), last_modified=stamp)
    settings = make_settings({"decrypt": serve(server, "/decrypt.rss", handler)})
    await poll_sources(sqlite_store, settings, now=NOW)
    (report,) = await poll_sources(sqlite_store, settings, now=NOW, force=True)
    assert report.status == "not_modified"
    assert handler.requests[-1]["If-Modified-Since"] == stamp
    assert source_row(sqlite_store, "decrypt").last_modified == stamp


async def test_repoll_is_idempotent_when_server_ignores_validators(
    store: Store, corpus: Path, server: HTTPServer
) -> None:
    urls, _ = serve_corpus(server, corpus, conditional=False)
    settings = make_settings(urls)
    first = by_key(await poll_sources(store, settings, now=NOW))
    items, stories = table_count(store, ItemRow), table_count(store, StoryRow)
    second = by_key(await poll_sources(store, settings, now=NOW, force=True))
    for key in FEEDS:
        assert second[key].status == "ok" and second[key].http_status == 200
        assert second[key].new_items == 0
        assert second[key].seen_items == first[key].new_items
    assert (table_count(store, ItemRow), table_count(store, StoryRow)) == (items, stories)


async def test_not_due_sources_are_not_fetched(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    handler = ScriptedFeed(corpus_bytes(corpus, "coindesk"))
    settings = make_settings({"coindesk": serve(server, "/c.rss", handler)})
    await poll_sources(sqlite_store, settings, now=NOW)
    assert await poll_sources(sqlite_store, settings, now=NOW + timedelta(minutes=9)) == []
    assert len(handler.requests) == 1
    assert len(await poll_sources(sqlite_store, settings, now=NOW + timedelta(minutes=10))) == 1


async def test_max_items_per_source_keeps_the_newest(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    body = corpus_bytes(corpus, "decrypt")
    settings = make_settings({"decrypt": serve(server, "/d.rss", ScriptedFeed(body))}, max_items_per_source=10)
    (report,) = await poll_sources(sqlite_store, settings, now=NOW)
    assert report.new_items == 10
    dates = sorted((parsedate_to_datetime(d.decode()) for d in re.findall(rb"<pubDate>([^<]+)<", body)), reverse=True)
    with sqlite_store.session() as s:
        stored = sorted(s.scalars(select(ItemRow.published_at)), reverse=True)
    assert stored == dates[:10]


async def test_items_commit_in_chunks_oldest_first(
    store: Store, corpus: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing may start on the first chunk while the rest is stored; stories follow publication order."""
    monkeypatch.setattr(poll, "STORE_CHUNK", 20)
    monkeypatch.setattr(poll, "FIRST_CHUNK", 7)  # the first chunk is shorter: the first stories reach writers sooner
    body = corpus_bytes(corpus, "decrypt")
    n = entry_count(body)
    assert n > poll.FIRST_CHUNK + poll.STORE_CHUNK  # the feed needs three chunks for this test to mean anything
    settings = make_settings({"decrypt": serve(server, "/d.rss", ScriptedFeed(body))})
    # the items stored when each chunk has committed, counted in the storing thread before it goes on (on the event
    # loop, the notice of a chunk may be read after the next chunk has committed too)
    committed: list[int] = []
    record = poll.record_poll

    def counting(*args: Any, on_stored: Any = None) -> Any:
        *head, on_stored = args if len(args) == 6 else (*args, on_stored)

        def counted() -> None:
            committed.append(table_count(store, ItemRow))
            if on_stored is not None:
                on_stored()

        return record(*head, on_stored=counted)

    monkeypatch.setattr(poll, "record_poll", counting)
    notices: list[int] = []
    (report,) = await poll_sources(store, settings, now=NOW, on_items_stored=lambda: notices.append(1))
    assert report.new_items == n and report.status == "ok"
    assert committed == [poll.FIRST_CHUNK + poll.STORE_CHUNK * k for k in range(len(committed) - 1)] + [n]
    assert len(committed) == 1 + -(-(n - poll.FIRST_CHUNK) // poll.STORE_CHUNK)
    assert len(notices) == len(committed)  # each chunk reaches the event loop
    with store.session() as s:  # a story is created by its first item, and items are stored oldest first
        firsts = [
            d
            for (d,) in s.execute(
                select(func.min(ItemRow.published_at)).group_by(ItemRow.story_id).order_by(ItemRow.story_id)
            )
        ]
    assert firsts == sorted(firsts)
    assert source_row(store, "decrypt").last_success_at is not None  # the source's state commits after the items


async def test_headlines_are_embedded_before_the_write_lock_is_taken(
    sqlite_store: Store, corpus: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a poll's headlines go through the model, another process can still write (a story's slug, its select
    step): the embeddings are made before the chunk's INSERT takes SQLite's write lock (``stories.embed_ahead``)."""
    import sqlite3

    from newsroom import embeddings
    from newsroom.stages import stories

    fresh = embeddings.MiniLMEmbedder()  # an empty cache: every headline of this poll is embedded here
    monkeypatch.setattr(stories, "default_embedder", lambda: fresh)
    encode = fresh._encode
    writable: list[bool] = []

    def encode_and_probe(texts: list[str]):  # type: ignore[no-untyped-def]
        other = sqlite3.connect(sqlite_store.engine.url.database, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer, as a story's slug write would be
            other.execute("ROLLBACK")
            writable.append(True)
        except sqlite3.OperationalError:
            writable.append(False)
        finally:
            other.close()
        return encode(texts)

    monkeypatch.setattr(fresh, "_encode", encode_and_probe)
    settings = make_settings({"decrypt": serve(server, "/d.rss", ScriptedFeed(corpus_bytes(corpus, "decrypt")))})
    (report,) = await poll_sources(sqlite_store, settings, now=NOW)
    assert report.status == "ok" and report.new_items == entry_count(corpus_bytes(corpus, "decrypt"))
    assert writable and all(writable), writable


# ---- stories ---------------------------------------------------------------------------------------------------


async def test_same_links_from_two_sources_share_stories(store: Store, corpus: Path, server: HTTPServer) -> None:
    body = corpus_bytes(corpus, "coindesk")
    urls = {
        "wire-a": serve(server, "/a.rss", ScriptedFeed(body)),
        "wire-b": serve(server, "/b.rss", ScriptedFeed(body)),
    }
    reports = await poll_sources(store, make_settings(urls), now=NOW)
    n = entry_count(body)
    assert [r.new_items for r in reports] == [n, n]
    assert table_count(store, ItemRow) == 2 * n
    with store.session() as s:
        stories = list(s.scalars(select(StoryRow)))
        assert 1 <= len(stories) <= n  # same-event clustering may join related items of one feed
        assert {st.source_count for st in stories} == {2}
        pairs = s.execute(select(ItemRow.url, func.count(func.distinct(ItemRow.story_id))).group_by(ItemRow.url)).all()
        assert all(count == 1 for _, count in pairs)  # the same link from both sources: always one story
        leads = set(s.scalars(select(ItemRow.source_key).where(ItemRow.id.in_([st.lead_item_id for st in stories]))))
        assert len(leads) == 1  # whichever source was stored first leads every shared story


def test_concurrent_pollers_store_each_item_once(store: Store, corpus: Path) -> None:
    """Two pollers (two engines, as two worker processes would have) store the same feed at the same moment.

    Both read "nothing stored yet", then both insert: one commits, the other hits the unique constraint, rolls
    back and retries, and then finds every item stored. A barrier on the first INSERT forces that interleaving.
    """
    settings = make_settings({"coindesk": "https://www.coindesk.com/arc/outboundfeeds/rss/"})
    sync_sources(store, settings)
    parsed = parse_feed(corpus_bytes(corpus, "coindesk"), source_key="coindesk", now=NOW)
    batch = finalise(Batch(status="ok", items=parsed.items, http_status=200), language="en", now=NOW, max_items=100)
    barrier = threading.Barrier(2, timeout=10)
    stores = [store, Store(store.url)]
    for st in stores:
        waited = {"done": False}

        @event.listens_for(st.engine, "before_cursor_execute")
        def _meet(conn, cursor, statement, params, context, executemany, waited=waited):  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("INSERT INTO ITEMS") and not waited["done"]:
                waited["done"] = True
                barrier.wait()

    reports: list[SourcePollReport] = []
    threads = [
        threading.Thread(target=lambda st=st: reports.append(record_poll(st, settings, "coindesk", batch, NOW)))
        for st in stores
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stores[1].close()
    n = entry_count(corpus_bytes(corpus, "coindesk"))
    assert sorted(r.new_items for r in reports) == [0, n]
    assert all(r.status == "ok" for r in reports)
    assert table_count(store, ItemRow) == n and 1 <= table_count(store, StoryRow) <= n
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(ItemRow).where(ItemRow.story_id.is_(None))) == 0


# ---- faults ----------------------------------------------------------------------------------------------------


async def test_malformed_feed_beside_good_ones(store: Store, corpus: Path, server: HTTPServer) -> None:
    good = {k: corpus_bytes(corpus, k) for k in ("coindesk", "theblock")}
    urls = {k: serve(server, f"/{k}.rss", ScriptedFeed(v)) for k, v in good.items()}
    urls["garbage"] = serve(server, "/garbage.rss", ScriptedFeed(b"\x00\x9f<<not a feed>>\xff" * 50))
    urls["html"] = serve(
        server, "/html.rss", ScriptedFeed(b"<html><body>Moved</body></html>", content_type="text/html")
    )
    decrypt = corpus_bytes(corpus, "decrypt")
    cut = decrypt.index(b"<item>", len(decrypt) // 2) + 40  # truncated inside an entry: malformed, entries before it
    urls["truncated"] = serve(server, "/truncated.rss", ScriptedFeed(decrypt[:cut]))
    settings = make_settings(urls)

    reports = by_key(await poll_sources(store, settings, now=NOW))
    for key, body in good.items():
        assert reports[key].status == "ok" and reports[key].new_items == entry_count(body)
    for key in ("garbage", "html"):
        assert reports[key].status == "error" and reports[key].error and reports[key].new_items == 0
        row = source_row(store, key)
        assert row.last_status == "error" and row.last_error == reports[key].error
        assert row.error_count == 1
        assert row.next_poll_at == NOW + timedelta(minutes=20)
        assert row.etag is None
    truncated = reports["truncated"]
    assert truncated.status == "bozo" and "malformed" in (truncated.error or "")
    assert 0 < truncated.new_items < entry_count(decrypt)
    row = source_row(store, "truncated")
    assert row.last_status == "bozo" and row.last_error == truncated.error and row.error_count == 0
    counts = counts_by_source(store)
    assert counts == {"coindesk": 25, "theblock": 19, "truncated": truncated.new_items}


async def test_error_backoff_grows_and_resets(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    handler = ScriptedFeed(b"upstream broke", status=500)
    settings = make_settings({"flaky": serve(server, "/flaky.rss", handler)}, fetch={"max_backoff_minutes": 100})
    now, delays = NOW, []
    for _ in range(5):
        (report,) = await poll_sources(sqlite_store, settings, now=now)
        assert report.status == "error" and report.http_status == 500 and "HTTP 500" in (report.error or "")
        row = source_row(sqlite_store, "flaky")
        delays.append(row.next_poll_at - now)
        assert await poll_sources(sqlite_store, settings, now=row.next_poll_at - timedelta(seconds=1)) == []
        now = row.next_poll_at
    assert [d.total_seconds() / 60 for d in delays] == [20, 40, 80, 100, 100]
    assert source_row(sqlite_store, "flaky").error_count == 5

    handler.status, handler.body = 200, corpus_bytes(corpus, "coindesk")
    (report,) = await poll_sources(sqlite_store, settings, now=now)
    row = source_row(sqlite_store, "flaky")
    assert report.status == "ok" and row.error_count == 0 and row.last_error is None
    assert row.next_poll_at == now + timedelta(minutes=10)


def test_backoff_formula() -> None:
    assert backoff_delay(600, 1, 360) == timedelta(minutes=20)
    assert backoff_delay(600, 3, 360) == timedelta(minutes=80)
    assert backoff_delay(600, 50, 360) == timedelta(minutes=360)
    assert backoff_delay(600 * 60, 1, 360) == timedelta(hours=10)  # never shorter than the interval


async def test_http_errors_are_recorded(sqlite_store: Store, server: HTTPServer) -> None:
    urls = {"gone": serve(server, "/gone.rss", ScriptedFeed(b"", status=404))}
    urls["closed"] = "http://127.0.0.1:9/feed.rss"  # discard port: nothing listens
    reports = by_key(await poll_sources(sqlite_store, make_settings(urls), now=NOW))
    assert reports["gone"].status == "error" and reports["gone"].http_status == 404
    assert "HTTP 404" in (reports["gone"].error or "")
    assert reports["closed"].status == "error" and "network error" in (reports["closed"].error or "")


async def test_size_cap(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    body = corpus_bytes(corpus, "coindesk")

    def streamed(_request: Request) -> Response:  # no Content-Length: the cap must hold while streaming
        return Response((body[i : i + 4096] for i in range(0, len(body), 4096)), content_type="application/rss+xml")

    urls = {"declared": serve(server, "/big.rss", ScriptedFeed(body)), "streamed": serve(server, "/s.rss", streamed)}
    settings = make_settings(urls, fetch={"max_bytes": 10_000})
    reports = by_key(await poll_sources(sqlite_store, settings, now=NOW))
    for key in urls:
        assert reports[key].status == "error"
        assert "too large" in (reports[key].error or "") and "max_bytes" in (reports[key].error or "")
    assert table_count(sqlite_store, ItemRow) == 0
    # the same streamed feed under a cap it fits in is fine
    (ok,) = await poll_sources(sqlite_store, make_settings({"streamed": urls["streamed"]}), now=NOW, force=True)
    assert ok.status == "ok" and ok.new_items == entry_count(body)


async def test_private_address_refused_when_not_allowed(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    handler = ScriptedFeed(corpus_bytes(corpus, "coindesk"))
    settings = make_settings({"local": serve(server, "/c.rss", handler)}, fetch={"allow_private_networks": False})
    (report,) = await poll_sources(sqlite_store, settings, now=NOW)
    assert report.status == "error" and "allow_private_networks" in (report.error or "")
    assert handler.requests == []  # refused before any connection
    assert table_count(sqlite_store, ItemRow) == 0


async def test_timeouts(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    body = corpus_bytes(corpus, "coindesk")

    # The slow servers hold their answers until the poll has returned (or 10 s pass): whether the poll waited for them
    # shows in what they managed to send, not in a wall-clock bound that a loaded machine would break.
    poll_returned = threading.Event()
    answered: list[str] = []

    def stalls(_request: Request) -> Response:
        poll_returned.wait(10)
        answered.append("stalls")
        return Response(body)

    def drips(_request: Request) -> Response:  # each chunk in time, the whole far too slow
        def chunks() -> Iterator[bytes]:
            for i in range(0, len(body), 2000):
                poll_returned.wait(0.1)
                yield body[i : i + 2000]
            answered.append("drips")

        return Response(chunks(), content_type="application/rss+xml")

    urls = {"stalls": serve(server, "/stall.rss", stalls), "drips": serve(server, "/drip.rss", drips)}
    urls["fine"] = serve(server, "/fine.rss", ScriptedFeed(body))
    try:
        reports = by_key(await poll_sources(sqlite_store, make_settings(urls, fetch={"timeout_seconds": 0.4}), now=NOW))
        assert answered == []  # the poll returned before either slow server had sent its whole answer
    finally:
        poll_returned.set()
    assert len(body) // 2000 * 0.1 > 0.8  # the drip alone takes at least twice the timeout
    for key in ("stalls", "drips"):
        assert reports[key].status == "error" and "timed out" in (reports[key].error or ""), reports[key]
    assert reports["fine"].status == "ok"


# ---- redirects (fetch_feed directly) ---------------------------------------------------------------------------


async def test_redirects_followed_and_each_hop_checked(corpus: Path, server: HTTPServer) -> None:
    body = corpus_bytes(corpus, "coindesk")
    final = serve(server, "/final.rss", ScriptedFeed(body, etag='"x"'))
    server.expect_request("/moved").respond_with_data("", status=301, headers={"Location": "/final.rss"})
    server.expect_request("/to-file").respond_with_data("", status=302, headers={"Location": "file:///etc/passwd"})
    server.expect_request("/loop").respond_with_data("", status=307, headers={"Location": "/loop"})
    server.expect_request("/no-location").respond_with_data("", status=302)
    server.expect_request("/to-bad-host").respond_with_data(
        "", status=302, headers={"Location": "http://xn--a.example/x"}
    )
    bad_host = "http://\u00a5\u0094\U0003f0d5/feed"  # not a valid IDNA name
    fetch = FetchConfig(allow_private_networks=True, timeout_seconds=5)
    async with httpx.AsyncClient() as client:

        async def get(path: str) -> Any:
            return await fetch_feed(client, server.url_for(path), etag=None, last_modified=None, fetch=fetch)

        ok = await get("/moved")
        assert ok.status == "ok" and ok.body == body and ok.final_url == final and ok.etag == '"x"'
        blocked = await get("/to-file")
        assert blocked.status == "error" and "only http and https" in (blocked.error or "")
        loop = await get("/loop")
        assert loop.status == "error" and "too many redirects" in (loop.error or "")
        missing = await get("/no-location")
        assert missing.status == "error" and "Location" in (missing.error or "")
        for bad in (server.url_for("/to-bad-host"), bad_host, "http://xn--a.example/feed"):
            broken = await fetch_feed(client, bad, etag=None, last_modified=None, fetch=fetch)
            assert broken.status == "error" and "invalid URL" in (broken.error or "")


# ---- sources table -----------------------------------------------------------------------------------------------


async def test_sync_sources_upserts_and_disables(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    a = serve(server, "/a.rss", ScriptedFeed(corpus_bytes(corpus, "coindesk"), etag='"a"'))
    b = serve(server, "/b.rss", ScriptedFeed(corpus_bytes(corpus, "theblock"), etag='"b"'))
    await poll_sources(sqlite_store, make_settings({"a": a, "b": b}), now=NOW)

    renamed = make_settings({"a": a})
    renamed.sources[0].name = "A renamed"
    renamed.sources[0].weight = 2.5
    sync_sources(sqlite_store, renamed)
    row_a, row_b = source_row(sqlite_store, "a"), source_row(sqlite_store, "b")
    assert (row_a.name, row_a.weight, row_a.enabled, row_a.etag) == ("A renamed", 2.5, True, '"a"')
    assert row_a.next_poll_at == NOW + timedelta(minutes=10)  # polling state kept
    assert row_b.enabled is False  # no longer configured
    assert await poll_sources(sqlite_store, renamed, now=NOW, force=True) != []
    assert {r.key for r in await poll_sources(sqlite_store, make_settings({"a": a}), now=NOW, force=True)} == {"a"}

    moved = make_settings({"a": b})
    sync_sources(sqlite_store, moved)
    row_a = source_row(sqlite_store, "a")
    assert row_a.url == b and row_a.etag is None and row_a.next_poll_at is None


async def test_failing_callback_does_not_lose_the_poll(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    url = serve(server, "/c.rss", ScriptedFeed(corpus_bytes(corpus, "coindesk")))

    def boom(_report: SourcePollReport) -> None:
        raise RuntimeError("progress bar broke")

    (report,) = await poll_sources(sqlite_store, make_settings({"c": url}), now=NOW, on_source_done=boom)
    assert report.status == "ok" and table_count(sqlite_store, ItemRow) == report.new_items > 0

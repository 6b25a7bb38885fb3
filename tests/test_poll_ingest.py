"""The poll's ingest path at scale: a batch's copies are foreseen once (``embed_ahead``'s set is what the assignment
uses) and the stories are the same as when the assignment foresees them again; Python's full collections are rarer
while sources are polled, and the thresholds are as they were afterwards."""

from __future__ import annotations

import gc
import importlib
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newsroom import collector
from newsroom.stages import poll, stories
from newsroom.stages.poll import poll_sources
from newsroom.store.db import Store
from newsroom.store.tables import ItemRow, StoryRow
from source_support import Scripted, http_server, serve, server, settings_for

__all__ = ["http_server", "server"]
pytestmark = pytest.mark.anyio

cluster = importlib.import_module("newsroom.dedupe.cluster")  # the package's ``cluster`` is the function
NOW = datetime(2025, 12, 13, 12, 0, tzinfo=UTC)
FEEDS = {"wire_a": "coindesk.rss", "wire_b": "coindesk.rss", "decrypt": "decrypt.rss", "theblock": "theblock.rss"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _stored(store: Store) -> tuple[set[frozenset[tuple[str, str]]], dict[tuple[str, str], tuple]]:
    """The stories as sets of their members' (source, external id), and each item's stored fields but its ids."""
    with store.session() as s:
        members: dict[int, set[tuple[str, str]]] = defaultdict(set)
        fields = {}
        for item in s.scalars(select(ItemRow)):
            key = (item.source_key, item.external_id)
            members[item.story_id].add(key)
            fields[key] = (item.url, item.title, item.summary, item.fingerprint, item.language, item.published_at)
        by_story = {st.id: (st.item_count, st.source_count) for st in s.scalars(select(StoryRow))}
    assert set(by_story) == set(members)
    for sid, group in members.items():
        assert by_story[sid][0] == len(group)
    return {frozenset(g) for g in members.values()}, fields


async def test_copies_are_foreseen_once_a_batch_with_the_same_stories(
    tmp_path: Path, corpus: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poll, "STORE_CHUNK", 20)
    monkeypatch.setattr(poll, "FIRST_CHUNK", 8)
    monkeypatch.setattr(poll, "POLL_CONCURRENCY", 1)  # one source at a time, in key order: the same order both polls
    sources = [
        {"key": key, "url": serve(server, f"/{key}", Scripted((corpus / "feeds" / name).read_bytes()))}
        for key, name in FEEDS.items()
    ]
    settings = settings_for(*sources)
    assert settings.stories.same_event
    foreseen: list[int] = []
    assigned: list[int] = []
    real_ahead, real_assign = cluster.copies_ahead, stories.assign_story_ids

    def counting_ahead(index, part):  # type: ignore[no-untyped-def]
        foreseen.append(len(part))
        return real_ahead(index, part)

    def counting_assign(session, items, *args, **kwargs):  # type: ignore[no-untyped-def]
        assigned.append(len(items))
        return real_assign(session, items, *args, **kwargs)

    monkeypatch.setattr(cluster, "copies_ahead", counting_ahead)
    monkeypatch.setattr(stories, "copies_ahead", counting_ahead)
    monkeypatch.setattr(poll, "assign_story_ids", counting_assign)
    once = Store(f"sqlite:///{tmp_path / 'once.db'}")
    reports = await poll_sources(once, settings, now=NOW)
    assert all(r.status == "ok" and r.new_items for r in reports), reports
    assert len(assigned) > len(FEEDS) and foreseen == assigned  # once a batch, not twice

    # the same poll with the assignment foreseeing the copies again itself, as before: the same stories and items
    real_embed_ahead = stories.embed_ahead
    monkeypatch.setattr(poll, "embed_ahead", lambda s, rows: (real_embed_ahead(s, rows), None)[1])
    foreseen.clear()
    assigned.clear()
    twice = Store(f"sqlite:///{tmp_path / 'twice.db'}")
    await poll_sources(twice, settings, now=NOW)
    assert foreseen == [n for n in assigned for _ in range(2)]
    groups, fields = _stored(once)
    assert (groups, fields) == _stored(twice)
    assert any(len(g) > 1 for g in groups)  # the two wires' copies share stories
    once.close()
    twice.close()


def test_full_collections_are_rarer_while_polling_and_restored_after() -> None:
    before = gc.get_threshold()
    raised = (
        max(before[0], collector.YOUNG_COLLECTION_AFTER),
        before[1],
        max(before[2], collector.FULL_COLLECTION_EVERY),
    )
    with collector.rare_full_collections():
        assert gc.get_threshold() == raised
        with collector.rare_full_collections():  # overlapping polls of two sources
            assert gc.get_threshold() == raised
        assert gc.get_threshold() == raised  # the other is still polling
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), collector.rare_full_collections():
        raise RuntimeError("a failing poll")
    assert gc.get_threshold() == before


async def test_a_source_is_stored_with_rare_full_collections(
    sqlite_store: Store, corpus: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []
    real = poll.record_poll

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(poll, "record_poll", recording)
    before = gc.get_threshold()
    source = {"key": "decrypt", "url": serve(server, "/d", Scripted((corpus / "feeds" / "decrypt.rss").read_bytes()))}
    (report,) = await poll_sources(sqlite_store, settings_for(source, stories={"same_event": False}), now=NOW)
    assert report.status == "ok" and report.new_items
    assert seen and all(t[2] >= collector.FULL_COLLECTION_EVERY for t in seen)
    assert all(t[0] >= collector.YOUNG_COLLECTION_AFTER for t in seen)
    assert gc.get_threshold() == before


async def test_samples_are_logged_once_a_reason(
    sqlite_store: Store, server: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Five entries dated in 2099 (flagged, kept with the fetch time) and one without an id (skipped): one log line
    per reason with its count and the samples, not one per entry."""
    items = "".join(
        f"<item><title>Item {i} of a far future</title><link>https://example.com/{i}</link><guid>g{i}</guid>"
        f"<pubDate>Thu, 01 Jan 2099 00:00:00 GMT</pubDate></item>"
        for i in range(5)
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://example.com/</link>'
        f"<description>d</description>{items}<item><title>No id here</title></item></channel></rss>"
    ).encode()
    source = {"key": "future", "url": serve(server, "/f", Scripted(body))}
    with caplog.at_level("INFO", logger="newsroom.stages.poll"):
        (report,) = await poll_sources(sqlite_store, settings_for(source, stories={"same_event": False}), now=NOW)
    assert report.new_items == 5 and report.flagged == {"date-in-future": 5}
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("source future:")]
    flagged = [line for line in lines if "flagged (date-in-future)" in line]
    assert len(flagged) == 1 and "5 entries flagged" in flagged[0]
    assert all(f"g{i}" in flagged[0] for i in range(5))

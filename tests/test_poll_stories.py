"""The poll's story writes (Core statements: the items' multi-row INSERT, the new stories' INSERT … RETURNING id, the
executemany UPDATEs of story ids and touched stories) leave every story as its members say.

The corpus feeds are polled under several keys (the same links from two sources: copies that join stories stored by
an earlier batch) in small chunks, so that most batches touch stories of earlier ones; then each story's counts, time
span and lead are checked against its member items as the store holds them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import event, select

from newsroom.stages import poll
from newsroom.stages.poll import poll_sources
from newsroom.store.db import Store
from newsroom.store.tables import ItemRow, StoryRow
from source_support import Scripted, http_server, serve, server, settings_for

__all__ = ["http_server", "server"]
pytestmark = pytest.mark.anyio

NOW = datetime(2025, 12, 13, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=at.tzinfo or UTC)


async def test_stories_agree_with_their_members(
    store: Store, corpus: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poll, "STORE_CHUNK", 7)
    monkeypatch.setattr(poll, "FIRST_CHUNK", 3)
    feeds = {"wire_a": "coindesk.rss", "wire_b": "coindesk.rss", "decrypt": "decrypt.rss", "theblock": "theblock.rss"}
    sources = [
        {"key": key, "url": serve(server, f"/{key}", Scripted((corpus / "feeds" / name).read_bytes()))}
        for key, name in feeds.items()
    ]
    settings = settings_for(*sources, stories={"same_event": False})
    reports = await poll_sources(store, settings, now=NOW)
    assert all(r.status == "ok" and r.new_items for r in reports), reports
    with store.session() as s:
        items = list(s.scalars(select(ItemRow)))
        stories = {st.id: st for st in s.scalars(select(StoryRow))}
        members: dict[int, list[ItemRow]] = defaultdict(list)
        for item in items:
            assert item.story_id in stories
            members[item.story_id].append(item)
        assert set(members) == set(stories)
        shared = 0
        for sid, story in stories.items():
            group = members[sid]
            assert story.item_count == len(group)
            assert story.source_count == len({i.source_key for i in group})
            assert _utc(story.first_seen_at) == min(_utc(i.published_at) for i in group)
            assert _utc(story.last_seen_at) == max(_utc(i.published_at) for i in group)
            richness = {i.id: max(len(i.content or ""), len(i.summary or "")) for i in group}
            assert story.lead_item_id in richness and richness[story.lead_item_id] == max(richness.values())
            shared += story.source_count > 1
        assert shared >= 20  # the two wires' copies joined stories stored by earlier batches


async def test_a_batch_is_inserted_in_few_statements(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    """Many rows a statement: RETURNING in parameter order has no sentinel on SQLite, where SQLAlchemy then sends one
    INSERT per row; the poll matches the returned ids by key instead."""
    statements: list[str] = []

    @event.listens_for(sqlite_store.engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split("(", 1)[0].strip())

    body = (corpus / "feeds" / "decrypt.rss").read_bytes()
    source = {"key": "decrypt", "url": serve(server, "/d", Scripted(body))}
    settings = settings_for(source, stories={"same_event": False})
    (report,) = await poll_sources(sqlite_store, settings, now=NOW)
    assert report.new_items > 40
    assert statements.count("INSERT INTO items") <= 2 and statements.count("INSERT INTO stories") <= 2


def test_the_driver_executemany_writes_what_sqlalchemy_writes(store: Store) -> None:
    """``stories._executemany`` (the UPDATEs of story ids and touched stories, one DB-API executemany) stores the same
    values, in the same form, as ``session.execute`` with the same rows."""
    from newsroom.stages.stories import _ITEM_STORY, _STORY_COLUMNS, _STORY_UPDATE, _executemany
    from newsroom.store.tables import SourceRow

    when = [datetime(2025, 12, 12, 10, 0, 0, 123456, tzinfo=UTC), datetime(2025, 12, 13, 9, 30, tzinfo=UTC)]
    with store.session() as s:
        s.add(SourceRow(key="k", name="k", type="rss", url="https://e.com/f", error_count=0, items_seen=0))
        s.add_all(StoryRow(lead_item_id=0, status="new", created_at=when[0], updated_at=when[0]) for _ in range(4))
        s.add_all(
            ItemRow(source_key="k", external_id=str(n), url="", title="t", fingerprint="f", published_at=when[0])
            for n in range(4)
        )
    with store.session() as s:
        story_ids = sorted(s.scalars(select(StoryRow.id)))
        item_ids = sorted(s.scalars(select(ItemRow.id)))
        values = {"source_count": 2, "item_count": 3, "first_seen_at": when[0], "last_seen_at": when[1]}
        rows = [{"_id": sid, **values, "updated_at": when[1], "lead_item_id": item_ids[0]} for sid in story_ids]
        assert set(rows[0]) - {"_id"} == set(_STORY_COLUMNS)
        s.execute(_STORY_UPDATE, rows[:2])
        _executemany(s, _STORY_UPDATE, rows[2:])
        s.execute(_ITEM_STORY, [{"_id": item_ids[0], "story_id": story_ids[0]}, {"_id": item_ids[1], "story_id": None}])
        _executemany(
            s, _ITEM_STORY, [{"_id": item_ids[2], "story_id": story_ids[0]}, {"_id": item_ids[3], "story_id": None}]
        )
    with store.engine.connect() as c:  # as the database holds them (SQLite: the text of each timestamp)
        raw = c.exec_driver_sql(
            "SELECT lead_item_id, source_count, item_count, first_seen_at, last_seen_at, updated_at FROM stories"
            " ORDER BY id"
        ).all()
        stories = [tuple(r) for r in raw]
        items = [tuple(r) for r in c.exec_driver_sql("SELECT story_id FROM items ORDER BY id").all()]
    assert stories[0] == stories[1] == stories[2] == stories[3]
    assert items == [(story_ids[0],), (None,), (story_ids[0],), (None,)]
    with store.session() as s:
        assert _utc(s.get(StoryRow, story_ids[3]).first_seen_at) == when[0]  # type: ignore[union-attr]

"""Source actions for the API and the UI: add (an editor's source, kept beside the configured ones), enable or
pause, poll one source now (the poll stage's own fetch, parse and store path)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..editorial import EditorialError, NotFound
from ..stages.poll import SourcePollReport, due_source, http_client, poll_one
from ..store.db import Store
from ..store.tables import SourceRow
from .schemas import SourceIn

__all__ = ["add_source", "poll_now", "set_enabled"]


class Conflict(EditorialError):
    status = 409
    code = "conflict"


def add_source(store: Store, src: SourceIn) -> SourceRow:
    row = SourceRow(
        key=src.key,
        name=src.name,
        type=src.type,
        url=src.url,
        enabled=True,
        paused=False,
        origin="editor",
        interval_seconds=src.interval_minutes * 60,
        weight=src.weight,
        error_count=0,
        items_seen=0,
        options=src.options() or None,
    )
    try:
        with store.session() as s:
            if s.scalar(select(SourceRow.id).where(SourceRow.key == src.key)) is not None:
                raise Conflict(f"a source with key {src.key!r} exists")
            s.add(row)
    except IntegrityError:
        raise Conflict(f"a source with key {src.key!r} exists") from None
    return row


def set_enabled(store: Store, key: str, enabled: bool) -> SourceRow:
    """Pause (``enabled=False``) or resume a source. Config sync respects an editor's pause."""
    with store.session() as s:
        row = s.scalars(select(SourceRow).where(SourceRow.key == key)).first()
        if row is None:
            raise NotFound(f"no source {key!r}")
        row.paused = not enabled
        row.enabled = enabled
        if enabled:
            row.next_poll_at = None  # due at once
    return row


async def poll_now(store: Store, settings: Settings, key: str) -> SourcePollReport:
    """Fetch one source now, whatever its schedule, and store what it brings (no model calls)."""
    with store.session() as s:
        row = s.scalars(select(SourceRow).where(SourceRow.key == key)).first()
        if row is not None and row.parent:  # a publisher the API relays: polling it means polling its relay
            row = s.scalars(select(SourceRow).where(SourceRow.key == row.parent)).first()
        if row is None:
            raise NotFound(f"no source {key!r}")
        due = due_source(row)
    async with http_client(settings) as client:
        return await poll_one(store, settings, client, due, datetime.now(UTC), asyncio.Lock())

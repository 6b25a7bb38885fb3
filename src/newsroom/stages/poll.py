"""The poll stage: fetch every due source, store new items, give each a story.

Idempotent by construction: items are unique on (source key, external id), so a re-poll of an unchanged feed stores
nothing and therefore creates no story and costs no model tokens, whether the server answers 304 or ignores the
conditional headers. A broken source is recorded on its row (status, error, error count, a backed-off next poll)
and never stops the others; nothing raises out of ``poll_sources``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import FeedItem
from ..sources.feeds import FetchResult, ParsedFeed, fetch_feed, parse_feed
from ..store.claims import claim_source
from ..store.db import Store
from ..store.tables import ItemRow, SourceRow
from ..text import fingerprint
from .stories import assign_story, prefetch_vectors

log = logging.getLogger(__name__)

POLL_CONCURRENCY = 8
INSERT_ATTEMPTS = 3
STORE_CHUNK = 50  # new items per transaction: small enough that writing starts early, big enough to stay cheap
FEED_TYPES = ("RSS", "ATOM")
POLL_LEASE = timedelta(minutes=5)  # a poller that dies leaves its sources due again after this

PollStatus = Literal["ok", "not_modified", "error", "bozo"]


@dataclass
class SourcePollReport:
    key: str
    status: PollStatus
    http_status: int | None = None
    new_items: int = 0
    seen_items: int = 0  # entries of this poll that were already stored
    error: str | None = None  # HTTP/network/parse error, or the bozo reason of a feed that still gave entries
    skipped_entries: int = 0  # entries with neither a link nor an id


@dataclass(frozen=True)
class DueSource:
    """A source the poll stage is about to fetch, with its conditional-GET validators."""

    key: str
    type: str
    url: str
    etag: str | None
    last_modified: str | None


# ---- sources table ---------------------------------------------------------------------------------------------


def sync_sources(store: Store, settings: Settings) -> None:
    """Make the sources table match the config: upsert configured sources, disable rows no longer configured.

    Polling state (validators, error counts, schedule) survives; a changed URL drops the old URL's validators and
    makes the source due at once.
    """
    for attempt in (1, 2):
        try:
            _sync_sources_once(store, settings)
            return
        except IntegrityError:
            if attempt == 2:
                raise
            # another process inserted the same new source row at the same moment: the retry updates it instead


def _sync_sources_once(store: Store, settings: Settings) -> None:
    with store.session() as s:
        rows = {r.key: r for r in s.scalars(select(SourceRow))}
        for cfg in settings.sources:
            row = rows.get(cfg.key)
            if row is None:
                row = SourceRow(key=cfg.key, error_count=0, items_seen=0)
                s.add(row)
            elif row.url != cfg.url:
                row.etag = row.last_modified = None
                row.next_poll_at = None
                row.error_count = 0
            row.name = cfg.name
            row.url = cfg.url
            row.type = cfg.type
            row.weight = cfg.weight
            row.interval_seconds = cfg.interval_minutes * 60
            row.enabled = cfg.enabled and not row.paused  # an editor's pause wins over the config
        configured = {c.key for c in settings.sources}
        for key, row in rows.items():
            if key not in configured and row.origin != "editor":  # editor-added sources are not in the config
                row.enabled = False


def _due_sources(store: Store, now: datetime, force: bool) -> list[DueSource]:
    """The enabled sources due now (all of them with ``force``). Each due one is claimed for this poll
    (``store.claims.claim_source``), so two processes on one database never fetch and store the same feed at once."""
    with store.session() as s:
        rows = s.scalars(select(SourceRow).where(SourceRow.enabled.is_(True)).order_by(SourceRow.key)).all()
        due = [r for r in rows if force or r.next_poll_at is None or r.next_poll_at <= now]
        if not force:
            due = [r for r in due if claim_source(s, r.key, now, POLL_LEASE)]
        return [DueSource(r.key, r.type, r.url, r.etag, r.last_modified) for r in due]


def backoff_delay(interval_seconds: float, error_count: int, max_backoff_minutes: float) -> timedelta:
    """interval × 2^error_count, capped at max_backoff_minutes, never shorter than the interval itself."""
    delay = interval_seconds * 2 ** min(error_count, 32)
    return timedelta(seconds=max(interval_seconds, min(delay, max_backoff_minutes * 60)))


# ---- storing one source's result -----------------------------------------------------------------------------------


def newest_items(items: Sequence[FeedItem], limit: int) -> list[FeedItem]:
    """First occurrence of each external id, the ``limit`` newest of them."""
    unique = list({i.external_id: i for i in reversed(items)}.values())[::-1]
    return sorted(unique, key=lambda i: i.published_at, reverse=True)[:limit]


def _store_items(s: Session, key: str, items: list[FeedItem], now: datetime, same_event: bool = True) -> int:
    """Insert the items not yet stored (oldest first, so stories follow publication order); return how many."""
    existing: set[str] = set()
    ids = [i.external_id for i in items]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        existing.update(
            s.scalars(select(ItemRow.external_id).where(ItemRow.source_key == key, ItemRow.external_id.in_(chunk)))
        )
    fresh = sorted((i for i in items if i.external_id not in existing), key=lambda i: i.published_at)
    if same_event and fresh:
        prefetch_vectors([i.title for i in fresh])  # one batch instead of one model call per item
    new = 0
    for item in fresh:
        row = ItemRow(
            source_key=key,
            external_id=item.external_id,
            url=item.url,
            title=item.title,
            summary=item.summary,
            content=item.content,
            categories=item.categories,
            author=item.author,
            published_at=item.published_at,
            fetched_at=now,
            fingerprint=fingerprint(item.title, item.text),
        )
        s.add(row)
        s.flush()
        assign_story(s, row, same_event=same_event)
        new += 1
    return new


def _source_row(s: Session, key: str) -> SourceRow:
    return s.scalars(select(SourceRow).where(SourceRow.key == key)).one()


def _record_failure(
    store: Store, settings: Settings, key: str, message: str, http_status: int | None, now: datetime
) -> SourcePollReport:
    with store.session() as s:
        row = _source_row(s, key)
        row.last_polled_at = now
        row.last_status = "error"
        row.last_error = message
        row.error_count = (row.error_count or 0) + 1
        row.next_poll_at = now + backoff_delay(
            row.interval_seconds, row.error_count, settings.fetch.max_backoff_minutes
        )
    log.warning("source %s: %s", key, message)
    return SourcePollReport(key=key, status="error", http_status=http_status, error=message)


def _record_success(
    store: Store,
    settings: Settings,
    key: str,
    result: FetchResult,
    parsed: ParsedFeed | None,
    now: datetime,
    on_stored: Callable[[], None] | None = None,
) -> SourcePollReport:
    """New items and their stories commit in chunks of STORE_CHUNK (``on_stored`` is called after each, so writing
    can start while the rest is stored); the source's validators (ETag, Last-Modified) commit last. A crash in between
    leaves the old validators, so the next poll fetches the feed again and stores what is missing: items are unique
    per (source, externalId), which is what makes the chunks safe."""
    report = SourcePollReport(key=key, status="not_modified", http_status=result.http_status)
    items: list[FeedItem] = []
    if result.status == "ok" and parsed is not None:
        items = sorted(newest_items(parsed.items, settings.max_items_per_source), key=lambda i: i.published_at)
        for start in range(0, len(items), STORE_CHUNK):
            with store.session() as s:
                stored = _store_items(s, key, items[start : start + STORE_CHUNK], now, settings.stories.same_event)
            report.new_items += stored
            if stored and on_stored is not None:
                on_stored()
    with store.session() as s:
        row = _source_row(s, key)
        if result.status == "ok" and parsed is not None:
            report.seen_items = len(items) - report.new_items
            report.skipped_entries = parsed.skipped
            report.status = "bozo" if parsed.bozo else "ok"
            report.error = parsed.bozo
            row.etag = result.etag
            row.last_modified = result.last_modified
            row.items_seen = (row.items_seen or 0) + report.new_items
        else:  # 304: keep validators, refreshed if the server sent new ones
            row.etag = result.etag or row.etag
            row.last_modified = result.last_modified or row.last_modified
        row.last_status = report.status
        row.last_error = report.error
        row.error_count = 0
        row.last_polled_at = now
        row.last_success_at = now
        row.next_poll_at = now + timedelta(seconds=row.interval_seconds)
    return report


def record_poll(
    store: Store,
    settings: Settings,
    key: str,
    result: FetchResult,
    parsed: ParsedFeed | None,
    now: datetime,
    on_stored: Callable[[], None] | None = None,
) -> SourcePollReport:
    """Store what one poll of one source produced and update the source's state. Blocking (run it in a thread);
    ``on_stored`` is called, from that thread, whenever a chunk of new items has been committed."""
    if result.status == "error":
        return _record_failure(store, settings, key, result.error or "unknown error", result.http_status, now)
    if parsed is not None and not parsed.items and parsed.bozo:
        return _record_failure(store, settings, key, parsed.bozo, result.http_status, now)
    for attempt in range(1, INSERT_ATTEMPTS + 1):
        try:
            return _record_success(store, settings, key, result, parsed, now, on_stored)
        except IntegrityError as exc:
            # Another poller stored some of the same items between our read and our insert: the transaction
            # rolled back as a whole; the next attempt sees those items as existing and skips them.
            log.info("source %s: concurrent insert (attempt %d): %s", key, attempt, exc.orig)
    return _record_failure(
        store, settings, key, f"could not store items after {INSERT_ATTEMPTS} attempts", result.http_status, now
    )


# ---- the stage -----------------------------------------------------------------------------------------------------


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The feed client: the configured time-out and User-Agent, redirects followed by hand (each hop is checked)."""
    return httpx.AsyncClient(
        timeout=settings.fetch.timeout_seconds,
        headers={"User-Agent": settings.fetch.user_agent},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=POLL_CONCURRENCY * 2, max_keepalive_connections=POLL_CONCURRENCY),
    )


async def poll_one(
    store: Store,
    settings: Settings,
    client: httpx.AsyncClient,
    src: DueSource,
    now: datetime,
    db_lock: asyncio.Lock,
    on_stored: Callable[[], None] | None = None,
) -> SourcePollReport:
    """Fetch, parse and store one source (its own schedule aside), recording the outcome on its row; the poll stage
    and the editors' "poll now" both come through here. Store writes wait for ``db_lock``."""
    if src.type not in FEED_TYPES:
        result = FetchResult(status="error", error=f"source type {src.type} has no adapter yet; use RSS or ATOM")
        parsed = None
    else:
        result = await fetch_feed(client, src.url, etag=src.etag, last_modified=src.last_modified, fetch=settings.fetch)
        parsed = None
        if result.status == "ok":
            parsed = await asyncio.to_thread(
                parse_feed, result.body or b"", source_key=src.key, base_url=result.final_url or src.url, now=now
            )
    async with db_lock:  # one writer at a time: SQLite allows no more, and it keeps PostgreSQL retries rare
        return await asyncio.to_thread(record_poll, store, settings, src.key, result, parsed, now, on_stored)


async def poll_sources(
    store: Store,
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    force: bool = False,
    now: datetime | None = None,
    on_source_done: Callable[[SourcePollReport], None] | None = None,
    on_items_stored: Callable[[], None] | None = None,
) -> list[SourcePollReport]:
    """Poll every due source (all enabled ones with ``force``), concurrently; one report per polled source.
    ``on_items_stored`` is called on the event loop each time a chunk of new items (and their stories) is committed."""
    now = now or datetime.now(UTC)
    loop = asyncio.get_running_loop()
    notify = (lambda: loop.call_soon_threadsafe(on_items_stored)) if on_items_stored else None
    await asyncio.to_thread(sync_sources, store, settings)
    due = await asyncio.to_thread(_due_sources, store, now, force)
    if not due:
        return []
    own_client = client is None
    http = client or http_client(settings)
    limit = asyncio.Semaphore(POLL_CONCURRENCY)
    db_lock = asyncio.Lock()

    async def one(src: DueSource) -> SourcePollReport:
        async with limit:
            try:
                report = await poll_one(store, settings, http, src, now, db_lock, notify)
            except Exception as exc:  # one source's surprise must not stop the others
                log.exception("source %s: unexpected failure", src.key)
                message = f"internal error: {type(exc).__name__}: {exc}"
                try:
                    report = await asyncio.to_thread(_record_failure, store, settings, src.key, message, None, now)
                except Exception:  # noqa: BLE001 - the store itself is failing; report it anyway
                    report = SourcePollReport(key=src.key, status="error", error=message)
        if on_source_done is not None:
            try:
                on_source_done(report)
            except Exception:  # a progress callback must not lose a poll
                log.exception("on_source_done callback failed for %s", src.key)
        return report

    try:
        return list(await asyncio.gather(*(one(src) for src in due)))
    finally:
        if own_client:
            await http.aclose()

"""The poll stage: fetch every due source, store new items, give each a story.

Idempotent by construction: items are unique on (source key, external id), so a re-poll of an unchanged feed stores
nothing and therefore creates no story and costs no model tokens, whether the server answers 304 or ignores the
conditional headers. A broken source is recorded on its row (status, error, error count, a backed-off next poll)
and never stops the others; nothing raises out of ``poll_sources``. Each source kind is an adapter (sources/base.py);
what every item needs before the store (hostile text, links, dates, limits) is sources/normalise.py.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..collector import rare_full_collections
from ..config import Settings
from ..guards.injection import neutralise_item
from ..models import FeedItem
from ..netguard import tls_context
from ..sources.base import Batch, FetchContext, SourceSpec, UnknownSourceType, adapter_for
from ..sources.normalise import finalise, item_languages
from ..store.claims import claim_source
from ..store.db import Store
from ..store.tables import ItemRow, SourceRow
from ..text import fingerprint
from .stories import ITEMS, NewItem, assign_story_ids, embed_ahead

log = logging.getLogger(__name__)

POLL_CONCURRENCY = 8
INSERT_ATTEMPTS = 3
STORE_CHUNK = 500  # new items per transaction and per story batch: writing starts early, batches stay cheap
FIRST_CHUNK = 64  # ...except the first of a source's poll: its first stories reach the writers after 64 items
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
    skipped_entries: int = 0  # entries not stored, for a reason other than being stored already
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> entries (no-id, duplicate-id, over-max-items…)
    flagged: dict[str, int] = field(default_factory=dict)  # reason -> entries kept but repaired (date-in-future…)


def due_source(row: SourceRow) -> SourceSpec:
    options = dict(row.options or {})
    return SourceSpec(
        key=row.key,
        type=row.type,
        url=row.url,
        name=row.name,
        language=options.pop("language", None),
        options=options,
        etag=row.etag,
        last_modified=row.last_modified,
        cursor=row.cursor,
    )


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
            options = cfg.adapter_options()
            if row is None:
                row = SourceRow(key=cfg.key, error_count=0, items_seen=0)
                s.add(row)
            elif row.url != cfg.url or row.type != cfg.type or (row.options or {}) != options:
                # a changed config deserves a fresh start: no stale validators or cursor, no backoff left to wait
                row.etag = row.last_modified = row.cursor = None
                row.next_poll_at = None
                row.error_count = 0
            row.name = cfg.name
            row.url = cfg.url
            row.type = cfg.type
            row.options = options
            row.parent = None
            row.weight = cfg.weight
            row.interval_seconds = cfg.interval_minutes * 60
            row.enabled = cfg.enabled and not row.paused  # an editor's pause wins over the config
        configured = {c.key for c in settings.sources}
        for key, row in rows.items():
            # editor-added sources are not in the config; a publisher row (parent set) is kept by its relay source
            if key not in configured and row.origin != "editor" and row.parent is None:
                row.enabled = False


def claim_due(s: Session, now: datetime, force: bool = False) -> list[SourceSpec]:
    """The enabled sources due now (all of them with ``force``), in the caller's transaction. Each due one is claimed
    for this poll (``store.claims.claim_source``), so two processes on one database never fetch and store the same feed
    at once; the worker's schedule (``newsroom.tasks``) commits the claims together with the poll jobs it defers."""
    rows = s.scalars(
        select(SourceRow).where(SourceRow.enabled.is_(True), SourceRow.parent.is_(None)).order_by(SourceRow.key)
    ).all()
    due = [r for r in rows if force or r.next_poll_at is None or r.next_poll_at <= now]
    if not force:
        due = [r for r in due if claim_source(s, r.key, now, POLL_LEASE)]
    return [due_source(r) for r in due]


def _due_sources(store: Store, now: datetime, force: bool) -> list[SourceSpec]:
    with store.session() as s:
        return claim_due(s, now, force)


def backed_off(store: Store, now: datetime) -> list[SourceRow]:
    """Enabled sources waiting out an error backoff (``--force`` polls them now)."""
    with store.session() as s:
        rows = s.scalars(
            select(SourceRow).where(SourceRow.enabled.is_(True), SourceRow.parent.is_(None), SourceRow.error_count > 0)
        )
        return [r for r in rows if r.next_poll_at is not None and r.next_poll_at > now]


def backoff_delay(interval_seconds: float, error_count: int, max_backoff_minutes: float) -> timedelta:
    """interval × 2^error_count, capped at max_backoff_minutes, never shorter than the interval itself."""
    delay = interval_seconds * 2 ** min(error_count, 32)
    return timedelta(seconds=max(interval_seconds, min(delay, max_backoff_minutes * 60)))


# ---- storing one source's result -----------------------------------------------------------------------------------


def _store_items(s: Session, items: list[FeedItem], now: datetime, same_event: bool = True) -> int:
    """Insert the items not yet stored and give them stories in one batch (publication order); return how many.
    Each item goes to its own ``source_key``: a relay source (the API) stores items under their publisher."""
    existing: set[tuple[str, str]] = set()
    by_source: dict[str, list[str]] = {}
    for i in items:
        by_source.setdefault(i.source_key, []).append(i.external_id)
    for key, ids in by_source.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = s.execute(
                select(ItemRow.source_key, ItemRow.external_id).where(
                    ItemRow.source_key == key, ItemRow.external_id.in_(chunk)
                )
            )
            existing.update((k, e) for k, e in rows)
    new = [i for i in items if (i.source_key, i.external_id) not in existing]
    # the language of an item that states none is detected now, on the text as finalise left it: only for new items
    languages = item_languages(new)
    # feed content is data: passages addressed to a model are cut from every field before it is stored (a copy of
    # the item only where something was cut: nearly never)
    fresh = sorted(
        ((neutralise_item(i), lang) for i, lang in zip(new, languages, strict=True)), key=lambda p: p[0].published_at
    )
    values = [
        {
            "source_key": item.source_key,
            "external_id": item.external_id,
            "url": item.url,
            "title": item.title,
            "summary": item.summary,
            "content": item.content,
            "categories": item.categories,
            "author": item.author,
            "published_at": item.published_at,
            "fetched_at": now,
            "fingerprint": fingerprint(item.title, item.text),
            "language": language,
            "signals": item.signals or None,
            "story_id": None,
        }
        for item, language in fresh
    ]
    if not values:
        return 0
    # one multi-row INSERT … RETURNING per few hundred rows (no ORM objects to build, track and flush one by one)
    rows = [  # ids set from the INSERT's RETURNING
        NewItem(0, v["source_key"], v["external_id"], v["url"], v["title"], v["summary"], v["content"],
                v["fingerprint"], v["published_at"])
        for v in values
    ]  # fmt: skip
    ahead = None
    if same_event:  # the headlines' embeddings before the INSERT takes SQLite's write lock (stories.embed_ahead)
        ahead = embed_ahead(s, rows)
    # a Core INSERT on the table (the ORM's bulk path costs about as much again per row in Python), many rows a
    # statement: RETURNING in parameter order (``sort_by_parameter_order``) has no sentinel on SQLite and made
    # SQLAlchemy insert one row per statement, so each row's id is matched by its unique (source, external id)
    returned = s.execute(insert(ITEMS).returning(ITEMS.c.id, ITEMS.c.source_key, ITEMS.c.external_id), values)
    by_key = {(k, e): i for i, k, e in returned}
    for row in rows:
        row.id = by_key[row.source_key, row.external_id]
    assign_story_ids(s, rows, same_event=same_event, ahead=ahead)  # one batch, in publication order (stories.py)
    return len(rows)


def _source_row(s: Session, key: str) -> SourceRow:
    return s.scalars(select(SourceRow).where(SourceRow.key == key)).one()


def _ensure_publishers(s: Session, relay: SourceRow, items: list[FeedItem]) -> None:
    """One source row per real publisher a relay source delivers (key, name and type as the relay reports them);
    a row that exists already (a configured feed of the same publisher) is left as it is."""
    publishers = {i.publisher.key: i.publisher for i in items if i.publisher is not None and i.source_key != relay.key}
    if not publishers:
        return
    known = set(s.scalars(select(SourceRow.key).where(SourceRow.key.in_(list(publishers)))))
    for key, pub in publishers.items():
        if key in known:
            continue
        s.add(
            SourceRow(
                key=key,
                name=pub.name,
                type=pub.type,
                url=relay.url,
                enabled=True,
                interval_seconds=relay.interval_seconds,
                weight=relay.weight,
                error_count=0,
                items_seen=0,
                origin=relay.origin,
                parent=relay.key,
            )
        )
    s.flush()


def _record_failure(
    store: Store,
    settings: Settings,
    key: str,
    message: str,
    http_status: int | None,
    now: datetime,
    retry_after: float | None = None,
) -> SourcePollReport:
    with store.session() as s:
        row = _source_row(s, key)
        row.last_polled_at = now
        row.last_status = "error"
        row.last_error = message
        row.error_count = (row.error_count or 0) + 1
        delay = backoff_delay(row.interval_seconds, row.error_count, settings.fetch.max_backoff_minutes)
        if retry_after is not None:  # the source said how long to wait (HTTP 429): at least that, within the cap
            delay = max(delay, timedelta(seconds=min(retry_after, settings.fetch.max_backoff_minutes * 60)))
        row.next_poll_at = now + delay
    log.warning("source %s: %s", key, message)
    return SourcePollReport(key=key, status="error", http_status=http_status, error=message)


def _count(row: SourceRow, batch: Batch) -> None:
    """The batch's skipped and flagged entries on the source row: this poll's (with samples) and the running totals."""
    entries = batch.entries
    totals: Counter[str] = Counter(row.skip_counts or {})
    totals.update(entries.skipped)
    totals.update({f"flagged:{k}": v for k, v in entries.flagged.items()})
    row.skip_counts = dict(totals) or None
    last = {"skipped": dict(entries.skipped), "flagged": dict(entries.flagged), "samples": entries.samples}
    row.last_skips = last if entries.skipped or entries.flagged else None
    # one log line per reason, not per sample: each line is a rich render (about 0.5-2 ms beside the progress bar)
    shown: dict[tuple[str, str], list[str]] = {}
    for sample in entries.samples:
        shown.setdefault((sample["what"], sample["reason"]), []).append(sample["entry"])
    for (what, reason), samples in shown.items():
        count = (entries.skipped if what == "skipped" else entries.flagged)[reason]
        log.info("source %s: %d entries %s (%s), e.g. %s", row.key, count, what, reason, "; ".join(samples))


def _record_success(
    store: Store,
    settings: Settings,
    key: str,
    batch: Batch,
    now: datetime,
    on_stored: Callable[[], None] | None = None,
) -> SourcePollReport:
    """New items and their stories commit in chunks of STORE_CHUNK, the first FIRST_CHUNK long (``on_stored`` is
    called after each, so writing can start while the rest is stored); the source's validators (ETag,
    Last-Modified, cursor) commit last. A crash in between leaves the old validators, so the next poll fetches again
    and stores what is missing: items are unique per (source, externalId), which is what makes the chunks safe."""
    report = SourcePollReport(key=key, status="not_modified", http_status=batch.http_status)
    items: list[FeedItem] = []
    if batch.status == "ok":
        items = sorted(batch.items, key=lambda i: i.published_at)
        with store.session() as s:
            _ensure_publishers(s, _source_row(s, key), items)
        bounds = [0, *range(min(FIRST_CHUNK, STORE_CHUNK), len(items), STORE_CHUNK), len(items)]
        for start, end in itertools.pairwise(bounds):
            with store.session() as s:
                stored = _store_items(s, items[start:end], now, settings.stories.same_event)
            report.new_items += stored
            if stored and on_stored is not None:
                on_stored()
    with store.session() as s:
        row = _source_row(s, key)
        if batch.status == "ok":
            report.seen_items = len(items) - report.new_items
            report.skipped = dict(batch.entries.skipped)
            report.flagged = dict(batch.entries.flagged)
            report.skipped_entries = sum(report.skipped.values())
            report.status = "bozo" if batch.warning else "ok"
            report.error = batch.warning
            row.etag = batch.etag
            row.last_modified = batch.last_modified
            row.cursor = batch.cursor or row.cursor
            row.items_seen = (row.items_seen or 0) + report.new_items
            _count(row, batch)
        else:  # 304: keep validators, refreshed if the server sent new ones
            row.etag = batch.etag or row.etag
            row.last_modified = batch.last_modified or row.last_modified
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
    batch: Batch,
    now: datetime,
    on_stored: Callable[[], None] | None = None,
) -> SourcePollReport:
    """Store what one poll of one source produced (a finalised Batch) and update the source's state. Blocking (run
    it in a thread); ``on_stored`` is called, from that thread, whenever a chunk of new items has been committed."""
    if batch.status == "error":
        return _record_failure(
            store, settings, key, batch.error or "unknown error", batch.http_status, now, batch.retry_after
        )
    for attempt in range(1, INSERT_ATTEMPTS + 1):
        try:
            return _record_success(store, settings, key, batch, now, on_stored)
        except IntegrityError as exc:
            # Another poller stored some of the same items between our read and our insert: the transaction
            # rolled back as a whole; the next attempt sees those items as existing and skips them.
            log.info("source %s: concurrent insert (attempt %d): %s", key, attempt, exc.orig)
    return _record_failure(
        store, settings, key, f"could not store items after {INSERT_ATTEMPTS} attempts", batch.http_status, now
    )


# ---- the stage -----------------------------------------------------------------------------------------------------


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The feed client: the configured time-out and User-Agent, redirects followed by hand (each hop is checked), the
    process's one TLS context (``netguard.tls_context``: the CA bundle is not loaded again, about 0.1 s of CPU)."""
    return httpx.AsyncClient(
        timeout=settings.fetch.timeout_seconds,
        headers={"User-Agent": settings.fetch.user_agent},
        follow_redirects=False,
        verify=tls_context(),
        limits=httpx.Limits(max_connections=POLL_CONCURRENCY * 2, max_keepalive_connections=POLL_CONCURRENCY),
    )


async def poll_one(
    store: Store,
    settings: Settings,
    client: httpx.AsyncClient,
    src: SourceSpec,
    now: datetime,
    db_lock: asyncio.Lock,
    on_stored: Callable[[], None] | None = None,
) -> SourcePollReport:
    """Fetch, parse and store one source (its own schedule aside), recording the outcome on its row; the poll stage
    and the editors' "poll now" both come through here. Store writes wait for ``db_lock``."""
    try:
        adapter = adapter_for(src.type)
    except UnknownSourceType as exc:
        batch = Batch.failed(str(exc))
    else:
        ctx = FetchContext(client=client, fetch=settings.fetch, now=now, max_items=settings.max_items_per_source)
        batch = await adapter.poll(src, ctx)
        if batch.status == "ok":
            if not batch.items and batch.warning:
                batch = Batch.failed(batch.warning, http_status=batch.http_status)
            else:
                kw = {"language": src.language, "now": now, "max_items": settings.max_items_per_source}
                batch = await asyncio.to_thread(finalise, batch, **kw)
    async with db_lock:  # one writer at a time: SQLite allows no more, and it keeps PostgreSQL retries rare
        return await asyncio.to_thread(record_poll, store, settings, src.key, batch, now, on_stored)


async def poll_guarded(
    store: Store,
    settings: Settings,
    client: httpx.AsyncClient,
    src: SourceSpec,
    now: datetime,
    db_lock: asyncio.Lock,
    on_stored: Callable[[], None] | None = None,
) -> SourcePollReport:
    """``poll_one``, with any surprise recorded on the source's row (an error, a backed-off next poll) instead of
    raised: one source's failure never stops the others (the poll stage, a worker's poll job)."""
    try:
        with rare_full_collections():
            return await poll_one(store, settings, client, src, now, db_lock, on_stored)
    except Exception as exc:
        log.exception("source %s: unexpected failure", src.key)
        message = f"internal error: {type(exc).__name__}: {exc}"
        try:
            return await asyncio.to_thread(_record_failure, store, settings, src.key, message, None, now)
        except Exception:  # noqa: BLE001 - the store itself is failing; report it anyway
            return SourcePollReport(key=src.key, status="error", error=message)


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

    async def one(src: SourceSpec) -> SourcePollReport:
        async with limit:
            report = await poll_guarded(store, settings, http, src, now, db_lock, notify)
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

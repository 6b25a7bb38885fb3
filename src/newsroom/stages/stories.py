"""Which story new items belong to: the store's side of ``dedupe/cluster.py``.

``assign_stories`` is the only entry point: poll calls it once per batch of new items (already flushed). The batch
goes through ``StoryIndex.assign`` exactly as ``newsroom eval dedupe`` and ``bench/dedupe.py`` cluster: in
``Doc.order``, copies first (same canonical URL or fingerprint at any age, near-copies within the window), then the
same-event decision against the members of the stories within the window. Joining never re-clusters history and never
creates a second article: it updates the story's heat (``source_count`` of distinct sources, ``item_count``,
``first_seen_at``/``last_seen_at``) and, while the story is not yet written, makes the richest member its lead (the
item the article is written from; ``cluster.lead`` is the same rule).

The index lives for the process, one per database: built from the store once (the items of the last two windows,
replayed in order, so a fresh process makes the same decisions as a long-running one), then kept up to date with the
items this process assigns and, at the start of each batch, those other processes stored since (one query). Each
batch costs a fixed number of queries whatever the history: exact matches older than the window, the touched
stories' rows and prior sources, the new stories' inserts.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Dialect, Engine, Select, Update, bindparam, event, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..dedupe.cluster import Doc, Match, StoryIndex, copies_ahead, lead
from ..embeddings import Embedder, HashingEmbedder, default_embedder
from ..store.tables import ItemRow, StoryRow, utcnow
from ..text import EMPTY_FINGERPRINT

QUERY_CHUNK = 500
STORIES, ITEMS = StoryRow.__table__, ItemRow.__table__
_STORY_COLUMNS = ("source_count", "item_count", "first_seen_at", "last_seen_at", "updated_at", "lead_item_id")
_STORY_UPDATE = (
    update(STORIES).where(STORIES.c.id == bindparam("_id")).values({c: bindparam(c) for c in _STORY_COLUMNS})
)
_NEW_STORY = (STORIES.c.id, STORIES.c.lead_item_id)
_ITEM_STORY = update(ITEMS).where(ITEMS.c.id == bindparam("_id")).values(story_id=bindparam("story_id"))


_Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=16)
def _driver_form(statement: Update, dialect: Dialect) -> tuple[str, list[str], list[_Processor], bool]:
    """``statement`` compiled for ``dialect`` once: its SQL, its parameters' names in the driver's order, each one's
    bind processor (the column type's, as SQLAlchemy applies it) and whether the driver takes positions or names."""
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
    processors = [compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    return compiled.string, names, processors, compiled.positional


def _executemany(session: Session, statement: Update, rows: list[dict[str, Any]]) -> None:
    """``session.execute(statement, rows)`` for an UPDATE of many rows, at the driver's cost per row: the same SQL and
    the same values (each through its column type's bind processor) in one DB-API ``executemany``, without the
    parameter set SQLAlchemy builds and processes per row in Python (the items' story ids, 10,000 rows on SQLite:
    0.082 -> 0.042 CPU s)."""
    session.flush()  # what ``session.execute`` would flush first (nothing, on the poll's path)
    connection = session.connection()
    sql, names, processors, positional = _driver_form(statement, connection.dialect)
    pairs = list(zip(names, processors, strict=True))
    if positional:
        params: list[Any] = [tuple(p(row[n]) if p else row[n] for n, p in pairs) for row in rows]
    else:
        params = [{n: p(row[n]) if p else row[n] for n, p in pairs} for row in rows]
    connection.exec_driver_sql(sql, params)


@dataclass(slots=True)
class NewItem:
    """A just-inserted item as ``assign_stories`` reads it: poll inserts its batch with one multi-row INSERT instead of
    building ORM objects (``_write`` then sets the story ids with one executemany UPDATE)."""

    id: int
    source_key: str
    external_id: str
    url: str
    title: str
    summary: str
    content: str
    fingerprint: str
    published_at: datetime
    story_id: int | None = None


StoredItem = ItemRow | NewItem


def item_doc(item: StoredItem) -> Doc:
    fp = item.fingerprint if item.fingerprint != EMPTY_FINGERPRINT else ""
    return Doc(
        title=item.title,
        text=item.summary or item.content[:400],
        url=item.url,
        fingerprint=fp,
        published=item.published_at.replace(tzinfo=item.published_at.tzinfo or UTC).timestamp(),
        source=item.source_key,
        external_id=item.external_id,
        richness=max(len(item.content or ""), len(item.summary or "")),
    )


@dataclass
class _Live:
    """One process's index for one database, and the last item id it has seen."""

    index: StoryIndex
    seen_id: int
    lock: threading.Lock


_LIVE: WeakKeyDictionary[Engine, dict[bool, _Live]] = WeakKeyDictionary()
_LIVE_LOCK = threading.Lock()


_ASSIGNED = "newsroom.stories_assigned"


def forget_index(engine: Engine) -> None:
    """Drop the process's index for ``engine`` (the next batch rebuilds it from the store)."""
    with _LIVE_LOCK:
        _LIVE.pop(engine, None)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    """A batch whose transaction rolled back is in the index but not in the store: rebuild from the store."""
    engine = session.info.pop(_ASSIGNED, None)
    if engine is not None:
        forget_index(engine)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_ASSIGNED, None)


def _live(session: Session, embedder: Embedder, same_event: bool, around: datetime) -> _Live:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _LIVE_LOCK:
        per_engine = _LIVE.setdefault(engine, {})
        live = per_engine.get(same_event)
        if live is None:
            index = StoryIndex(embedder.dim, meaning=same_event)
            since = around - timedelta(hours=2 * index.params.window_hours)
            rows = list(session.scalars(_stored().where(ItemRow.published_at >= since)))
            live = _Live(index, _max_item_id(session), threading.Lock())
            _replay(index, rows, embedder)
            per_engine[same_event] = live
    return live


def _stored() -> Select[tuple[ItemRow]]:
    """Stored items that have a story."""
    return select(ItemRow).where(ItemRow.story_id.is_not(None))


def _max_item_id(session: Session) -> int:
    return max(session.scalars(select(ItemRow.id).order_by(ItemRow.id.desc()).limit(1)), default=0)


def _replay(index: StoryIndex, rows: list[ItemRow], embedder: Embedder) -> None:
    """Put stored items into the index as the live path put them: in order, copies and genre pieces without a
    vector."""
    docs = [item_doc(r) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: docs[i].order)
    copies = {i for i in order if index.copy_match(docs[i]) is not None}
    need = [i for i in order if i not in copies and docs[i].on_meaning] if index.meaning else []
    vecs = dict(zip(need, embedder.embed([docs[i].title for i in need]), strict=True)) if need else {}
    for i in order:
        index.add(rows[i].story_id, docs[i], vecs.get(i))  # type: ignore[arg-type]


def _older_matches(session: Session, index: StoryIndex, docs: list[Doc]) -> None:
    """Teach the index the stories of stored items older than its window with the batch's URLs or fingerprints (one
    query per ``QUERY_CHUNK`` items): an exact copy joins at any age."""
    urls = sorted({d.url for d in docs if d.url and not index.knows_url(d.url)})
    fps = sorted({d.fingerprint for d in docs if d.fingerprint and not index.knows_fingerprint(d.fingerprint)})
    for start in range(0, max(len(urls), len(fps)), QUERY_CHUNK):
        u, f = urls[start : start + QUERY_CHUNK], fps[start : start + QUERY_CHUNK]
        query = select(ItemRow.url, ItemRow.fingerprint, ItemRow.story_id).where(
            or_(ItemRow.url.in_(u), ItemRow.fingerprint.in_(f)), ItemRow.story_id.is_not(None)
        )
        for url, fp, story_id in session.execute(query.order_by(ItemRow.id)):
            index.remember(story_id, url if url in u else "", fp if fp in f else "")


def embed_ahead(session: Session, items: Sequence[StoredItem], embedder: Embedder | None = None) -> set[int]:
    """Embed, before a batch's first write, the headlines ``assign_stories`` will embed for it (the ones not foreseen
    as copies; the embedder's cache keeps them, so the assignment finds them there). On SQLite the write lock comes
    with the first INSERT, so the model's time no longer holds up every other writer (a story's slug, the select
    step) while a large poll is stored. A wrong guess costs time only, as in ``StoryIndex.assign``. Returns the
    foreseen copies (positions in ``Doc.order``), which ``assign_story_ids(ahead=…)`` takes instead of foreseeing
    them again."""
    if not items:
        return set()
    embedder = embedder or default_embedder()
    live = _live(session, embedder, True, max(i.published_at for i in items))
    docs = sorted((item_doc(i) for i in items), key=lambda d: d.order)
    with live.lock:
        ahead = copies_ahead(live.index, docs)
    need = [docs[k].title for k in range(len(docs)) if k not in ahead and docs[k].on_meaning]
    if need:
        embedder.embed(need)
    return ahead


def assign_stories(
    session: Session, items: Sequence[StoredItem], embedder: Embedder | None = None, *, same_event: bool = True
) -> list[StoryRow]:
    """Attach each of ``items`` (added and flushed) to an existing story or a new one; returns their stories in the
    same order. With ``same_event`` false (``stories.same_event`` in the config) only copies join: no embeddings."""
    ids = assign_story_ids(session, items, embedder, same_event=same_event)
    rows: dict[int, StoryRow] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), QUERY_CHUNK):
        chunk = wanted[start : start + QUERY_CHUNK]
        rows.update((r.id, r) for r in session.scalars(select(StoryRow).where(StoryRow.id.in_(chunk))))
    return [rows[i] for i in ids]


def assign_story_ids(
    session: Session,
    items: Sequence[StoredItem],
    embedder: Embedder | None = None,
    *,
    same_event: bool = True,
    ahead: set[int] | None = None,
) -> list[int]:
    """``assign_stories`` without loading the stories: their ids, in the order of ``items`` (the poll's path, which
    needs no ORM object of a story it has just inserted). ``ahead``: what ``embed_ahead`` foresaw for the same items,
    used unless other processes' items reached the index in between (then foreseen again)."""
    if not items:
        return []
    embedder = embedder or (default_embedder() if same_event else HashingEmbedder(8))
    live = _live(session, embedder, same_event, max(i.published_at for i in items))
    session.info[_ASSIGNED] = session.get_bind()
    with live.lock:
        index = live.index
        new_ids = [i.id for i in items]
        others = list(session.scalars(_stored().where(ItemRow.id > live.seen_id, ItemRow.id.not_in(new_ids))))
        _replay(index, others, embedder)  # what other processes stored since
        live.seen_id = max([live.seen_id, *new_ids, *(r.id for r in others)])
        docs = [item_doc(i) for i in items]
        _older_matches(session, index, docs)
        provisional = itertools.count(-1, -1)
        matches = index.assign(
            docs,
            lambda pos: embedder.embed([docs[p].title for p in pos]),
            lambda: next(provisional),
            ahead=None if others else ahead,
        )
        return _write(session, index, items, docs, matches)


def _write(
    session: Session, index: StoryIndex, items: Sequence[StoredItem], docs: list[Doc], matches: list[Match]
) -> list[int]:
    """Store the batch's decisions: new stories inserted together (one multi-row INSERT … RETURNING of their ids),
    the touched ones updated from one read each of their rows, prior sources and leads, the items' story ids set
    together. The writes are Core statements on the tables (executemany where there are many rows): the ORM's bulk
    paths cost about as much again per row in Python, and the poll needs no ORM object of a new story."""
    members: dict[int, list[int]] = defaultdict(list)
    for k in sorted(range(len(items)), key=lambda k: docs[k].order):
        members[matches[k].story_id].append(k)
    now = utcnow()
    ids: dict[int, int] = {}  # the batch's story numbers (provisional ones negative) -> stored ids
    rows: dict[int, StoryRow] = {}
    fresh = [sid for sid in members if sid < 0]
    if fresh:  # everything about a new story is known now: its members are all in this batch
        values = []
        for sid in fresh:
            ks = members[sid]
            batch = [docs[k] for k in ks]
            values.append(
                {
                    "status": "new",
                    "created_at": now,
                    "updated_at": now,
                    "source_count": len({d.source for d in batch}),
                    "item_count": len(ks),
                    "first_seen_at": _widen(None, min(d.published for d in batch), min),
                    "last_seen_at": _widen(None, max(d.published for d in batch), max),
                    "lead_item_id": items[ks[lead(batch)]].id,  # the richest member leads; the first on a tie
                }
            )
        # many rows a statement (RETURNING in parameter order would be one row a statement on SQLite): each new
        # story's lead is a member of it alone, so the lead's id names the row
        by_lead = {lead: sid for sid, lead in session.execute(insert(STORIES).returning(*_NEW_STORY), values)}
        inserted = [by_lead[v["lead_item_id"]] for v in values]
        ids.update(zip(fresh, inserted, strict=True))
        index.rename(dict(zip(fresh, inserted, strict=True)))
    old = [sid for sid in members if sid >= 0]
    sources: dict[int, set[str]] = defaultdict(set)
    leads: dict[int, int] = {}
    for start in range(0, len(old), QUERY_CHUNK):
        chunk = old[start : start + QUERY_CHUNK]
        rows.update((r.id, r) for r in session.scalars(select(StoryRow).where(StoryRow.id.in_(chunk))))
        for sid, source in session.execute(
            select(ItemRow.story_id, ItemRow.source_key).where(ItemRow.story_id.in_(chunk)).distinct()
        ):
            sources[sid].add(source)
        lead_ids = [rows[s].lead_item_id for s in chunk if s in rows]
        for sid, content, summary in session.execute(
            select(ItemRow.id, ItemRow.content, ItemRow.summary).where(ItemRow.id.in_(lead_ids))
        ):
            leads[sid] = max(len(content or ""), len(summary or ""))
    changes: list[dict[str, Any]] = []  # the touched stories' new values: one executemany UPDATE
    for sid in old:
        story, ks = rows[sid], members[sid]
        batch = [docs[k] for k in ks]
        sources[sid].update(d.source for d in batch)
        change = {
            "id": story.id,
            "source_count": len(sources[sid]),
            "item_count": (story.item_count or 0) + len(ks),
            "first_seen_at": _widen(story.first_seen_at, min(d.published for d in batch), min),
            "last_seen_at": _widen(story.last_seen_at, max(d.published for d in batch), max),
            "updated_at": now,
            "lead_item_id": story.lead_item_id,
        }
        if story.status == "new":  # the richest member leads while the story is unwritten; the first on a tie
            current = [Doc(title="", richness=leads.get(story.lead_item_id, -1))]
            best = lead([*current, *batch])
            if best >= len(current):
                change["lead_item_id"] = items[ks[best - len(current)]].id
        for key, value in change.items():  # the loaded rows show the new values without being flushed again
            if key != "id":
                set_committed_value(story, key, value)
        changes.append(change)
        ids[sid] = story.id
    if changes:
        _executemany(session, _STORY_UPDATE, [{"_id": c["id"], **{k: c[k] for k in _STORY_COLUMNS}} for c in changes])
    out = [0] * len(items)
    plain: list[dict[str, int]] = []  # items that are no ORM objects (poll's bulk insert): one executemany UPDATE
    for sid, ks in members.items():
        story_id = ids[sid]
        for k in ks:
            items[k].story_id = story_id
            out[k] = story_id
            if not isinstance(items[k], ItemRow):
                plain.append({"_id": items[k].id, "story_id": story_id})
    if plain:
        _executemany(session, _ITEM_STORY, plain)
    return out


def _widen(stored: datetime | None, value: float, pick: Callable[[datetime, datetime], datetime]) -> datetime:
    """The stored bound moved out to ``value`` (epoch seconds) if that lies beyond it."""
    at = datetime.fromtimestamp(value, tz=UTC)
    if stored is None:
        return at
    return pick(stored.replace(tzinfo=stored.tzinfo or UTC), at)

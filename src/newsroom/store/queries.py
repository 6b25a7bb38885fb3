"""Queries the stages and the CLI share. Each takes an open session; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ..llm.base import CallRecord
from .tables import ArticleRow, ItemRow, ModelCallRow, SourceRow, StoryRow

_IN_CHUNK = 1000


@dataclass
class StoryContext:
    story: StoryRow
    lead: ItemRow
    source: SourceRow
    articles: dict[str, ArticleRow]
    members: list[ItemRow] = field(default_factory=list)  # every item of the story, the lead included, oldest first
    source_names: dict[str, str] = field(default_factory=dict)  # source key → name, for every member


def pending_story_ids(session: Session, limit: int | None = None) -> list[int]:
    """Stories that still miss an article in some language, oldest first."""
    q = select(StoryRow.id).where(StoryRow.status == "new").order_by(StoryRow.created_at, StoryRow.id)
    if limit:
        q = q.limit(limit)
    return list(session.scalars(q))


def story_contexts(session: Session, story_ids: list[int]) -> list[StoryContext]:
    """What writing each story needs (its row, lead item, source, articles, members): five queries per chunk of ids
    (chunks keep each IN list far below PostgreSQL's 65,535 bind parameters)."""
    if len(story_ids) > _IN_CHUNK:
        return [
            c
            for i in range(0, len(story_ids), _IN_CHUNK)
            for c in story_contexts(session, story_ids[i : i + _IN_CHUNK])
        ]
    if not story_ids:
        return []
    stories = {st.id: st for st in session.scalars(select(StoryRow).where(StoryRow.id.in_(story_ids)))}
    lead_ids = {st.lead_item_id for st in stories.values()}
    leads = {it.id: it for it in session.scalars(select(ItemRow).where(ItemRow.id.in_(lead_ids)))}
    members: dict[int, list[ItemRow]] = {sid: [] for sid in story_ids}
    for it in session.scalars(select(ItemRow).where(ItemRow.story_id.in_(story_ids)).order_by(ItemRow.id)):
        members[it.story_id].append(it)  # type: ignore[index]
    keys = {it.source_key for it in leads.values()} | {it.source_key for ms in members.values() for it in ms}
    sources = {src.key: src for src in session.scalars(select(SourceRow).where(SourceRow.key.in_(keys)))}
    names = {k: src.name for k, src in sources.items()}
    articles: dict[int, dict[str, ArticleRow]] = {sid: {} for sid in story_ids}
    for a in session.scalars(select(ArticleRow).where(ArticleRow.story_id.in_(story_ids))):
        articles[a.story_id][a.lang] = a
    out = []
    for sid in story_ids:
        story = stories[sid]
        lead = leads[story.lead_item_id]
        out.append(StoryContext(story, lead, sources[lead.source_key], articles[sid], members[sid] or [lead], names))
    return out


def unpublished_article_ids(session: Session) -> list[int]:
    q = select(ArticleRow.id).where(ArticleRow.published_version < ArticleRow.version).order_by(ArticleRow.id)
    return list(session.scalars(q))


_CALL_FIELDS = ("stage", "provider", "model", "tokens_in", "tokens_out", "latency_ms", "cost", "outcome", "error")
_calls = ModelCallRow.__table__
# Core statements built once (their SQL compiled once): the ORM coerced the values, looked for rows to synchronise
# in the session and ran its unit of work at every call, about 1 ms of CPU for each of a call's two writes
_COMPLETE_CALL = (
    update(_calls)
    .where(_calls.c.call_key == bindparam("key"))
    .values({name: bindparam(name) for name in (*_CALL_FIELDS, "story_id")})
)
_ADD_CALLS = insert(_calls)


def add_calls(session: Session, records: Iterable[tuple[CallRecord, int | None]]) -> None:
    """Store call records; a record whose ``call_key`` has a row already (its ``started`` row) completes that row."""
    rows: list[dict[str, Any]] = []
    waiting: dict[str, dict[str, Any]] = {}  # call_key -> its row in ``rows`` (not inserted yet)
    for r, story_id in records:
        values: dict[str, Any] = {name: getattr(r, name) for name in _CALL_FIELDS}
        values["story_id"] = story_id
        if r.call_key is not None and r.outcome != "started":
            if r.call_key in waiting:  # started and done in the same list
                waiting[r.call_key].update(values)
                continue
            if session.connection().execute(_COMPLETE_CALL, {"key": r.call_key, **values}).rowcount:
                continue
        row = {"call_key": r.call_key, **values}
        rows.append(row)
        if r.call_key is not None:
            waiting[r.call_key] = row
    if rows:
        session.connection().execute(_ADD_CALLS, rows)  # created_at: the column's default, as through the ORM


def stats(session: Session) -> dict[str, Any]:
    """Counts for `newsroom stats`: items, stories, articles per language and status, model usage by stage."""
    items = session.scalar(select(func.count(ItemRow.id))) or 0
    stories = dict(session.execute(select(StoryRow.status, func.count()).group_by(StoryRow.status)).all())
    articles: dict[str, dict[str, int]] = {}
    for lang, draft, n in session.execute(
        select(ArticleRow.lang, ArticleRow.draft, func.count()).group_by(ArticleRow.lang, ArticleRow.draft)
    ):
        articles.setdefault(lang, {"published": 0, "draft": 0})["draft" if draft else "published"] += n
    usage: dict[str, dict[str, Any]] = {}
    for stage, outcome, n, t_in, t_out, ms, cost in session.execute(
        select(
            ModelCallRow.stage,
            ModelCallRow.outcome,
            func.count(),
            func.coalesce(func.sum(ModelCallRow.tokens_in), 0),
            func.coalesce(func.sum(ModelCallRow.tokens_out), 0),
            func.coalesce(func.sum(ModelCallRow.latency_ms), 0.0),
            func.coalesce(func.sum(ModelCallRow.cost), 0.0),
        ).group_by(ModelCallRow.stage, ModelCallRow.outcome)
    ):
        u = usage.setdefault(
            stage, {"calls": 0, "failed_calls": 0, "tokens_in": 0, "tokens_out": 0, "seconds": 0.0, "cost": 0.0}
        )
        u["calls"] += n
        u["failed_calls"] += 0 if outcome == "ok" else n
        u["tokens_in"] += int(t_in)
        u["tokens_out"] += int(t_out)
        u["seconds"] = round(u["seconds"] + float(ms) / 1000, 3)
        u["cost"] = round(u["cost"] + float(cost), 6)
    failed = [  # stories whose last try failed: retried automatically (next_attempt_at) or by `newsroom retry`
        {
            "story": sid,
            "error": err,
            "attempts": attempts,
            "next_attempt_at": nxt.isoformat() if nxt else None,
        }
        for sid, err, attempts, nxt in session.execute(
            select(StoryRow.id, StoryRow.last_error, StoryRow.attempts, StoryRow.next_attempt_at)
            .where(StoryRow.last_error.is_not(None))
            .order_by(StoryRow.id)
        )
    ]
    sources = [
        {
            "key": s.key,
            "status": s.last_status,
            "error": s.last_error,
            "errors_in_a_row": s.error_count,
            "items": s.items_seen,
            "skipped": s.skip_counts or {},  # entries not stored by reason ("flagged:…": kept but repaired)
            "via": s.parent,
        }
        for s in session.scalars(select(SourceRow).order_by(SourceRow.key))
    ]
    return {
        "items": items,
        "stories": {"total": sum(stories.values()), **stories},
        "articles": articles,
        "model_usage": usage,
        "story_errors": failed,
        **draft_stats(session),
        **skip_stats(session),
        "sources": sources,
    }


def draft_stats(session: Session, recent: int = 20) -> dict[str, Any]:
    """Why articles are drafts: a count per reason code (the part before the first colon), and the latest drafts."""
    by_code: dict[str, int] = {}
    latest: list[dict[str, Any]] = []
    rows = session.execute(
        select(ArticleRow.id, ArticleRow.lang, ArticleRow.slug, ArticleRow.draft_reasons)
        .where(ArticleRow.draft.is_(True))
        .order_by(ArticleRow.id.desc())
    )
    for article_id, lang, slug, reasons in rows:
        for code in dict.fromkeys(str(r).split(":", 1)[0] for r in reasons or []):
            by_code[code] = by_code.get(code, 0) + 1
        if len(latest) < recent:
            latest.append({"id": article_id, "lang": lang, "slug": slug, "reasons": list(reasons or [])})
    return {"draft_reasons": dict(sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))), "drafts": latest}


def spend_since(session: Session, since: datetime) -> dict[str, tuple[int, float]]:
    """Tokens (in + out) and cost of the model calls logged since ``since``, per stage (the budget's input)."""
    rows = session.execute(
        select(
            ModelCallRow.stage,
            func.coalesce(func.sum(ModelCallRow.tokens_in + ModelCallRow.tokens_out), 0),
            func.coalesce(func.sum(ModelCallRow.cost), 0.0),
        )
        .where(ModelCallRow.created_at >= since)
        .group_by(ModelCallRow.stage)
    )
    return {stage: (int(tokens), float(cost)) for stage, tokens, cost in rows}


def skip_stats(session: Session, recent: int = 20) -> dict[str, Any]:
    """Why stories were skipped by select: a count per reason code, and the latest skipped stories with reasons."""
    by_code: dict[str, int] = {}
    latest: list[dict[str, Any]] = []
    rows = session.execute(
        select(StoryRow.id, StoryRow.skip_reason, ItemRow.title, ItemRow.source_key)
        .join(ItemRow, ItemRow.id == StoryRow.lead_item_id)
        .where(StoryRow.status == "skipped")
        .order_by(StoryRow.id.desc())
    )
    for story_id, reason, title, source in rows:
        code = str(reason or "unknown").split(":", 1)[0]
        by_code[code] = by_code.get(code, 0) + 1
        if len(latest) < recent:
            latest.append({"story": story_id, "source": source, "title": title, "reason": reason})
    return {"skip_reasons": dict(sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))), "skipped": latest}

"""Read queries of the web layer: filtered, keyset-paginated article lists, stories, sources, feeds, dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from ..store.tables import ArticleRow, ItemRow, ModelCallRow, SourceRow, StoryRow
from .cursor import decode_cursor, encode_cursor

ArticleTriple = tuple[ArticleRow, ItemRow, SourceRow]


@dataclass
class ArticleFilter:
    lang: str | None = None
    category: str | None = None
    tag: str | None = None
    sentiment: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    drafts: bool = False  # include drafts
    only_drafts: bool = False


def _utc(dt: datetime) -> datetime:
    """``dt`` in UTC; a bound at the calendar's edge (0001-01-01T00:00+01:00) that UTC cannot hold is clamped."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        return (datetime.min if dt.year == 1 else datetime.max).replace(tzinfo=UTC)


def articles_select() -> Select[Any]:
    """Articles with their story's lead item and source (what the frontmatter's ``source`` is)."""
    return (
        select(ArticleRow, ItemRow, SourceRow)
        .join(StoryRow, StoryRow.id == ArticleRow.story_id)
        .join(ItemRow, ItemRow.id == StoryRow.lead_item_id)
        .join(SourceRow, SourceRow.key == ItemRow.source_key)
    )


def apply_filter(q: Select[Any], f: ArticleFilter) -> Select[Any]:
    if f.only_drafts:
        q = q.where(ArticleRow.draft.is_(True))
    elif not f.drafts:
        q = q.where(ArticleRow.draft.is_(False))
    if f.lang:
        q = q.where(ArticleRow.lang == f.lang)
    if f.category:
        q = q.where(ArticleRow.category == f.category.strip().upper())
    if f.tag:
        # tags are a JSON list; its text holds each tag exactly as json.dumps writes it, on SQLite and PostgreSQL
        needle = json.dumps(" ".join(f.tag.split()).upper())
        q = q.where(cast(ArticleRow.tags, String).contains(needle, autoescape=True))
    if f.sentiment:
        q = q.where(ArticleRow.sentiment == f.sentiment)
    if f.source:
        q = q.where(SourceRow.key == f.source)
    if f.since:
        q = q.where(ArticleRow.published_at >= _utc(f.since))
    if f.until:
        q = q.where(ArticleRow.published_at < _utc(f.until))
    if f.q:
        words = f.q.split()[:8]
        for w in words:
            q = q.where(
                or_(
                    ArticleRow.title.icontains(w, autoescape=True),
                    ArticleRow.description.icontains(w, autoescape=True),
                    cast(ArticleRow.text, String).icontains(w, autoescape=True),
                )
            )
    return q


def list_articles(
    s: Session, f: ArticleFilter, *, limit: int, cursor: str | None = None
) -> tuple[list[ArticleTriple], str | None]:
    """One page, ordered by stickyWeight (pinned first), then publishedAt (newest first), then id."""
    q = apply_filter(articles_select(), f)
    if cursor:
        sticky, published, last_id = decode_cursor("a", cursor, (int, str, int))
        try:
            at = _utc(datetime.fromisoformat(published))
        except ValueError as exc:
            raise ValueError("the cursor is not one this API gave out") from exc
        q = q.where(
            or_(
                ArticleRow.sticky_weight < sticky,
                and_(ArticleRow.sticky_weight == sticky, ArticleRow.published_at < at),
                and_(ArticleRow.sticky_weight == sticky, ArticleRow.published_at == at, ArticleRow.id < last_id),
            )
        )
    q = q.order_by(ArticleRow.sticky_weight.desc(), ArticleRow.published_at.desc(), ArticleRow.id.desc())
    rows = [tuple(r) for r in s.execute(q.limit(limit + 1)).all()]
    page: list[ArticleTriple] = rows[:limit]  # type: ignore[assignment]
    nxt = None
    if len(rows) > limit:
        last = page[-1][0]
        nxt = encode_cursor("a", [last.sticky_weight, last.published_at.isoformat(), last.id])
    return page, nxt


def article_by_slug(s: Session, lang: str, slug: str) -> ArticleTriple | None:
    row = s.execute(articles_select().where(ArticleRow.lang == lang, ArticleRow.slug == slug)).first()
    return tuple(row) if row else None  # type: ignore[return-value]


def article_by_id(s: Session, article_id: int) -> ArticleTriple | None:
    row = s.execute(articles_select().where(ArticleRow.id == article_id)).first()
    return tuple(row) if row else None  # type: ignore[return-value]


def story_articles(s: Session, story_id: int) -> list[ArticleRow]:
    return list(s.scalars(select(ArticleRow).where(ArticleRow.story_id == story_id).order_by(ArticleRow.lang)))


# ---- stories -----------------------------------------------------------------------------------------------------


@dataclass
class StoryView:
    story: StoryRow
    items: list[ItemRow]
    sources: list[SourceRow]
    articles: list[ArticleRow]


def _story_views(s: Session, stories: list[StoryRow]) -> list[StoryView]:
    ids = [st.id for st in stories]
    if not ids:
        return []
    items: dict[int, list[ItemRow]] = {i: [] for i in ids}
    for it in s.scalars(select(ItemRow).where(ItemRow.story_id.in_(ids)).order_by(ItemRow.published_at)):
        items[it.story_id].append(it)  # type: ignore[index]
    keys = {it.source_key for group in items.values() for it in group}
    sources = {src.key: src for src in s.scalars(select(SourceRow).where(SourceRow.key.in_(keys)))} if keys else {}
    arts: dict[int, list[ArticleRow]] = {i: [] for i in ids}
    for a in s.scalars(select(ArticleRow).where(ArticleRow.story_id.in_(ids)).order_by(ArticleRow.lang)):
        arts[a.story_id].append(a)
    out = []
    for st in stories:
        member_keys = list(dict.fromkeys(it.source_key for it in items[st.id]))
        out.append(StoryView(st, items[st.id], [sources[k] for k in member_keys if k in sources], arts[st.id]))
    return out


def list_stories(
    s: Session, *, limit: int, cursor: str | None = None, status: str | None = None
) -> tuple[list[StoryView], str | None]:
    """Newest first (by last update, then id); only those with ``status`` when given (``skipped``: select's;
    ``retrying``: pending stories backing off after a failure)."""
    q = select(StoryRow)
    if status == "retrying":
        q = q.where(StoryRow.status == "new", StoryRow.next_attempt_at.is_not(None))
    elif status:
        q = q.where(StoryRow.status == status)
    if cursor:
        updated, last_id = decode_cursor("s", cursor, (str, int))
        try:
            at = _utc(datetime.fromisoformat(updated))
        except ValueError as exc:
            raise ValueError("the cursor is not one this API gave out") from exc
        q = q.where(
            or_(StoryRow.updated_at < at, and_(StoryRow.updated_at == at, StoryRow.id < last_id)),
        )
    rows = list(s.scalars(q.order_by(StoryRow.updated_at.desc(), StoryRow.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    nxt = None
    if len(rows) > limit:
        nxt = encode_cursor("s", [page[-1].updated_at.isoformat(), page[-1].id])
    return _story_views(s, page), nxt


def story_view(s: Session, story_id: int) -> StoryView | None:
    st = s.get(StoryRow, story_id)
    return _story_views(s, [st])[0] if st else None


# ---- sources -----------------------------------------------------------------------------------------------------


def list_sources(s: Session) -> list[SourceRow]:
    return list(s.scalars(select(SourceRow).order_by(SourceRow.key)))


# ---- feeds ---------------------------------------------------------------------------------------------------------


def feed_articles(s: Session, lang: str, *, category: str | None, tag: str | None, limit: int) -> list[ArticleTriple]:
    """The newest published articles of one language (feeds are chronological: pins do not reorder them)."""
    f = ArticleFilter(lang=lang, category=category, tag=tag)
    q = apply_filter(articles_select(), f).order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc())
    return [tuple(r) for r in s.execute(q.limit(limit)).all()]  # type: ignore[misc]


# ---- dashboard ---------------------------------------------------------------------------------------------------


def _hour(dt: datetime) -> datetime:
    return _utc(dt).replace(minute=0, second=0, microsecond=0)


def articles_per_hour_by_source(
    s: Session, pivot_lang: str, *, hours: int, now: datetime
) -> tuple[list[datetime], dict[str, list[int]]]:
    """Pivot-language articles created per hour over the last ``hours``, one series per source."""
    end = _hour(now)
    buckets = [end - timedelta(hours=h) for h in range(hours - 1, -1, -1)]
    index = {b: i for i, b in enumerate(buckets)}
    series: dict[str, list[int]] = {}
    q = (
        select(ArticleRow.created_at, ItemRow.source_key)
        .join(StoryRow, StoryRow.id == ArticleRow.story_id)
        .join(ItemRow, ItemRow.id == StoryRow.lead_item_id)
        .where(ArticleRow.lang == pivot_lang, ArticleRow.created_at >= buckets[0])
    )
    for created, key in s.execute(q):
        i = index.get(_hour(created))
        if i is not None:
            series.setdefault(key, [0] * hours)[i] += 1
    return buckets, dict(sorted(series.items()))


def _days(now: datetime, days: int) -> list[datetime]:
    end = _utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return [end - timedelta(days=d) for d in range(days - 1, -1, -1)]


def sentiment_per_day(
    s: Session, pivot_lang: str, *, days: int, now: datetime
) -> tuple[list[datetime], dict[str, list[int]]]:
    # the period ends with the newest article (feeds replayed from the past still show their days)
    newest = s.scalar(select(func.max(ArticleRow.published_at)).where(ArticleRow.lang == pivot_lang))
    buckets = _days(min(now, newest) if newest else now, days)
    index = {b.date(): i for i, b in enumerate(buckets)}
    series = {name: [0] * days for name in ("POSITIVE", "NEUTRAL", "NEGATIVE")}
    q = select(ArticleRow.published_at, ArticleRow.sentiment).where(
        ArticleRow.lang == pivot_lang,
        ArticleRow.published_at >= buckets[0],
        ArticleRow.published_at < buckets[-1] + timedelta(days=1),
    )
    for published, sentiment in s.execute(q):
        i = index.get(_utc(published).date())
        if i is not None and sentiment in series:
            series[sentiment][i] += 1
    return buckets, series


def tokens_per_day_by_stage(s: Session, *, days: int, now: datetime) -> tuple[list[datetime], dict[str, list[int]]]:
    buckets = _days(now, days)
    index = {b.date(): i for i, b in enumerate(buckets)}
    series: dict[str, list[int]] = {}
    q = select(ModelCallRow.created_at, ModelCallRow.stage, ModelCallRow.tokens_in + ModelCallRow.tokens_out).where(
        ModelCallRow.created_at >= buckets[0]
    )
    for created, stage, tokens in s.execute(q):
        i = index.get(_utc(created).date())
        if i is not None:
            series.setdefault(stage, [0] * days)[i] += int(tokens or 0)
    return buckets, dict(sorted(series.items()))


def counts(s: Session) -> dict[str, int]:
    return {
        "drafts": s.scalar(select(func.count(ArticleRow.id)).where(ArticleRow.draft.is_(True))) or 0,
        "published": s.scalar(select(func.count(ArticleRow.id)).where(ArticleRow.draft.is_(False))) or 0,
        "stories": s.scalar(select(func.count(StoryRow.id))) or 0,
        "items": s.scalar(select(func.count(ItemRow.id))) or 0,
        "failing_sources": s.scalar(select(func.count(SourceRow.id)).where(SourceRow.error_count > 0)) or 0,
    }

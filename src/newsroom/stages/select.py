"""The select stage: does a story deserve an article? (DESIGN §2 "select"; config ``[select]``.)

Checked in this order, the first that fails gives the reason (stored as ``stories.skip_reason``, status ``skipped``):

1. ``source-denied``: every member comes from a source in ``deny_sources``;
2. ``keyword-denied``: the lead's headline has a ``deny_keywords`` phrase;
3. ``off-beat``: the story names fewer than ``min_relevance`` crypto terms (:func:`newsroom.beat.beat_terms`, over
   every member's headline, text and feed categories), unless a member comes from ``allow_sources`` or has an
   ``allow_keywords`` phrase;
4. ``item-type``: the lead is of a type in ``skip_types`` (:func:`newsroom.beat.item_type`), unless allowed as above;
5. ``below-min-score``: the score the story would have with a neutral model judgement (50) is below ``min_score``;
6. ``daily-budget``: ``daily_budget`` stories were already selected today (UTC; ``stories.selected_at``). Exact
   within one process; several workers deciding at the same instant may pass it by one each.

Nothing is dropped: a skipped story keeps its items, is listed by ``newsroom stats``, the API and the UI, and an
editor's "write anyway" (:func:`write_anyway`) makes it pending again with ``select_bypass`` set, so this stage lets it
through. A story is selected once, before its first article; later members never re-open the decision.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..assets import asset_weight, detect_assets
from ..beat import beat_terms, item_type
from ..config import SelectConfig, Settings
from ..score import story_score
from ..store.db import Store
from ..store.tables import ItemRow, SourceRow, StoryRow, utcnow

NEUTRAL_IMPORTANCE = 50
_BUDGET = threading.Lock()


@dataclass(frozen=True)
class Candidate:
    """What select looks at: the lead's headline, link and categories, every member's text and source."""

    headline: str
    url: str
    categories: tuple[str, ...]
    lead_text: str
    texts: tuple[str, ...]  # every member: headline, text and categories
    sources: frozenset[str]
    expected_score: int
    selected_today: int  # stories select let through today (UTC): the daily budget


def _has(phrases: list[str], text: str) -> str | None:
    for p in phrases:
        if p.strip() and re.search(r"(?<!\w)" + re.escape(p.strip()) + r"(?!\w)", text, re.IGNORECASE):
            return p.strip()
    return None


def decide(cfg: SelectConfig, c: Candidate) -> str | None:
    """The reason to skip the story ("code: detail"), or None to write it. Pure."""
    if not cfg.enabled:
        return None
    if cfg.deny_sources and c.sources <= set(cfg.deny_sources):
        return f"source-denied: {', '.join(sorted(c.sources))} in select.deny_sources"
    denied = _has(cfg.deny_keywords, c.headline)
    if denied:
        return f"keyword-denied: the headline has {denied!r}"
    allowed = bool(c.sources & set(cfg.allow_sources)) or any(_has(cfg.allow_keywords, t) for t in c.texts)
    if not allowed:
        terms = beat_terms("\n".join(c.texts), cfg.beat_terms)
        if len(terms) < cfg.min_relevance:
            found = f" (only {', '.join(terms)})" if terms else ""
            return f"off-beat: names {len(terms)} crypto term(s), select.min_relevance is {cfg.min_relevance}{found}"
        kind = item_type(c.headline, url=c.url, categories=c.categories, text=c.lead_text)
        if kind is not None and kind in cfg.skip_types:
            return f"item-type: {kind} is in select.skip_types"
    if c.expected_score < cfg.min_score:
        return f"below-min-score: expected score {c.expected_score} < select.min_score {cfg.min_score}"
    if cfg.daily_budget and c.selected_today >= cfg.daily_budget:
        return f"daily-budget: {c.selected_today} stories selected today, select.daily_budget is {cfg.daily_budget}"
    return None


def _text(item: ItemRow) -> str:
    body = item.content if len(item.content or "") > len(item.summary or "") else item.summary
    return f"{item.title}\n{body or ''}\n{' '.join(item.categories or [])}"


def candidate(session: Session, story: StoryRow, now: datetime | None = None, *, count_today: bool = True) -> Candidate:
    """What select looks at for ``story``; ``count_today=False`` leaves ``selected_today`` at 0 without counting (no
    daily budget is set: ``decide`` does not read it)."""
    now = now or datetime.now(UTC)
    members = list(session.scalars(select(ItemRow).where(ItemRow.story_id == story.id).order_by(ItemRow.id)))
    lead = next((m for m in members if m.id == story.lead_item_id), None)
    lead = lead or session.get_one(ItemRow, story.lead_item_id)
    weight = session.scalar(select(SourceRow.weight).where(SourceRow.key == lead.source_key))
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    selected_today = (
        session.scalar(select(func.count(StoryRow.id)).where(StoryRow.selected_at >= day)) if count_today else 0
    )
    lead_text = lead.content if len(lead.content or "") > len(lead.summary or "") else lead.summary
    expected = story_score(
        importance=NEUTRAL_IMPORTANCE,
        distinct_sources=story.source_count,
        published=lead.published_at,
        asset_weight=asset_weight(detect_assets(f"{lead.title}\n{lead_text}")),
        source_weight=weight if weight is not None else 1.0,
        now=now,
    )
    return Candidate(
        headline=lead.title,
        url=lead.url,
        categories=tuple(lead.categories or ()),
        lead_text=lead_text or "",
        texts=tuple(_text(m) for m in members or [lead]),
        sources=frozenset(m.source_key for m in members or [lead]),
        expected_score=expected,
        selected_today=selected_today or 0,
    )


def select_story(
    store: Store, settings: Settings, story_id: int, on_selected: Callable[[Session], object] | None = None
) -> str | None:
    """Decide a pending story: None to write it; else it is stored as ``skipped`` with the returned reason.
    ``on_selected(session)`` runs in the same transaction when the story is to be written (the job fixes its slug
    there: one transaction less per story)."""
    # with a daily budget, one decision at a time in a process, so that its count stays exact; without one, neither
    # the count (a query per story) nor the lock (the stories' threads queued behind each other's queries)
    budget = bool(settings.select.daily_budget)
    with _BUDGET if budget else contextlib.nullcontext(), store.session() as s:
        story = s.get_one(StoryRow, story_id)
        reason = None
        if not (story.select_bypass or story.selected_at is not None or not settings.select.enabled):
            reason = decide(settings.select, candidate(s, story, count_today=budget))
            if reason is not None:
                story.status, story.skip_reason, story.updated_at = "skipped", reason[:2000], utcnow()
            else:
                story.selected_at = utcnow()
        if reason is None and on_selected is not None:
            on_selected(s)
        return reason


def write_anyway(store: Store, story_id: int) -> StoryRow | None:
    """An editor's "write anyway" (or "retry now"): a skipped (or failed) story becomes pending and bypasses select,
    and a story backing off after a failure is due at once. None: no story."""
    with store.session() as s:
        story = s.get(StoryRow, story_id)
        if story is None:
            return None
        if story.status in ("skipped", "failed"):
            story.status, story.attempts, story.last_error = "new", 0, None
        story.select_bypass = True
        story.next_attempt_at = None
        story.updated_at = utcnow()
        return story

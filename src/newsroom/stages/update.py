"""The update stage: a written story that gained members since its article was written (DESIGN §2 "write").

For each such story (members newer than ``stories.written_through``):

1. **score**: recomputed from the story's distinct sources now (:func:`rescore`; the model's judgement, the recency,
   asset and source weights stay those of the first write, so only the coverage term moves and the score never
   falls), and every unlocked article whose score changes gets a new version (``ai.version``, ``updatedAt``);
2. **rewrite**: when the new members bring new facts (:func:`new_facts`: numbers and named entities, found by the
   guards' extractors, that the members already written from do not have) or the story crosses one of
   ``stories.update_source_counts`` distinct sources, the pivot is written again from all members and every unlocked
   translation follows, keeping slugs, pins and covers. Never when an editor locked the pivot; at most
   ``stories.max_updates`` times per story, and not within ``stories.update_interval_minutes`` of the last write
   (the news then waits for the next run).

The files are re-written by the publish stage (``publish_pending``: every article whose version is ahead of its
file); the feeds and the API read the rows, so they follow at once. A model failure is logged and retried on a later
run (after the interval), never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select

from ..assets import asset_weight, detect_assets
from ..config import Settings
from ..guards.entities import SourceIndex, _candidates
from ..guards.numbers import grounded, quantities
from ..llm import replies
from ..llm.base import LLMError
from ..llm.usage import current_story
from ..score import WEIGHTS, coverage, story_score
from ..store import queries
from ..store.tables import ArticleRow, ItemRow, StoryRow
from .job import StageEnv
from .translate import translate_row
from .write import source_text, write_pivot

log = logging.getLogger(__name__)

REWRITTEN = ("title", "description", "text", "category", "tags", "sentiment", "draft", "draft_reasons", "sources")


def _fact_numbers(text: str, lang: str) -> list:  # type: ignore[type-arg]
    """Quantities worth calling a new fact: with a unit (%, a currency, a ticker) or of 1,000 and more, not a year."""
    out = []
    for q in quantities(text, lang):
        v = max(q.values, key=abs)
        year = q.unit is None and 1900 <= v <= 2100 and float(v).is_integer()
        if (q.unit is not None or abs(v) >= 1000) and not year:
            out.append(q)
    return out


def new_facts(new: list[str], known: list[str], lang: str = "en") -> list[str]:
    """Numbers and named entities in the ``new`` texts (headline and teaser of each new member) that none of the
    ``known`` texts has: the guards' own extractors (``guards.numbers``, ``guards.entities``). Pure."""
    known_text = "\n\n".join(known)
    known_q = quantities(known_text, lang, attached=True)
    index = SourceIndex(known_text)
    found: dict[str, None] = {}
    for text in new:
        for q in _fact_numbers(text, lang):
            if not grounded(q, known_q):
                found[q.text] = None
        for word, _after in _candidates(text, lang, False):
            if not index.has(word):
                found[word] = None
    return list(found)


def rescore(
    *, old_score: int, old_sources: int, new_sources: int, importance: int | None, published: datetime,
    asset: float, source_weight: float, scored_at: datetime,
) -> int:  # fmt: skip
    """The story's score with ``new_sources`` distinct sources, as of the first scoring (``scored_at``). Articles
    written before the model's judgement was stored (``importance`` None) move by the coverage term alone."""
    if importance is None:
        delta = 100 * WEIGHTS["sources"] * (coverage(new_sources) - coverage(old_sources))
        return max(0, min(100, old_score + round(delta)))
    return story_score(
        importance=importance,
        distinct_sources=new_sources,
        published=published,
        asset_weight=asset,
        source_weight=source_weight,
        now=scored_at,
    )


@dataclass
class Plan:
    rewrite: bool
    reason: str  # why it is rewritten, or why not
    settled: bool  # the new members are dealt with (False: wait for the interval and look again)


def plan(
    *, facts: list[str], old_sources: int, new_sources: int, locked: bool, update_count: int,
    last_write: datetime, now: datetime, settings: Settings,
) -> Plan:  # fmt: skip
    """Whether to rewrite a written story now. Pure."""
    cfg = settings.stories
    crossed = [t for t in cfg.update_source_counts if old_sources < t <= new_sources]
    if not facts and not crossed:
        return Plan(False, "nothing new", True)
    why = f"new facts: {', '.join(facts[:8])}" if facts else f"{crossed[-1]} sources"
    if locked:
        return Plan(False, f"locked by an editor ({why})", True)
    if update_count >= cfg.max_updates:
        return Plan(False, f"stories.max_updates ({cfg.max_updates}) reached ({why})", True)
    if now - last_write < timedelta(minutes=cfg.update_interval_minutes):
        return Plan(False, f"within stories.update_interval_minutes ({why})", False)
    return Plan(True, why, True)


def developing_story_ids(session) -> list[int]:  # type: ignore[no-untyped-def]
    """Written stories with members newer than what their article was written from, oldest first."""
    newer = exists().where(ItemRow.story_id == StoryRow.id, ItemRow.id > StoryRow.written_through)
    q = select(StoryRow.id).where(StoryRow.status == "written", newer).order_by(StoryRow.id)
    return list(session.scalars(q))


@dataclass
class UpdateResult:
    story_id: int
    rescored: list[int]  # article ids whose score changed
    rewritten: list[int]  # article ids written again
    reason: str


async def update_stories(env: StageEnv, now: datetime | None = None) -> list[UpdateResult]:
    """Rescore and, where the news warrants it, rewrite every developing story (one at a time)."""
    with env.store.session() as s:
        ids = developing_story_ids(s)
    return [await update_story(env, story_id, now) for story_id in ids]


async def update_story(env: StageEnv, story_id: int, now: datetime | None = None) -> UpdateResult:
    now = now or datetime.now(UTC)
    settings = env.settings
    current_story.set(story_id)
    replies.new_job()
    with env.store.session() as s:
        ctx = queries.story_contexts(s, [story_id])[0]
        story = ctx.story
        pivot = ctx.articles.get(settings.pivot_language)
        through = max(m.id for m in ctx.members)
        new = [m for m in ctx.members if m.id > story.written_through]
        known = [m for m in ctx.members if m.id <= story.written_through]
        facts = new_facts([f"{m.title}\n{m.summary}" for m in new], [f"{m.title}\n{source_text(m)}" for m in known])
        old_sources = story.score_sources or 1
        decision = plan(
            facts=facts,
            old_sources=old_sources,
            new_sources=story.source_count,
            locked=pivot is None or pivot.locked,
            update_count=story.update_count,
            last_write=story.last_update_at or (pivot.created_at if pivot else now),
            now=now,
            settings=settings,
        )
    result = UpdateResult(story_id, [], [], decision.reason)
    if pivot is None:
        return result
    if decision.rewrite:
        try:
            fresh = await _rewrite(env, ctx, pivot)
        except LLMError as exc:
            log.warning("story %s: the update failed (%s); retried on a later run", story_id, exc)
            with env.store.session() as s:
                s.get_one(StoryRow, story_id).last_update_at = now
                queries.add_calls(s, env.calls.take(story_id))
            result.reason = f"failed: {exc.outcome}: {exc}"
            return result
    else:
        fresh = {}
    lead_text = f"{ctx.lead.title}\n{source_text(ctx.lead)}"
    with env.store.session() as s:
        story = s.get_one(StoryRow, story_id)
        queries.add_calls(s, env.calls.take(story_id))
        replies.forget(s, story_id)  # the rewrite is stored: its replies are spent
        pivot_now = s.get_one(ArticleRow, pivot.id)
        importance = fresh[pivot.id].importance if pivot.id in fresh else pivot_now.importance
        score = rescore(
            old_score=pivot_now.score,
            old_sources=old_sources,
            new_sources=story.source_count,
            importance=importance,
            published=pivot_now.published_at,
            asset=asset_weight(detect_assets(lead_text)),
            source_weight=ctx.source.weight,
            scored_at=pivot_now.created_at,
        )
        for article in s.scalars(select(ArticleRow).where(ArticleRow.story_id == story_id)):
            if article.locked:
                continue  # an editor's article: neither its text nor its score moves
            changed = False
            if article.id in fresh:
                for name in REWRITTEN:
                    setattr(article, name, getattr(fresh[article.id], name))
                article.model = fresh[article.id].model
                article.importance = importance if article.id == pivot.id else None
                result.rewritten.append(article.id)
                changed = True
            if article.score != score:
                article.score = score
                result.rescored.append(article.id)
                changed = True
            if changed:
                article.version += 1
                article.updated_at = now
        story.score_sources = story.source_count
        if decision.rewrite:
            story.update_count += 1
            story.last_update_at = now
        if decision.settled:
            story.written_through = max(story.written_through, through)
    if result.rewritten:
        log.info("story %s updated (%s)", story_id, decision.reason)
    return result


async def _rewrite(env: StageEnv, ctx: queries.StoryContext, pivot: ArticleRow) -> dict[int, ArticleRow]:
    """The pivot written again from every member, and its unlocked translations: unsaved rows by article id."""
    settings, provider = env.settings, env.provider
    new_pivot = await write_pivot(settings, env.store, provider, ctx)
    new_pivot.slug, new_pivot.story_id = pivot.slug, pivot.story_id
    fresh = {pivot.id: new_pivot}
    for other in ctx.articles.values():
        if other.id != pivot.id and not other.locked:
            fresh[other.id] = await translate_row(settings, provider, new_pivot, other.lang, ctx)
    return fresh

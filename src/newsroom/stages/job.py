"""One story's job: the stages a pending story goes through, in order, from stored state.

extract (teaser leads) → write (pivot) → illustrate → publish → translate each missing language → publish, then the
story is marked written. Every step starts from what is stored: a story whose pivot exists skips straight to the
missing translations. A failure (the model's, or any other) is recorded on the story with the calls it cost and a
next try after a capped exponential backoff, and returned, not raised: a story is never given up. Either way the
story's claim (store/claims.py) is released. The in-process scheduler (``newsroom.pipeline``) runs this per story;
the worker runs the same function.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ..config import Settings
from ..llm import replies
from ..llm.base import CallRecord, LLMError, Provider
from ..llm.budget import Budget, BudgetReached, with_budget
from ..llm.usage import CallBuffer, current_story
from ..publish.filesystem import FilesystemTarget
from ..sources.extract import RobotsCache
from ..store import claims, queries
from ..store.db import Store
from ..store.tables import StoryRow
from .extract import fill_full_text
from .illustrate import Illustrator, illustrate
from .publish import publish_new
from .select import select_story
from .translate import translate_row
from .write import fix_slug_in, write_pivot

log = logging.getLogger(__name__)


@dataclass
class StageEnv:
    """What the stages of a story's job need: settings, store, model provider, call buffer and the adapters."""

    settings: Settings
    store: Store
    provider: Provider
    calls: CallBuffer
    target: FilesystemTarget
    illustrator: Illustrator
    budget: Budget
    robots: RobotsCache = field(default_factory=RobotsCache)  # robots.txt of article sites (full-text extraction)
    pages: httpx.AsyncClient | None = None  # article pages (full text)

    @classmethod
    def build(cls, settings: Settings, store: Store, provider: Provider, calls: CallBuffer) -> StageEnv:
        if calls.store is None:
            calls.store = store  # every attempt gets its "started" row before the request (llm/usage.py)
        """The env of one process; ``provider`` is put behind the daily budget (``[budget]``) when one is set."""
        budget = Budget(settings.budget, store, calls)
        return cls(
            settings,
            store,
            # a reply is stored the moment it arrives (and reused by the rerun after a crash): outside the budget,
            # since a stored reply costs nothing
            replies.DurableReplies(
                with_budget(provider, budget, settings.llm.concurrency), store, calls, settings.llm.concurrency
            ),
            calls,
            target=FilesystemTarget(settings.publish.content_dir, settings.publish.path_template),
            illustrator=Illustrator(settings),
            budget=budget,
        )


@dataclass
class StoryResult:
    story_id: int
    written: list[str] = field(default_factory=list)  # languages whose article this job created
    published: list[Path] = field(default_factory=list)
    error: str | None = None  # "outcome: message" of the model failure that stopped the story
    paused: str | None = None  # why the daily budget stopped it (the story stays pending)
    skipped: str | None = None  # why the select stage skipped the story


async def run_story(
    env: StageEnv, ctx: queries.StoryContext, on_written: Callable[[], None] | None = None
) -> StoryResult:
    """Write, illustrate, translate and publish one story; ``on_written`` is called once its pivot is published."""
    story_id = ctx.story.id
    current_story.set(story_id)
    replies.new_job()
    result = StoryResult(story_id)
    pivot_lang = env.settings.pivot_language
    pivot = ctx.articles.get(pivot_lang)
    if not ctx.articles:
        # a story to be written gets its slug in the select stage's transaction (write.fix_slug_in)
        fix = (lambda s: fix_slug_in(s, ctx)) if pivot is None else None
        result.skipped = await asyncio.to_thread(select_story, env.store, env.settings, story_id, fix)
        if result.skipped is not None:
            _release(env, story_id)  # "write anyway" makes it pending again: free for any process at once
            return result
    try:
        if pivot is None:
            env.budget.check("write")  # no page fetch for a story the budget would not let be written
            await fill_full_text(env.store, env.settings, [ctx.lead], env.pages, robots=env.robots)
            pivot = await write_pivot(env.settings, env.store, env.provider, ctx)
            await illustrate(env.illustrator, pivot)
            result.published.append(await publish_new(env.store, env.target, env.calls, pivot, ctx))
            result.written.append(pivot_lang)
            if on_written:
                on_written()
        missing = [lang for lang in env.settings.extra_languages if lang not in ctx.articles]
        outcomes = await asyncio.gather(
            *(_translate(env, pivot, lang, ctx) for lang in missing), return_exceptions=True
        )
        errors = [r for r in outcomes if isinstance(r, BaseException)]
        for lang, r in zip(missing, outcomes, strict=True):
            if not isinstance(r, BaseException):
                result.written.append(lang)
                result.published.append(r)
        for err in errors:
            if not isinstance(err, LLMError):  # the budget (BudgetReached) or a bug
                raise err
        if errors:
            raise errors[0]
    except BudgetReached as exc:
        result.paused = str(exc)
        _release(env, story_id)  # still pending: the next run (or another process) takes it once the budget allows
        return result
    except LLMError as exc:
        result.error = f"{exc.outcome}: {exc}"
        record_failure(env, story_id, result.error)
        return result
    except Exception as exc:
        log.exception("story %s: unexpected failure", story_id)
        result.error = f"internal: {type(exc).__name__}: {exc}"
        record_failure(env, story_id, result.error)
        return result
    await _with_calls(env, story_id, mark_written, story_id, max(m.id for m in ctx.members or [ctx.lead]))
    return result


async def _translate(env: StageEnv, pivot, lang: str, ctx: queries.StoryContext) -> Path:  # type: ignore[no-untyped-def]
    row = await translate_row(env.settings, env.provider, pivot, lang, ctx)
    return await publish_new(env.store, env.target, env.calls, row, ctx)


async def _with_calls(env: StageEnv, story_id: int, fn: Callable[..., None], *args: object) -> None:
    """``fn(env, *args, records=…)`` in a worker thread, off the event loop, with the story's buffered call records
    (taken here, on the loop's thread; buffered again if its transaction fails)."""
    records = env.calls.begin_flush(story_id)
    stored = False
    try:
        await asyncio.to_thread(fn, env, *args, records=records)
        stored = True
    finally:
        env.calls.end_flush(records, stored=stored)


def mark_written(
    env: StageEnv,
    story_id: int,
    written_through: int = 0,
    *,
    records: list[tuple[CallRecord, int | None]] | None = None,
) -> None:
    """The story has its articles; ``written_through``: the newest member they were written from (stages/update).
    ``records``: the story's call records, already taken from the buffer (else they are taken here)."""
    with env.store.session() as s:
        story = s.get_one(StoryRow, story_id)
        story.status = "written"
        story.written_through = max(story.written_through or 0, written_through)
        story.score_sources = story.score_sources or story.source_count
        story.last_error = None
        story.next_attempt_at = None
        story.updated_at = datetime.now(UTC)
        claims.release(story)
        queries.add_calls(s, env.calls.take(story_id) if records is None else records)
        replies.forget(s, story_id)


def retry_delay(attempts: int, base_s: float, max_s: float) -> timedelta:
    """base × 2^(attempts-1), capped at max: 1 min, 2, 4, … 1 h with the defaults."""
    return timedelta(seconds=min(max_s, base_s * 2 ** min(attempts - 1, 32)))


def _release(env: StageEnv, story_id: int) -> None:
    """Give up this process's claim on a story that stays as it is (skipped, or paused by the budget), storing the
    calls it made."""
    with env.store.session() as s:
        claims.release(s.get_one(StoryRow, story_id))
        queries.add_calls(s, env.calls.take(story_id))


def record_failure(env: StageEnv, story_id: int, error: str) -> None:
    """Count the failure, keep the reason, and set the next try; the story stays pending (never failed for good)."""
    cfg = env.settings.stories
    with env.store.session() as s:
        story = s.get_one(StoryRow, story_id)
        story.attempts += 1
        story.last_error = error[:2000]
        now = datetime.now(UTC)
        story.updated_at = now
        story.next_attempt_at = now + retry_delay(story.attempts, cfg.retry_base_seconds, cfg.retry_max_seconds)
        claims.release(story)
        queries.add_calls(s, env.calls.take(story_id))
    log.warning(
        "story %s (try %d, next at %s): %s", story_id, story.attempts, f"{story.next_attempt_at:%H:%M:%S}", error
    )

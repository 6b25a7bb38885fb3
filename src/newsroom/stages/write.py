"""The write stage: one guarded, structured model call per story, from all its members, into the pivot article row.

The prompt carries the lead (the richest member; ``sourceUrl``) and then the other members' reports, richest first,
all within ``llm.max_source_chars`` (:func:`story_parts`); the guards ground the article in every text the prompt
carried; the other members' sources are listed in the article (frontmatter ``sources``).

Prompt building (templates in ``llm/prompts/``), the guarded call, and the pivot row (the model's proposals combined
with the offline classifiers, :mod:`newsroom.signals`) live here; the translate stage reuses the guarded call.

Guarded generation, per article (DESIGN §2 "guards"):

1. generate; run every guard (:mod:`newsroom.guards`) against the source (a translation: against its pivot);
2. on a failure, generate once more with the reasons added to the instructions, and check again;
3. a second failure keeps the article ``draft: true`` with the reasons stored (``draft_reasons``).

A passing article goes live only with ``review = "auto"``; with ``review = "always"`` every article waits for an
editor. A provider that is not publishable (the embedded base model) gets no retry: its text is held as a draft
whatever happens, so a second call would only double the demo's model time. Its guard reasons are still recorded,
beside ``model-not-publishable``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import sentiment
from ..config import Settings
from ..guards import Finding, GuardContext, Report, check_article, neutralise
from ..guards import article_fields as guard_fields
from ..guards.injection import clean_categories
from ..guards.judge import judge as judge_article
from ..headings import LANGUAGE_NAMES
from ..llm.base import LLMError, Prompt, Provider, Result
from ..llm.prompts import clip, template
from ..models import ArticleText, WrittenArticle
from ..signals import article_fields
from ..slugs import story_slug
from ..store.db import Store
from ..store.queries import StoryContext
from ..store.tables import ArticleRow, ItemRow, StoryRow
from .illustrate import placeholder_cover

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

NOT_PUBLISHABLE = "model-not-publishable"
REVIEW_REQUIRED = 'review-required: review = "always" holds every article for an editor'
PIVOT_IS_DRAFT = "pivot-draft: the article this one translates is a draft"
FEEDBACK = (
    "\n\nYour previous answer was rejected by the newsroom's automatic checks for these reasons:\n{reasons}\n"
    "Write the answer again and fix every one of them. Use only facts, numbers and names that appear in the source"
    " data; write in your own words; no links, no markup."
)


def with_feedback(prompt: Prompt, report: Report) -> Prompt:
    """The same request with the guard reasons added to the instructions (never to the data)."""
    reasons = "\n".join(f"- {r}" for r in report.reasons(limit=8))
    return dataclasses.replace(prompt, system=prompt.system + FEEDBACK.format(reasons=reasons))


async def generate_guarded(
    provider: Provider,
    prompt: Prompt,
    schema: type[T],
    check: Callable[[T], Report],
    *,
    retry: bool,
    judge: Callable[[T], Awaitable[list[Finding]]] | None = None,
) -> tuple[Result[T], Report]:
    """Generate, check, and (when ``retry``) regenerate once with the reasons. Returns the reply kept and its report.

    ``judge`` (the model-based faithfulness judge, one call) runs only on a reply the offline guards passed.
    A retry that fails outright (LLMError) keeps the first reply and its report: the article becomes a draft."""

    async def checked(value: T) -> Report:
        report = await asyncio.to_thread(check, value)  # lingua and the regexes: CPU work, off the event loop
        if report.ok and judge is not None:
            report.findings += await judge(value)
        return report

    first = await provider.generate(prompt, schema)
    report = await checked(first.value)
    if report.ok or not retry:
        return first, report
    log.info("%s: guards failed (%s); retrying once", prompt.stage, "; ".join(report.reasons(limit=3)))
    try:
        second = await provider.generate(with_feedback(prompt, report), schema)
    except LLMError as exc:
        log.warning("%s: the retry failed (%s); keeping the first reply as a draft", prompt.stage, exc)
        return first, report
    return second, await checked(second.value)


def draft_reasons(report: Report | None, *, publishable: bool, review: str, pivot_draft: bool = False) -> list[str]:
    """Why an article is a draft (empty: it goes live)."""
    reasons = report.reasons() if report is not None else []
    if not publishable:
        reasons.append(NOT_PUBLISHABLE)
    if review == "always":
        reasons.append(REVIEW_REQUIRED)
    elif pivot_draft and not reasons:
        reasons.append(PIVOT_IS_DRAFT)
    return reasons


# ---- what an article is checked against ----------------------------------------------------------------------------


def grounding_extras(source_name: str, published: datetime, categories: list[str]) -> str:
    """Facts the write prompt gives besides the text: the source's name, the publication date, its categories."""
    return (
        f"{source_name}. Published {published:%Y-%m-%d %H:%M} UTC, {published:%d %B %Y}, {published:%B %d, %Y}."
        f" {', '.join(categories)}"
    )


def clean_source(title: str, text: str) -> tuple[str, str, list[str]]:
    """Headline and text with injection attempts cut out (what the model sees and what grounding uses)."""
    clean_title, removed_t = neutralise(title)
    clean_text, removed = neutralise(text)
    return clean_title, clean_text, removed_t + removed


def write_context(settings: Settings, title: str, text: str, extras: str) -> GuardContext:
    g = settings.guards
    return GuardContext(
        lang=settings.pivot_language,
        source=f"{title}\n\n{text}",
        source_lang=settings.pivot_language,
        max_verbatim_words=g.max_verbatim_words,
        max_ngram_overlap=g.max_ngram_overlap,
        min_words=g.min_words,
        extra_grounding=extras,
        faithfulness=g.faithfulness,
    )


def article_checker(ctx: GuardContext) -> Callable[[ArticleText], Report]:
    def check(article: ArticleText) -> Report:
        return check_article(ArticleText.model_validate(article.model_dump(include=set(ArticleText.model_fields))), ctx)

    return check


async def guarded(settings: Settings, provider: Provider, prompt: Prompt, schema: type[T], make_check, source=None):  # type: ignore[no-untyped-def]
    """One structured call, judged by the guards ``make_check()`` builds (only when the guards are on), and by the
    model-based judge against ``source`` when ``guards.judge`` is on and the model is a real one."""
    if not settings.guards.enabled:
        return await provider.generate(prompt, schema), None
    # no retry for a model that is never published (the embedded base model): see the module's docstring
    retry = settings.guards.retry and provider.publishable
    judge = None
    if settings.guards.judge and provider.publishable and source is not None:
        max_claims = settings.guards.judge_max_claims

        async def judge(value: T) -> list[Finding]:
            text = ArticleText.model_validate(value.model_dump(include=set(ArticleText.model_fields)))
            return await judge_article(provider, guard_fields(text), source, max_claims)

    return await generate_guarded(provider, prompt, schema, make_check(), retry=retry, judge=judge)


# ---- the write itself ----------------------------------------------------------------------------------------------


def source_text(item: ItemRow) -> str:
    """An item's longest text: the extracted page or the feed's content when longer than its summary."""
    return item.content if len(item.content) > len(item.summary) else item.summary


def source_label(name: str, language: str | None, pivot: str) -> str:
    """The source as the write prompt names it; a source in another language says so (the article is still written
    in the pivot language, from the source's own text)."""
    return f"{name} (text in {language})" if language not in (None, pivot) else name


MAX_OTHER_SOURCES = 6
MIN_PART_CHARS = 200  # a member whose share of the budget would be shorter than this is left out


@dataclass(frozen=True)
class SourcePart:
    """One member of the story as the write prompt gives it: cleaned of injections, clipped to its share."""

    item: ItemRow
    source_name: str
    headline: str
    text: str


def story_parts(ctx: StoryContext, max_chars: int) -> list[SourcePart]:
    """The lead, then the other members richest first (one per distinct text, at most ``MAX_OTHER_SOURCES``), each
    cleaned (``guards.injection``) and clipped so that all texts together stay within ``max_chars``: the lead keeps
    at least half of the budget, each other member at most a quarter."""
    seen = {ctx.lead.fingerprint}
    others = []
    for item in sorted(ctx.members, key=lambda m: (-len(source_text(m)), m.id)):
        if item.id != ctx.lead.id and item.fingerprint not in seen and len(others) < MAX_OTHER_SOURCES:
            seen.add(item.fingerprint)
            others.append(item)
    lead_title, lead_text, _ = clean_source(ctx.lead.title, source_text(ctx.lead))
    wanted = sum(min(len(source_text(m)) + len(m.title), max_chars // 4) for m in others)
    lead_share = max(max_chars // 2, max_chars - wanted) if others else max_chars
    lead_text = clip(lead_text, lead_share)
    parts = [SourcePart(ctx.lead, ctx.source.name, lead_title, lead_text)]
    left = max_chars - len(lead_text)
    for item in others:
        share = min(left, max_chars // 4)
        if share < MIN_PART_CHARS:
            break
        headline, text, _ = clean_source(item.title, source_text(item))
        text = clip(text, max(0, share - len(headline)))
        left -= len(headline) + len(text)
        parts.append(SourcePart(item, ctx.source_names.get(item.source_key, item.source_key), headline, text))
    return parts


def _other_reports(parts: list[SourcePart]) -> str:
    if not parts:
        return ""
    blocks = [
        f"Source: {p.source_name}\nPublished: {p.item.published_at:%Y-%m-%d %H:%M UTC}\nHeadline: {p.headline}\n"
        f"Text:\n<<<\n{p.text or p.headline}\n>>>"
        for p in parts
    ]
    return template("write_others").format(count=len(parts), reports="\n\n".join(blocks))


def write_prompt(
    *,
    language: str,
    categories: list[str],
    source_name: str,
    headline: str,
    text: str,
    source_categories: list[str],
    published: datetime,
    max_source_chars: int,
    max_tokens: int | None = None,
    others: list[SourcePart] | None = None,
    min_words: int = 80,
) -> Prompt:
    """The write request: the lead's text (clipped to ``max_source_chars``) and, when the story has other members,
    their reports after it (``others``: already clipped by :func:`story_parts`). ``min_words`` is the guards' minimum
    for the whole article (``guards.min_words``), told in the instructions and in the schema's description, so that
    an article that keeps to every field's stated minimum is not too short in all."""
    system = template("write_system").format(
        language=LANGUAGE_NAMES[language], categories=", ".join(categories), min_words=min_words
    )
    user = template("write_user").format(
        source_name=source_name,
        published=published.strftime("%Y-%m-%d %H:%M UTC"),
        categories=", ".join(clean_categories(source_categories)) or "none",
        headline=headline,
        text=clip(text, max_source_chars) or headline,
    ) + _other_reports(others or [])
    return Prompt(
        stage="write",
        system=system,
        user=user,
        max_tokens=max_tokens,
        schema_overrides={
            "description": f"A news article of at least {min_words} words in all (overview, sections, why_it_matters,"
            " from_the_author and market_impact together).",
            "properties": {"category": {"enum": categories}},
        },
    )


def story_write_prompt(settings: Settings, ctx: StoryContext) -> tuple[Prompt, GuardContext]:
    """The write request for a story from all its members, and the context its guards check the article against
    (every member's text the prompt carries, every source's name and date)."""
    parts = story_parts(ctx, settings.llm.max_source_chars)
    lead = parts[0]
    categories = list(ctx.lead.categories or [])
    prompt = write_prompt(
        language=settings.pivot_language,
        categories=settings.taxonomy,
        source_name=source_label(ctx.source.name, ctx.lead.language, settings.pivot_language),
        headline=lead.headline,
        text=lead.text,
        source_categories=categories,
        published=ctx.lead.published_at,
        max_source_chars=settings.llm.max_source_chars,
        others=parts[1:],
        min_words=settings.guards.min_words,
    )
    extras = " ".join(
        grounding_extras(p.source_name, p.item.published_at, list(p.item.categories or [])) for p in parts
    )
    text = "\n\n".join(f"{p.headline}\n\n{p.text}" for p in parts[1:])
    guard = write_context(settings, lead.headline, f"{lead.text}\n\n{text}".strip(), extras)
    return prompt, guard


async def write_guarded(settings: Settings, provider: Provider, ctx: StoryContext):  # type: ignore[no-untyped-def]
    """The guarded write of a story from all its members: ``(Result[WrittenArticle], Report | None)``."""
    # source text is data: passages addressed to a model are cut out (guards.injection)
    prompt, guard = story_write_prompt(settings, ctx)
    return await guarded(
        settings, provider, prompt, WrittenArticle, lambda: article_checker(guard), source=guard.source
    )


def other_sources(ctx: StoryContext) -> list[dict[str, str]]:
    """The frontmatter's ``sources``: every other member's source name and link (one per link), oldest first."""
    out: dict[str, dict[str, str]] = {}
    for m in ctx.members:
        if m.id != ctx.lead.id and m.url and m.url != ctx.lead.url and m.url not in out:
            out[m.url] = {"name": ctx.source_names.get(m.source_key, m.source_key), "url": m.url}
    return list(out.values())


def fix_slug(store: Store, ctx: StoryContext) -> str:
    """The story's slug, chosen from its lead's headline and stored before the model is called, so that a rerun
    after a crash (whose model may title the story differently) writes the same file. The first stored one wins.
    (A story the select stage decides in this job has it fixed in that transaction already: ``fix_slug_in``.)"""
    if ctx.story.slug:
        return ctx.story.slug
    with store.session() as s:
        return fix_slug_in(s, ctx)


def fix_slug_in(s: Session, ctx: StoryContext) -> str:
    """``fix_slug`` inside the caller's transaction ``s``."""
    if ctx.story.slug:
        return ctx.story.slug
    lead = ctx.lead
    slug = story_slug(lead.title, f"{lead.source_key}:{lead.external_id}")
    done = s.execute(update(StoryRow).where(StoryRow.id == ctx.story.id, StoryRow.slug.is_(None)).values(slug=slug))
    if done.rowcount == 1:  # type: ignore[attr-defined]  # ours is the stored one: no need to read it back
        ctx.story.slug = slug
    else:  # another process (or an earlier try) stored one first: that one wins
        ctx.story.slug = s.scalar(select(StoryRow.slug).where(StoryRow.id == ctx.story.id)) or slug
    return ctx.story.slug


def pivot_row(
    settings: Settings,
    story: StoryRow,
    lead: ItemRow,
    w: WrittenArticle,
    model: str,
    report: Report | None = None,
    *,
    publishable: bool,
    source_weight: float = 1.0,
    sources: list[dict[str, str]] | None = None,
) -> ArticleRow:
    """The unsaved pivot-language article of ``story``: the model's text, the fields the offline classifiers decide."""
    now = datetime.now(UTC)
    slug = story.slug or story_slug(lead.title, f"{lead.source_key}:{lead.external_id}")
    reasons = draft_reasons(report, publishable=publishable, review=settings.review)
    return ArticleRow(
        story_id=story.id,
        lang=settings.pivot_language,
        slug=slug,
        external_id=lead.external_id,
        translated_from=lead.external_id,
        title=w.title,
        description=w.description,
        text=w.text_part().model_dump(),
        **article_fields(
            headline=lead.title,
            text=source_text(lead),
            source_categories=list(lead.categories or []),
            model_category=w.category,
            model_tags=list(w.tags),
            model_sentiment=w.sentiment.value,
            model_importance=w.importance,
            distinct_sources=story.source_count,
            published=lead.published_at,
            source_weight=source_weight,
            taxonomy=settings.taxonomy,
            default_category=settings.default_category,
        ),
        sticky_weight=0,
        locked=False,
        draft=bool(reasons),
        draft_reasons=reasons,
        cover_image=placeholder_cover(settings.cover_url_base(), slug).model_dump(exclude_none=True),
        image_query=w.image_query,
        model=model,
        version=1,
        sources=list(sources or []),
        importance=w.importance,
        published_at=lead.published_at,
        created_at=now,
        updated_at=now,
    )


async def write_pivot(settings: Settings, store: Store, provider: Provider, ctx: StoryContext) -> ArticleRow:
    """The write stage for one story: its slug fixed, the guarded call, then its pivot row (unsaved)."""
    if not ctx.story.slug:
        await asyncio.to_thread(fix_slug, store, ctx)
    written, report = await write_guarded(settings, provider, ctx)
    # the offline classifiers run torch: off the event loop (it releases the GIL, so a second core helps)
    return await asyncio.to_thread(
        pivot_row,
        settings,
        ctx.story,
        ctx.lead,
        written.value,
        written.model,
        report,
        publishable=provider.publishable,
        source_weight=ctx.source.weight,
        sources=other_sources(ctx),
    )


async def prefetch_signals(settings: Settings, contexts: list[StoryContext]) -> None:
    """Embed the headlines the offline sentiment will need, in one batch in a worker thread, while the write calls
    are in flight (one batch is far cheaper than one call per story; the embedder caches the vectors)."""
    headlines = [c.lead.title for c in contexts if settings.pivot_language not in c.articles]
    if headlines:
        await asyncio.to_thread(sentiment.prefetch, headlines)


class SignalPrefetcher:
    """:func:`prefetch_signals` for jobs that begin one story at a time (``newsroom worker``): the headlines of the
    stories begun while a batch is being classified wait and go in the next batch, one batch at a time in a worker
    thread. A job never waits for it (its pivot row classifies whatever is not cached yet); without it, each job
    classified its one headline alone, several times the CPU of the same headlines in batches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._waiting: list[StoryContext] = []
        self._running: asyncio.Task[None] | None = None

    def add(self, ctx: StoryContext) -> None:
        self._waiting.append(ctx)
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            await prefetch_signals(self.settings, batch)

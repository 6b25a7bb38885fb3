"""The write stage: one guarded, structured model call per story, from its lead item, into the pivot article row.

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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel

from .. import sentiment
from ..config import Settings
from ..guards import GuardContext, Report, check_article, neutralise
from ..headings import LANGUAGE_NAMES
from ..llm.base import LLMError, Prompt, Provider, Result
from ..llm.prompts import clip, template
from ..models import ArticleText, WrittenArticle
from ..signals import article_fields
from ..slugs import story_slug
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
) -> tuple[Result[T], Report]:
    """Generate, check, and (when ``retry``) regenerate once with the reasons. Returns the reply kept and its report.

    A retry that fails outright (LLMError) keeps the first reply and its report: the article becomes a draft."""
    first = await provider.generate(prompt, schema)
    report = check(first.value)
    if report.ok or not retry:
        return first, report
    log.info("%s: guards failed (%s); retrying once", prompt.stage, "; ".join(report.reasons(limit=3)))
    try:
        second = await provider.generate(with_feedback(prompt, report), schema)
    except LLMError as exc:
        log.warning("%s: the retry failed (%s); keeping the first reply as a draft", prompt.stage, exc)
        return first, report
    return second, check(second.value)


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
    )


def article_checker(ctx: GuardContext) -> Callable[[ArticleText], Report]:
    def check(article: ArticleText) -> Report:
        return check_article(ArticleText.model_validate(article.model_dump(include=set(ArticleText.model_fields))), ctx)

    return check


async def guarded(settings: Settings, provider: Provider, prompt: Prompt, schema: type[T], make_check):  # type: ignore[no-untyped-def]
    """One structured call, judged by the guards ``make_check()`` builds (only when the guards are on)."""
    if not settings.guards.enabled:
        return await provider.generate(prompt, schema), None
    # no retry for a model that is never published (the embedded base model): see the module's docstring
    retry = settings.guards.retry and provider.publishable
    return await generate_guarded(provider, prompt, schema, make_check(), retry=retry)


# ---- the write itself ----------------------------------------------------------------------------------------------


def source_text(item: ItemRow) -> str:
    """An item's longest text: the extracted page or the feed's content when longer than its summary."""
    return item.content if len(item.content) > len(item.summary) else item.summary


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
) -> Prompt:
    system = template("write_system").format(language=LANGUAGE_NAMES[language], categories=", ".join(categories))
    user = template("write_user").format(
        source_name=source_name,
        published=published.strftime("%Y-%m-%d %H:%M UTC"),
        categories=", ".join(source_categories) or "none",
        headline=headline,
        text=clip(text, max_source_chars) or headline,
    )
    return Prompt(
        stage="write",
        system=system,
        user=user,
        max_tokens=max_tokens,
        schema_overrides={"properties": {"category": {"enum": categories}}},
    )


async def write_guarded(settings: Settings, provider: Provider, ctx: StoryContext):  # type: ignore[no-untyped-def]
    """The guarded write of a story from its lead item: ``(Result[WrittenArticle], Report | None)``."""
    lead = ctx.lead
    # source text is data: passages addressed to a model are cut out (guards.injection)
    headline, text, _ = clean_source(lead.title, source_text(lead))
    categories = list(lead.categories or [])
    prompt = write_prompt(
        language=settings.pivot_language,
        categories=settings.taxonomy,
        source_name=ctx.source.name,
        headline=headline,
        text=text,
        source_categories=categories,
        published=lead.published_at,
        max_source_chars=settings.llm.max_source_chars,
    )

    def check():  # type: ignore[no-untyped-def]
        extras = grounding_extras(ctx.source.name, lead.published_at, categories)
        return article_checker(write_context(settings, headline, text, extras))

    return await guarded(settings, provider, prompt, WrittenArticle, check)


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
) -> ArticleRow:
    """The unsaved pivot-language article of ``story``: the model's text, the fields the offline classifiers decide."""
    now = datetime.now(UTC)
    slug = story_slug(w.title, f"{lead.source_key}:{lead.external_id}")
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
        cover_image=placeholder_cover(settings.publish.cover_base_url, slug).model_dump(exclude_none=True),
        image_query=w.image_query,
        model=model,
        version=1,
        published_at=lead.published_at,
        created_at=now,
        updated_at=now,
    )


async def write_pivot(settings: Settings, provider: Provider, ctx: StoryContext) -> ArticleRow:
    """The write stage for one story: the guarded call, then its pivot row (unsaved)."""
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
    )


async def prefetch_signals(settings: Settings, contexts: list[StoryContext]) -> None:
    """Embed the headlines the offline sentiment will need, in one batch in a worker thread, while the write calls
    are in flight (one batch is far cheaper than one call per story; the embedder caches the vectors)."""
    headlines = [c.lead.title for c in contexts if settings.pivot_language not in c.articles]
    if headlines:
        await asyncio.to_thread(sentiment.prefetch, headlines)

"""Guarded generation: a model call, the guards on its reply, one retry with the reasons, then draft or live.

The decision per article (DESIGN §2 "guards"):

1. generate; run every guard (:mod:`newsroom.guards`) against the source (a translation: against its pivot);
2. on a failure, generate once more with the reasons added to the instructions, and check again;
3. a second failure keeps the article ``draft: true`` with the reasons stored (``draft_reasons``).

A passing article goes live only with ``review = "auto"``; with ``review = "always"`` every article waits for an
editor. A provider that is not publishable (the embedded base model) gets no retry: its text is held as a draft
whatever happens, so a second call would only double the demo's model time. Its guard reasons are still recorded,
beside ``model-not-publishable``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from .config import Settings
from .guards import GuardContext, Report, check_article, neutralise
from .llm.base import LLMError, Prompt, Provider, Result
from .models import ArticleText

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
        faithfulness=g.faithfulness,
    )


def translation_context(settings: Settings, pivot: ArticleText, lang: str, extras: str) -> GuardContext:
    from .guards import article_fields

    g = settings.guards
    return GuardContext(
        lang=lang,
        source="\n\n".join(t for _, t in article_fields(pivot)),
        source_lang=settings.pivot_language,
        pivot=pivot,
        max_verbatim_words=g.max_verbatim_words,
        max_ngram_overlap=g.max_ngram_overlap,
        min_words=g.min_words,
        extra_grounding=extras,
    )


def article_checker(ctx: GuardContext) -> Callable[[ArticleText], Report]:
    def check(article: ArticleText) -> Report:
        return check_article(ArticleText.model_validate(article.model_dump(include=set(ArticleText.model_fields))), ctx)

    return check

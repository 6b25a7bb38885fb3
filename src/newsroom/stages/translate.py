"""The translate stage: one guarded, structured call per extra language, translating the pivot article's fields.

The fixed headings are never translated by the model (they are localised by :mod:`newsroom.headings` when the
Markdown is rendered); the result records ``ai.translatedFrom`` (the pivot's external id) and keeps its slug.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..config import Settings
from ..guards import GuardContext, Report
from ..guards import article_fields as guarded_fields
from ..headings import LANGUAGE_NAMES
from ..llm.base import Prompt, Provider
from ..llm.prompts import template
from ..models import ArticleText
from ..store.queries import StoryContext
from ..store.tables import ArticleRow
from .write import article_checker, draft_reasons, grounding_extras, guarded


def translate_prompt(
    *, article: ArticleText, source_language: str, language: str, max_tokens: int | None = None
) -> Prompt:
    system = template("translate_system").format(
        source_language=LANGUAGE_NAMES[source_language], language=LANGUAGE_NAMES[language]
    )
    user = template("translate_user").format(article_json=json.dumps(article.model_dump(), ensure_ascii=False))
    return Prompt(stage="translate", system=system, user=user, max_tokens=max_tokens)


def translation_context(settings: Settings, pivot: ArticleText, lang: str, extras: str) -> GuardContext:
    g = settings.guards
    return GuardContext(
        lang=lang,
        source="\n\n".join(t for _, t in guarded_fields(pivot)),
        source_lang=settings.pivot_language,
        pivot=pivot,
        max_verbatim_words=g.max_verbatim_words,
        max_ngram_overlap=g.max_ngram_overlap,
        min_words=g.min_words,
        extra_grounding=extras,
    )


async def translate_row(
    settings: Settings, provider: Provider, pivot: ArticleRow, lang: str, ctx: StoryContext
) -> ArticleRow:
    """The guarded translation of ``pivot`` into ``lang``, as an unsaved row (the editor's regenerate uses it)."""
    pivot_text = ArticleText.model_validate(pivot.text)
    prompt = translate_prompt(article=pivot_text, source_language=settings.pivot_language, language=lang)

    def check():  # type: ignore[no-untyped-def]
        extras = grounding_extras(ctx.source.name, ctx.lead.published_at, list(ctx.lead.categories or []))
        return article_checker(translation_context(settings, pivot_text, lang, extras))

    result, report = await guarded(settings, provider, prompt, ArticleText, check)
    return translation_row(settings, pivot, lang, result.value, result.model, report, publishable=provider.publishable)


def translation_row(
    settings: Settings,
    pivot: ArticleRow,
    lang: str,
    t: ArticleText,
    model: str,
    report: Report | None = None,
    *,
    publishable: bool,
) -> ArticleRow:
    now = datetime.now(UTC)
    reasons = draft_reasons(report, publishable=publishable, review=settings.review, pivot_draft=pivot.draft)
    return ArticleRow(
        story_id=pivot.story_id,
        lang=lang,
        slug=pivot.slug,
        external_id=pivot.external_id,
        translated_from=pivot.external_id,
        title=t.title,
        description=t.description,
        text=t.model_dump(),
        category=pivot.category,
        tags=list(pivot.tags),
        sentiment=pivot.sentiment,
        score=pivot.score,
        sticky_weight=pivot.sticky_weight,
        locked=False,
        draft=bool(reasons) or pivot.draft,
        draft_reasons=reasons,
        cover_image=dict(pivot.cover_image),
        image_query=pivot.image_query,
        model=model,
        version=1,
        sources=list(pivot.sources or []),
        published_at=pivot.published_at,
        created_at=now,
        updated_at=now,
    )

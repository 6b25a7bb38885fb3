"""Prompt templates (files in llm/prompts/) and the functions that fill them. Pure: no model calls here."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources

from .headings import LANGUAGE_NAMES
from .llm.base import Prompt
from .models import ArticleText


@cache
def template(name: str) -> str:
    return resources.files("newsroom.llm.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")


def clip(text: str, limit: int) -> str:
    """Cut long source text at a paragraph or sentence boundary near ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for sep in ("\n\n", ". ", "\n", " "):
        pos = cut.rfind(sep)
        if pos > limit * 0.6:
            return cut[: pos + 1].rstrip() + " …"
    return cut + " …"


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


def translate_prompt(
    *, article: ArticleText, source_language: str, language: str, max_tokens: int | None = None
) -> Prompt:
    system = template("translate_system").format(
        source_language=LANGUAGE_NAMES[source_language], language=LANGUAGE_NAMES[language]
    )
    user = template("translate_user").format(article_json=json.dumps(article.model_dump(), ensure_ascii=False))
    return Prompt(stage="translate", system=system, user=user, max_tokens=max_tokens)

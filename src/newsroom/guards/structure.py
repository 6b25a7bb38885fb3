"""Schema and length bounds per field; the fixed sections all present; a translation keeps the pivot's shape."""

from __future__ import annotations

from ..headings import HEADINGS
from ..models import BULLETS, FIELD_BOUNDS, ArticleText
from .base import Finding, GuardContext, words

# (min words, max chars) per field kind: the same table the schema sent to the model is built from.
BOUNDS = FIELD_BOUNDS
_FIXED = {h.casefold() for hs in HEADINGS.values() for h in hs}


def _kind(name: str) -> str:
    if name.startswith("sections["):
        return "heading" if name.endswith(".heading") else "body"
    if name.startswith("market_impact["):
        return "bullet"
    return name


def check_structure(article: ArticleText, ctx: GuardContext) -> list[Finding]:
    from .base import article_fields

    out: list[Finding] = []
    for name, text in article_fields(article):
        lo_words, hi_chars = BOUNDS[_kind(name)]
        n = len(words(text))
        if not text.strip():
            out.append(Finding("section-missing", name, "empty"))
        elif len(text) > hi_chars:
            out.append(Finding("length", name, f"{len(text)} characters; at most {hi_chars}"))
        elif n < lo_words and ctx.lang not in ("zh", "ja"):
            out.append(Finding("length", name, f"{n} words; at least {lo_words}"))
    if not article.sections:
        out.append(Finding("section-missing", "sections", "no topical section"))
    if not BULLETS[0] <= len(article.market_impact) <= BULLETS[1]:
        out.append(
            Finding(
                "section-missing",
                "market_impact",
                f"{len(article.market_impact)} bullets; {BULLETS[0]} to {BULLETS[1]}",
            )
        )
    for i, s in enumerate(article.sections):
        if s.heading.strip().strip("#: ").casefold() in _FIXED:
            out.append(Finding("fixed-heading", f"sections[{i}].heading", f"{s.heading!r} is a fixed heading"))
    total = sum(len(words(t)) for name, t in article_fields(article) if name not in ("title", "description"))
    if total < ctx.min_words and ctx.lang not in ("zh", "ja"):
        out.append(Finding("length", "body", f"{total} words in all; at least {ctx.min_words}"))
    if ctx.pivot is not None:
        p = ctx.pivot
        if len(p.sections) != len(article.sections) or len(p.market_impact) != len(article.market_impact):
            out.append(
                Finding(
                    "structure-mismatch",
                    "article",
                    f"{len(article.sections)} sections / {len(article.market_impact)} bullets; the pivot has"
                    f" {len(p.sections)} / {len(p.market_impact)}",
                )
            )
    return out

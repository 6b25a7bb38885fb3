"""``newsroom eval guards``: the guards over a JSONL file of (source, article, lang) lines. Pure apart from parsing.

Each line: ``{"source": str, "article": obj | str, "lang": str}``, optionally ``"source_lang"`` (default ``"en"``)
and ``"pivot"`` (an article object: the line is then a translation of it, and ``source`` may be omitted). An article
object has the fields of ``ArticleText`` (title, description, overview, sections, why_it_matters, from_the_author,
market_impact) and gets every guard; an article string (plain text or Markdown with ``##`` headings) gets the field
guards (language, grounding, originality, hygiene), one field per section or paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..models import ArticleText
from . import GuardContext, article_fields, check_raw, check_text

_HEADING = re.compile(r"(?m)^#{1,6}\s+(.+?)\s*$")


@dataclass(frozen=True)
class Verdict:
    line: int
    flagged: bool
    reasons: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "flagged": self.flagged, "reasons": self.reasons}


def text_fields(article: str) -> list[tuple[str, str]]:
    """A free-form article as fields: frontmatter dropped, one field per ``##`` section (else per paragraph)."""
    body = article
    if body.startswith("---\n") and "\n---\n" in body[4:]:
        body = body[4:].split("\n---\n", 1)[1]
    parts = _HEADING.split(body)
    if len(parts) > 1:
        fields = [("intro", parts[0].strip())] if parts[0].strip() else []
        for i in range(1, len(parts) - 1, 2):
            fields.append((f"sections[{i // 2}].body", parts[i + 1].strip()))
        return [(n, t) for n, t in fields if t]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    return [(f"paragraph[{i}]", p) for i, p in enumerate(paragraphs)]


def evaluate(obj: Any, line: int = 0) -> Verdict:
    """The verdict on one parsed JSONL line. A malformed line is flagged with the reason ``bad-input``."""
    if not isinstance(obj, dict):
        return Verdict(line, True, ["bad-input: line: not a JSON object"])
    lang = str(obj.get("lang") or "en")
    pivot: ArticleText | None = None
    if obj.get("pivot") is not None:
        try:
            pivot = ArticleText.model_validate(obj["pivot"])
        except ValidationError as exc:
            return Verdict(line, True, [f"bad-input: pivot: not an article object ({exc.error_count()} error(s))"])
    source = obj.get("source")
    if source is None and pivot is not None:
        source = "\n\n".join(t for _, t in article_fields(pivot))
    if not isinstance(source, str):
        return Verdict(line, True, ["bad-input: source: a string is required"])
    ctx = GuardContext(lang=lang, source=source, source_lang=str(obj.get("source_lang") or "en"), pivot=pivot)
    article = obj.get("article")
    if isinstance(article, dict):
        report = check_raw(article, ctx)
    elif isinstance(article, str):
        report = check_text(text_fields(article), ctx)
    else:
        return Verdict(line, True, ["bad-input: article: an object or a string is required"])
    return Verdict(line, not report.ok, report.reasons(limit=20))

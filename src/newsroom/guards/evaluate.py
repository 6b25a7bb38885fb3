"""``newsroom eval guards``: the guards over a JSONL file of (source, article, lang) lines. Pure apart from parsing.

Each line: ``{"source": str, "article": obj | str, "lang": str}``, optionally ``"source_lang"`` (default ``"en"``)
and ``"pivot"`` (an article object: the line is then a translation of it, and ``source`` may be omitted). Other keys
are ignored, except ``label`` (``faithful`` or ``error``) and ``error_types`` (FRANK's EntE, CircE, …): when lines
carry a label, :func:`score` measures the reasons about facts against it. An article
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


# Reasons about facts: what a labelled evaluation scores. Every other reason is about form (length, structure,
# language, originality, hygiene): an extractive summary is faithful but copies its source.
FACT_CODES = frozenset({"ungrounded-number", "ungrounded-entity", "unfaithful", "unsupported-claim"})


@dataclass(frozen=True)
class Verdict:
    line: int
    flagged: bool
    reasons: list[str]

    @property
    def fact_flagged(self) -> bool:
        """Flagged for a reason about facts."""
        return any(r.split(":", 1)[0] in FACT_CODES for r in self.reasons)

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "flagged": self.flagged, "fact_flagged": self.fact_flagged, "reasons": self.reasons}


def label_of(obj: Any) -> bool | None:
    """True for an erroneous article, False for a faithful one, None when the line carries no usable label."""
    raw = obj.get("label") if isinstance(obj, dict) else None
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().casefold() if raw is not None else ""
    if text in ("error", "unfaithful", "hallucinated", "1", "true"):
        return True
    if text in ("faithful", "consistent", "correct", "0", "false"):
        return False
    return None


def score(results: list[tuple[Verdict, bool, list[str]]]) -> dict[str, Any]:
    """Balanced accuracy of the fact reasons over labelled verdicts: (verdict, is_error, error types).

    ``faithful_flagged`` is the share of faithful articles flagged for facts, ``errors_caught`` the share of
    erroneous ones; ``by_error_type`` the catch rate among articles with each annotated error type; ``form_flagged``
    counts articles flagged for form alone (reported apart, not scored)."""
    faithful = [v for v, err, _ in results if not err]
    errors = [v for v, err, _ in results if err]
    fa = sum(v.fact_flagged for v in faithful) / len(faithful) if faithful else 0.0
    caught = sum(v.fact_flagged for v in errors) / len(errors) if errors else 0.0
    types: dict[str, list[bool]] = {}
    for v, err, kinds in results:
        if err:
            for k in kinds:
                types.setdefault(k, []).append(v.fact_flagged)
    return {
        "balanced_accuracy": round(((1 - fa) + caught) / 2, 4),
        "faithful_flagged": round(fa, 4),
        "errors_caught": round(caught, 4),
        "by_error_type": {k: round(sum(x) / len(x), 4) for k, x in sorted(types.items())},
        "labelled": len(results),
        "fact_flagged": sum(v.fact_flagged for v, _, _ in results),
        "form_flagged": sum(v.flagged and not v.fact_flagged for v, _, _ in results),
    }


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
    article = obj.get("article")
    # the offline faithfulness scorer judges summaries (a string article), not written articles (see its module)
    ctx = GuardContext(
        lang=lang,
        source=source,
        source_lang=str(obj.get("source_lang") or "en"),
        pivot=pivot,
        faithfulness=isinstance(article, str),
    )
    if isinstance(article, dict):
        report = check_raw(article, ctx)
    elif isinstance(article, str):
        report = check_text(text_fields(article), ctx)
    else:
        return Verdict(line, True, ["bad-input: article: an object or a string is required"])
    return Verdict(line, not report.ok, report.reasons(limit=20))

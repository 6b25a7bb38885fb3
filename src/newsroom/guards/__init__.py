"""Quality guards: pure functions that decide whether an article may go live, each failure with a reason code.

Run on every written and every translated article (DESIGN §2 "guards"). Each guard takes the article's text fields
and a :class:`GuardContext` and returns :class:`Finding` objects; an empty list means the article passed.

Reason codes (stable: stored in ``draft_reasons``, counted by ``newsroom stats``):

==================== ==================================================================================
``invalid-schema``    the reply is not a valid article object (only from :func:`check_raw`)
``length``            a field (or the whole body) is too short or too long
``section-missing``   a fixed section is empty; no topical section; not 3–6 market-impact bullets
``fixed-heading``     a topical section is headed with one of the fixed headings
``structure-mismatch`` a translation has another number of sections or bullets than its pivot
``wrong-language``    a field is not in the article's language (lingua; script check for uk/ru)
``untranslated``      a translation's field is a copy of the pivot's
``ungrounded-number`` a number (with its unit and scale) that the source does not contain
``ungrounded-entity`` a person, company or asset that the source does not name
``unfaithful``        a fact field the offline consistency scorer judges unsupported by the source (guards.faithfulness)
``unsupported-claim`` a claim the model-based judge found unsupported (guards.judge; only with ``guards.judge``)
``unverified``        the judge gave no valid verdict (the article waits for an editor)
``verbatim-copy``     a run of ≥ ``max_verbatim_words`` words copied from the source
``ngram-overlap``     more than ``max_ngram_overlap`` of the article's 5-grams are the source's
``leaked-prompt``     prompt or instruction text in the article
``ai-disclaimer``     "as an AI …" and the like
``markup``            HTML or Markdown syntax in a field (a blockquote or bold passes where the source has one)
``link``              a URL or domain the source did not have
==================== ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ..models import ArticleText
from .base import Fields, Finding, GuardContext, Report, article_fields
from .entities import check_entities
from .faithfulness import check_faithfulness
from .hygiene import check_hygiene
from .injection import find_injections, neutralise
from .language import check_language, check_not_a_copy
from .numbers import check_numbers
from .originality import check_originality
from .structure import check_structure

__all__ = [
    "FIELD_GUARDS",
    "Finding",
    "GuardContext",
    "Report",
    "article_fields",
    "check_article",
    "check_raw",
    "check_text",
    "find_injections",
    "neutralise",
]

FieldGuard = Callable[[Fields, GuardContext], list[Finding]]
FIELD_GUARDS: tuple[FieldGuard, ...] = (
    check_language,
    check_not_a_copy,
    check_numbers,
    check_entities,
    check_faithfulness,
    check_originality,
    check_hygiene,
)


def check_text(fields: Fields, ctx: GuardContext) -> Report:
    """Every field guard over free-form fields (no structural checks): for texts that are not article objects."""
    report = Report()
    for guard in FIELD_GUARDS:
        report.findings += guard(fields, ctx)
    return report


def check_article(article: ArticleText, ctx: GuardContext) -> Report:
    """All guards on one article: structure first, then the field guards."""
    report = Report(check_structure(article, ctx))
    report.findings += check_text(article_fields(article), ctx).findings
    return report


def check_raw(data: Any, ctx: GuardContext) -> Report:
    """Guards on an untrusted object: invalid shape is itself a finding (``invalid-schema``)."""
    try:
        article = ArticleText.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "article"
        return Report([Finding("invalid-schema", where, f"{first['msg']} ({exc.error_count()} error(s))")])
    return check_article(article, ctx)

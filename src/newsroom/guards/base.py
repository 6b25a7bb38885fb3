"""What every guard shares: the finding it reports, the article's text fields, the context it checks against."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..models import ArticleText

MAX_DETAIL = 160


@dataclass(frozen=True)
class Finding:
    """One guard failure. ``code`` is stable (documented, counted by ``newsroom stats``); ``detail`` is for people."""

    code: str
    field: str
    detail: str

    def __str__(self) -> str:
        detail = self.detail if len(self.detail) <= MAX_DETAIL else self.detail[: MAX_DETAIL - 1] + "…"
        return f"{self.code}: {self.field}: {detail}"


@dataclass(frozen=True)
class GuardContext:
    """What an article is checked against.

    ``source`` is the text the article must be grounded in: the source item's text for a written article, the pivot
    article's text for a translation (then ``pivot`` holds the pivot article and ``source_lang`` its language).
    """

    lang: str
    source: str
    source_lang: str = "en"
    pivot: ArticleText | None = None
    max_verbatim_words: int = 20
    max_ngram_overlap: float = 0.5
    min_words: int = 80
    extra_grounding: str = ""  # facts the prompt gave besides the text (publication date, source name)
    # the offline faithfulness scorer (guards.faithfulness): on for summaries (``newsroom eval guards``), off by
    # default for written articles, which are paraphrases by design (see the module's docstring)
    faithfulness: bool = False

    @property
    def is_translation(self) -> bool:
        return self.pivot is not None


# (field name, text): "title", "description", "overview", "sections[0].heading", "sections[0].body", ...,
# "why_it_matters", "from_the_author", "market_impact[2]"
Fields = list[tuple[str, str]]


def article_fields(article: ArticleText) -> Fields:
    out: Fields = [("title", article.title), ("description", article.description), ("overview", article.overview)]
    for i, s in enumerate(article.sections):
        out += [(f"sections[{i}].heading", s.heading), (f"sections[{i}].body", s.body)]
    out += [("why_it_matters", article.why_it_matters), ("from_the_author", article.from_the_author)]
    out += [(f"market_impact[{i}]", b) for i, b in enumerate(article.market_impact)]
    return out


def is_headline_field(name: str) -> bool:
    """Fields written in headline style (title case is normal there)."""
    return name == "title" or name.endswith(".heading")


WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    return WORD.findall(text)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def reasons(self, limit: int = 12) -> list[str]:
        return [str(f) for f in self.findings[:limit]]

"""Domain types shared by every stage. Pure data: no I/O here."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

COVER_SIZES = ("raw", "full", "regular", "small", "thumb", "small_s3")


class Sentiment(StrEnum):
    POSITIVE = "POSITIVE"
    NEUTRAL = "NEUTRAL"
    NEGATIVE = "NEGATIVE"


class SourceRef(BaseModel):
    name: str
    key: str
    type: str


class FeedItem(BaseModel):
    """One normalised feed entry, before it is stored."""

    source_key: str
    external_id: str
    url: str = Field(description="canonical link, tracking parameters stripped")
    title: str
    summary: str = Field(default="", description="plain text")
    content: str = Field(default="", description="plain text of the full body when the feed carries it")
    categories: list[str] = Field(default_factory=list)
    author: str | None = None
    published_at: datetime = Field(description="timezone-aware UTC")
    language: str | None = Field(default=None, description="language of the text (BCP 47) when the source says")
    signals: dict[str, Any] = Field(
        default_factory=dict, description="what the source itself says about the item (the API's sentiment) and flags"
    )
    publisher: SourceRef | None = Field(
        default=None, description="the real publisher when a source relays others (the API's SOURCE_DATA)"
    )

    @property
    def text(self) -> str:
        """The richest text the feed gave: the full content when present, else the summary."""
        return self.content if len(self.content) > len(self.summary) else self.summary


# ---- what the model returns ------------------------------------------------------------------------------------
# One source of bounds: the guards (guards.structure) and the JSON schema sent to a provider read the same table, so a
# schema-constrained model cannot be made to fail by its own schema. (min words, max characters) per field kind; the
# minimum word counts are told to the model in each field's description (a word count is no JSON-schema keyword, and
# Chinese and Japanese have no spaces to count). llm.schema.constrain_schema may tighten lengths further (llama.cpp
# grammars need every string bounded at <= 1000 chars).
FIELD_BOUNDS: dict[str, tuple[int, int]] = {
    "title": (3, 160),
    "description": (6, 400),
    "overview": (15, 1500),
    "heading": (1, 100),
    "body": (12, 2000),
    "why_it_matters": (8, 2000),
    "from_the_author": (6, 1200),
    "bullet": (2, 300),
}
SECTIONS = (1, 4)
BULLETS = (3, 6)
MAX_TAGS = 12
MAX_TAG_CHARS = 30
# UPPERCASE asset symbols, names and topics: letters first, then letters, digits and a few joiners. The schema asks
# the model for ASCII; valid_tag also accepts other scripts (a Ukrainian feed's categories).
TAG_PATTERN = r"^[A-Z][A-Z0-9 .&'/+-]*$"
_TAG_SHAPE = re.compile(r"[^\W\d_][\w .&'/+-]*")


def _text(kind: str, what: str) -> Any:
    lo, hi = FIELD_BOUNDS[kind]
    return Field(min_length=1, max_length=hi, description=f"{what}; at least {lo} word{'s' if lo > 1 else ''}")


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Section(_Out):
    heading: str = _text("heading", "a short heading of your own")
    body: str = _text("body", "one or two paragraphs")


class ArticleText(_Out):
    """The language-dependent text of an article: what a translation call returns."""

    title: str = _text("title", "a fresh headline")
    description: str = _text("description", "a one- or two-sentence teaser")
    overview: str = _text("overview", "one paragraph that sums up the story")
    sections: list[Section] = Field(min_length=SECTIONS[0], max_length=SECTIONS[1])
    why_it_matters: str = _text("why_it_matters", "why the story matters to readers in crypto")
    from_the_author: str = _text("from_the_author", "a short editorial comment")
    market_impact: list[Annotated[str, _text("bullet", "a short bullet point")]] = Field(
        min_length=BULLETS[0], max_length=BULLETS[1]
    )


def valid_tag(tag: str) -> bool:
    """A tag is an asset symbol, a name or a topic: short, UPPERCASE-able, no digit runs, not a sentence."""
    t = tag.strip().upper()
    return (
        0 < len(t) <= MAX_TAG_CHARS
        and _TAG_SHAPE.fullmatch(t) is not None
        and len(t.split()) <= 4
        and not re.search(r"\d{4,}", t)
        and not any(w in t for w in _SCHEMA_WORDS)
    )


# Words of the schema's own descriptions: a tag that echoes them is junk.
_SCHEMA_WORDS = ("UPPERCASE", "ASSET SYMBOL", "NAMES OR TOPIC", "AT LEAST", "WORDS")


class WrittenArticle(ArticleText):
    """What the write call returns: the pivot-language text plus classification."""

    category: str = Field(min_length=1, max_length=40)
    tags: list[Annotated[str, Field(max_length=MAX_TAG_CHARS, json_schema_extra={"pattern": TAG_PATTERN})]] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        description="UPPERCASE asset symbols, names or topics from the source",
    )
    sentiment: Sentiment
    importance: int = Field(ge=0, le=100)
    image_query: str = Field(min_length=1, max_length=100)

    @field_validator("tags", mode="before")
    @classmethod
    def _drop_junk_tags(cls, v: Any) -> Any:
        """Junk tags (a digit run, a sentence, the schema's own words) are dropped, not fatal."""
        if isinstance(v, list):
            return [t[:MAX_TAG_CHARS] for t in v if isinstance(t, str) and valid_tag(t)]
        return v

    def text_part(self) -> ArticleText:
        return ArticleText.model_validate(self.model_dump(include=set(ArticleText.model_fields)))


# ---- what is published ---------------------------------------------------------------------------------------------


class CoverImage(BaseModel):
    raw: str
    full: str
    regular: str
    small: str
    thumb: str
    small_s3: str
    credit: dict[str, str] | None = None


class SourceLink(BaseModel):
    name: str
    url: str


class ArticleDoc(BaseModel):
    """Everything needed to render one article file (frontmatter + body) in one language."""

    title: str
    description: str
    published_at: datetime
    updated_at: datetime
    lang: str
    external_id: str
    source: SourceRef
    category: str
    tags: list[str]
    sticky_weight: int = 0
    sentiment: Sentiment
    score: int = Field(ge=0, le=100)
    draft: bool
    cover_image: CoverImage
    translated_from: str
    version: int = Field(ge=1)
    model: str | None = None
    slug: str
    source_url: str
    sources: list[SourceLink] = Field(default_factory=list, description="the other sources the article is written from")
    text: ArticleText

"""Domain types shared by every stage. Pure data: no I/O here."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
# Bounds here are the validation limits. The JSON schema sent to a provider is derived from these models and may be
# tightened further (llm.schema.constrain_schema): llama.cpp grammars need every string bounded at <= 1000 chars.


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Section(_Out):
    heading: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=2000)


class ArticleText(_Out):
    """The language-dependent text of an article: what a translation call returns."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=400)
    overview: str = Field(min_length=1, max_length=1500)
    sections: list[Section] = Field(min_length=1, max_length=4)
    why_it_matters: str = Field(min_length=1, max_length=2000)
    from_the_author: str = Field(min_length=1, max_length=1200)
    market_impact: list[str] = Field(min_length=3, max_length=6)


class WrittenArticle(ArticleText):
    """What the write call returns: the pivot-language text plus classification."""

    category: str = Field(min_length=1, max_length=40)
    tags: list[str] = Field(default_factory=list, max_length=12)
    sentiment: Sentiment
    importance: int = Field(ge=0, le=100)
    image_query: str = Field(min_length=1, max_length=100)

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

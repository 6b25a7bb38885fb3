"""What the JSON API answers (camelCase, like the article frontmatter) and the bodies it accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from ..config import KEY_RE
from ..models import Sentiment
from ..publish.schema import CoverImageSchema, Frontmatter


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=AliasGenerator(serialization_alias=to_camel), from_attributes=True)


class SourceRefOut(_Out):
    name: str
    key: str
    type: str


class AiOut(_Out):
    translated_from: str
    version: int
    model: str | None = None


class ArticleSummary(_Out):
    id: int
    lang: str
    slug: str
    title: str
    description: str
    published_at: datetime
    updated_at: datetime
    external_id: str
    source: SourceRefOut
    category: str
    tags: list[str]
    sticky_weight: int
    sentiment: str
    score: int
    draft: bool
    cover_image: CoverImageSchema
    ai: AiOut
    source_url: str
    story_id: int
    url: str = Field(description="this article in the API")


class ArticleDetail(ArticleSummary):
    draft_reasons: list[str]
    locked: bool
    frontmatter: Frontmatter = Field(description="the file's frontmatter, keys in the file's order")
    markdown: str = Field(description="the Markdown body of the file")
    html: str = Field(description="the body rendered to sanitised HTML")
    translations: dict[str, str] = Field(description="language → API URL of the story's other articles")


class ArticlePage(_Out):
    items: list[ArticleSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class ItemOut(_Out):
    id: int
    source_key: str
    external_id: str
    url: str
    title: str
    summary: str
    categories: list[str]
    author: str | None
    published_at: datetime
    lead: bool


class StoryArticleOut(_Out):
    lang: str
    slug: str
    draft: bool
    version: int
    url: str


class StoryOut(_Out):
    id: int
    status: str = Field(description="new | written | failed | skipped (by select: see skipReason)")
    skip_reason: str | None = Field(default=None, description="why select skipped it: 'code: detail'")
    select_bypass: bool = Field(default=False, description="an editor asked for the article anyway")
    source_count: int
    created_at: datetime
    updated_at: datetime
    items: list[ItemOut]
    sources: list[SourceRefOut]
    articles: list[StoryArticleOut]


class StoryPage(_Out):
    items: list[StoryOut]
    next_cursor: str | None


class SourceOut(_Out):
    key: str
    name: str
    type: str
    url: str
    enabled: bool
    paused: bool
    origin: str
    interval_seconds: float
    weight: float
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_count: int
    items_seen: int
    healthy: bool = Field(description="enabled, and its last poll succeeded")
    language: str | None = Field(default=None, description="the configured language of the source's text")
    parent: str | None = Field(
        default=None, description="the relay source (the API) that delivers this publisher's items; never polled itself"
    )
    skipped_entries: dict[str, int] = Field(
        default_factory=dict,
        description="entries not stored, by reason, since the source was added (flagged:… are kept but repaired)",
    )
    last_skips: dict[str, Any] | None = Field(
        default=None, description="the last poll's skipped and flagged entries by reason, with a few samples"
    )


class PollOut(_Out):
    key: str
    status: str
    http_status: int | None
    new_items: int
    error: str | None


class SourceIn(BaseModel):
    """A source an editor adds (kept beside the configured ones; config sync leaves it alone)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_RE.pattern, description="lowercase letters, digits, '-' and '_'")
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://[^\s/]+\S*$", max_length=2000)
    type: str = Field(default="RSS", description="RSS, ATOM, API, SITEMAP, JSONFEED, TELEGRAM or an installed kind")
    interval_minutes: float = Field(default=10, gt=0, le=7 * 24 * 60, alias="intervalMinutes")
    weight: float = Field(default=1.0, ge=0, le=10)
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$", alias="apiKeyEnv", description="API: the key's variable"
    )
    source_keys: list[str] = Field(default_factory=list, alias="sourceKeys", max_length=100)
    categories: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        from ..sources.base import source_kinds

        v = v.strip().upper()
        if v not in source_kinds():
            raise ValueError(f"unknown source type; installed: {', '.join(source_kinds())}")
        return v

    def options(self) -> dict[str, Any]:
        """The adapter settings kept on the source row (as ``SourceConfig.adapter_options`` keeps them)."""
        keys = ("language", "api_key_env", "source_keys", "categories")
        return {k: getattr(self, k) for k in keys if getattr(self, k) not in (None, [])}

    @field_validator("url")
    @classmethod
    def _parseable(cls, url: str) -> str:
        try:
            httpx.Request("GET", url)  # builds the host's IDNA form, as a fetch would
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise ValueError(f"not a fetchable URL: {exc}") from None
        return url


class SourcePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class StickyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sticky_weight: int = Field(ge=0, le=1000, alias="stickyWeight")


SENTIMENTS = [s.value for s in Sentiment]

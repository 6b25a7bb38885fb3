"""SQLAlchemy tables. The schema changes only through numbered Alembic migrations (store/migrations/versions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back timezone-aware UTC datetimes (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The tables. Each table's columns are declared in the order the migrations leave them (a new column goes last),
    so a database created from these tables at once (``store.db.create_at_head``) is the migrated one, column for
    column (``tests/test_store.py``)."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class SourceRow(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[float] = mapped_column(Float, default=600.0)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    etag: Mapped[str | None] = mapped_column(Text, default=None)
    last_modified: Mapped[str | None] = mapped_column(Text, default=None)
    last_polled_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    next_poll_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[str | None] = mapped_column(String(32), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str] = mapped_column(String(16), default="config", server_default="config")  # config | editor
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # an editor disabled it
    # adapter settings from the config (api_key_env, filters, language…); what the adapter resumes from (the API's
    # newest item seen); the relay source that created this row (a publisher the API relays; never polled itself)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    parent: Mapped[str | None] = mapped_column(String(64), default=None)
    # entries not stored (reason -> total since the source was added; "flagged:<reason>" for repaired ones) and the
    # last poll's counts with a few samples: {"skipped": {...}, "flagged": {...}, "samples": [...]}
    skip_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    last_skips: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_key", "external_id", name="uq_items_source_external"),
        Index("ix_items_url", "url"),
        Index("ix_items_fingerprint", "fingerprint"),
        Index("ix_items_story", "story_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(64), ForeignKey("sources.key", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[str]] = mapped_column(default=list)
    author: Mapped[str | None] = mapped_column(Text, default=None)
    published_at: Mapped[datetime] = mapped_column()
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    fingerprint: Mapped[str] = mapped_column(String(64))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), default=None)
    language: Mapped[str | None] = mapped_column(String(16), default=None)  # configured, stated or detected
    signals: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # the source's own (API sentiment)

    story: Mapped[StoryRow | None] = relationship(back_populates="items", foreign_keys=[story_id])


class StoryRow(Base):
    """One event. Items from several sources can belong to it; one article per language is written for it."""

    __tablename__ = "stories"
    __table_args__ = (Index("ix_stories_status", "status"), Index("ix_stories_last_seen", "last_seen_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_item_id: Mapped[int] = mapped_column(Integer)  # the richest member: the article is written from it
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | written | skipped (a failure stays new)
    source_count: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # heat and time span; centroid and entity_counts are no longer written (stories.py rebuilds its index from items)
    centroid: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    item_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    entity_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    first_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    slug: Mapped[str | None] = mapped_column(String(200), default=None)  # fixed before the write call
    # work claimed by one process (store/claims.py) until the lease expires; a failure's retry is due at next_attempt_at
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claim_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # select and updates (stages/select.py, stages/update.py)
    skip_reason: Mapped[str | None] = mapped_column(Text, default=None)  # why select skipped it ("code: detail")
    select_bypass: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # "write anyway"
    selected_at: Mapped[datetime | None] = mapped_column(default=None)  # select let it through (daily budget)
    written_through: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # newest member written
    score_sources: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # sources the score counts
    update_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_update_at: Mapped[datetime | None] = mapped_column(default=None)

    items: Mapped[list[ItemRow]] = relationship(back_populates="story", foreign_keys=[ItemRow.story_id])
    articles: Mapped[list[ArticleRow]] = relationship(back_populates="story", cascade="all, delete-orphan")


class ArticleRow(Base):
    """One story in one language. ``version`` counts regenerations; ``published_version`` what is on disk."""

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("story_id", "lang", name="uq_articles_story_lang"),
        UniqueConstraint("lang", "slug", name="uq_articles_lang_slug"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(16))
    slug: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(512))
    translated_from: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    text: Mapped[dict[str, Any]] = mapped_column()  # ArticleText as JSON
    category: Mapped[str] = mapped_column(String(40))
    tags: Mapped[list[str]] = mapped_column(default=list)
    sentiment: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer, default=0)
    sticky_weight: Mapped[int] = mapped_column(Integer, default=0)
    draft: Mapped[bool] = mapped_column(Boolean, default=True)
    draft_reasons: Mapped[list[str]] = mapped_column(default=list)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    cover_image: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image_query: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str | None] = mapped_column(Text, default=None)
    published_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sources: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, server_default="[]")  # other sources
    importance: Mapped[int | None] = mapped_column(Integer, default=None)  # the model's judgement at write time

    story: Mapped[StoryRow] = relationship(back_populates="articles")


class ModelCallRow(Base):
    __tablename__ = "model_calls"
    __table_args__ = (
        Index("ix_model_calls_stage", "stage"),
        Index("ix_model_calls_created_at", "created_at"),  # the daily budget sums today's calls
        Index("ix_model_calls_call_key", "call_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    story_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # one HTTP attempt's id: its row is inserted as outcome "started" before the request, completed after it
    call_key: Mapped[str | None] = mapped_column(String(36), default=None)


class ModelReplyRow(Base):
    """A model's valid reply, committed the moment it arrives (``llm/replies.py``), before any CPU-heavy work on it:
    a crash before the story's article commits then costs no second call, the rerun asks the same question and gets
    this answer. Keyed by story and a hash of the whole request; deleted once the story's articles are stored."""

    __tablename__ = "model_replies"
    __table_args__ = (Index("ix_model_replies_story_prompt", "story_id", "prompt_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(Integer)
    prompt_key: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    reply: Mapped[str] = mapped_column(Text)  # the validated value, as JSON
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedSessionRow(Base):
    """A UI session signed out before its cookie expires (web/auth.py): a copied cookie stops working. Rows whose
    ``expires_at`` has passed are deleted on the next sign-out."""

    __tablename__ = "revoked_sessions"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column()


class DeliveryRow(Base):
    """What one publish target (``publish.targets``) holds of one article: the version delivered and its path there.

    No foreign key: when an article is deleted, its row here is what tells the target to delete the file too."""

    __tablename__ = "deliveries"

    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lang: Mapped[str] = mapped_column(String(16))
    slug: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)


class TargetStateRow(Base):
    """The last delivery attempt of a publish target: when it last succeeded, and the error if it failed."""

    __tablename__ = "target_states"

    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)

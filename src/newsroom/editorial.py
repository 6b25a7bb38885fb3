"""Editorial actions on stored articles, shared by the JSON API and the web UI.

publish / unpublish (the ``draft`` flag), pin (``stickyWeight``), edit any field or section, lock / unlock,
regenerate, delete. Publish, unpublish and pin take ``all_languages`` to act on every language of the story at once.
Every change to what a file shows bumps the article's ``version`` (``ai.version`` in the file)
and ``updatedAt`` and re-writes its Markdown file before the action returns. An edit locks the article: a locked
article is never regenerated (the action is refused) until an editor unlocks it.

Regeneration runs the write / translate stages' own guarded calls for the story. The article keeps its slug (its URL),
pin and cover; a regenerated pivot also re-translates every unlocked translation, so no language is left stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Settings
from .llm.base import LLMError, Provider
from .llm.budget import Budget, BudgetReached, with_budget
from .llm.usage import CallBuffer
from .models import ArticleText, Section, Sentiment
from .publish.deliver import deliver
from .publish.filesystem import FilesystemTarget
from .stages.publish import article_doc
from .stages.translate import translate_row
from .stages.write import write_pivot
from .store import queries
from .store.db import Store
from .store.tables import ArticleRow, ItemRow, SourceRow, StoryRow

__all__ = [
    "ArticleChanges",
    "BudgetPaused",
    "Editor",
    "EditorialError",
    "Locked",
    "ModelFailed",
    "NotFound",
]

ProviderFactory = Callable[[CallBuffer], Provider]
MAX_STICKY = 1000


class EditorialError(Exception):
    """An action that cannot be done; ``status`` is the HTTP status that says why."""

    status = 400
    code = "bad_request"


class NotFound(EditorialError):
    status = 404
    code = "not_found"


class Locked(EditorialError):
    status = 409
    code = "locked"


class Invalid(EditorialError):
    status = 422
    code = "invalid"


class ModelFailed(EditorialError):
    status = 502
    code = "model_failed"


class BudgetPaused(EditorialError):
    """The daily budget ([budget]) is reached: no model call until it is raised or the UTC day turns."""

    status = 503
    code = "budget_reached"


class ArticleChanges(BaseModel):
    """An editor's change to an article: only the fields given change. Text fields are plain text (not HTML)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, min_length=1, max_length=400)
    category: str | None = Field(default=None, min_length=1, max_length=40)
    tags: list[str] | None = Field(default=None, max_length=20)
    sentiment: Sentiment | None = None
    score: int | None = Field(default=None, ge=0, le=100)
    sticky_weight: int | None = Field(default=None, ge=0, le=MAX_STICKY, alias="stickyWeight")
    draft: bool | None = None
    overview: str | None = Field(default=None, min_length=1, max_length=1500)
    sections: list[Section] | None = Field(default=None, min_length=1, max_length=4)
    why_it_matters: str | None = Field(default=None, min_length=1, max_length=2000, alias="whyItMatters")
    from_the_author: str | None = Field(default=None, min_length=1, max_length=1200, alias="fromTheAuthor")
    market_impact: list[str] | None = Field(default=None, min_length=3, max_length=6, alias="marketImpact")

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        out = [" ".join(t.split()).upper() for t in v]
        for t in out:
            if not t or len(t) > 40:
                raise ValueError("each tag must have 1 to 40 characters")
        return list(dict.fromkeys(out))

    @field_validator("market_impact")
    @classmethod
    def _bullets(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not b.strip() or len(b) > 400 for b in v):
            raise ValueError("each bullet must have 1 to 400 characters")
        return v

    def is_empty(self) -> bool:
        return not self.model_fields_set


_TEXT_FIELDS = ("title", "description", "overview", "sections", "why_it_matters", "from_the_author", "market_impact")
_REGENERATED = (
    "title",
    "description",
    "text",
    "category",
    "tags",
    "sentiment",
    "score",
    "draft",
    "draft_reasons",
    "sources",
    "importance",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _bump(row: ArticleRow) -> None:
    row.version += 1
    row.updated_at = _now()


class Editor:
    """The editorial actions over one store and content folder."""

    def __init__(self, settings: Settings, store: Store, provider_factory: ProviderFactory | None = None) -> None:
        self.settings = settings
        self.store = store
        self.provider_factory = provider_factory
        self.target = FilesystemTarget(settings.publish.content_dir, settings.publish.path_template)

    # ---- lookups ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _row(s: Session, article_id: int) -> ArticleRow:
        row = s.get(ArticleRow, article_id)
        if row is None:
            raise NotFound(f"no article with id {article_id}")
        return row

    def find(self, lang: str, slug: str) -> int:
        with self.store.session() as s:
            found = s.scalar(select(ArticleRow.id).where(ArticleRow.lang == lang, ArticleRow.slug == slug))
        if found is None:
            raise NotFound(f"no article {lang}/{slug}")
        return found

    # ---- simple actions --------------------------------------------------------------------------------------------

    def _story_ids(self, s: Session, row: ArticleRow, all_languages: bool) -> list[int]:
        """``row`` alone, or every language of its story (``row`` first)."""
        if not all_languages:
            return [row.id]
        others = s.scalars(
            select(ArticleRow.id)
            .where(ArticleRow.story_id == row.story_id, ArticleRow.id != row.id)
            .order_by(ArticleRow.id)
        )
        return [row.id, *others]

    def set_draft(self, article_id: int, draft: bool, *, all_languages: bool = False) -> ArticleRow:
        """Publish (``draft=False``: an editor's approval clears the guard reasons) or unpublish; with
        ``all_languages``, every language of the story at once (one batch for the publish targets)."""
        with self.store.session() as s:
            row = self._row(s, article_id)
            ids = self._story_ids(s, row, all_languages)
            for other in (s.get_one(ArticleRow, i) for i in ids):
                if other.draft != draft:
                    other.draft = draft
                    if not draft:
                        other.draft_reasons = []
                    _bump(other)
        self.publish(ids)
        return row

    def set_sticky(self, article_id: int, weight: int, *, all_languages: bool = False) -> ArticleRow:
        if not 0 <= weight <= MAX_STICKY:
            raise Invalid(f"stickyWeight must be between 0 and {MAX_STICKY}")
        with self.store.session() as s:
            row = self._row(s, article_id)
            ids = self._story_ids(s, row, all_languages)
            for other in (s.get_one(ArticleRow, i) for i in ids):
                if other.sticky_weight != weight:
                    other.sticky_weight = weight
                    _bump(other)
        self.publish(ids)
        return row

    def set_lock(self, article_id: int, locked: bool) -> ArticleRow:
        """Lock against regeneration, or unlock. The file does not show the lock, so nothing is re-written."""
        with self.store.session() as s:
            row = self._row(s, article_id)
            row.locked = locked
        return row

    def edit(self, article_id: int, changes: ArticleChanges) -> ArticleRow:
        """Apply an editor's changes; the article is locked against regeneration afterwards."""
        if changes.is_empty():
            raise Invalid("nothing to change: give at least one field")
        with self.store.session() as s:
            row = self._row(s, article_id)
            text = ArticleText.model_validate(row.text).model_dump()
            given = changes.model_dump(include=changes.model_fields_set)
            for name in _TEXT_FIELDS:
                if name in given:
                    text[name] = given[name]
            try:
                new_text = ArticleText.model_validate(text)
            except ValidationError as exc:
                raise Invalid(f"the edited article is not valid: {exc.errors()[0]['msg']}") from None
            row.text = new_text.model_dump()
            row.title, row.description = new_text.title, new_text.description
            if "category" in given:
                category = given["category"].strip().upper()
                if category not in self.settings.taxonomy:
                    raise Invalid(f"category {category!r} is not in the taxonomy {self.settings.taxonomy}")
                row.category = category
            if "tags" in given:
                row.tags = given["tags"]
            if "sentiment" in given and given["sentiment"] is not None:
                row.sentiment = Sentiment(given["sentiment"]).value
            for name in ("score", "sticky_weight"):
                if given.get(name) is not None:
                    setattr(row, name, given[name])
            if given.get("draft") is not None:
                row.draft = given["draft"]
                if not row.draft:
                    row.draft_reasons = []
            row.locked = True
            _bump(row)
        self.publish([article_id])
        return row

    def delete(self, article_id: int) -> Path | None:
        """Remove the article's row and its file. Returns the file's former path."""
        with self.store.session() as s:
            row = self._row(s, article_id)
            path = Path(row.path) if row.path else None
            s.delete(row)
        if path is not None:
            self.target.remove(path)
        deliver(self.store, self.settings)
        return path

    # ---- regeneration ----------------------------------------------------------------------------------------------

    async def regenerate(self, article_id: int) -> list[ArticleRow]:
        """Write the article again with the model (a pivot article also re-translates its unlocked translations).

        Refused (:class:`Locked`) while the article is locked; a translation that an editor locked meanwhile is
        left alone. Returns the regenerated rows.
        """
        if self.provider_factory is None:
            raise EditorialError("regeneration needs a model provider; none is configured for this server")
        with self.store.session() as s:
            row = self._row(s, article_id)
            if row.locked:
                raise Locked(f"article {row.lang}/{row.slug} is locked by an editor's edit; unlock it to regenerate")
            ctx = queries.story_contexts(s, [row.story_id])[0]
            lang = row.lang
        calls = CallBuffer()
        budget = Budget(self.settings.budget, self.store, calls)
        provider = with_budget(self.provider_factory(calls), budget, self.settings.llm.concurrency)
        pivot_lang = self.settings.pivot_language
        fresh: dict[int, ArticleRow] = {}
        try:
            if lang == pivot_lang:
                # the write stage's own guarded write: same prompt, same quality guards, same draft rules
                pivot = await write_pivot(self.settings, self.store, provider, ctx)
                fresh[article_id] = pivot
                for other in ctx.articles.values():
                    if other.lang != pivot_lang and not other.locked:
                        fresh[other.id] = await translate_row(self.settings, provider, pivot, other.lang, ctx)
            else:
                pivot = ctx.articles.get(pivot_lang)
                if pivot is None:
                    raise EditorialError(f"the story has no {pivot_lang} article to translate from")
                fresh[article_id] = await translate_row(self.settings, provider, pivot, lang, ctx)
        except LLMError as exc:
            self._log_calls(calls)
            raise ModelFailed(f"the model failed: {exc.outcome}: {exc}") from None
        except BudgetReached as exc:
            self._log_calls(calls)
            raise BudgetPaused(str(exc)) from None
        finally:
            await provider.aclose()
        done = self._apply(article_id, fresh, calls)
        self.publish([r.id for r in done])
        return done

    def _apply(self, article_id: int, fresh: dict[int, ArticleRow], calls: CallBuffer) -> list[ArticleRow]:
        with self.store.session() as s:
            queries.add_calls(s, calls.take())
            done = []
            for row_id, new in fresh.items():
                row = s.get(ArticleRow, row_id)
                if row is None or row.locked:  # deleted or locked while the model was writing
                    if row_id == article_id:
                        raise Locked("the article was locked or deleted while it was being regenerated")
                    continue
                for name in _REGENERATED:
                    setattr(row, name, getattr(new, name))
                row.model = new.model
                _bump(row)
                done.append(row)
        return done

    def _log_calls(self, calls: CallBuffer) -> None:
        with self.store.session() as s:
            queries.add_calls(s, calls.take())

    # ---- publishing ------------------------------------------------------------------------------------------------

    def publish(self, article_ids: Iterable[int]) -> list[Path]:
        """(Re-)write the files of these articles and record what is on disk."""
        paths = []
        for article_id in article_ids:
            with self.store.session() as s:
                row = s.get(ArticleRow, article_id)
                if row is None:
                    continue
                lead = s.get_one(ItemRow, s.get_one(StoryRow, row.story_id).lead_item_id)
                source = s.scalars(select(SourceRow).where(SourceRow.key == lead.source_key)).one()
                doc = article_doc(row, lead, source)
                path = self.target.write(doc)
                old = Path(row.path) if row.path else None
                row.path, row.published_version = str(path), row.version
            if old is not None and old != path:
                self.target.remove(old)
            paths.append(path)
        deliver(self.store, self.settings)
        return paths


def article_fields(row: ArticleRow) -> dict[str, Any]:
    """The editable fields of an article, as the edit form and the API show them."""
    text = ArticleText.model_validate(row.text)
    return {
        "title": row.title,
        "description": row.description,
        "category": row.category,
        "tags": list(row.tags),
        "sentiment": row.sentiment,
        "score": row.score,
        "stickyWeight": row.sticky_weight,
        "draft": row.draft,
        "overview": text.overview,
        "sections": [sec.model_dump() for sec in text.sections],
        "whyItMatters": text.why_it_matters,
        "fromTheAuthor": text.from_the_author,
        "marketImpact": list(text.market_impact),
    }

"""The publish stage: render stored articles to Markdown files on the publish target, and record what is on disk.

An outbox, so that a row and its file never disagree after a crash: ``publish_new`` commits a new article's row
first, marked unpublished, with the model calls that produced it; then writes the file; then marks the row
published. ``publish_pending`` (re)writes every article whose stored version is ahead of its file (what a crash
between the two left, and editors' edits). ``reconcile`` (on start) sweeps what an interrupted write or an older
release left on disk: temporary files, and article files that no row claims. ``article_doc`` is the publishable view
of a stored article (files, API, feeds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..llm.base import CallRecord
from ..llm.usage import CallBuffer
from ..models import ArticleDoc, ArticleText, CoverImage, SourceLink, SourceRef
from ..publish.filesystem import FilesystemTarget
from ..store import queries
from ..store.db import Store
from ..store.tables import ArticleRow, ItemRow, SourceRow, StoryRow

log = logging.getLogger(__name__)


def article_doc(article: ArticleRow, lead: ItemRow, source: SourceRow) -> ArticleDoc:
    """The publishable view of a stored article."""
    return ArticleDoc(
        title=article.title,
        description=article.description,
        published_at=article.published_at,
        updated_at=article.updated_at,
        lang=article.lang,
        external_id=article.external_id,
        source=SourceRef(name=source.name, key=source.key, type=source.type),
        category=article.category,
        tags=list(article.tags),
        sticky_weight=article.sticky_weight,
        sentiment=article.sentiment,
        score=article.score,
        draft=article.draft,
        cover_image=CoverImage.model_validate(article.cover_image),
        translated_from=article.translated_from,
        version=article.version,
        model=article.model,
        slug=article.slug,
        source_url=lead.url,
        sources=[SourceLink.model_validate(x) for x in article.sources or []],
        text=ArticleText.model_validate(article.text),
    )


async def publish_new(
    store: Store, target: FilesystemTarget, calls: CallBuffer, article: ArticleRow, ctx: queries.StoryContext
) -> Path:
    """Store a new article (unpublished) with its model calls, write its file, then mark it published. The row and the
    file in a worker thread, off the event loop; the mark through the store's group commit (``store/batch.py``: with
    the other marks and writes of the moment, one commit). A crash before the mark is committed leaves the row behind
    its file, and ``publish_pending`` writes the same file again."""
    article.published_version = 0
    records = calls.begin_flush(article.story_id)  # on the loop's thread: the worker thread gets a private list
    stored: list[bool] = []
    try:
        path = await asyncio.to_thread(_store_and_write, store, target, article, records, ctx, stored)
    finally:
        calls.end_flush(records, stored=bool(stored))
    article_id, version = article.id, article.version
    await store.batch.write(lambda s: _mark(s, article_id, version, path))
    article.path, article.published_version = str(path), version
    return path


def _store_and_write(
    store: Store,
    target: FilesystemTarget,
    article: ArticleRow,
    records: list[tuple[CallRecord, int | None]],
    ctx: queries.StoryContext,
    stored: list[bool],
) -> Path:
    """The outbox's first two steps in order: the row (with its calls) committed, then the file."""
    with store.session() as s:
        s.add(article)
        queries.add_calls(s, records)
    stored.append(True)
    return target.write(article_doc(article, ctx.lead, ctx.source))


_articles = ArticleRow.__table__
# built once (its SQL compiled once) and run as Core: the ORM's UPDATE coerced the values and looked for rows to
# synchronise in the session at every article
_MARK = (
    update(_articles)
    .where(_articles.c.id == bindparam("b_id"))
    .values(path=bindparam("b_path"), published_version=bindparam("b_version"))
)


def _mark(session: Session, article_id: int, version: int, path: Path) -> None:
    session.connection().execute(_MARK, {"b_id": article_id, "b_path": str(path), "b_version": version})


def publish_pending(store: Store, target: FilesystemTarget, calls: CallBuffer) -> list[Path]:
    """Write every article whose stored version is newer than its file (crash recovery, edits)."""
    with store.session() as s:
        queries.add_calls(s, calls.take())
        pending = []
        for article_id in queries.unpublished_article_ids(s):
            article = s.get_one(ArticleRow, article_id)
            lead = s.get_one(ItemRow, s.get_one(StoryRow, article.story_id).lead_item_id)
            source = s.scalars(select(SourceRow).where(SourceRow.key == lead.source_key)).one()
            pending.append((article, lead, source))
    paths = []
    for article, lead, source in pending:
        path = target.write(article_doc(article, lead, source))
        _mark_published(store, article, path)
        paths.append(path)
    return paths


def _mark_published(store: Store, article: ArticleRow, path: Path) -> None:
    with store.session() as s:
        _mark(s, article.id, article.version, path)
    article.path, article.published_version = str(path), article.version


@dataclass
class Reconciled:
    temp_files: list[Path] = field(default_factory=list)  # interrupted writes, removed
    orphans: list[Path] = field(default_factory=list)  # article files no row claims, removed


def reconcile(store: Store, target: FilesystemTarget, *, min_age_s: float = 60.0) -> Reconciled:
    """Remove the temporary files of interrupted writes and the article files no stored article claims.

    The files are listed before the rows are read: every file that exists then had its row committed first (the
    outbox order), so a write in progress in another process is never taken for an orphan."""
    temps, files = target.stray_files(min_age_s)
    claimed: set[Path] = set()
    with store.session() as s:
        rows = s.execute(
            select(ArticleRow.lang, ArticleRow.slug, ArticleRow.published_at, ArticleRow.path, ItemRow.source_key)
            .join(StoryRow, StoryRow.id == ArticleRow.story_id)
            .join(ItemRow, ItemRow.id == StoryRow.lead_item_id)
        )
        for lang, slug, published, path, key in rows:
            if path:
                claimed.add(Path(path).resolve())
            with contextlib.suppress(ValueError):  # a slug or key the template refuses has no file
                claimed.add(target.path_of(lang, slug, published, key).resolve())
    done = Reconciled()
    for tmp in temps:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            done.temp_files.append(tmp)
    for path in files:
        if path.resolve() not in claimed:
            target.remove(path)
            done.orphans.append(path)
    if done.temp_files or done.orphans:
        log.warning(
            "reconciled the content folder: removed %d temporary file(s) and %d orphan article file(s): %s",
            len(done.temp_files),
            len(done.orphans),
            ", ".join(str(p) for p in done.orphans[:5]),
        )
    return done

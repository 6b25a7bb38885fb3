"""The publish stage: render stored articles to Markdown files on the publish target, and record what is on disk.

``publish_new`` writes a new article's file, then stores its row already marked published, with the model calls
that produced it. ``publish_pending`` (re)writes every article whose stored version is ahead of its file (crash
recovery, editors' edits). ``article_doc`` is the publishable view of a stored article (files, API, feeds).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select, update

from ..llm.usage import CallBuffer
from ..models import ArticleDoc, ArticleText, CoverImage, SourceRef
from ..publish.filesystem import FilesystemTarget
from ..store import queries
from ..store.db import Store
from ..store.tables import ArticleRow, ItemRow, SourceRow, StoryRow


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
        text=ArticleText.model_validate(article.text),
    )


async def publish_new(
    store: Store, target: FilesystemTarget, calls: CallBuffer, article: ArticleRow, ctx: queries.StoryContext
) -> Path:
    """Write a new article's file (in a worker thread: file I/O and fsync stay off the event loop), then store
    the article, already marked published, with the model calls that produced it, in one transaction.

    File first: a crash between the two leaves a file and no row, so the next run writes the article again and
    replaces the file; the other order could leave a row that claims a file which does not exist."""
    path = await asyncio.to_thread(target.write, article_doc(article, ctx.lead, ctx.source))
    article.path, article.published_version = str(path), article.version
    with store.session() as s:
        s.add(article)
        queries.add_calls(s, calls.take(article.story_id))
    return path


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
        s.execute(
            update(ArticleRow)
            .where(ArticleRow.id == article.id)
            .values(path=str(path), published_version=article.version)
        )
    article.path, article.published_version = str(path), article.version

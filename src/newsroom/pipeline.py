"""Runs the stages in process: poll → write → translate → publish, with bounded model concurrency.

Every stage works from stored state, so a crash at any point is finished by the next run: a story stays ``new`` until
it has an article in every language; an article whose ``version`` is ahead of ``published_version`` is (re)written to
disk by ``publish_pending``. Model calls are logged in the same transaction as the article they produced.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from . import review, sentiment
from .config import Settings
from .covers import placeholder_cover
from .fulltext import fill_full_text, page_client
from .guards import Report
from .images import CoverRequest, Illustrator
from .llm.base import CallRecord, LLMError, Provider
from .models import ArticleDoc, ArticleText, CoverImage, SourceRef, WrittenArticle
from .poll import SourcePollReport, poll_sources
from .prompts import translate_prompt, write_prompt
from .publish.deliver import TargetReport, deliver
from .publish.filesystem import FilesystemTarget
from .signals import article_fields
from .slugs import story_slug
from .sources.extract import RobotsCache
from .store import queries
from .store.db import Store
from .store.tables import ArticleRow, ItemRow, SourceRow, StoryRow

log = logging.getLogger(__name__)

_current_story: contextvars.ContextVar[int | None] = contextvars.ContextVar("story", default=None)

NOT_PUBLISHABLE = review.NOT_PUBLISHABLE


@dataclass
class RunSummary:
    polled: list[SourcePollReport] = field(default_factory=list)
    stories: int = 0
    written: Counter[str] = field(default_factory=Counter)  # articles created or updated, per language
    published: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    deliveries: list[TargetReport] = field(default_factory=list)  # per publish target (publish.targets)
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    @property
    def new_items(self) -> int:
        return sum(r.new_items for r in self.polled)


class CallBuffer:
    """Collects CallRecords from providers; flushed into the store with the article they belong to."""

    def __init__(self) -> None:
        self._pending: list[tuple[CallRecord, int | None]] = []
        self.total = 0
        self.tokens_in = 0
        self.tokens_out = 0

    def __call__(self, record: CallRecord) -> None:
        self._pending.append((record, _current_story.get()))
        self.total += 1
        self.tokens_in += record.tokens_in
        self.tokens_out += record.tokens_out

    def take(self, story_id: int | None = None) -> list[tuple[CallRecord, int | None]]:
        """Remove and return the buffered records of one story (or all, when ``story_id`` is None)."""
        if story_id is None:
            taken, self._pending = self._pending, []
            return taken
        taken = [p for p in self._pending if p[1] == story_id]
        self._pending = [p for p in self._pending if p[1] != story_id]
        return taken


ProgressHook = Callable[[str, int], None]  # (event, story_id): "written", "translated", "failed", "done"


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        provider: Provider,
        calls: CallBuffer,
        *,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        self.calls = calls
        self.http_client = http_client
        self.robots = RobotsCache()  # robots.txt of article sites, for full-text extraction
        self.illustrator = Illustrator(settings)  # cover images (newsroom.images)
        self._background: set[asyncio.Task[None]] = set()
        self._pages: httpx.AsyncClient | None = http_client  # article pages (full text); one per process() call
        self.target = FilesystemTarget(settings.publish.content_dir, settings.publish.path_template)

    # ---- the whole run -----------------------------------------------------------------------------------------

    async def run_once(
        self,
        *,
        force_poll: bool = False,
        on_source: Callable[[SourcePollReport], None] | None = None,
        on_story: ProgressHook | None = None,
        on_plan: Callable[[int], None] | None = None,
    ) -> RunSummary:
        started = time.perf_counter()
        summary = RunSummary()
        calls_before, t_in, t_out = self.calls.total, self.calls.tokens_in, self.calls.tokens_out
        stored = asyncio.Event()
        polling = asyncio.create_task(
            poll_sources(
                self.store,
                self.settings,
                client=self.http_client,
                force=force_poll,
                on_source_done=on_source,
                on_items_stored=stored.set,
            )
        )
        await self.process(summary, on_story=on_story, on_plan=on_plan, polling=polling, stored=stored)
        summary.polled = polling.result()
        summary.published += self.publish_pending()
        summary.deliveries = await asyncio.to_thread(deliver, self.store, self.settings)
        summary.model_calls = self.calls.total - calls_before
        summary.tokens_in = self.calls.tokens_in - t_in
        summary.tokens_out = self.calls.tokens_out - t_out
        summary.seconds = time.perf_counter() - started
        return summary

    async def process(
        self,
        summary: RunSummary | None = None,
        *,
        limit: int | None = None,
        on_story: ProgressHook | None = None,
        on_plan: Callable[[int], None] | None = None,
        polling: asyncio.Task[list[SourcePollReport]] | None = None,
        stored: asyncio.Event | None = None,
    ) -> RunSummary:
        """Write and translate every pending story, each at most once per call. Concurrency is bounded by the
        provider. With ``polling`` (a running poll) and ``stored`` (set whenever the poll has committed new items),
        stories start as soon as they are stored, while the poll goes on; the call returns
        once the poll is over and every story it found is done. ``on_plan`` gets the growing number of stories."""
        summary = summary or RunSummary()
        own_pages = self.http_client is None and self.settings.extract.enabled
        if own_pages:
            self._pages = page_client(self.settings)
        try:
            return await self._process(summary, limit, on_story, on_plan, polling, stored)
        finally:
            if own_pages and self._pages is not None:
                await self._pages.aclose()
                self._pages = None

    async def _process(
        self,
        summary: RunSummary,
        limit: int | None,
        on_story: ProgressHook | None,
        on_plan: Callable[[int], None] | None,
        polling: asyncio.Task[list[SourcePollReport]] | None,
        stored: asyncio.Event | None,
    ) -> RunSummary:
        begun: set[int] = set()
        tasks: list[asyncio.Task[None]] = []
        while True:
            last_round = polling is None or polling.done()
            if stored is not None:
                stored.clear()
            room = None if limit is None else limit - len(begun)
            if room is None or room > 0:
                with self.store.session() as s:
                    ids = [i for i in queries.pending_story_ids(s) if i not in begun][:room]
                    contexts = queries.story_contexts(s, ids)
                begun.update(ids)
                self._prefetch_signals(contexts)
                tasks += [asyncio.create_task(self._process_story(ctx, summary, on_story)) for ctx in contexts]
                if contexts and on_plan:
                    on_plan(len(begun))
            if last_round:
                break
            assert polling is not None
            waits: set[asyncio.Future[Any]] = {polling}
            if stored is not None:
                waits.add(asyncio.ensure_future(stored.wait()))
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits - {polling}:
                w.cancel()
        summary.stories = len(begun)
        if not tasks and on_plan:
            on_plan(0)
        await asyncio.gather(*tasks)
        return summary

    def _prefetch_signals(self, contexts: list[queries.StoryContext]) -> None:
        """Embed the headlines the offline sentiment will need, in one batch in a worker thread, while the write
        calls are in flight (one batch is far cheaper than one call per story; the embedder caches the vectors)."""
        pivot = self.settings.pivot_language
        headlines = [c.lead.title for c in contexts if pivot not in c.articles]
        if headlines:
            task = asyncio.create_task(asyncio.to_thread(sentiment.prefetch, headlines))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # ---- one story -------------------------------------------------------------------------------------------------

    async def _process_story(
        self, ctx: queries.StoryContext, summary: RunSummary, on_story: ProgressHook | None
    ) -> None:
        story_id = ctx.story.id
        _current_story.set(story_id)
        pivot_lang = self.settings.pivot_language
        pivot = ctx.articles.get(pivot_lang)
        try:
            if pivot is None:
                await fill_full_text(self.store, self.settings, [ctx.lead], self._pages, robots=self.robots)
                written, report = await self.write_guarded(ctx)
                # the offline classifiers run torch: off the event loop (it releases the GIL, so a second core helps)
                pivot = await asyncio.to_thread(
                    self.pivot_row,
                    ctx.story,
                    ctx.lead,
                    written.value,
                    written.model,
                    report,
                    source_weight=ctx.source.weight,
                )
                pivot.cover_image = (await self.illustrator.cover(_cover_request(pivot))).model_dump(exclude_none=True)
                summary.published.append(await self._publish_new(pivot, ctx))
                summary.written[pivot_lang] += 1
                if on_story:
                    on_story("written", story_id)
            pivot_text = ArticleText.model_validate(pivot.text)
            missing = [lang for lang in self.settings.extra_languages if lang not in ctx.articles]
            results = await asyncio.gather(
                *(self._translate(pivot, pivot_text, lang, ctx) for lang in missing), return_exceptions=True
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            for lang, r in zip(missing, results, strict=True):
                if not isinstance(r, BaseException):
                    summary.written[lang] += 1
                    summary.published.append(r)
            for err in errors:
                if not isinstance(err, LLMError):
                    raise err
            if errors:
                raise errors[0]
        except LLMError as exc:
            self._record_failure(story_id, f"{exc.outcome}: {exc}")
            summary.failures.append(f"story {story_id}: {exc.outcome}: {exc}")
            if on_story:
                on_story("failed", story_id)
            return
        with self.store.session() as s:
            story = s.get_one(StoryRow, story_id)
            story.status = "written"
            story.last_error = None
            story.updated_at = datetime.now(UTC)
            queries.add_calls(s, self.calls.take(story_id))
        if on_story:
            on_story("done", story_id)

    def _write_prompt(self, lead: ItemRow, source: SourceRow):  # type: ignore[no-untyped-def]
        cfg = self.settings.llm
        headline, text, _removed = review.clean_source(
            lead.title, lead.content if len(lead.content) > len(lead.summary) else lead.summary
        )  # source text is data: passages addressed to a model are cut out (guards.injection)
        return write_prompt(
            language=self.settings.pivot_language,
            categories=self.settings.taxonomy,
            source_name=source.name,
            headline=headline,
            text=text,
            source_categories=list(lead.categories or []),
            published=lead.published_at,
            max_source_chars=cfg.max_source_chars,
        )

    async def _translate(
        self, pivot: ArticleRow, pivot_text: ArticleText, lang: str, ctx: queries.StoryContext
    ) -> Path:
        return await self._publish_new(await self.translate_row(pivot, pivot_text, lang, ctx), ctx)

    async def translate_row(
        self, pivot: ArticleRow, pivot_text: ArticleText, lang: str, ctx: queries.StoryContext
    ) -> ArticleRow:
        """The guarded translation of ``pivot`` into ``lang``, as an unsaved row (the editor's regenerate uses it)."""
        prompt = translate_prompt(article=pivot_text, source_language=self.settings.pivot_language, language=lang)

        def check():  # type: ignore[no-untyped-def]
            extras = review.grounding_extras(ctx.source.name, ctx.lead.published_at, list(ctx.lead.categories or []))
            return review.article_checker(review.translation_context(self.settings, pivot_text, lang, extras))

        result, report = await self._generate_guarded(prompt, ArticleText, check)
        return self.translation_row(pivot, lang, result.value, result.model, report)

    # ---- guards (newsroom.review) ----------------------------------------------------------------------------------

    async def write_guarded(self, ctx: queries.StoryContext):  # type: ignore[no-untyped-def]
        lead = ctx.lead
        headline, text, _ = review.clean_source(
            lead.title, lead.content if len(lead.content) > len(lead.summary) else lead.summary
        )

        def check():  # type: ignore[no-untyped-def]
            extras = review.grounding_extras(ctx.source.name, lead.published_at, list(lead.categories or []))
            return review.article_checker(review.write_context(self.settings, headline, text, extras))

        return await self._generate_guarded(self._write_prompt(lead, ctx.source), WrittenArticle, check)

    async def _generate_guarded(self, prompt, schema, make_check):  # type: ignore[no-untyped-def]
        """One structured call, judged by the guards ``make_check()`` builds (only when the guards are on)."""
        if not self.settings.guards.enabled:
            return await self.provider.generate(prompt, schema), None
        # no retry for a model that is never published (the embedded base model): see newsroom.review
        retry = self.settings.guards.retry and self.provider.publishable
        return await review.generate_guarded(self.provider, prompt, schema, make_check(), retry=retry)

    # ---- persistence ---------------------------------------------------------------------------------------------

    def _draft_reasons(self, report: Report | None = None, pivot_draft: bool = False) -> list[str]:
        return review.draft_reasons(
            report, publishable=self.provider.publishable, review=self.settings.review, pivot_draft=pivot_draft
        )

    def pivot_row(
        self,
        story: StoryRow,
        lead: ItemRow,
        w: WrittenArticle,
        model: str,
        report: Report | None = None,
        source_weight: float = 1.0,
    ) -> ArticleRow:
        now = datetime.now(UTC)
        slug = story_slug(w.title, f"{lead.source_key}:{lead.external_id}")
        reasons = self._draft_reasons(report)
        return ArticleRow(
            story_id=story.id,
            lang=self.settings.pivot_language,
            slug=slug,
            external_id=lead.external_id,
            translated_from=lead.external_id,
            title=w.title,
            description=w.description,
            text=w.text_part().model_dump(),
            **article_fields(
                headline=lead.title,
                text=lead.content if len(lead.content) > len(lead.summary) else lead.summary,
                source_categories=list(lead.categories or []),
                model_category=w.category,
                model_tags=list(w.tags),
                model_sentiment=w.sentiment.value,
                model_importance=w.importance,
                distinct_sources=story.source_count,
                published=lead.published_at,
                source_weight=source_weight,
                taxonomy=self.settings.taxonomy,
                default_category=self.settings.default_category,
            ),
            sticky_weight=0,
            locked=False,
            draft=bool(reasons),
            draft_reasons=reasons,
            cover_image=placeholder_cover(self.settings.cover_url_base(), slug).model_dump(exclude_none=True),
            image_query=w.image_query,
            model=model,
            version=1,
            published_at=lead.published_at,
            created_at=now,
            updated_at=now,
        )

    def translation_row(
        self, pivot: ArticleRow, lang: str, t: ArticleText, model: str, report: Report | None = None
    ) -> ArticleRow:
        now = datetime.now(UTC)
        reasons = self._draft_reasons(report, pivot_draft=pivot.draft)
        return ArticleRow(
            story_id=pivot.story_id,
            lang=lang,
            slug=pivot.slug,
            external_id=pivot.external_id,
            translated_from=pivot.external_id,
            title=t.title,
            description=t.description,
            text=t.model_dump(),
            category=pivot.category,
            tags=list(pivot.tags),
            sentiment=pivot.sentiment,
            score=pivot.score,
            sticky_weight=pivot.sticky_weight,
            locked=False,
            draft=bool(reasons) or pivot.draft,
            draft_reasons=reasons,
            cover_image=dict(pivot.cover_image),
            image_query=pivot.image_query,
            model=model,
            version=1,
            published_at=pivot.published_at,
            created_at=now,
            updated_at=now,
        )

    def _record_failure(self, story_id: int, error: str) -> None:
        with self.store.session() as s:
            story = s.get_one(StoryRow, story_id)
            story.attempts += 1
            story.last_error = error[:2000]
            story.updated_at = datetime.now(UTC)
            if story.attempts >= queries.MAX_STORY_ATTEMPTS:
                story.status = "failed"
            queries.add_calls(s, self.calls.take(story_id))
        log.warning("story %s: %s", story_id, error)

    # ---- publishing ----------------------------------------------------------------------------------------------

    async def _publish_new(self, article: ArticleRow, ctx: queries.StoryContext) -> Path:
        """Write a new article's file (in a worker thread: file I/O and fsync stay off the event loop), then store
        the article, already marked published, with the model calls that produced it, in one transaction.

        File first: a crash between the two leaves a file and no row, so the next run writes the article again and
        replaces the file; the other order could leave a row that claims a file which does not exist."""
        path = await asyncio.to_thread(self.target.write, article_doc(article, ctx.lead, ctx.source))
        article.path, article.published_version = str(path), article.version
        with self.store.session() as s:
            s.add(article)
            queries.add_calls(s, self.calls.take(article.story_id))
        return path

    def _mark_published(self, article: ArticleRow, path: Path) -> None:
        with self.store.session() as s:
            s.execute(
                update(ArticleRow)
                .where(ArticleRow.id == article.id)
                .values(path=str(path), published_version=article.version)
            )
        article.path, article.published_version = str(path), article.version

    def publish_pending(self) -> list[Path]:
        """Write every article whose stored version is newer than its file (crash recovery, edits)."""
        with self.store.session() as s:
            queries.add_calls(s, self.calls.take())
            pending = []
            for article_id in queries.unpublished_article_ids(s):
                article = s.get_one(ArticleRow, article_id)
                lead = s.get_one(ItemRow, s.get_one(StoryRow, article.story_id).lead_item_id)
                source = s.scalars(select(SourceRow).where(SourceRow.key == lead.source_key)).one()
                pending.append((article, lead, source))
        paths = []
        for article, lead, source in pending:
            path = self.target.write(article_doc(article, lead, source))
            self._mark_published(article, path)
            paths.append(path)
        return paths


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


def _cover_request(article: ArticleRow) -> CoverRequest:
    return CoverRequest(
        slug=article.slug,
        title=article.title,
        image_query=article.image_query,
        tags=list(article.tags),
        category=article.category,
    )

"""The illustrate stage: a cover image for every article, from the provider the config names (``newsroom.images``).

``images.provider``: ``card`` (offline default: a generated Pillow card), ``unsplash`` (photo search), ``library``
(a local folder matched by tags), ``none`` (the card URLs without drawing anything: for sites that bring their own
images, and for benchmarks). Unsplash and the library fall back to the card when they have nothing (no key, rate
limit, no match); if even the card fails, the placeholder URLs are kept. A cover never fails a story.

``coverImage`` keeps the seed's six keys (Unsplash's ``urls`` object: raw, full, regular, small, thumb, small_s3) so
a site reading the files never meets a missing field: until a provider answers, each key points at the story's
generated card under ``{base_url}/{slug}/{size}.png`` (:func:`placeholder_cover`).

Off the critical path: a card's URLs are known before it is drawn, so with the card provider (the default) the
article is published with them at once and the card is drawn in the background while the story's translations
are in flight; :meth:`Illustrator.drain` waits for the cards still being drawn (the scheduler
calls it before a run ends). The drawing itself happens in ``images.card_processes`` child processes (one by
default: ``images/card_process.py``), so that it does not hold this process's interpreter lock while the event loop,
the guards and the SQL need it; one thread here per card process hands them the cards and waits. With
``card_processes = 0`` one thread here draws them (never both cores taken from the event loop and the guards).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from ..config import Settings
from ..images import CoverError, CoverRequest, make_cover_provider
from ..images.card import CardProvider
from ..models import COVER_SIZES, CoverImage
from ..store.tables import ArticleRow

log = logging.getLogger(__name__)


def placeholder_cover(base_url: str, slug: str) -> CoverImage:
    """The six cover URLs of a story's generated card: ``{base_url}/{slug}/{size}.png`` for each size."""
    if not slug or "/" in slug or "\\" in slug or slug in (".", ".."):
        raise ValueError(f"not a usable slug for a cover URL: {slug!r} (use newsroom.slugs.story_slug)")
    base = base_url.rstrip("/")
    return CoverImage(**{size: f"{base}/{slug}/{size}.png" for size in COVER_SIZES})


class Illustrator:
    """The configured provider with the card as its fallback."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.primary = make_cover_provider(settings, client)
        cfg = settings.images
        self.card = CardProvider(
            settings.publish.covers_folder(), settings.cover_url_base(), cfg.card_brand, cfg.card_processes
        )
        self._drawer: ThreadPoolExecutor | None = None
        self._drawing: list[Future[CoverImage]] = []

    async def cover(self, request: CoverRequest) -> CoverImage:
        placeholder = placeholder_cover(self.settings.cover_url_base(), request.slug)
        if self.primary is None:
            return placeholder
        if isinstance(self.primary, CardProvider):
            return self._draw_later(request)
        chain = [self.primary] if self.primary.name == "card" else [self.primary, self.card]
        for provider in chain:
            try:
                return await provider.cover(request)
            except (CoverError, OSError, ValueError) as exc:
                log.debug("cover for %s from %s: %s", request.slug, provider.name, exc)
        return placeholder

    def _draw_later(self, request: CoverRequest) -> CoverImage:
        """The card's URLs now; the card itself drawn in the background thread."""
        urls = self.card.urls(request)
        if self._drawer is None:
            threads = max(1, self.settings.images.card_processes)  # one per card process (each waits on its pipe)
            self._drawer = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cards")
        self._drawing = [f for f in self._drawing if not (f.done() and _report(f))]  # a worker never drains
        self._drawing.append(self._drawer.submit(self.card.render, request))
        return urls

    async def drain(self) -> None:
        """Wait until every card queued so far is on disk (a failed card is logged, never raised)."""
        drawing, self._drawing = self._drawing, []
        if drawing:
            await asyncio.wait([asyncio.wrap_future(f) for f in drawing])
        for future in drawing:
            _report(future)


def _report(future: Future[CoverImage]) -> bool:
    """Log a finished card's failure; True (so a finished future can be dropped)."""
    exc = future.exception()
    if exc is not None:
        log.warning("cover card not drawn: %s", exc)
    return True


def cover_request(article: ArticleRow) -> CoverRequest:
    return CoverRequest(
        slug=article.slug,
        title=article.title,
        image_query=article.image_query,
        tags=list(article.tags),
        category=article.category,
    )


async def illustrate(illustrator: Illustrator, article: ArticleRow) -> None:
    """Give ``article`` (a pivot row) its cover; its translations copy it."""
    article.cover_image = (await illustrator.cover(cover_request(article))).model_dump(exclude_none=True)

"""The illustrate stage: a cover image for every article, from the provider the config names (``newsroom.images``).

``images.provider``: ``card`` (offline default: a generated Pillow card), ``unsplash`` (photo search), ``library``
(a local folder matched by tags), ``none`` (the card URLs without drawing anything: for sites that bring their own
images, and for benchmarks). Unsplash and the library fall back to the card when they have nothing (no key, rate
limit, no match); if even the card fails, the placeholder URLs are kept. A cover never fails a story.

``coverImage`` keeps the seed's six keys (Unsplash's ``urls`` object: raw, full, regular, small, thumb, small_s3) so
a site reading the files never meets a missing field: until a provider answers, each key points at the story's
generated card under ``{base_url}/{slug}/{size}.png`` (:func:`placeholder_cover`).
"""

from __future__ import annotations

import logging

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
            settings.publish.content_dir / "covers", settings.publish.cover_base_url, cfg.card_brand
        )

    async def cover(self, request: CoverRequest) -> CoverImage:
        placeholder = placeholder_cover(self.settings.publish.cover_base_url, request.slug)
        if self.primary is None:
            return placeholder
        chain = [self.primary] if self.primary.name == "card" else [self.primary, self.card]
        for provider in chain:
            try:
                return await provider.cover(request)
            except (CoverError, OSError, ValueError) as exc:
                log.info("cover for %s from %s: %s", request.slug, provider.name, exc)
        return placeholder


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

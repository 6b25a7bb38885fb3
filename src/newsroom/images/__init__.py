"""The illustrate stage: a cover image for every article, from the provider the config names.

``images.provider``: ``card`` (offline default: a generated Pillow card), ``unsplash`` (photo search), ``library``
(a local folder matched by tags), ``none`` (the card URLs without drawing anything: for sites that bring their own
images, and for benchmarks). Unsplash and the library fall back to the card when they have nothing (no key, rate
limit, no match); if even the card fails, the placeholder URLs are kept. A cover never fails a story.
"""

from __future__ import annotations

import logging

import httpx

from ..config import Settings
from ..covers import placeholder_cover
from ..models import CoverImage
from .base import CoverError, CoverProvider, CoverRequest
from .card import CardProvider
from .library import LibraryProvider
from .unsplash import UnsplashProvider

log = logging.getLogger(__name__)

__all__ = ["CoverError", "CoverProvider", "CoverRequest", "Illustrator", "make_cover_provider"]


def make_cover_provider(settings: Settings, client: httpx.AsyncClient | None = None) -> CoverProvider | None:
    cfg = settings.images
    covers_dir = settings.publish.covers_folder()
    base = settings.cover_url_base()
    if cfg.provider == "none":
        return None
    if cfg.provider == "unsplash":
        return UnsplashProvider(
            api_url=cfg.unsplash_api_url,
            key_env=cfg.unsplash_access_key_env,
            app_name=cfg.unsplash_app_name,
            timeout_seconds=cfg.timeout_seconds,
            client=client,
        )
    if cfg.provider == "library":
        if cfg.library_dir is None:
            raise ValueError('images.provider = "library" needs images.library_dir (a folder of images)')
        return LibraryProvider(cfg.library_dir, covers_dir, base)
    return CardProvider(covers_dir, base, cfg.card_brand)


class Illustrator:
    """The configured provider with the card as its fallback."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.primary = make_cover_provider(settings, client)
        cfg = settings.images
        self.card = CardProvider(settings.publish.covers_folder(), settings.cover_url_base(), cfg.card_brand)

    async def cover(self, request: CoverRequest) -> CoverImage:
        placeholder = placeholder_cover(self.settings.cover_url_base(), request.slug)
        if self.primary is None:
            return placeholder
        chain = [self.primary] if self.primary.name == "card" else [self.primary, self.card]
        for provider in chain:
            try:
                return await provider.cover(request)
            except (CoverError, OSError, ValueError) as exc:
                log.info("cover for %s from %s: %s", request.slug, provider.name, exc)
        return placeholder

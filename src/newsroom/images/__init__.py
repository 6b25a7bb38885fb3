"""Cover image providers behind one interface (``base.CoverProvider``): the Pillow card, Unsplash, a local library.

The illustrate stage (``stages/illustrate.py``) picks the configured one with the card as its fallback. The names
below are imported when first used, so that the card process (``card_process.py``), which imports only
``images.draw``, does not load the configuration, pydantic or httpx with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from ..config import Settings
    from .base import CoverError, CoverProvider, CoverRequest

__all__ = ["CoverError", "CoverProvider", "CoverRequest", "make_cover_provider"]


def __getattr__(name: str) -> Any:
    if name in ("CoverError", "CoverProvider", "CoverRequest"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_cover_provider(settings: Settings, client: httpx.AsyncClient | None = None) -> CoverProvider | None:
    from .card import CardProvider
    from .library import LibraryProvider
    from .unsplash import UnsplashProvider

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

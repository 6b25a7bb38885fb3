"""Generated cover cards: the offline default provider. The drawing itself is ``draw.py``; this module gives the
card's URLs and draws it in a card process (``card_process.py``, ``images.card_processes``) or in the calling thread.

The four PNGs (full 1920, regular 1080, small 400, thumb 200 px wide) are written to
``{publish.covers_dir}/{slug}/{size}.png``. The URLs are ``{cover_base_url}/{slug}/{size}.png``; ``small_s3`` points
at the small card and ``raw`` at the full one (``base.CARD_ALIASES``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..models import COVER_SIZES, CoverImage
from .base import CARD_ALIASES, CoverRequest
from .card_process import CardPool
from .draw import write_card


def cover_urls(base_url: str, slug: str) -> CoverImage:
    base = base_url.rstrip("/")
    return CoverImage(**{key: f"{base}/{slug}/{CARD_ALIASES.get(key, key)}.png" for key in COVER_SIZES})


def check_slug(slug: str) -> None:
    if not slug or "/" in slug or "\\" in slug or slug in (".", "..") or slug.startswith("."):
        raise ValueError(f"not a usable slug for a cover path: {slug!r}")


class CardProvider:
    """The offline default: draw the card, write its four sizes under ``covers_dir``; in ``processes`` card
    processes (started by the first card), or in the calling thread where ``processes`` is 0."""

    name = "card"

    def __init__(self, covers_dir: Path, base_url: str, brand: str, processes: int = 0) -> None:
        self.covers_dir = covers_dir
        self.base_url = base_url
        self.brand = brand
        self.pool = CardPool(processes) if processes > 0 else None

    def urls(self, request: CoverRequest) -> CoverImage:
        """The card's URLs, known before it is drawn (the illustrate stage publishes with them while it draws)."""
        check_slug(request.slug)
        return cover_urls(self.base_url, request.slug)

    def render(self, request: CoverRequest) -> CoverImage:
        urls = self.urls(request)
        folder = self.covers_dir / request.slug
        key = request.category or request.slug
        if self.pool is None:
            write_card(request.title, self.brand, key, folder)
        else:
            self.pool.draw(request.title, self.brand, key, folder)
        return urls

    async def cover(self, request: CoverRequest) -> CoverImage:
        return await asyncio.to_thread(self.render, request)

    def close(self) -> None:
        """End the card processes, if any (a later card starts them again)."""
        if self.pool is not None:
            self.pool.close()

"""A local image library: pick the image whose file name best matches the article's tags and image query.

File names are the tags: ``bitcoin-etf-chart.jpg`` matches an article tagged ``BTC``/``ETF`` or whose image query
says "bitcoin etf". Sub-folder names count as tags too (``regulation/court.jpg``). The chosen image is cropped to the
four card sizes and written beside the content, like a generated card (``raw`` the full file), so the six
``coverImage`` keys work the same.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from PIL import Image

from ..models import CoverImage
from .base import CoverError, CoverRequest
from .card import check_slug, cover_urls
from .draw import write_sizes

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
SYNONYMS = {"btc": "bitcoin", "eth": "ethereum", "ether": "ethereum", "sol": "solana", "xrp": "ripple"}
_SPLIT = re.compile(r"[^a-z0-9]+")


def _words(text: str) -> set[str]:
    return {SYNONYMS.get(w, w) for w in _SPLIT.split(text.lower()) if len(w) > 1}


def best_match(folder: Path, request: CoverRequest) -> Path | None:
    """The library image sharing the most words with the request (ties: the first by name); None without overlap."""
    wanted = _words(" ".join([request.image_query, request.category, *request.tags]))
    best: tuple[int, str, Path] | None = None
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in EXTENSIONS or not path.is_file():
            continue
        tags = _words(" ".join([*path.relative_to(folder).parent.parts, path.stem]))
        score = len(tags & wanted)
        if score and (best is None or score > best[0]):
            best = (score, path.name, path)
    return best[2] if best else None


class LibraryProvider:
    name = "library"

    def __init__(self, library_dir: Path, covers_dir: Path, base_url: str) -> None:
        self.library_dir = library_dir
        self.covers_dir = covers_dir
        self.base_url = base_url

    def pick(self, request: CoverRequest) -> CoverImage:
        check_slug(request.slug)
        if not self.library_dir.is_dir():
            raise CoverError(f"images.library_dir {self.library_dir} is not a folder")
        path = best_match(self.library_dir, request)
        if path is None:
            raise CoverError(f"no library image matches {request.image_query!r} / {request.tags}")
        try:
            with Image.open(path) as img:
                img.load()
                write_sizes(img, self.covers_dir / request.slug)
        except (OSError, Image.DecompressionBombError) as exc:
            raise CoverError(f"cannot read library image {path}: {exc}") from None
        return cover_urls(self.base_url, request.slug)

    async def cover(self, request: CoverRequest) -> CoverImage:
        return await asyncio.to_thread(self.pick, request)

"""The cover image protocol: one request in, the seed's six ``coverImage`` keys out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..models import CoverImage

# The files a generated or cropped cover is written as (Unsplash's widths: full 1920, regular 1080, small 400,
# thumb 200). The seed's other two keys point at one of them (``CARD_ALIASES``): ``small_s3`` at the small file, and
# ``raw`` at the largest, since a card drawn from vectors (or a library image cropped to size) has no original larger
# than its largest rendition: drawing and encoding a 2400 px copy of it cost half a card's CPU for no more detail.
CARD_SIZES: dict[str, tuple[int, int]] = {
    "full": (1920, 1008),
    "regular": (1080, 567),
    "small": (400, 210),
    "thumb": (200, 105),
}
CARD_ALIASES: dict[str, str] = {"raw": "full", "small_s3": "small"}


class CoverError(Exception):
    """A provider could not give a cover (no match, no key, rate-limited, network); the caller falls back."""


@dataclass(frozen=True)
class CoverRequest:
    slug: str
    title: str
    image_query: str
    tags: list[str] = field(default_factory=list)
    category: str = ""


class CoverProvider(Protocol):
    name: str

    async def cover(self, request: CoverRequest) -> CoverImage: ...

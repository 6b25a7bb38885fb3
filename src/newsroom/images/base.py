"""The cover image protocol: one request in, the seed's six ``coverImage`` keys out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..models import CoverImage

# Pixel widths of the five distinct sizes (Unsplash's: regular 1080, small 400, thumb 200; small_s3 = small).
CARD_SIZES: dict[str, tuple[int, int]] = {
    "raw": (2400, 1260),
    "full": (1920, 1008),
    "regular": (1080, 567),
    "small": (400, 210),
    "thumb": (200, 105),
}


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

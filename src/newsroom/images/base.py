"""The cover image protocol: one request in, the seed's six ``coverImage`` keys out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..models import CoverImage
from .draw import CARD_SIZES

# ``raw`` and ``small_s3`` point at the full and the small file (``draw.CARD_SIZES``: why no larger raw file).
CARD_ALIASES: dict[str, str] = {"raw": "full", "small_s3": "small"}

__all__ = ["CARD_ALIASES", "CARD_SIZES", "CoverError", "CoverProvider", "CoverRequest"]


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

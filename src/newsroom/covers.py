"""Cover image URLs until the image stage exists.

``coverImage`` keeps the seed's six keys (Unsplash's ``urls`` object: raw, full, regular, small, thumb, small_s3) so
a site reading the files never meets a missing field. Until the image stage is built, each key points at a generated
cover card under ``{base_url}/{slug}/{size}.png``. The card images themselves are drawn by the image stage (a Pillow
card renderer, DESIGN §2 "illustrate"); this module only fixes where they will live, so the URLs written today stay
valid once the cards exist.
"""

from __future__ import annotations

from .models import COVER_SIZES, CoverImage

__all__ = ["placeholder_cover"]


def placeholder_cover(base_url: str, slug: str) -> CoverImage:
    """The six cover URLs of a story's generated card: ``{base_url}/{slug}/{size}.png`` for each size."""
    if not slug or "/" in slug or "\\" in slug or slug in (".", ".."):
        raise ValueError(f"not a usable slug for a cover URL: {slug!r} (use newsroom.slugs.story_slug)")
    base = base_url.rstrip("/")
    return CoverImage(**{size: f"{base}/{slug}/{size}.png" for size in COVER_SIZES})

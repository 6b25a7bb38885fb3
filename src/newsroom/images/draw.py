"""Drawing a cover card (Pillow only: this module is all the card process imports, ``card_process.py``).

Offline and deterministic: the background colour comes from the category (or the slug), the title is wrapped to fit,
and the four PNGs (full 1920, regular 1080, small 400, thumb 200 px wide) are written to ``{folder}/{size}.png``
(atomically: temp file + rename). ``card.py`` gives their URLs and runs the drawing in the card process or in a thread.

Cheap by construction (``python bench/cards.py`` measures it): each size is drawn at its own size, not resampled from
the largest (drawing vector text costs less than a LANCZOS resize of a large image, and stays sharp), in one
channel of palette indices (``render_card``: no colour quantisation needed), and saved as a palette PNG at zlib level
1, several times faster to encode and smaller than RGB at the old level 3.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageDraw, ImageFont

# The files a generated or cropped cover is written as (Unsplash's widths: full 1920, regular 1080, small 400,
# thumb 200). The seed's other two keys point at one of them (``base.CARD_ALIASES``): ``small_s3`` at the small file,
# and ``raw`` at the largest, since a card drawn from vectors (or a library image cropped to size) has no original
# larger than its largest rendition: drawing and encoding a 2400 px copy of it cost half a card's CPU for no more
# detail.
CARD_SIZES: dict[str, tuple[int, int]] = {
    "full": (1920, 1008),
    "regular": (1080, 567),
    "small": (400, 210),
    "thumb": (200, 105),
}

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)
_PALETTE = [(17, 24, 39), (30, 58, 138), (6, 78, 59), (88, 28, 135), (127, 29, 29), (15, 118, 110), (55, 65, 81)]


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _colour(key: str) -> tuple[int, int, int]:
    return _PALETTE[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(_PALETTE)]


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if font.getlength(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


class Layout(NamedTuple):
    """Where the title goes on a card of height ``height``: its lines (at most six) and their font size."""

    lines: list[str]
    font_size: int
    height: int


def _text_width(w: int) -> int:
    return w - int(w * 0.1) - int(w * 0.06)  # from the left margin to 6% short of the right edge


def layout(title: str, size: tuple[int, int]) -> Layout:
    """The title wrapped at ``size``: the largest font from a ninth of the height down (by tenths) whose lines fill
    at most 62% of it."""
    w, h = size
    font_size = max(10, h // 9)
    lines: list[str] = []
    while font_size > 8:
        lines = _wrap(title, _font(font_size), _text_width(w))
        if len(lines) * font_size * 1.2 <= h * 0.62:
            break
        font_size = int(font_size * 0.9)
    return Layout(lines[:6], font_size, h)


def _scaled(title: str, ref: Layout, size: tuple[int, int]) -> Layout:
    """``ref`` (the layout at another size of the same shape) at ``size``: the same lines, the font scaled, when
    every line still fits (hinted glyph widths do not scale exactly); otherwise the title wrapped afresh."""
    w, h = size
    font_size = max(8, ref.font_size * h // ref.height)
    font = _font(font_size)
    if all(font.getlength(line) <= _text_width(w) for line in ref.lines):
        return Layout(ref.lines, font_size, h)
    return layout(title, size)


# The card is drawn in one channel whose values are palette indices: 0..WHITE a ramp from the background colour to
# white (anti-aliased white text blends along it, on the background and on the band alike), YELLOW the accent bar.
WHITE, YELLOW = 254, 255
BAND = 51  # the band at the bottom: a fifth of the way to white


@cache
def _palette(base: tuple[int, int, int]) -> bytes:
    """The 256 RGB entries for a background colour (seven colours: computed once each)."""
    ramp = [round(c + (255 - c) * i / WHITE) for i in range(WHITE + 1) for c in base]
    return bytes([*ramp, 250, 204, 21])


def render_card(
    title: str, brand: str, key: str, size: tuple[int, int] = CARD_SIZES["full"], ref: Layout | None = None
) -> Image.Image:
    """The card at ``size`` (a palette image): a coloured background with a band, the brand, and the title wrapped
    to fit (``ref``: the layout at another size, scaled when it fits, so the sizes of one card share their lines
    and the title is measured once)."""
    w, h = size
    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, int(h * 0.86), w, h], fill=BAND)
    draw.rectangle([int(w * 0.06), int(h * 0.12), int(w * 0.06) + max(4, w // 120), int(h * 0.74)], fill=YELLOW)
    margin = int(w * 0.1)
    text = layout(title, size) if ref is None else ref if ref.height == h else _scaled(title, ref, size)
    font = _font(text.font_size)
    y = int(h * 0.12)
    for line in text.lines:
        draw.text((margin, y), line, font=font, fill=WHITE)
        y += int(text.font_size * 1.2)
    brand_font = _font(max(8, h // 22))
    draw.text((margin, int(h * 0.885)), brand, font=brand_font, fill=WHITE)
    img.putpalette(_palette(_colour(key)))  # "L" becomes "P": the values are the indices
    return img


PNG_LEVEL = 1


def _save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            img.save(f, format="PNG", optimize=False, compress_level=PNG_LEVEL)
        os.chmod(tmp, 0o644)  # served as static files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_sizes(img: Image.Image, folder: Path) -> dict[str, Path]:
    """``img`` resized to each card size (cover-cropped) and written as ``{folder}/{size}.png``; ``raw`` is the full
    file (``cover_urls``), as for a card."""
    from PIL import ImageOps

    out = {}
    for name, size in CARD_SIZES.items():
        resized = img if img.size == size else ImageOps.fit(img, size, Image.Resampling.LANCZOS)
        _save(resized.convert("RGB"), folder / f"{name}.png")
        out[name] = folder / f"{name}.png"
    return out


def write_card(title: str, brand: str, key: str, folder: Path) -> dict[str, Path]:
    """The card drawn at each card size and written as a palette PNG ``{folder}/{size}.png`` (four files)."""
    out = {}
    ref = layout(title, max(CARD_SIZES.values()))  # measured once, at the largest size; the others scale it
    for name, size in CARD_SIZES.items():
        _save(render_card(title, brand, key, size, ref), folder / f"{name}.png")
        out[name] = folder / f"{name}.png"
    return out

"""Benchmark: the cost of one cover card the old ways and the way ``images/card.py`` draws it now.

old: five files (raw 2400, full 1920, regular 1080, small 400, thumb 200 px wide): drawn once at 2400 px, each smaller
     size LANCZOS-resized from it, RGB PNG at zlib level 3.
five drawn: the same five files, each drawn at its own size in palette indices (the title wrapped afresh at each),
     a palette PNG at zlib level 1.
now: four files (``card.write_card``): no 2400 px file (``raw`` is the full file's URL, ``base.CARD_ALIASES``), the
     title wrapped once at the largest size and scaled to the others where it fits.

    .venv/bin/python bench/cards.py            # 20 cards each way

Prints a table (CPU ms per card, KB per card, files per card) and writes bench/results/cards.json. CPU time, so less
sensitive to the machine's load than wall time; the JSON records ``uptime`` all the same.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps
from rich.console import Console
from rich.table import Table

from newsroom.images.card import PNG_LEVEL, render_card, write_card

HERE = Path(__file__).resolve().parent
TITLE = "Harbor Labs moves $120 million in bitcoin as traders wait for a fuller statement (story {i})"


FIVE_SIZES = {
    "raw": (2400, 1260),
    "full": (1920, 1008),
    "regular": (1080, 567),
    "small": (400, 210),
    "thumb": (200, 105),
}


def old_way(title: str, folder: Path) -> None:
    img = render_card(title, "NEWSROOM", "markets", FIVE_SIZES["raw"]).convert("RGB")
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in FIVE_SIZES.items():
        resized = img if img.size == size else ImageOps.fit(img, size, Image.Resampling.LANCZOS)
        resized.save(folder / f"{name}.png", format="PNG", compress_level=3)


def five_drawn(title: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in FIVE_SIZES.items():
        img = render_card(title, "NEWSROOM", "markets", size)
        img.save(folder / f"{name}.png", format="PNG", optimize=False, compress_level=PNG_LEVEL)


def now(title: str, folder: Path) -> None:
    write_card(title, "NEWSROOM", "markets", folder)


WAYS = {"old": old_way, "five drawn": five_drawn, "now": now}


def measure(fn, n: int, root: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    t0 = time.process_time()
    for i in range(n):
        fn(TITLE.format(i=i), root / str(i))
    cpu = (time.process_time() - t0) / n
    files = list(root.rglob("*.png"))
    size = sum(p.stat().st_size for p in files) / n
    return {"cpu_ms_per_card": round(cpu * 1000, 1), "kb_per_card": round(size / 1024, 1), "files": len(files) // n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=20)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "cards.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "command": f"python bench/cards.py --cards {args.cards}",
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            **{way: measure(fn, args.cards, Path(tmp) / way.replace(" ", "_")) for way, fn in WAYS.items()},
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    t = Table(title=f"cover cards: {args.cards} cards each way")
    for col in ("way", "CPU ms per card", "KB per card", "files per card"):
        t.add_column(col, justify="right" if col != "way" else "left")
    for way in WAYS:
        r = result[way]
        t.add_row(way, str(r["cpu_ms_per_card"]), str(r["kb_per_card"]), str(r["files"]))
    Console(width=120).print(t)
    print(f"{result['uptime']}\nwrote {args.out}")


if __name__ == "__main__":
    main()

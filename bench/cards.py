"""Benchmark: the cost of one cover card (five sizes) the old way and the way ``images/card.py`` draws it now.

old: drawn once at 2400 px, each smaller size LANCZOS-resized from it, RGB PNG at zlib level 3.
new: each size drawn at its own size in palette indices, a palette PNG at zlib level 1 (``card.write_card``).

    .venv/bin/python bench/cards.py            # 20 cards each way

Prints a table (CPU ms per card, KB per card) and writes bench/results/cards.json. CPU time, so less sensitive to the
machine's load than wall time; the JSON records ``uptime`` all the same.
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

from newsroom.images.base import CARD_SIZES
from newsroom.images.card import render_card, write_card

HERE = Path(__file__).resolve().parent
TITLE = "Harbor Labs moves $120 million in bitcoin as traders wait for a fuller statement (story {i})"


def old_way(title: str, folder: Path) -> None:
    img = render_card(title, "NEWSROOM", "markets").convert("RGB")
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in CARD_SIZES.items():
        resized = img if img.size == size else ImageOps.fit(img, size, Image.Resampling.LANCZOS)
        resized.save(folder / f"{name}.png", format="PNG", compress_level=3)


def new_way(title: str, folder: Path) -> None:
    write_card(title, "NEWSROOM", "markets", folder)


def measure(fn, n: int, root: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    t0 = time.process_time()
    for i in range(n):
        fn(TITLE.format(i=i), root / str(i))
    cpu = (time.process_time() - t0) / n
    size = sum(p.stat().st_size for p in root.rglob("*.png")) / n
    return {"cpu_ms_per_card": round(cpu * 1000, 1), "kb_per_card": round(size / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=20)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "cards.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "command": f"python bench/cards.py --cards {args.cards}",
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            "old": measure(old_way, args.cards, Path(tmp) / "old"),
            "new": measure(new_way, args.cards, Path(tmp) / "new"),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    t = Table(title=f"cover cards: five sizes each, {args.cards} cards")
    for col in ("way", "CPU ms per card", "KB per card"):
        t.add_column(col, justify="right" if col != "way" else "left")
    for way in ("old", "new"):
        t.add_row(way, str(result[way]["cpu_ms_per_card"]), str(result[way]["kb_per_card"]))
    Console(width=120).print(t)
    print(f"{result['uptime']}\nwrote {args.out}")


if __name__ == "__main__":
    main()

"""Benchmark: the cost of one cover card the old ways and the way ``images/card.py`` draws it now.

old: five files (raw 2400, full 1920, regular 1080, small 400, thumb 200 px wide): drawn once at 2400 px, each smaller
     size LANCZOS-resized from it, RGB PNG at zlib level 3.
five drawn: the same five files, each drawn at its own size in palette indices (the title wrapped afresh at each),
     a palette PNG at zlib level 1.
now: four files (``draw.write_card``): no 2400 px file (``raw`` is the full file's URL, ``base.CARD_ALIASES``), the
     title wrapped once at the largest size and scaled to the others where it fits.

    .venv/bin/python bench/cards.py            # 20 cards each way

Prints a table (CPU ms per card, KB per card, files per card) and writes bench/results/cards.json. CPU time, so less
sensitive to the machine's load than wall time; the JSON records ``uptime`` all the same.

It also measures what drawing cards costs the rest of the process (the event loop, the guards, the SQL): how fast a
pure-Python loop runs alone, beside cards drawn in a thread of the same process (``images.card_processes = 0``) and
beside cards drawn by a card process (the default), in alternating rounds of ``--window`` seconds (the median of
``--rounds``): the share of its speed it keeps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageOps
from rich.console import Console
from rich.table import Table

from newsroom.images.card_process import CardPool
from newsroom.images.draw import PNG_LEVEL, render_card, write_card

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


class Spin(NamedTuple):
    rate: float  # iterations per second of wall time
    lock_wait: float  # share of the window the loop's thread was blocked: waiting for the interpreter lock
    cpu_wait: float  # share of the window it was ready but waited for a core (the machine's load)


def _schedstat() -> tuple[int, int]:
    """This thread's CPU time and time waiting on a run queue, in ns (Linux ``schedstat``; zeros elsewhere)."""
    try:
        cpu, queued, _ = Path("/proc/thread-self/schedstat").read_text().split()
        return int(cpu), int(queued)
    except (OSError, ValueError):
        return 0, 0


def _spin(seconds: float) -> Spin:
    """A pure-Python loop for ``seconds`` (what the event loop's own work looks like to the interpreter)."""
    cpu0, queued0 = _schedstat()
    t0 = time.perf_counter()
    n, end = 0, t0 + seconds
    while time.perf_counter() < end:
        for _ in range(1000):
            n += 1
    wall = time.perf_counter() - t0
    cpu1, queued1 = _schedstat()
    running, queued = (cpu1 - cpu0) / 1e9, (queued1 - queued0) / 1e9
    return Spin(n / wall, max(0.0, 1 - (running + queued) / wall), queued / wall)


def _beside(draw: object, seconds: float, root: Path) -> Spin:
    """``_spin`` while another thread draws cards with ``draw(title, brand, key, folder)`` without pause."""
    stop = threading.Event()

    def cards() -> None:
        i = 0
        while not stop.is_set():
            draw(TITLE.format(i=i), "NEWSROOM", "markets", root / str(i % 8))  # type: ignore[operator]
            i += 1

    t = threading.Thread(target=cards)
    t.start()
    try:
        return _spin(seconds)
    finally:
        stop.set()
        t.join()


def gil_share(rounds: int, window: float, root: Path) -> dict[str, Any]:
    """Medians over ``rounds``: the share of its speed a Python loop keeps beside cards drawn in a thread and beside
    a card process, and the shares of the window it waited for the interpreter lock and for a core."""
    pool = CardPool(1)
    pool.draw(TITLE.format(i=0), "NEWSROOM", "markets", root / "warm")  # started before the rounds
    runs: dict[str, list[Spin]] = {"alone": [], "thread": [], "card process": []}
    try:
        for _ in range(rounds):
            runs["alone"].append(_spin(window))
            runs["thread"].append(_beside(write_card, window, root / "thread"))
            runs["card process"].append(_beside(pool.draw, window, root / "process"))
    finally:
        pool.close()
    out: dict[str, Any] = {"rounds": rounds, "window_s": window}
    for way, spins in runs.items():
        kept = [s.rate / a.rate for s, a in zip(spins, runs["alone"], strict=True)]
        out[way] = {
            "speed_kept": round(statistics.median(kept), 3),
            "lock_wait": round(statistics.median(s.lock_wait for s in spins), 3),
            "cpu_wait": round(statistics.median(s.cpu_wait for s in spins), 3),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--window", type=float, default=1.0, help="seconds of each round's three windows")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "cards.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "command": f"python bench/cards.py --cards {args.cards} --rounds {args.rounds} --window {args.window}",
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            **{way: measure(fn, args.cards, Path(tmp) / way.replace(" ", "_")) for way, fn in WAYS.items()},
            "python_loop_beside_cards": gil_share(args.rounds, args.window, Path(tmp) / "gil"),
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
    kept = result["python_loop_beside_cards"]
    for way in ("alone", "thread", "card process"):
        k = kept[way]
        print(
            f"a pure-Python loop {way if way == 'alone' else 'beside cards drawn in a ' + way}: "
            f"{k['speed_kept']:.0%} of its speed alone, waiting for the interpreter lock {k['lock_wait']:.0%} "
            f"and for a core {k['cpu_wait']:.0%} of the time (median of {args.rounds} rounds)"
        )
    print(f"{result['uptime']}\nwrote {args.out}")


if __name__ == "__main__":
    main()

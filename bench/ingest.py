"""Benchmark: N new entries through `newsroom poll`, served on loopback, beside feedparser's own rate on the same bytes.

The entries are ``bench/dedupe.py``'s generated event-level items (a year of seven sites), written as seven RSS feeds
and served by a threaded HTTP server on 127.0.0.1. Each run is a fresh `python -m newsroom poll --force` process on a
fresh SQLite file (process start and model load included), with `stories.same_event` on (clustering) or off; newsroom's
bytecode is compiled first, as an installed package has it (``harness.compile_package``: without it every poll process
compiled newsroom's modules from source again where ``PYTHONDONTWRITEBYTECODE`` is set, as here). Reports
entries/s, seconds per 1,000 entries, the ratio to feedparser parsing the same bytes in this process, the same three
in CPU seconds (user + system of the poll process: what to read on a shared machine, where wall time says little),
the poll process's peak RSS and the one-minute load average when it ended. Prints a table; writes
bench/results/ingest.json.

    .venv/bin/python bench/ingest.py [--sizes 1000 10000 50000] [--modes off on] [--profile DIR]

``--profile DIR`` runs each poll under cProfile with its worker-thread calls made inline (``bench/profile_poll.py``)
and writes DIR/ingest-N-MODE.prof (read it with ``python -m pstats``); its timings include the profiler's overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import feedparser  # noqa: E402

from dedupe import generate  # noqa: E402
from harness import compile_package  # noqa: E402


def feeds(n: int) -> dict[str, bytes]:
    """Seven RSS feeds holding ``n`` generated entries between them."""
    docs, _ = generate(n)
    by_source: dict[str, list[str]] = defaultdict(list)
    for d in docs:
        when = format_datetime(datetime.fromtimestamp(d.published, UTC))
        by_source[d.source].append(
            f"<item><title>{escape(d.title)}</title><link>{escape(d.url)}</link>"
            f'<guid isPermaLink="false">{escape(d.external_id)}</guid><pubDate>{when}</pubDate>'
            f"<description>{escape(d.title)}. More to follow.</description></item>"
        )
    return {
        source: (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{source}</title><link>https://{source}.example/</link><description>bench</description>"
            + "".join(items)
            + "</channel></rss>"
        ).encode()
        for source, items in by_source.items()
    }


def serve(bodies: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path.strip("/"))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def config(folder: Path, port: int, sources: list[str], n: int, same_event: bool) -> Path:
    lines = [
        f'database_url = "sqlite:///{folder / "bench.db"}"',
        f"max_items_per_source = {n}",
        "[fetch]",
        "allow_private_networks = true",
        "max_bytes = 500000000",
        "timeout_seconds = 600",
        "[stories]",
        f"same_event = {'true' if same_event else 'false'}",
    ]
    for key in sources:
        lines += ["[[sources]]", f'key = "{key}"', f'name = "{key}"', f'url = "http://127.0.0.1:{port}/{key}"']
    path = folder / "newsroom.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def poll_run(cfg: Path, profile: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one `newsroom poll --force` process; with
    ``profile``, the poll runs under cProfile with its worker-thread calls inline (``profile_poll.py``) and writes
    its stats there (the timings then include the profiler's overhead)."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    command = ["-m", "newsroom"]
    if profile is not None:
        command = ["-m", "cProfile", "-o", str(profile), str(HERE / "profile_poll.py")]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *command, "poll", "--config", str(cfg), "--force"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"newsroom poll failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description="ingest benchmark: newsroom poll vs feedparser")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    ap.add_argument("--modes", nargs="+", choices=["off", "on"], default=["off", "on"])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "ingest.json")
    ap.add_argument("--profile", type=Path, help="folder for a cProfile file per run (ingest-N-MODE.prof)")
    args = ap.parse_args()
    compile_package()  # what `pip install` does: no poll process compiles newsroom from source
    rows = []
    for n in args.sizes:
        bodies = feeds(n)
        started, cpu0 = time.perf_counter(), time.process_time()
        parsed = sum(len(feedparser.parse(body).entries) for body in bodies.values())
        feedparser_rate = parsed / (time.perf_counter() - started)
        feedparser_cpu_rate = parsed / (time.process_time() - cpu0)
        server = serve(bodies)
        try:
            for mode in args.modes:
                with tempfile.TemporaryDirectory() as tmp:
                    cfg = config(Path(tmp), server.server_address[1], sorted(bodies), n, mode == "on")
                    prof = None
                    if args.profile:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        prof = args.profile / f"ingest-{n}-{mode}.prof"
                    wall, cpu, rss = poll_run(cfg, prof)
                rows.append(
                    {
                        "entries": parsed,
                        "clustering": mode,
                        "seconds": round(wall, 2),
                        "entries_per_second": round(parsed / wall, 1),
                        "ms_per_1000_entries": round(1000 * wall / parsed * 1000, 1),
                        "feedparser_entries_per_second": round(feedparser_rate, 1),
                        "ratio_to_feedparser": round(parsed / wall / feedparser_rate, 3),
                        "cpu_seconds": round(cpu, 2),
                        "entries_per_cpu_second": round(parsed / cpu, 1),
                        "cpu_ms_per_1000_entries": round(1000 * cpu / parsed * 1000, 1),
                        "feedparser_entries_per_cpu_second": round(feedparser_cpu_rate, 1),
                        "cpu_ratio_to_feedparser": round(parsed / cpu / feedparser_cpu_rate, 3),
                        "peak_rss_mb": round(rss, 1),
                        "load_average": round(os.getloadavg()[0], 1),  # other jobs' CPU: read the CPU columns then
                        **({"profile": str(prof)} if prof else {}),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
        finally:
            server.shutdown()
    result = {
        "rows": rows,
        "load_average": os.getloadavg(),
        "goal": "off >= 0.75 x feedparser; on >= 500 entries/s; per-entry cost at 50,000 <= 1.2 x at 1,000; <= 1500 MB",
    }
    width = max(len(k) for k in rows[0]) if rows else 0
    for row in rows:
        print("  ".join(f"{k[:width]}={v}" for k, v in row.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

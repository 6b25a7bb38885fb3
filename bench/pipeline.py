"""Benchmark: N stories x 3 languages through the whole pipeline against a SCRIPTED OpenAI-compatible server.

The scripted server (newsroom.devtools.scripted_llm) answers every request with schema-valid JSON after a fixed
latency, so the model-bound floor is known: calls x latency / concurrency. This measures how close the pipeline gets
to that floor (goal: wall <= 1.05 x floor) and checks that a second run over the unchanged feed makes 0 model calls.

    .venv/bin/python bench/pipeline.py                 # 500 stories, 250 ms, concurrency 32
    .venv/bin/python bench/pipeline.py --stories 50    # quick look

Prints a table and writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from rich.console import Console
from rich.table import Table

from newsroom import sentiment
from newsroom.config import (
    FetchConfig,
    GuardsConfig,
    ImagesConfig,
    LLMConfig,
    PublishConfig,
    Settings,
    SourceConfig,
    StoriesConfig,
)
from newsroom.demo import serve_demo_feed
from newsroom.embeddings import default_embedder
from newsroom.llm import make_provider
from newsroom.llm.usage import CallBuffer
from newsroom.pipeline import Pipeline
from newsroom.store.db import Store

HERE = Path(__file__).resolve().parent
COMPANIES = ["Harbor", "Lighthouse", "North Pier", "Quartz", "Meridian", "Blue Anchor", "Kestrel", "Orchid", "Summit"]
ASSETS = ["bitcoin", "ether", "solana", "XRP", "a stablecoin", "a layer-2 token", "an index fund"]
ACTIONS = ["raises", "loses", "moves", "locks", "unlocks", "burns", "stakes", "lends"]


def synthetic_feed(n: int, seed: int = 7) -> bytes:
    """An RSS feed of ``n`` distinct invented stories (our own text; nothing from the corpus)."""
    rnd = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    items = []
    for i in range(n):
        who, what, asset = rnd.choice(COMPANIES), rnd.choice(ACTIONS), rnd.choice(ASSETS)
        amount = rnd.randint(2, 900)
        title = f"{who} Labs {what} ${amount} million in {asset} (story {i})"
        body = " ".join(
            f"<p>{who} Labs said on day {d} that it {what} ${amount + d} million worth of {asset}. "
            f"Analysts at {rnd.choice(COMPANIES)} Research expect volumes to change by {rnd.randint(1, 40)}%.</p>"
            for d in range(1, 4)
        )
        items.append(
            f"<item><title>{escape(title)}</title><link>https://bench.invalid/news/{i}</link>"
            f'<guid isPermaLink="false">bench-{i}</guid>'
            f"<pubDate>{format_datetime(start + timedelta(minutes=i))}</pubDate>"
            f"<category>Markets</category><description>{escape(body)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench</title>'
        "<link>https://bench.invalid/</link><description>synthetic</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_scripted_server(latency_ms: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsroom.devtools.scripted_llm",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/models", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the scripted server did not start")


async def one_run(settings: Settings, store: Store, *, force: bool = False) -> dict[str, float]:
    calls = CallBuffer()
    provider = make_provider(settings.llm, calls)
    pipeline = Pipeline(settings, store, provider, calls)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    planned: list[float] = []  # when stories were handed to the writers (the first: the first chunk is stored)
    summary = await pipeline.run_once(force_poll=force, on_plan=lambda _n: planned.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    await provider.aclose()
    first_story_s = (planned[0] - t0) if planned else 0.0
    return {
        "wall_s": wall,
        "first_story_s": first_story_s,
        "process_s": wall - first_story_s,
        "cpu_s": cpu,
        "model_calls": summary.model_calls,
        "tokens_in": summary.tokens_in,
        "tokens_out": summary.tokens_out,
        "files": len(summary.published),
        "failures": len(summary.failures),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stories", type=int, default=500)
    ap.add_argument("--latency-ms", type=int, default=250)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--languages", default="en,uk,de")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pipeline.json")
    args = ap.parse_args()
    langs = args.languages.split(",")

    server, base_url = start_scripted_server(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp, serve_demo_feed(synthetic_feed(args.stories)) as feed_url:
            settings = Settings(
                database_url=f"sqlite:///{tmp}/bench.db",
                languages=langs,
                pivot_language=langs[0],
                max_items_per_source=args.stories,
                sources=[SourceConfig(key="bench", name="Bench Wire", url=feed_url)],
                fetch=FetchConfig(allow_private_networks=True),
                llm=LLMConfig(
                    provider="openai",
                    base_url=base_url,
                    model="scripted",
                    structured_output="json_schema",
                    concurrency=args.concurrency,
                    timeout_seconds=30,
                ),
                publish=PublishConfig(content_dir=Path(tmp) / "content"),
                # the 500 invented stories share a few templates, which same-event clustering (rightly or not) would
                # merge: each item stays its own story here; clustering is measured by bench/dedupe.py
                stories=StoriesConfig(same_event=False),
                guards=GuardsConfig(enabled=False),  # scripted filler text: the guards are benched by bench/guards.py
                images=ImagesConfig(provider="none"),  # cover URLs only: drawing 500 cards is not what this measures
            )
            store = Store(settings.database_url)
            # one-time cost of a process, reported apart: importing torch and loading the offline sentiment model
            t_load = time.perf_counter()
            default_embedder().embed(["warm-up"])
            sentiment.predict(["warm-up"])  # loads all-mpnet-base-v2 and a second MiniLM for the sentiment features
            load_s = time.perf_counter() - t_load
            first = asyncio.run(one_run(settings, store))
            second = asyncio.run(one_run(settings, store, force=True))  # re-fetch the unchanged feed
    finally:
        server.terminate()
        server.wait(10)

    floor = first["model_calls"] * args.latency_ms / 1000 / args.concurrency
    articles = max(1, args.stories * len(langs))
    result = {
        "command": "python bench/pipeline.py " + " ".join(sys.argv[1:]),
        "server": "scripted OpenAI-compatible server (newsroom.devtools.scripted_llm), fixed latency",
        "stories": args.stories,
        "languages": langs,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "first_run": first,
        "embedding_model_load_s": round(load_s, 3),
        "floor_s": round(floor, 3),
        "ratio_wall_to_floor": round(first["wall_s"] / floor, 3) if floor else None,
        "ratio_process_to_floor": round(first["process_s"] / floor, 3) if floor else None,
        "tokens_per_article_language": round((first["tokens_in"] + first["tokens_out"]) / articles, 1),
        "second_run_model_calls": second["model_calls"],
        "second_run_wall_s": round(second["wall_s"], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": sys.version.split()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    t = Table(title=f"pipeline: {args.stories} stories x {len(langs)} languages, scripted server")
    t.add_column("measure")
    t.add_column("value", justify="right")
    rows = [
        ("model calls", str(first["model_calls"])),
        ("failures", str(first["failures"])),
        ("wall time (poll + process + publish)", f"{first['wall_s']:.2f} s"),
        ("  until the first story starts (fetch, parse, store a chunk)", f"{first['first_story_s']:.2f} s"),
        ("model-bound floor (calls x latency / concurrency)", f"{floor:.2f} s"),
        ("wall / floor", f"{result['ratio_wall_to_floor']}"),
        ("(wall - time to first story) / floor", f"{result['ratio_process_to_floor']}"),
        ("once per process, before the run: load the embedding model", f"{load_s:.2f} s"),
        ("pipeline CPU time (this process)", f"{first['cpu_s']:.2f} s"),
        ("  per model call", f"{1000 * first['cpu_s'] / max(1, first['model_calls']):.1f} ms"),
        ("tokens per article-language", f"{result['tokens_per_article_language']}"),
        ("second run: model calls", str(second["model_calls"])),
        ("second run: wall", f"{second['wall_s']:.2f} s"),
        ("peak RSS", f"{result['peak_rss_mb']} MB"),
    ]
    for r in rows:
        t.add_row(*r)
    Console().print(t)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

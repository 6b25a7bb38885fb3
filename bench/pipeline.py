"""Benchmark: N stories x 3 languages through the DEFAULT pipeline against a SCRIPTED OpenAI-compatible server.

The scripted server (newsroom.devtools.scripted_llm, ``--grounded``) answers every request after a fixed latency with
an article that passes the guards in the language asked for (devtools/grounded.py), so the model-bound floor is
known: calls x latency / concurrency. Nothing is switched off: guards, cover cards, same-event clustering, full-text
extraction and the offline sentiment all run, as in ``newsroom run``. It measures how close the pipeline gets to that
floor (goal: wall <= 1.10 x floor, calls <= 1.05 x one per article-language), where the CPU goes (CPU seconds per
stage, exclusive), peak RSS, the time from process start to the first model request, and that a second run over the
unchanged feed makes 0 model calls. Timings depend on the machine's load: the JSON records ``uptime``. The package's
bytecode is compiled first, before newsroom is imported (``harness.compile_package``, as bench/startup.py does): where
``PYTHONDONTWRITEBYTECODE`` is set, the run would otherwise compile newsroom's ~100 modules from source at every start,
which an installed package never does; the compile's seconds (about 0 once ``__pycache__`` is current) are left out of
the startup figures and recorded in the JSON.

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
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import compile_package  # noqa: E402

COMPILED = compile_package()  # before newsroom's first import (as installed: no module compiled from source at start)

from newsroom.config import FetchConfig, LLMConfig, PublishConfig, Settings, SourceConfig  # noqa: E402
from newsroom.demo import serve_demo_feed  # noqa: E402
from newsroom.llm import make_provider  # noqa: E402
from newsroom.llm.usage import CallBuffer  # noqa: E402
from newsroom.pipeline import Pipeline  # noqa: E402
from newsroom.store.db import Store  # noqa: E402

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
            "--grounded",
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


class StageCPU:
    """Exclusive CPU seconds (the running thread's CPU time) spent in named functions, whichever thread runs them:
    a function called inside another one is counted for itself and not again for its caller."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._local = threading.local()
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        stack: list[float] = self._local.__dict__.setdefault("stack", [])
        t0 = time.thread_time()
        stack.append(0.0)
        try:
            yield
        finally:
            spent = time.thread_time() - t0
            inner = stack.pop()
            if stack:
                stack[-1] += spent
            with self._lock:
                self.seconds[name] += spent - inner

    def wrap(self, owner: object, attr: str, name: str) -> None:
        fn: Callable[..., object] = getattr(owner, attr) if not isinstance(owner, dict) else owner[attr]

        def timed(*args: object, **kwargs: object) -> object:
            with self.stage(name):
                return fn(*args, **kwargs)

        if isinstance(owner, dict):
            owner[attr] = timed
        else:
            setattr(owner, attr, timed)


def instrument() -> StageCPU:
    """Time the synchronous work of each stage where the stages look it up (module attributes)."""
    from newsroom import embeddings, sentiment
    from newsroom.images.card import CardProvider
    from newsroom.publish.filesystem import FilesystemTarget
    from newsroom.sources import rss
    from newsroom.stages import poll, write

    cpu = StageCPU()
    cpu.wrap(rss, "parse_feed", "poll: parse the feed")
    cpu.wrap(poll, "record_poll", "poll: store items, assign stories (clustering)")
    cpu.wrap(embeddings, "load_minilm", "encoders: load")
    for name in list(sentiment.ENCODERS):
        cpu.wrap(sentiment.ENCODERS, name, "encoders: load")
    cpu.wrap(embeddings.MiniLMEmbedder, "_encode", "encoders: embed headlines (clustering)")
    cpu.wrap(sentiment, "features", "encoders: sentiment features")
    cpu.wrap(write, "check_article", "guards")
    cpu.wrap(write, "pivot_row", "write: offline classifiers (pivot row)")
    cpu.wrap(CardProvider, "render", "illustrate: cover cards")
    cpu.wrap(FilesystemTarget, "write", "publish: Markdown files")
    return cpu


def process_age_s() -> float:
    """Seconds since this process was created (interpreter start and imports included; the bytecode compile that an
    installed package does not pay left out)."""
    import psutil

    return time.time() - psutil.Process().create_time() - COMPILED.wall_s


async def one_run(settings: Settings, store: Store, *, force: bool = False) -> dict[str, float]:
    calls = CallBuffer()
    provider = make_provider(settings.llm, calls)
    first_request: list[float] = []
    generate = provider.generate

    async def timed_generate(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not first_request:
            first_request.append(time.perf_counter())
            first_request.append(time.process_time())  # CPU of the whole process so far (imports included)
        return await generate(*args, **kwargs)

    provider.generate = timed_generate  # type: ignore[method-assign]
    pipeline = Pipeline(settings, store, provider, calls)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    planned: list[float] = []  # when stories were handed to the writers (the first: the first chunk is stored)
    finished: list[float] = []  # when each story's last article was published (cards may still be drawing)
    summary = await pipeline.run_once(
        force_poll=force,
        on_plan=lambda _n: planned.append(time.perf_counter()),
        on_story=lambda event, _id: finished.append(time.perf_counter()) if event in ("done", "failed") else None,
    )
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    await provider.aclose()
    first_story_s = (planned[0] - t0) if planned else 0.0
    return {
        "wall_s": wall,
        "first_story_s": first_story_s,
        "articles_published_s": (max(finished) - t0) if finished else 0.0,
        "run_to_first_request_s": (first_request[0] - t0) if first_request else 0.0,
        "cpu_to_first_request_s": first_request[1] - COMPILED.cpu_s if first_request else 0.0,
        "process_s": wall - first_story_s,
        "cpu_s": cpu,
        "stories": summary.stories,
        "model_calls": summary.model_calls,
        "tokens_in": summary.tokens_in,
        "tokens_out": summary.tokens_out,
        "files": len(summary.published),
        "failures": len(summary.failures),
    }


def drafts(store: Store) -> dict[str, int]:
    """Articles held as drafts, per language (a guard failure in the scripted text would show here)."""
    from sqlalchemy import func, select

    from newsroom.store.tables import ArticleRow

    with store.session() as s:
        rows = s.execute(select(ArticleRow.lang, func.count()).where(ArticleRow.draft).group_by(ArticleRow.lang))
        return {lang: n for lang, n in rows}


def main() -> None:
    imported_s = process_age_s()  # interpreter start and imports, as a `newsroom run` pays them
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stories", type=int, default=500)
    ap.add_argument("--latency-ms", type=int, default=250)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--languages", default="en,uk,de")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pipeline.json")
    args = ap.parse_args()
    langs = args.languages.split(",")
    cpu = instrument()

    server, base_url = start_scripted_server(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp, serve_demo_feed(synthetic_feed(args.stories)) as feed_url:
            settings = Settings(  # the defaults, except where the bench's servers are
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
            )
            store = Store(settings.database_url)
            first = asyncio.run(one_run(settings, store))
            stage_cpu = dict(cpu.seconds)
            held = drafts(store)
            second = asyncio.run(one_run(settings, store, force=True))  # re-fetch the unchanged feed
    finally:
        server.terminate()
        server.wait(10)

    floor = first["model_calls"] * args.latency_ms / 1000 / args.concurrency
    articles = max(1, first["stories"] * len(langs))
    stage_cpu["event loop and the rest (HTTP, JSON, DB, scheduling)"] = first["cpu_s"] - sum(stage_cpu.values())
    startup = imported_s + first["run_to_first_request_s"]
    result = {
        "command": "python bench/pipeline.py " + " ".join(sys.argv[1:]),
        "server": "scripted OpenAI-compatible server (newsroom.devtools.scripted_llm --grounded), fixed latency",
        "configuration": "defaults: guards, cover cards, same-event clustering, extraction, offline sentiment on",
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "stories": args.stories,
        "languages": langs,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "first_run": first,
        "drafts": held,
        "floor_s": round(floor, 3),
        "ratio_wall_to_floor": round(first["wall_s"] / floor, 3) if floor else None,
        "ratio_articles_published_to_floor": round(first["articles_published_s"] / floor, 3) if floor else None,
        "calls_per_article_language": round(first["model_calls"] / articles, 3),
        "cpu_s_per_stage": {k: round(v, 3) for k, v in sorted(stage_cpu.items(), key=lambda kv: -kv[1])},
        "startup_to_first_request_s": round(startup, 3),
        "startup_cpu_to_first_request_s": round(first["cpu_to_first_request_s"], 3),
        "bytecode_compile_left_out": {"wall_s": round(COMPILED.wall_s, 3), "cpu_s": round(COMPILED.cpu_s, 3)},
        "tokens_per_article_language": round((first["tokens_in"] + first["tokens_out"]) / articles, 1),
        "second_run_model_calls": second["model_calls"],
        "second_run_wall_s": round(second["wall_s"], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": sys.version.split()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    t = Table(title=f"pipeline (default configuration): {args.stories} stories x {len(langs)} languages, scripted")
    t.add_column("measure")
    t.add_column("value", justify="right")
    rows = [
        ("stories (after same-event clustering)", str(first["stories"])),
        ("model calls", str(first["model_calls"])),
        ("  per article-language (target <= 1.05)", f"{result['calls_per_article_language']}"),
        ("failures / drafts", f"{first['failures']} / {sum(held.values())}"),
        ("wall time (poll + process + publish)", f"{first['wall_s']:.2f} s"),
        ("  until the first story starts (fetch, parse, store a chunk)", f"{first['first_story_s']:.2f} s"),
        ("  until every article is published (cards may still be drawing)", f"{first['articles_published_s']:.2f} s"),
        ("model-bound floor (calls x latency / concurrency)", f"{floor:.2f} s"),
        ("wall / floor (target <= 1.10)", f"{result['ratio_wall_to_floor']}"),
        ("every article published / floor", f"{result['ratio_articles_published_to_floor']}"),
        ("startup to the first model request (imports included)", f"{startup:.2f} s"),
        ("  its CPU time (all threads, imports included)", f"{first['cpu_to_first_request_s']:.2f} s"),
        ("pipeline CPU time (this process)", f"{first['cpu_s']:.2f} s"),
    ]
    rows += [(f"  CPU: {k}", f"{v:.2f} s") for k, v in result["cpu_s_per_stage"].items()]
    rows += [
        ("tokens per article-language", f"{result['tokens_per_article_language']}"),
        ("second run: model calls", str(second["model_calls"])),
        ("second run: wall", f"{second['wall_s']:.2f} s"),
        ("peak RSS (target <= 1000 MB)", f"{result['peak_rss_mb']} MB"),
        ("uptime", result["uptime"]),
    ]
    for r in rows:
        t.add_row(*r)
    Console(width=120).print(t)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

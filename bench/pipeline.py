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
    .venv/bin/python bench/pipeline.py --card-processes 0 --keep /tmp/a   # cards drawn in a thread; files kept
    .venv/bin/python bench/pipeline.py --workers 2 --concurrency 64 \
        --database-url postgresql://postgres@127.0.0.1:5432/test    # two `newsroom worker`s, 32 model slots each

With ``--workers N`` the same stories go through N `newsroom worker` processes (procrastinate) on a fresh schema of
the PostgreSQL database (dropped at the end), sharing ``--concurrency`` model slots; the wall time counts from the
first worker's registration (its imports and warm-up are reported apart) until every story is written and every
article published; each worker times its stages as this process does and reports them at exit.

The cover cards are drawn by card processes beside this process (``images.card_processes``): their CPU seconds and
peak RSS are reported on their own rows, not in this process's CPU.

Prints a table and writes bench/results/pipeline.json (pipeline-workers.json with --workers).
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
from typing import Any
from xml.sax.saxutils import escape

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import compile_package  # noqa: E402

COMPILED = compile_package()  # before newsroom's first import (as installed: no module compiled from source at start)

from newsroom import collector  # noqa: E402

collector.pause_collector()  # as `newsroom run` does from its start until its first model request (collector.py)

from newsroom.config import (  # noqa: E402
    FetchConfig,
    ImagesConfig,
    LLMConfig,
    PublishConfig,
    Settings,
    SourceConfig,
    WorkerConfig,
)
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
    from newsroom.stages import job, poll, write

    cpu = StageCPU()
    cpu.wrap(rss, "parse_feed", "poll: parse the feed")
    cpu.wrap(poll, "record_poll", "poll: store items, assign stories (clustering)")
    cpu.wrap(embeddings, "load_minilm", "encoders: load")
    for name in list(sentiment.ENCODERS):
        cpu.wrap(sentiment.ENCODERS, name, "encoders: load")
    cpu.wrap(embeddings.MiniLMEmbedder, "_encode", "encoders: embed headlines (clustering)")
    cpu.wrap(sentiment, "features", "encoders: sentiment features")
    cpu.wrap(write, "check_article", "guards")
    cpu.wrap(job, "select_story", "select: relevance, item type, score")
    cpu.wrap(write, "pivot_row", "write: offline classifiers (pivot row)")
    cpu.wrap(CardProvider, "render", "illustrate: cover cards")
    try:
        from newsroom.images import card_process
    except ImportError:  # a tree from before the card processes (a baseline run of this bench)
        card_process = None  # type: ignore[assignment]
    if card_process is not None:
        closing = card_process._close

        def close(proc: Any) -> None:  # the card process's CPU and peak RSS, just before it is asked to exit
            _card_usage(proc.pid)
            closing(proc)

        card_process._close = close  # type: ignore[assignment]
    cpu.wrap(FilesystemTarget, "write", "publish: Markdown files")
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    for attr in ("execute", "scalars", "scalar", "get", "get_one", "flush", "commit"):
        cpu.wrap(Session, attr, "store: SQL (SQLAlchemy)")
    cpu.wrap(Connection, "execute", "store: SQL (SQLAlchemy)")  # Core statements (and the ORM's, counted once)
    return cpu


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live Python thread so far, summed by name without its number (``asyncio_3``: ``asyncio``);
    native threads (torch's) are not among them."""
    import re

    out: defaultdict[str, float] = defaultdict(float)
    for t in threading.enumerate():
        if t.ident is None:
            continue
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        except (OSError, AttributeError):  # ended meanwhile, or not Linux
            continue
        out[
            "event loop (main thread)" if t is threading.main_thread() else re.sub(r"[_-]?\d+(_\d+)?$", "", t.name)
        ] += seconds
    return dict(out)


CARD_USAGE: dict[int, tuple[float, float]] = {}  # card process pid -> (CPU seconds, peak RSS MB) when last seen


def _card_usage(pid: int) -> None:
    import psutil

    try:
        cpu = sum(psutil.Process(pid).cpu_times()[:2])
        status = Path(f"/proc/{pid}/status").read_text()
        CARD_USAGE[pid] = (cpu, int(status.split("VmHWM:")[1].split()[0]) / 1024)  # kB
    except (psutil.Error, OSError, IndexError):
        pass


def card_processes() -> dict[str, Any]:
    """The CPU seconds and peak RSS of this process's card processes (``images/card_process.py``): those still
    running, and those ended before (``instrument`` samples each as it is closed)."""
    import psutil

    for child in psutil.Process().children():
        try:
            if "newsroom.images.card_process" in " ".join(child.cmdline()):
                _card_usage(child.pid)
        except psutil.Error:
            continue
    return {
        "processes": len(CARD_USAGE),
        "cpu_s": round(sum(cpu for cpu, _ in CARD_USAGE.values()), 3),
        "peak_rss_mb": [round(rss, 1) for _, rss in CARD_USAGE.values()],
    }


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if it is gone)."""
    import psutil

    try:
        return sum(psutil.Process(pid).cpu_times()[:2])
    except psutil.Error:
        return 0.0


def process_age_s() -> float:
    """Seconds since this process was created (interpreter start and imports included; the bytecode compile that an
    installed package does not pay left out)."""
    import psutil

    return time.time() - psutil.Process().create_time() - COMPILED.wall_s


async def one_run(settings: Settings, store: Store, *, force: bool = False) -> dict[str, float]:
    calls = CallBuffer()
    provider = make_provider(settings.llm, calls)
    first_request: list[float] = []
    spans: list[tuple[float, float]] = []  # (start, end) of each model call: how busy the model's slots were
    generate = provider.generate

    async def timed_generate(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        if not first_request:
            first_request.append(start)
            first_request.append(time.process_time())  # CPU of the whole process so far (imports included)
        try:
            return await generate(*args, **kwargs)
        finally:
            spans.append((start, time.perf_counter()))

    provider.generate = timed_generate  # type: ignore[method-assign]
    pipeline = Pipeline(settings, store, provider, calls)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    loop0 = time.thread_time()  # this thread runs the event loop
    planned: list[float] = []  # when stories were handed to the writers (the first: the first chunk is stored)
    finished: list[float] = []  # when each story's last article was published (cards may still be drawing)
    summary = await pipeline.run_once(
        force_poll=force,
        on_plan=lambda _n: planned.append(time.perf_counter()),
        on_story=lambda event, _id: finished.append(time.perf_counter()) if event in ("done", "failed") else None,
    )
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    threads = thread_cpu()  # before asyncio.run ends the default executor's threads
    cards = card_processes()  # before the pipeline (and its card process) goes
    threads["event loop (main thread)"] -= loop0
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
        **call_occupancy(spans, settings.llm.concurrency, t0),
        "stories": summary.stories,
        "model_calls": summary.model_calls,
        "tokens_in": summary.tokens_in,
        "tokens_out": summary.tokens_out,
        "files": len(summary.published),
        "failures": len(summary.failures),
        "thread_cpu_s": threads,  # type: ignore[dict-item]
        "card_processes": cards,  # type: ignore[dict-item]
    }


def call_occupancy(spans: list[tuple[float, float]], concurrency: int, t0: float) -> dict[str, Any]:
    """How well the run fed the model: from the first request to the last reply, the share of the ``concurrency``
    slots that held a call, and the calls in flight in each second of the run (from its start): where the
    slots sit idle, the pipeline (not the model) set the pace."""
    if not spans:
        return {"calls_span_s": 0.0, "slots_busy": 0.0, "in_flight_by_second": []}
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    busy = sum(e - s for s, e in spans)
    seconds = int(last - t0) + 1
    in_flight = [0.0] * seconds
    for s, e in spans:  # slot-seconds of each call, spread over the seconds it overlaps
        for sec in range(int(s - t0), int(e - t0) + 1):
            in_flight[sec] += max(0.0, min(e - t0, sec + 1) - max(s - t0, sec))
    return {
        "calls_span_s": last - first,
        "slots_busy": busy / (concurrency * (last - first)) if last > first else 0.0,
        "in_flight_by_second": [round(x, 1) for x in in_flight],
    }


def profiled(fn: Callable[[], dict[str, float]], out: Path) -> dict[str, float]:
    """``fn()`` under cProfile (the calling thread only: the event loop's), the stats dumped to ``out``."""
    import cProfile

    prof = cProfile.Profile(time.thread_time)  # CPU seconds of this thread, not wall time
    try:
        return prof.runcall(fn)
    finally:
        out.parent.mkdir(parents=True, exist_ok=True)
        prof.dump_stats(out)


def outcomes(store: Store) -> dict[str, Any]:
    """The stored call log by outcome, and the first errors (a failed attempt that was retried shows here)."""
    from sqlalchemy import func, select

    from newsroom.store.tables import ModelCallRow

    with store.session() as s:
        counts = dict(s.execute(select(ModelCallRow.outcome, func.count()).group_by(ModelCallRow.outcome)).all())
        errors = list(s.scalars(select(ModelCallRow.error).where(ModelCallRow.error.is_not(None)).limit(3)))
    return {"by_outcome": counts, "errors": errors}


def drafts(store: Store) -> dict[str, int]:
    """Articles held as drafts, per language (a guard failure in the scripted text would show here)."""
    from sqlalchemy import func, select

    from newsroom.store.tables import ArticleRow

    with store.session() as s:
        rows = s.execute(select(ArticleRow.lang, func.count()).where(ArticleRow.draft).group_by(ArticleRow.lang))
        return {lang: n for lang, n in rows}


def bench_settings(args: argparse.Namespace, tmp: str, feed_url: str, base_url: str, database_url: str) -> Settings:
    """The defaults, except where the bench's servers are (and, with ``--workers``, how the concurrency is shared)."""
    langs = args.languages.split(",")
    per_process = args.concurrency // max(1, args.workers)
    return Settings(
        database_url=database_url,
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
            concurrency=per_process,
            timeout_seconds=30,
        ),
        publish=PublishConfig(content_dir=Path(tmp) / "content"),
        images=ImagesConfig() if args.card_processes is None else ImagesConfig(card_processes=args.card_processes),
        # a worker runs as many story jobs as `newsroom run` keeps in flight for the same model slots (pipeline.py);
        # the schedule looks for the feed every second, so the first poll does not wait for a 10 s tick
        worker=WorkerConfig(concurrency=2 * per_process + 8, schedule_seconds=1),
    )


Runs = tuple[dict[str, Any], dict[str, float], dict[str, int], dict[str, Any], float]


def in_process(args: argparse.Namespace, settings: Settings, cpu: StageCPU, imported_s: float) -> Runs:
    """`newsroom run`'s scheduler in this process: the first run, then a second over the unchanged feed."""
    store = Store(settings.database_url)
    run = lambda: asyncio.run(one_run(settings, store))  # noqa: E731
    first = profiled(run, args.profile) if args.profile else run()
    stage_cpu = dict(cpu.seconds)
    held = drafts(store)
    first["calls_stored"] = outcomes(store)
    second = asyncio.run(one_run(settings, store, force=True))  # re-fetch the unchanged feed
    stage_cpu["event loop and the rest (HTTP, JSON, DB, scheduling)"] = first["cpu_s"] - sum(stage_cpu.values())
    return first, stage_cpu, held, second, imported_s + first["run_to_first_request_s"]


def write_toml(settings: Settings, path: Path) -> Path:
    """``settings`` as a newsroom.toml (what a `newsroom worker` reads): every field that differs from the default."""
    data = settings.model_dump(mode="json", exclude_defaults=True)

    def value(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict | list) or k == "languages"]
    for key, v in data.items():
        if isinstance(v, dict):
            lines += [f"[{key}]", *(f"{k} = {value(x)}" for k, x in v.items())]
    for src in data.get("sources", []):
        lines += ["[[sources]]", *(f"{k} = {value(x)}" for k, x in src.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def as_worker(out: Path, argv: list[str]) -> None:
    """The child of ``--workers``: `newsroom worker` (``argv``) with the stages' CPU timed as in this process; at exit
    its CPU per stage, its CPU and its peak RSS go to ``out``."""
    cpu = instrument()
    sys.argv = ["newsroom", *argv]
    try:
        from newsroom.cli import main as newsroom_main

        newsroom_main()
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cards = card_processes()
        out.write_text(
            json.dumps(
                {
                    "stage_cpu_s": dict(cpu.seconds),
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                    "peak_rss_mb": usage.ru_maxrss / 1024,
                    "card_processes": cards,
                }
            )
        )


def fresh_schema(base_url: str) -> tuple[str, str]:
    """A new schema in the PostgreSQL database ``base_url``: a URL whose search_path is that schema, and its name."""
    import os

    import psycopg

    schema = f"bench_pipeline_{os.getpid()}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
        conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def workers_done(store: Store, items: int) -> bool:
    """Every one of the feed's ``items`` stored, no poll or story job waiting or running, every story written or
    skipped and every article on disk (a poll stores its items in chunks: the first chunk's stories may all be done
    before the next chunk is stored)."""
    from sqlalchemy import func, select, text

    from newsroom.store.tables import ArticleRow, ItemRow, StoryRow

    with store.session() as s:
        stored = s.scalar(select(func.count()).select_from(ItemRow)) or 0
        left = s.scalar(select(func.count()).where(StoryRow.status.not_in(("written", "skipped"))))
        behind = s.scalar(select(func.count()).where(ArticleRow.published_version < ArticleRow.version))
        jobs = s.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name IN"
                " ('newsroom.process_story', 'newsroom.poll_source') AND status IN ('todo', 'doing')"
            )
        )
    return stored >= items and left == behind == jobs == 0


def with_workers(args: argparse.Namespace, settings: Settings, tmp: Path) -> Runs:
    """``--workers`` N `newsroom worker` processes on the store, from their start until every story is written and
    every article published; then SIGTERM (each must exit with 0). The wall time counts from the moment the first
    worker is registered (imports and its warm-up done: it takes jobs from then on)."""
    import os
    import signal

    import psutil
    from sqlalchemy import func, select, text

    from newsroom.store.tables import ArticleRow, ModelCallRow, StoryRow

    cfg = write_toml(settings, tmp / "newsroom.toml")
    store = Store(settings.database_url)  # migrated once here; the workers find it ready
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    outs = [tmp / f"worker{i}.json" for i in range(args.workers)]
    spawned = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--as-worker", str(out), "worker", "--config", str(cfg)],
            cwd=tmp,
            env=env,
            stdout=(tmp / f"worker{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i, out in enumerate(outs)
    ]
    try:
        ready: float | None = None
        ready_wall = 0.0
        cpu_at_ready = 0.0
        deadline = time.monotonic() + 1800
        while True:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker exited early; see {tmp}/worker*.log")
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not finish in 30 minutes")
            if ready is None:
                with store.session() as s:
                    registered = s.scalar(text("SELECT count(*) FROM procrastinate_workers")) or 0
                if registered:
                    ready, ready_wall = time.perf_counter(), time.time()
                    cpu_at_ready = sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in procs)
            elif workers_done(store, args.stories):
                break
            time.sleep(0.1)
        done = time.perf_counter()
        cpu_at_done = sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in procs)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(120) for p in procs]
        if codes != [0] * len(procs):
            raise SystemExit(f"SIGTERM: exit statuses {codes}, not 0; see {tmp}/worker*.log")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(30)
    children = [json.loads(out.read_text()) for out in outs]
    stage_cpu: defaultdict[str, float] = defaultdict(float)
    for child in children:
        for k, v in child["stage_cpu_s"].items():
            stage_cpu[k] += v
    with store.session() as s:
        calls, t_in, t_out, first_call = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ModelCallRow.tokens_in), 0),
                func.coalesce(func.sum(ModelCallRow.tokens_out), 0),
                func.min(ModelCallRow.created_at),
            )
        ).one()
        stories = s.scalar(select(func.count()).select_from(StoryRow)) or 0
        failed = s.scalar(select(func.count()).where(StoryRow.attempts > 0)) or 0
        files = s.scalar(select(func.count()).where(ArticleRow.path.is_not(None))) or 0
    held = drafts(store)
    calls_stored = outcomes(store)
    store.close()
    first_request = first_call.replace(tzinfo=first_call.tzinfo or UTC).timestamp() - ready_wall if first_call else 0.0
    total_cpu = sum(c["cpu_s"] for c in children)
    stage_cpu["workers: the rest (event loop, HTTP, JSON, DB, procrastinate; imports, warm-up)"] = total_cpu - sum(
        stage_cpu.values()
    )
    assert ready is not None
    first = {
        "wall_s": done - ready,
        "first_story_s": first_request,
        "articles_published_s": done - ready,
        "run_to_first_request_s": first_request,
        "cpu_to_first_request_s": cpu_at_ready,
        "process_s": done - ready,
        "cpu_s": cpu_at_done - cpu_at_ready,
        "stories": stories,
        "model_calls": calls,
        "tokens_in": t_in,
        "tokens_out": t_out,
        "files": files,
        "failures": failed,
        "thread_cpu_s": {},
        "workers": args.workers,
        "spawn_to_ready_s": ready - spawned,
        "workers_cpu_s_from_start": total_cpu,
        "workers_cpu_s_each": [round(c["cpu_s"], 2) for c in children],  # each worker's CPU, from its start
        "workers_peak_rss_mb": [round(c["peak_rss_mb"], 1) for c in children],
        "card_processes": {
            "processes": sum(c["card_processes"]["processes"] for c in children),
            "cpu_s": round(sum(c["card_processes"]["cpu_s"] for c in children), 3),
            "peak_rss_mb": [x for c in children for x in c["card_processes"]["peak_rss_mb"]],
        },
        "calls_stored": calls_stored,
    }
    second = {"model_calls": None, "wall_s": None}
    return first, dict(stage_cpu), held, second, ready - spawned + max(0.0, first_request)


def main() -> None:
    imported_s = process_age_s()  # interpreter start and imports, as a `newsroom run` pays them
    if len(sys.argv) > 2 and sys.argv[1] == "--as-worker":
        as_worker(Path(sys.argv[2]), sys.argv[3:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stories", type=int, default=500)
    ap.add_argument("--latency-ms", type=int, default=250)
    ap.add_argument("--concurrency", type=int, default=32, help="model calls at once, in all (shared by the workers)")
    ap.add_argument("--languages", default="en,uk,de")
    ap.add_argument("--workers", type=int, default=0, help="N `newsroom worker` processes on PostgreSQL instead")
    ap.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="with --workers: the PostgreSQL database (a fresh schema is made in it, and dropped at the end)",
    )
    ap.add_argument("--out", type=Path, help="default: bench/results/pipeline.json (pipeline-workers.json)")
    ap.add_argument("--profile", type=Path, help="cProfile the event loop's thread during the first run into this file")
    ap.add_argument("--keep", type=Path, help="copy the articles and the cover cards here (content/, covers/)")
    ap.add_argument(
        "--card-processes",
        type=int,
        help="images.card_processes (default: the configuration's default; 0: cards drawn in a thread in-process)",
    )
    args = ap.parse_args()
    args.out = args.out or HERE / "results" / ("pipeline-workers.json" if args.workers else "pipeline.json")
    langs = args.languages.split(",")
    cpu = instrument()

    server, base_url = start_scripted_server(args.latency_ms)
    schema = None
    server_cpu = 0.0
    try:
        with tempfile.TemporaryDirectory() as tmp, serve_demo_feed(synthetic_feed(args.stories)) as feed_url:
            if args.workers:
                collector.resume_collector()  # this process only starts the workers (each pauses its own)
                url, schema = fresh_schema(args.database_url)
                settings = bench_settings(args, tmp, feed_url, base_url, url)
                first, stage_cpu, held, second, startup = with_workers(args, settings, Path(tmp))
            else:
                settings = bench_settings(args, tmp, feed_url, base_url, f"sqlite:///{tmp}/bench.db")
                first, stage_cpu, held, second, startup = in_process(args, settings, cpu, imported_s)
            if args.keep:
                import shutil

                shutil.copytree(settings.publish.content_dir, args.keep / "content")
                shutil.copytree(settings.publish.covers_folder(), args.keep / "covers")
        server_cpu = process_cpu(server.pid)  # both runs' requests (the second makes none)
    finally:
        server.terminate()
        server.wait(10)
        if schema is not None:
            drop_schema(args.database_url, schema)

    floor = first["model_calls"] * args.latency_ms / 1000 / args.concurrency
    articles = max(1, first["stories"] * len(langs))
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
        "cpu_s_per_thread": {
            k: round(v, 3)
            for k, v in sorted(first.pop("thread_cpu_s").items(), key=lambda kv: -kv[1])  # type: ignore[attr-defined]
        },
        "startup_to_first_request_s": round(startup, 3),
        "startup_cpu_to_first_request_s": round(first["cpu_to_first_request_s"], 3),
        "bytecode_compile_left_out": {"wall_s": round(COMPILED.wall_s, 3), "cpu_s": round(COMPILED.cpu_s, 3)},
        "tokens_per_article_language": round((first["tokens_in"] + first["tokens_out"]) / articles, 1),
        "second_run_model_calls": second["model_calls"],
        "second_run_wall_s": None if second["wall_s"] is None else round(second["wall_s"], 3),
        "card_processes": first.pop("card_processes"),
        # the scripted server is the bench's, not the product's: its CPU shares the same cores, so it is reported
        "scripted_server_cpu_s": round(server_cpu, 3),
        "peak_rss_mb": max(
            first.get("workers_peak_rss_mb") or [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
        ),
        "python": sys.version.split()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    where = f"{args.workers} workers on PostgreSQL" if args.workers else "`newsroom run`, SQLite"
    target = 1.15 if args.workers else 1.10
    t = Table(title=f"pipeline (default configuration, {where}): {args.stories} stories x {len(langs)} languages")
    t.add_column("measure")
    t.add_column("value", justify="right")
    rows = [
        ("stories (after same-event clustering)", str(first["stories"])),
        ("model calls", str(first["model_calls"])),
        ("  per article-language (target <= 1.05)", f"{result['calls_per_article_language']}"),
        ("failures / drafts", f"{first['failures']} / {sum(held.values())}"),
        ("wall time (poll + process + publish)", f"{first['wall_s']:.2f} s"),
        (
            "  until the first model request (the first worker registered: 0)"
            if args.workers
            else "  until the first story starts (fetch, parse, store a chunk)",
            f"{first['first_story_s']:.2f} s",
        ),
        ("  until every article is published (cards may still be drawing)", f"{first['articles_published_s']:.2f} s"),
        *(
            [
                (
                    "  first request to last reply; model slots busy in it",
                    f"{first['calls_span_s']:.2f} s; {first['slots_busy']:.0%}",
                )
            ]
            if "calls_span_s" in first
            else []
        ),
        ("model-bound floor (calls x latency / concurrency)", f"{floor:.2f} s"),
        (f"wall / floor (target <= {target:.2f})", f"{result['ratio_wall_to_floor']}"),
        ("every article published / floor", f"{result['ratio_articles_published_to_floor']}"),
        ("startup to the first model request (imports included)", f"{startup:.2f} s"),
        (
            "  CPU of the workers until the first registered (imports, warm-up)"
            if args.workers
            else "  its CPU time (all threads, imports included)",
            f"{first['cpu_to_first_request_s']:.2f} s",
        ),
        (
            "pipeline CPU time ("
            + ("the workers, from the first registered" if args.workers else "this process")
            + ")",
            f"{first['cpu_s']:.2f} s",
        ),
    ]
    cards = result["card_processes"]
    rows.append(
        (
            f"  CPU of the card processes ({cards['processes']}), beside " + ("the workers" if args.workers else "it"),
            f"{cards['cpu_s']:.2f} s",
        )
    )
    if args.workers:
        rows.append(
            (
                "  the workers' CPU from their start (stages below: from the start)",
                f"{first['workers_cpu_s_from_start']:.2f} s",
            )
        )
        rows.append(
            ("  each worker's CPU from its start", " / ".join(f"{c:.2f} s" for c in first["workers_cpu_s_each"]))
        )
    rows.append(("  CPU of the scripted server (the bench's, not the pipeline's)", f"{server_cpu:.2f} s"))
    rows += [(f"  CPU: {k}", f"{v:.2f} s") for k, v in result["cpu_s_per_stage"].items()]
    rows += [(f"  CPU by thread: {k}", f"{v:.2f} s") for k, v in result["cpu_s_per_thread"].items()]
    rows += [
        ("tokens per article-language", f"{result['tokens_per_article_language']}"),
        ("second run: model calls", "not run" if second["model_calls"] is None else str(second["model_calls"])),
        ("second run: wall", "not run" if second["wall_s"] is None else f"{second['wall_s']:.2f} s"),
        (
            "peak RSS (target <= 1000 MB)" + (", the largest worker" if args.workers else ""),
            f"{result['peak_rss_mb']:.1f} MB",
        ),
        ("  peak RSS of each card process", " / ".join(f"{x:.1f} MB" for x in cards["peak_rss_mb"]) or "none ran"),
        ("uptime", result["uptime"]),
    ]
    for r in rows:
        t.add_row(*r)
    Console(width=120).print(t)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

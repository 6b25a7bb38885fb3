"""Benchmark: an outage of the model endpoint during `newsroom run --watch`; every story is written after it returns,
with no manual step.

The SCRIPTED OpenAI-compatible server (newsroom.devtools.scripted_llm, its own process) stands in for the model and
a synthetic RSS feed (bench/pipeline.py's invented stories) is served on 127.0.0.1. The outage starts with the watch:
every story's first try fails, and the stories back off (``[stories] retry_base_seconds``, doubling, capped at
``retry_max_seconds``: 60 s, 2, 4, 8 min … 1 h by default). Two kinds of outage: ``503`` (the server answers every
request, ``/v1/models`` too, with HTTP 503: ``/_outage``) and ``refuse`` (the server process is stopped and started
again on the same port: connections refused). At the start of each round the watch probes the endpoint
(``GET /models``, llm/health.py) while stories wait on an outage; once a probe that found it down is followed by
one that finds it up, those stories are due at once. The bench measures how long after the end of the outage the
last story is written, and checks that every story has its article in every language.

    .venv/bin/python bench/outage.py                                       # 600 s outage, rounds every 60 s
    .venv/bin/python bench/outage.py --outage-seconds 20 --every 5         # a quick look
    .venv/bin/python bench/outage.py --outage-seconds 20 --every 5 --kind refuse

Prints a table and writes bench/results/outage.json (bench/results/ is not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from newsroom.demo import serve_demo_feed
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, ModelCallRow, StoryRow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HERE, ScriptedServer, newsroom, write_config
from pipeline import synthetic_feed

LANGUAGES = ("en", "uk")


def progress(url: str) -> dict[str, int]:
    store = Store(url)
    try:
        with store.session() as s:
            return {
                "items": s.scalar(select(func.count()).select_from(ItemRow)) or 0,
                "stories": s.scalar(select(func.count()).select_from(StoryRow)) or 0,
                "skipped": s.scalar(select(func.count()).where(StoryRow.status == "skipped")) or 0,
                "written": s.scalar(select(func.count()).where(StoryRow.status == "written")) or 0,
                "failed_tries": s.scalar(select(func.coalesce(func.sum(StoryRow.attempts), 0))) or 0,
                "articles": s.scalar(select(func.count()).select_from(ArticleRow)) or 0,
            }
    finally:
        store.close()


def backoff_schedule(outage_s: float, base: float, cap: float, every: float) -> float:
    """When a story that first failed at 0 would be tried again after the outage on its backoff alone (rounds every
    ``every`` seconds): what the probe saves."""
    t, attempts = 0.0, 1
    while t < outage_s:
        wait = min(cap, base * 2 ** (attempts - 1))
        t = every * -(-(t + wait) // every)  # tries happen at round starts
        attempts += 1
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--outage-seconds", type=float, default=600.0)
    ap.add_argument("--kind", choices=("503", "refuse"), default="503")
    ap.add_argument("--every", type=float, default=60.0, help="seconds between rounds of run --watch")
    ap.add_argument("--stories", type=int, default=20)
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--retry-base", type=float, default=60.0, help="[stories] retry_base_seconds")
    ap.add_argument("--retry-max", type=float, default=3600.0, help="[stories] retry_max_seconds")
    ap.add_argument("--max-wait", type=float, default=900.0, help="give up this long after the outage ends")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "outage.json")
    ap.add_argument("--workdir", type=Path, help="keep the database, articles and run.log here (default: a temp dir)")
    args = ap.parse_args()
    console = Console()
    server = ScriptedServer(args.latency_ms)
    server.start()
    cpu0 = os.times()
    timeline: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp_name, serve_demo_feed(synthetic_feed(args.stories)) as feed_url:
            tmp = args.workdir or Path(tmp_name)
            tmp.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{tmp / 'n.db'}"
            cfg = write_config(
                tmp, database_url=url, feed_url=feed_url, llm_url=server.v1, items=args.stories,
                extra_stories=f"retry_base_seconds = {args.retry_base}\nretry_max_seconds = {args.retry_max}",
            )  # fmt: skip
            if args.kind == "503":
                server.outage(args.outage_seconds)
            else:
                server.stop()
            start = time.monotonic()
            ends = start + args.outage_seconds
            watch = newsroom(cfg, "run", "--watch", "--force", "--every", f"{args.every:g}", log=tmp / "run.log")
            done_at: float | None = None
            last: dict[str, int] = {}
            try:
                while time.monotonic() < ends + args.max_wait:
                    time.sleep(1.0)
                    now = time.monotonic()
                    if args.kind == "refuse" and server.proc is None and now >= ends:
                        server.start()
                        console.print(f"{now - start:6.0f} s: the endpoint is back (server restarted)")
                    if watch.poll() is not None:
                        raise SystemExit(f"run --watch ended ({watch.returncode}); see {tmp / 'run.log'}")
                    if not (tmp / "n.db").exists():
                        continue
                    state = progress(url)
                    if state != last:
                        timeline.append({"t": round(now - start, 1), **state})
                        console.print(f"{now - start:6.0f} s: {state}")
                        last = state
                    wanted = state["stories"] - state["skipped"]
                    if now >= ends and state["items"] == args.stories and state["written"] == wanted:
                        done_at = now
                        break
            finally:
                watch.send_signal(signal.SIGINT)  # what Ctrl-C does: the watch says "stopped" and ends
                try:
                    watch.wait(60)
                except Exception:
                    watch.kill()
            store = Store(url)
            try:
                with store.session() as s:
                    outcomes = dict(
                        s.execute(select(ModelCallRow.outcome, func.count()).group_by(ModelCallRow.outcome)).all()
                    )
                    per_story = dict(
                        s.execute(select(ArticleRow.story_id, func.count()).group_by(ArticleRow.story_id)).all()
                    )
                    wanted_ids = set(s.scalars(select(StoryRow.id).where(StoryRow.status != "skipped")))
                    stats_calls = sum(u["calls"] for u in queries.stats(s)["model_usage"].values())
                    errors = s.scalar(select(func.count()).where(StoryRow.last_error.is_not(None))) or 0
            finally:
                store.close()
            final = progress(url)
            server_stats = server.stats() if server.proc is not None else {}
    finally:
        server.stop()
    cpu1 = os.times()
    r: dict[str, Any] = {
        "command": "python bench/outage.py " + " ".join(sys.argv[1:]),
        "data": f"synthetic feed of {args.stories} invented stories (bench/pipeline.py), scripted model server at"
        f" {args.latency_ms:g} ms, SQLite, en + uk; `newsroom run --watch --every {args.every:g}`",
        "kind": args.kind,
        "outage_s": args.outage_seconds,
        "every_s": args.every,
        "retry_base_s": args.retry_base,
        "retry_max_s": args.retry_max,
        **final,
        "stories_missing_a_language": sum(1 for sid in wanted_ids if per_story.get(sid, 0) != len(LANGUAGES)),
        "stories_with_an_error_left": errors,
        "written_s_after_the_outage": None if done_at is None else round(done_at - ends, 1),
        "backoff_alone_next_try_s_after_the_outage": round(
            backoff_schedule(args.outage_seconds, args.retry_base, args.retry_max, args.every) - args.outage_seconds, 1
        ),
        "calls_by_outcome": outcomes,
        "stats_calls": stats_calls,
        "server_after_the_outage": server_stats,  # 503 kind: the whole run; refuse kind: since the restart
        "cpu_seconds_children": round(
            cpu1.children_user + cpu1.children_system - cpu0.children_user - cpu0.children_system, 1
        ),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "timeline": timeline,
    }
    r["ok"] = bool(
        done_at is not None and r["stories_missing_a_language"] == 0 and r["stories_with_an_error_left"] == 0
    )
    title = f"outage: {args.outage_seconds:g} s of {args.kind} during run --watch, rounds every {args.every:g} s"
    t = Table(title=title)
    t.add_column("check")
    t.add_column("value", justify="right")
    for key in (
        "items", "stories", "skipped", "written", "articles", "stories_missing_a_language",
        "stories_with_an_error_left", "failed_tries", "written_s_after_the_outage",
        "backoff_alone_next_try_s_after_the_outage", "calls_by_outcome", "stats_calls", "cpu_seconds_children", "ok",
    ):  # fmt: skip
        t.add_row(key, str(r[key]))
    console.print(t)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")
    if not r["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Benchmark: kill -9 at random moments across `newsroom run` on SQLite, then a clean finish; nothing lost or doubled.

A synthetic RSS feed (bench/pipeline.py's invented stories, one event each) is served on 127.0.0.1 and the SCRIPTED
OpenAI-compatible server (newsroom.devtools.scripted_llm, its own process, fixed latency) stands in for the model. Each
round starts `newsroom run` as a subprocess and sends it SIGKILL after a random delay; a last round runs to the end.
Then it checks: every feed item stored (0 lost), one file per article and one article per story and language (0
orphan or duplicate files, no .tmp left), the calls whose results the kills lost (``started`` rows never completed)
at most the calls in flight at each kill, and `stats` counting every call the scripted server answered.

    .venv/bin/python bench/chaos.py                       # 24 kills, 40 stories, 150 ms latency
    .venv/bin/python bench/chaos.py --kills 5 --stories 10

Prints a table and writes bench/results/chaos.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from newsroom.demo import serve_demo_feed
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, ModelCallRow, StoryRow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import synthetic_feed

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/_stats", timeout=10) as r:
        return json.loads(r.read())


def write_config(tmp: Path, feed_url: str, llm_url: str, stories: int) -> Path:
    cfg = tmp / "newsroom.toml"
    cfg.write_text(
        f"""
database_url = "sqlite:///{tmp / "n.db"}"
languages = ["en", "uk"]
max_items_per_source = {stories}
[llm]
provider = "openai"
base_url = "{llm_url}"
model = "scripted"
concurrency = 8
max_retries = 0
timeout_seconds = 30
[fetch]
allow_private_networks = true
[publish]
content_dir = "{tmp / "content"}"
[guards]
enabled = false
[extract]
enabled = false
[images]
provider = "none"
[stories]
same_event = false
retry_base_seconds = 0
[[sources]]
key = "wire"
name = "Wire"
url = "{feed_url}"
interval_minutes = 1
""",
        encoding="utf-8",
    )
    return cfg


def run_cmd(cfg: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-m", "newsroom", "run", "--force", "--config", str(cfg)],
        cwd=cfg.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def unfinished(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).where(ModelCallRow.outcome == "started")) or 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=24)
    ap.add_argument("--stories", type=int, default=40)
    ap.add_argument("--latency-ms", type=float, default=150.0)
    ap.add_argument("--max-delay", type=float, default=8.0, help="longest random wait before a kill, seconds")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "chaos.json")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    console = Console()
    port = free_port()
    llm_proc = subprocess.Popen(
        [sys.executable, "-m", "newsroom.devtools.scripted_llm", "--port", str(port), "--latency-ms",
         str(args.latency_ms)],
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    kills: list[dict[str, object]] = []
    started = time.perf_counter()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server_stats(base)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp_name, serve_demo_feed(synthetic_feed(args.stories)) as feed_url:
            tmp = Path(tmp_name)
            cfg = write_config(tmp, feed_url, f"{base}/v1", args.stories)
            store: Store | None = None
            for k in range(args.kills):
                if store is None and (tmp / "n.db").exists():
                    store = Store(f"sqlite:///{tmp / 'n.db'}")
                before = unfinished(store) if store else 0
                proc = run_cmd(cfg)
                delay = rnd.uniform(0.5, args.max_delay)
                time.sleep(delay)
                in_flight = server_stats(base)["in_flight"]
                if proc.poll() is not None:
                    kills.append({"round": k, "delay_s": round(delay, 2), "killed": False})
                    continue
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                store = store or Store(f"sqlite:///{tmp / 'n.db'}")
                with store.session() as s:
                    open_calls = unfinished(store)
                    written = s.scalar(select(func.count()).select_from(ArticleRow))
                kills.append(
                    {
                        "round": k,
                        "delay_s": round(delay, 2),
                        "killed": True,
                        "server_in_flight": in_flight,
                        "lost_calls": open_calls - before,  # started, never completed: their replies died
                        "articles_so_far": written,
                    }
                )
                console.print(f"kill {k + 1}/{args.kills} after {delay:.1f} s: {kills[-1]}")
            final = run_cmd(cfg)
            _, err = final.communicate(timeout=1800)
            if final.returncode != 0:
                raise SystemExit(f"the clean run failed ({final.returncode}): {err.decode()[-2000:]}")
            store = store or Store(f"sqlite:///{tmp / 'n.db'}")
            answered = server_stats(base)
            result = check(store, tmp / "content", args.stories, answered, kills, args)
            store.close()
    finally:
        llm_proc.terminate()
        llm_proc.wait(10)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_average"] = os.getloadavg()
    report(console, result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")
    if not result["ok"]:
        raise SystemExit(1)


def check(
    store: Store, content: Path, expected_items: int, server: dict[str, int], kills: list[dict[str, object]], args
) -> dict[str, object]:  # type: ignore[no-untyped-def]
    with store.session() as s:
        items = s.scalar(select(func.count()).select_from(ItemRow)) or 0
        stories = s.scalar(select(func.count()).select_from(StoryRow)) or 0
        written = s.scalar(select(func.count()).where(StoryRow.status == "written")) or 0
        articles = s.scalars(select(ArticleRow)).all()
        calls = s.scalar(select(func.count()).select_from(ModelCallRow)) or 0
        ok_calls = s.scalar(select(func.count()).where(ModelCallRow.outcome == "ok")) or 0
        lost = s.scalar(select(func.count()).where(ModelCallRow.outcome == "started")) or 0
        stats_calls = sum(u["calls"] for u in queries.stats(s)["model_usage"].values())
    files = sorted(content.rglob("*.md"))
    paths = {Path(a.path).resolve() for a in articles if a.path}
    per_story_lang = {(a.story_id, a.lang) for a in articles}
    killed = [k for k in kills if k.get("killed")]
    over = [k for k in killed if int(k["lost_calls"]) > 8]  # type: ignore[call-overload]
    result: dict[str, object] = {
        "command": "python bench/chaos.py " + " ".join(sys.argv[1:]),
        "data": f"synthetic feed of {expected_items} invented stories (bench/pipeline.py), scripted model server "
        f"at {args.latency_ms:g} ms, SQLite, en + uk",
        "kills": len(killed),
        "items_expected": expected_items,
        "items_stored": items,
        "items_lost": expected_items - items,
        "stories": stories,
        "stories_written": written,
        "articles": len(articles),
        "articles_expected": 2 * stories,
        "duplicate_articles": len(articles) - len(per_story_lang),
        "files": len(files),
        "orphan_files": len([f for f in files if f.resolve() not in paths]),
        "missing_files": len([p for p in paths if not p.exists()]),
        "tmp_files": len(list(content.rglob("*.tmp"))),
        "ok_calls": ok_calls,
        "ok_calls_expected": 2 * stories,
        "lost_calls_total": lost,
        "max_lost_calls_at_one_kill": max((int(k["lost_calls"]) for k in killed), default=0),  # type: ignore[call-overload]
        "kills_losing_more_than_the_concurrency": len(over),
        "stats_calls": stats_calls,
        "model_call_rows": calls,
        "server_requests": server["requests"],
        "server_answered": server["answered"],
        "per_kill": kills,
    }
    result["ok"] = (
        result["items_lost"] == 0
        and written == stories
        and len(articles) == 2 * stories
        and result["duplicate_articles"] == 0
        and result["orphan_files"] == 0
        and result["missing_files"] == 0
        and result["tmp_files"] == 0
        and len(files) == len(articles)
        and ok_calls == 2 * stories
        and not over
        and stats_calls >= server["answered"]
    )
    return result


def report(console: Console, r: dict[str, object]) -> None:
    t = Table(title=f"chaos: {r['kills']} x kill -9 across `newsroom run` (SQLite), then a clean finish")
    t.add_column("check")
    t.add_column("value", justify="right")
    for key in (
        "items_expected", "items_lost", "stories", "stories_written", "articles", "articles_expected",
        "duplicate_articles", "files", "orphan_files", "missing_files", "tmp_files", "ok_calls", "ok_calls_expected",
        "lost_calls_total", "max_lost_calls_at_one_kill", "kills_losing_more_than_the_concurrency", "stats_calls",
        "server_answered", "server_requests", "seconds", "ok",
    ):  # fmt: skip
        t.add_row(key, str(r[key]))
    console.print(t)


if __name__ == "__main__":
    main()

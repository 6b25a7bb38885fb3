"""Benchmark: kill -9 at random moments across `newsroom run` on SQLite, then a clean finish; nothing lost or doubled.

A synthetic RSS feed (bench/pipeline.py's invented stories, one event each) is served on 127.0.0.1 and the SCRIPTED
OpenAI-compatible server (newsroom.devtools.scripted_llm, its own process, fixed latency) stands in for the model.
Each round starts the processes under test and sends SIGKILL at a random moment (seeded): most rounds a random delay
after the round's first model request (calls in flight, replies arriving, classifiers running, files being written),
the others a random delay after the start (migrations, the sweep, polling). Rounds go on until ``--kills`` kills;
then a clean finish runs to the end. Then it checks, from the database and the content folder:

- every feed item stored (0 lost); every story written once per language; one file per article, none orphan or
  missing, no ``.tmp`` left;
- the model calls a kill wasted (requests the server received in that round whose outcome the killed process did not
  store) at most the calls in flight at that kill: this round's requests the server had open at the kill's instant
  (``/_in_flight``), plus those it answered in the second before (a reply on the wire or being committed is in
  flight for the process; the table shows both, and how many kills needed the second); every reply that arrived
  before a kill stored and reused (``llm/replies.py``), so no article's call is answered twice (``answered_unused``
  0); attempts announced but killed before they were sent are counted apart (``never_sent``: the endpoint never saw
  them);
- `stats` counting every request the scripted server saw, plus the announced attempts never sent.

How the processes are launched is a ``Launcher`` (only ``RunLauncher``: one `newsroom run` on SQLite per round);
the kill loop (``chaos``) and the checks (``verify``) only need a database URL, a content folder and the launcher, so
a mode with N `newsroom worker` processes on PostgreSQL is one more class.

    .venv/bin/python bench/chaos.py                          # 24 kills, 120 stories, 1.5 s latency, seed 11
    .venv/bin/python bench/chaos.py --kills 5 --stories 20   # a quick look

Prints a table per kill and a summary, and writes bench/results/chaos.json (bench/results/ is not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from newsroom.demo import serve_demo_feed
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, ModelCallRow, ModelReplyRow, StoryRow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HERE, ScriptedServer, newsroom, write_config
from pipeline import synthetic_feed

LANGUAGES = ("en", "uk")
# a reply the server sent this shortly before a kill may still be on its way or waiting for its commit: a loss among
# those is reported apart from a loss beyond anything in flight
JUST_ANSWERED_S = 1.0


# ---- how the processes under test are launched -----------------------------------------------------------------------


class Launcher(Protocol):
    """Starts the processes under test, kills them, and runs the clean finish. The kill loop knows nothing else."""

    mode: str
    database_url: str

    def start(self) -> None:
        """Begin a round: start whatever should be running and is not."""

    def running(self) -> bool:
        """Whether a process under test still runs (a round whose work ended before its kill has nothing to kill)."""

    def kill(self, rnd: random.Random) -> list[int]:
        """kill -9 now (every process of the round, or one chosen with ``rnd``); the pids killed, once they are
        dead."""

    def finish(self, timeout: float) -> None:
        """Run to the end without kills; raise when that fails."""

    def close(self) -> None:
        """Stop whatever still runs."""


class RunLauncher:
    """SQLite: one `newsroom run --force` per round, killed with SIGKILL (or left to end by itself)."""

    mode = "run-sqlite"

    def __init__(self, cfg: Path, database_url: str, log: Path) -> None:
        self.cfg = cfg
        self.database_url = database_url
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = newsroom(self.cfg, "run", "--force", log=self.log)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, rnd: random.Random) -> list[int]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        return [self.proc.pid]

    def finish(self, timeout: float) -> None:
        self.start()
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if code != 0:
            raise SystemExit(f"the clean run failed ({code}); see {self.log}")

    def close(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(30)


# ---- the kill loop ---------------------------------------------------------------------------------------------------


@dataclass
class Kill:
    round: int
    phase: str  # "work": delay counted from the round's first model request; "startup": from the process start
    delay_s: float
    killed: bool
    in_flight: int = 0  # this round's requests the server had open at the kill's instant
    just_answered: int = 0  # this round's requests the server finished in the JUST_ANSWERED_S before the kill
    sent: int = 0  # requests the server received in this round
    wasted_calls: int = 0  # of those, the ones whose outcome the process did not keep (the reply died with it)
    never_sent: int = 0  # attempts announced ("started" row) and killed before the request left
    replies_kept: int = 0  # replies stored, not yet in an article: reused by the next round, not asked again
    articles_so_far: int = 0


@dataclass
class _Calls:
    started: int = 0  # "started" rows: calls whose outcome no process recorded
    completed: int = 0  # rows with an outcome
    kept: int = 0  # stored replies
    articles: int = 0


def _snapshot(url: str) -> _Calls:
    if not _exists(url):
        return _Calls()
    store = Store(url)
    try:
        with store.session() as s:
            started = s.scalar(select(func.count()).where(ModelCallRow.outcome == "started")) or 0
            return _Calls(
                started=started,
                completed=(s.scalar(select(func.count()).select_from(ModelCallRow)) or 0) - started,
                kept=s.scalar(select(func.count()).select_from(ModelReplyRow)) or 0,
                articles=s.scalar(select(func.count()).select_from(ArticleRow)) or 0,
            )
    finally:
        store.close()


def _exists(url: str) -> bool:
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists()


def chaos(
    launcher: Launcher, server: ScriptedServer, rnd: random.Random, kills: int, max_delay: float,
    startup_share: float, console: Console,
) -> list[Kill]:  # fmt: skip
    """Rounds of start → random wait → kill -9 until ``kills`` kills (at most 3 × ``kills`` rounds). Per round: the
    requests the server received, and of them those whose outcome the killed process did not store (wasted)."""
    out: list[Kill] = []
    before = _snapshot(launcher.database_url)
    for k in range(3 * kills):
        if sum(x.killed for x in out) >= kills:
            break
        requests_before = server.stats()["requests"]
        t_spawn = time.monotonic()
        launcher.start()
        phase = "startup" if rnd.random() < startup_share else "work"
        delay = round(rnd.uniform(0.1, max_delay), 2)
        t0 = time.monotonic()
        if phase == "work":  # count from the round's first model request
            while server.stats()["requests"] == requests_before and launcher.running() and time.monotonic() < t0 + 300:
                time.sleep(0.02)
            t0 = time.monotonic()
        while launcher.running() and time.monotonic() < t0 + delay:
            time.sleep(0.01)
        killed = launcher.running()
        t_kill = time.monotonic()
        if killed:
            launcher.kill(rnd)
        time.sleep(0.3)  # a request the process sent just before it died may still be on its way to the server
        kill = Kill(k, phase, delay, killed=killed)
        if killed:
            kill.in_flight, kill.just_answered = server.in_flight_at(t_kill, time.monotonic(), t_spawn, JUST_ANSWERED_S)
        after = _snapshot(launcher.database_url)
        kill.sent = server.stats()["requests"] - requests_before
        kill.wasted_calls = kill.sent - (after.completed - before.completed)
        kill.never_sent = (after.started - before.started) - kill.wasted_calls
        kill.replies_kept, kill.articles_so_far = after.kept, after.articles
        before = after
        out.append(kill)
        if not killed:
            console.print(f"round {k}: the run ended before its kill ({phase} + {delay} s)")
            continue
        console.print(
            f"kill {sum(x.killed for x in out)}/{kills} (round {k}, {phase} + {delay} s): sent {kill.sent}, in flight"
            f" {kill.in_flight} (+{kill.just_answered} just answered), wasted {kill.wasted_calls}, never sent"
            f" {kill.never_sent}, replies kept {kill.replies_kept}, articles {kill.articles_so_far}"
        )
    return out


# ---- the checks ------------------------------------------------------------------------------------------------------


def verify(url: str, content: Path, expected_items: int, server: dict[str, int], kills: list[Kill]) -> dict[str, Any]:
    """What the run left, checked against the targets of issue 11 (database and folder only: any launcher)."""
    store = Store(url)
    try:
        with store.session() as s:
            items = s.scalar(select(func.count()).select_from(ItemRow)) or 0
            stories = s.scalar(select(func.count()).select_from(StoryRow)) or 0
            written = s.scalar(select(func.count()).where(StoryRow.status == "written")) or 0
            skipped = set(s.scalars(select(StoryRow.id).where(StoryRow.status == "skipped")))
            story_ids = set(s.scalars(select(StoryRow.id))) - skipped
            articles = s.scalars(select(ArticleRow)).all()
            by_outcome = select(ModelCallRow.outcome, func.count()).group_by(ModelCallRow.outcome)
            outcomes: Counter[str] = Counter(dict(s.execute(by_outcome).all()))  # type: ignore[arg-type]
            kept = s.scalar(select(func.count()).select_from(ModelReplyRow)) or 0
            stats_calls = sum(u["calls"] for u in queries.stats(s)["model_usage"].values())
    finally:
        store.close()
    files = sorted(content.rglob("*.md"))
    paths = {Path(a.path).resolve() for a in articles if a.path}
    per_story = Counter((a.story_id, a.lang) for a in articles)
    langs: dict[int, set[str]] = {}
    for story_id, lang in per_story:
        langs.setdefault(story_id, set()).add(lang)
    killed = [k for k in kills if k.killed]
    over = [k.round for k in killed if k.wasted_calls > k.in_flight]
    over_both = [k.round for k in killed if k.wasted_calls > k.in_flight + k.just_answered]
    useful = len(LANGUAGES) * len(story_ids)  # guards off: one write and one translation per story written
    r: dict[str, Any] = {
        "kills": len(killed),
        "items_expected": expected_items,
        "items_stored": items,
        "items_lost": expected_items - items,
        "stories": stories,
        "stories_skipped": len(skipped),  # by the select stage (as in a run without kills): no article wanted
        "stories_written": written,
        "stories_not_once_per_language": sum(1 for sid in story_ids if langs.get(sid) != set(LANGUAGES)),
        "articles": len(articles),
        "duplicate_articles": sum(n - 1 for n in per_story.values()),
        "files": len(files),
        "orphan_files": len([f for f in files if f.resolve() not in paths]),
        "missing_files": len([p for p in paths if not p.exists()]),
        "tmp_files": len(list(content.rglob("*.tmp"))),
        "calls_needed": useful,
        "ok_calls": outcomes.get("ok", 0),
        "answered_unused": outcomes.get("ok", 0) - useful,  # answered replies no article used (a second call)
        "lost_calls_total": outcomes.get("started", 0),
        "failed_calls": sum(n for o, n in outcomes.items() if o not in ("ok", "started")),
        "in_flight_total": sum(k.in_flight for k in killed),
        "wasted_calls_at_kills": sum(k.wasted_calls for k in kills),
        "never_sent_total": sum(k.never_sent for k in kills),
        "max_wasted_at_one_kill": max((k.wasted_calls for k in killed), default=0),
        "kills_wasting_more_than_in_flight": len(over),
        "kills_wasting_more_than_in_flight_or_just_answered": len(over_both),
        "replies_kept_max": max((k.replies_kept for k in killed), default=0),  # stored, reused after the kill
        "replies_left": kept,
        "stats_calls": stats_calls,
        "server_requests": server["requests"],
        "server_answered": server["answered"],
    }
    # every call the endpoint saw that no article used: lost at a kill, answered twice, or failed (a timeout here is a
    # reply the process gave up on)
    r["wasted_calls"] = r["answered_unused"] + r["wasted_calls_at_kills"] + r["failed_calls"]
    r["ok"] = bool(
        r["items_lost"] == 0
        and written == len(story_ids)
        and not any(sid in skipped for sid, _ in per_story)
        and r["stories_not_once_per_language"] == 0
        and r["duplicate_articles"] == 0
        and r["orphan_files"] == r["missing_files"] == r["tmp_files"] == 0
        and len(files) == len(articles)
        and r["answered_unused"] == 0
        and not over_both
        and r["failed_calls"] == 0
        and stats_calls == r["server_requests"] + r["never_sent_total"]
        and r["server_answered"] <= stats_calls
    )
    return r


# ---- the report ------------------------------------------------------------------------------------------------------


def report(console: Console, r: dict[str, Any]) -> None:
    per = Table(title="each kill -9")
    for col in ("kill", "phase", "delay s", "sent", "in flight", "just answered", "wasted", "never sent", "kept"):
        per.add_column(col, justify="right")
    killed = [k for k in r["per_kill"] if k["killed"]]
    for i, k in enumerate(killed, 1):
        per.add_row(
            str(i), k["phase"], f"{k['delay_s']:.2f}", str(k["sent"]), str(k["in_flight"]), str(k["just_answered"]),
            str(k["wasted_calls"]), str(k["never_sent"]), str(k["replies_kept"]),
        )  # fmt: skip
    console.print(per)
    t = Table(title=f"chaos: {r['kills']} x kill -9 ({r['mode']}), then a clean finish")
    t.add_column("check")
    t.add_column("value", justify="right")
    for key in (
        "items_expected", "items_lost", "stories", "stories_skipped", "stories_written",
        "stories_not_once_per_language", "articles", "duplicate_articles", "files", "orphan_files", "missing_files",
        "tmp_files", "calls_needed", "ok_calls",
        "answered_unused", "lost_calls_total", "never_sent_total", "in_flight_total", "wasted_calls_at_kills",
        "max_wasted_at_one_kill", "kills_wasting_more_than_in_flight",
        "kills_wasting_more_than_in_flight_or_just_answered", "wasted_calls", "replies_kept_max", "failed_calls",
        "stats_calls", "server_requests", "server_answered", "seconds", "cpu_seconds_children", "ok",
    ):  # fmt: skip
        t.add_row(key, str(r[key]))
    console.print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--kills", type=int, default=24)
    ap.add_argument("--stories", type=int, default=120)
    ap.add_argument("--latency-ms", type=float, default=1500.0, help="the scripted server's reply latency")
    ap.add_argument("--max-delay", type=float, default=4.0, help="longest random wait before a kill, seconds")
    ap.add_argument("--startup-share", type=float, default=0.2, help="share of kills timed from the process start")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "chaos.json")
    ap.add_argument("--workdir", type=Path, help="keep the database, articles and run.log here (default: a temp dir)")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    console = Console()
    server = ScriptedServer(args.latency_ms)
    server.start()
    started = time.perf_counter()
    cpu0 = os.times()
    try:
        with tempfile.TemporaryDirectory() as tmp_name, serve_demo_feed(synthetic_feed(args.stories)) as feed_url:
            tmp = args.workdir or Path(tmp_name)
            tmp.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{tmp / 'n.db'}"
            cfg = write_config(tmp, database_url=url, feed_url=feed_url, llm_url=server.v1, items=args.stories)
            launcher = RunLauncher(cfg, url, tmp / "run.log")
            try:
                kills = chaos(launcher, server, rnd, args.kills, args.max_delay, args.startup_share, console)
                launcher.finish(timeout=1800)
            finally:
                launcher.close()
            result = verify(url, tmp / "content", args.stories, server.stats(), kills)
    finally:
        server.stop()
    cpu1 = os.times()
    cpu = cpu1.children_user + cpu1.children_system - cpu0.children_user - cpu0.children_system
    result = {
        "command": "python bench/chaos.py " + " ".join(sys.argv[1:]),
        "mode": launcher.mode,
        "data": f"synthetic feed of {args.stories} invented stories (bench/pipeline.py), scripted model server at"
        f" {args.latency_ms:g} ms, concurrency 8, SQLite, en + uk, seed {args.seed}",
        **result,
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds_children": round(cpu, 1),  # the runs and the scripted server
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "per_kill": [asdict(k) for k in kills],
    }  # fmt: skip
    report(console, result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")
    if not result["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

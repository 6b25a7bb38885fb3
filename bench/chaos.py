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

How the processes are launched is a ``Launcher``; the kill loop (``chaos``) and the checks (``verify``) only need a
database URL, a content folder and the launcher:

- ``RunLauncher`` (``--mode run``): one `newsroom run` on SQLite per round.
- ``WorkersLauncher`` (``--mode workers``): ``--workers`` N `newsroom worker` processes on a fresh schema of the
  PostgreSQL database ``--database-url`` (dropped at the end), the schedule every second, stalled after 4 s. Each
  kill SIGKILLs one random worker whose offline classifiers are loaded, at a random delay after that worker's next
  model request (or, for the "startup" share, after it was chosen), and restarts it at once; the clean finish waits
  until every story is written or skipped, every article published and no story job waits or runs, then SIGTERMs
  the workers and expects exit status 0 from each. Each worker process has its own API key, so the scripted server
  counts the killed worker's calls in flight apart from the others'. A kill's wasted calls are counted after the
  clean finish: the rows still ``started`` of the stories whose jobs the killed worker held, created while it lived
  (attempts killed before they were sent are among them: the rows cannot tell; the whole run's never-sent count is
  the ``started`` rows beyond the requests the server saw and no process completed).

    .venv/bin/python bench/chaos.py                          # 24 kills, 120 stories, 1.5 s latency, seed 11
    .venv/bin/python bench/chaos.py --kills 5 --stories 20   # a quick look
    .venv/bin/python bench/chaos.py --mode workers --workers 3 --kills 24 --stories 150 \
        --database-url postgresql://postgres@127.0.0.1:5432/test

Prints a table per kill and a summary, and writes bench/results/chaos.json (bench/results/ is not committed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

from newsroom.demo import serve_demo_feed
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, ModelCallRow, ModelReplyRow, StoryRow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ENV, HERE, ScriptedServer, newsroom, write_config
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

    def choose(self, rnd: random.Random, timeout: float) -> bool:
        """Pick the process the next kill hits (one chosen with ``rnd``) once it is ready; False: none is."""

    @property
    def client(self) -> str | None:
        """The victim's API key (the scripted server counts its requests apart); None: every request is its own."""

    @property
    def since(self) -> float:
        """``time.monotonic()`` at the victim's start."""

    def kill(self) -> list[int]:
        """kill -9 the victim now; the pids killed, once they are dead."""

    def after_kill(self, kill: Kill) -> None:
        """Note what the kill needs for its count (workers: the jobs the killed worker held)."""

    def done(self) -> bool:
        """Whether nothing is left to do (a worker mode's workers never end by themselves)."""

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
        self._since = time.monotonic()
        self.proc = newsroom(self.cfg, "run", "--force", log=self.log)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def choose(self, rnd: random.Random, timeout: float) -> bool:
        return self.running()

    client = None

    @property
    def since(self) -> float:
        return self._since

    def after_kill(self, kill: Kill) -> None:
        pass

    def done(self) -> bool:
        return not self.running()

    def kill(self) -> list[int]:
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


WORKER_TOML = """
[worker]
schedule_seconds = 1
sweep_seconds = 2
stalled_seconds = 4
grace_seconds = 5
concurrency = 8
"""
WARM = "offline classifiers loaded"
TOOK_OVER = "of workers that stopped beating"
AMBIGUOUS_S = 1.0  # two workers whose warm-ups end closer than this may register in either order


@dataclass
class _Slot:
    """One of the N worker slots: its current process (an incarnation), its API key and log, its procrastinate id."""

    index: int
    gen: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    since: float = 0.0  # time.monotonic() at the start
    started_wall: datetime | None = None
    warm_at: float | None = None  # the time of its log line "offline classifiers loaded" (Unix seconds)
    worker_id: int | None = None
    unidentified: bool = False  # its id cannot be told from another slot's (their warm-ups ended at once)

    @property
    def key(self) -> str:
        return f"slot{self.index}-{self.gen}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class WorkersLauncher:
    """PostgreSQL: N `newsroom worker` processes that never end by themselves; each kill SIGKILLs one (a random slot
    whose classifiers are loaded) and restarts it at once.

    Each incarnation gets its own API key (``OPENAI_API_KEY=slotI-GEN``), so the scripted server counts its requests
    and its calls in flight apart from the other workers'. Its procrastinate worker id is the next id registered
    after its log says the classifiers are loaded (procrastinate registers a worker right after its warm-up; two
    slots warming up at once take the new ids in the order of their log lines). At a kill, the stories of the jobs
    the killed worker held (``doing``, its worker id) are noted; after the clean finish, its lost calls are the rows
    of those stories still ``started`` and created while it lived (another worker takes a story over only after
    ``stalled_seconds``)."""

    mode = "workers-postgresql"

    def __init__(self, cfg: Path, database_url: str, logs: Path, workers: int) -> None:
        self.cfg = cfg
        self.database_url = database_url
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.slots = [_Slot(i) for i in range(workers)]
        self.victim: _Slot | None = None
        self._assigned: list[int] = []  # procrastinate worker ids given to an incarnation
        self.lost_unattributed = 0
        self.took_over = 0
        self.exit_codes: list[int | None] = []
        self.store = Store(database_url)  # migrated once here; the workers' first starts find it ready

    # -- processes --

    def _spawn(self, slot: _Slot) -> None:
        slot.gen += 1
        slot.log = self.logs / f"{slot.key}.log"
        slot.since, slot.started_wall = time.monotonic(), datetime.now(UTC)
        slot.warm_at, slot.worker_id, slot.unidentified = None, None, False
        env = {**ENV, "OPENAI_API_KEY": slot.key}
        slot.proc = subprocess.Popen(
            [sys.executable, "-m", "newsroom", "--log-format", "json", "worker", "--config", str(self.cfg)],
            cwd=self.cfg.parent,
            env=env,
            stdout=slot.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def start(self) -> None:
        if all(slot.proc is None for slot in self.slots):
            self._start_one_by_one()
        for slot in self.slots:
            if not slot.alive():
                self._spawn(slot)

    def running(self) -> bool:
        return self.victim is not None and self.victim.alive()

    def _identify(self) -> None:
        """Give the slots whose classifiers are loaded the worker ids registered since, in the order of their log
        lines' times; slots whose lines are under ``AMBIGUOUS_S`` apart take no id (never a victim this life)."""
        for slot in self.slots:
            if slot.warm_at is None and slot.log is not None:
                for line in slot.log.read_text(errors="replace").splitlines():
                    if WARM in line:
                        slot.warm_at = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
                        break
        waiting = sorted((s for s in self.slots if s.warm_at is not None and s.worker_id is None and s.alive()
                          and not s.unidentified), key=lambda s: s.warm_at or 0.0)  # fmt: skip
        if not waiting:
            return
        with self.store.session() as sess:
            new = list(
                sess.scalars(
                    text("SELECT id FROM procrastinate_workers WHERE id > :k ORDER BY id"),
                    {"k": max(self._assigned, default=0)},
                )
            )
        if len(new) < len(waiting):
            return
        times = [s.warm_at or 0.0 for s in waiting]
        clear = all(b - a >= AMBIGUOUS_S for a, b in itertools.pairwise(times))
        for slot, wid in zip(waiting, new, strict=False):
            if clear:
                slot.worker_id = wid
            else:
                slot.unidentified = True
            self._assigned.append(wid)

    def _start_one_by_one(self) -> None:
        """The first start: one worker at a time, each once it is identified."""
        for slot in self.slots:
            self._spawn(slot)
            deadline = time.monotonic() + 600
            while slot.worker_id is None and time.monotonic() < deadline:
                self._identify()
                time.sleep(0.1)

    def choose(self, rnd: random.Random, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.start()  # a slot that died by itself comes back too (its log tells why)
            self._identify()
            ready = [s for s in self.slots if s.alive() and s.worker_id is not None]
            if ready:
                self.victim = rnd.choice(ready)
                return True
            time.sleep(0.1)
        return False

    @property
    def client(self) -> str | None:
        return self.victim.key if self.victim else None

    @property
    def since(self) -> float:
        return self.victim.since if self.victim else 0.0

    def kill(self) -> list[int]:
        assert self.victim is not None and self.victim.proc is not None
        self.victim.proc.send_signal(signal.SIGKILL)
        self.victim.proc.wait(30)
        return [self.victim.proc.pid]

    def after_kill(self, kill: Kill) -> None:
        slot = self.victim
        assert slot is not None and slot.started_wall is not None
        kill.victim, kill.worker_id = slot.key, slot.worker_id
        kill.started_wall, kill.killed_wall = slot.started_wall.isoformat(), datetime.now(UTC).isoformat()
        with self.store.session() as sess:  # before the sweep retries them: stalled_seconds after the last beat
            kill.stories = sorted(
                int(x)
                for x in sess.scalars(
                    text(
                        "SELECT args->>'story_id' FROM procrastinate_jobs WHERE worker_id = :w AND status = 'doing'"
                        " AND args ? 'story_id'"
                    ),
                    {"w": slot.worker_id},
                )
            )
        self._spawn(slot)  # restarted at once

    def done(self) -> bool:
        with self.store.session() as s:
            left = s.scalar(select(func.count()).where(StoryRow.status.not_in(("written", "skipped"))))
            behind = s.scalar(select(func.count()).where(ArticleRow.published_version < ArticleRow.version))
            stories = s.scalar(select(func.count()).select_from(StoryRow))
            jobs = s.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'newsroom.process_story'"
                    " AND status IN ('todo', 'doing')"
                )
            )
        return bool(stories) and left == behind == jobs == 0

    def finish(self, timeout: float) -> None:
        """Wait (the workers running, no more kills) until every story is written or skipped, every article
        published and no story job waits or runs; then SIGTERM each worker and expect exit status 0."""
        self.start()
        deadline = time.monotonic() + timeout
        while not self.done():
            if time.monotonic() > deadline:
                raise SystemExit(f"the workers did not finish in {timeout} s; see {self.logs}")
            self.start()
            time.sleep(1.0)
        for slot in self.slots:
            assert slot.proc is not None
            slot.proc.send_signal(signal.SIGTERM)
        self.exit_codes = []
        for slot in self.slots:
            assert slot.proc is not None
            try:
                self.exit_codes.append(slot.proc.wait(60))
            except subprocess.TimeoutExpired:
                self.exit_codes.append(None)
        if self.exit_codes != [0] * len(self.slots):
            raise SystemExit(f"SIGTERM: exit statuses {self.exit_codes}, not 0; see {self.logs}")

    def close(self) -> None:
        for slot in self.slots:
            if slot.alive():
                assert slot.proc is not None
                slot.proc.kill()
                slot.proc.wait(30)
        self.store.close()

    def count_lost(self, kills: list[Kill]) -> None:
        """After the clean finish: each kill's lost calls, split into ``wasted_calls`` (sent) and ``never_sent``
        (the rows cannot tell them apart: a lower bound from the requests the killed worker sent, exact when the
        bounds add up to the run's never-sent count), and how many jobs the sweep took over (the workers' logs)."""
        with self.store.session() as s:
            rows = s.execute(
                select(ModelCallRow.story_id, ModelCallRow.created_at).where(ModelCallRow.outcome == "started")
            ).all()
        # a row belongs to the first kill after it was made of a worker that held its story: from the row's attempt
        # to that kill nobody else held the story (a later holder of the story may have lived at the row's time too)
        killed = sorted((k for k in kills if k.killed), key=lambda k: k.killed_wall)
        unattributed = 0
        for sid, at in rows:
            made = _aware(at)
            first = next(
                (
                    k for k in killed
                    if sid in k.stories and datetime.fromisoformat(k.started_wall) <= made
                    <= datetime.fromisoformat(k.killed_wall)
                ),
                None,
            )  # fmt: skip
            if first is None:
                unattributed += 1
            else:
                first.wasted_calls += 1
        self.lost_unattributed = unattributed
        # of a kill's lost rows, at least (lost - requests the killed worker ever sent) were never sent; when these
        # bounds add up to the run's never-sent count (verify's), the split is exact
        for k in killed:
            k.never_sent = max(0, k.wasted_calls - k.sent)
            k.wasted_calls -= k.never_sent
        self.took_over = 0
        for log in self.logs.glob("*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if TOOK_OVER in line:
                    m = re.search(r"took over (\d+) job", line)
                    self.took_over += int(m.group(1)) if m else 0


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


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
    # workers mode: which worker (slot and incarnation), its procrastinate id, the stories of the jobs it held
    victim: str = ""
    worker_id: int | None = None
    stories: list[int] = field(default_factory=list)
    started_wall: str = ""  # the killed worker's start and kill, ISO UTC (the lost calls are its rows in between)
    killed_wall: str = ""


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


def _requests(server: ScriptedServer, client: str | None) -> int:
    stats = server.stats()
    return int(stats["requests"] if client is None else stats.get("requests_by_client", {}).get(client, 0))


def chaos(
    launcher: Launcher, server: ScriptedServer, rnd: random.Random, kills: int, max_delay: float,
    startup_share: float, console: Console,
) -> list[Kill]:  # fmt: skip
    """Rounds of start → random wait → kill -9 until ``kills`` kills (at most 3 × ``kills`` rounds). Per round: the
    requests the victim sent, those open at the kill, and (run mode, from snapshots; workers mode, after the clean
    finish, ``WorkersLauncher.count_lost``) those whose outcome the killed process did not store (wasted)."""
    out: list[Kill] = []
    before = _snapshot(launcher.database_url)
    per_process = isinstance(launcher, WorkersLauncher)
    for k in range(3 * kills):
        if sum(x.killed for x in out) >= kills:
            break
        requests_before = server.stats()["requests"]
        launcher.start()
        if not launcher.choose(rnd, timeout=600):
            console.print(f"round {k}: no process ready to kill")
            break
        client = launcher.client
        t_spawn = launcher.since
        victim_before = _requests(server, client) if per_process else requests_before
        phase = "startup" if rnd.random() < startup_share else "work"
        delay = round(rnd.uniform(0.1, max_delay), 2)
        t0 = time.monotonic()
        if phase == "work":  # count from the round's (the victim's) next model request
            while (
                _requests(server, client) == victim_before
                and launcher.running()
                and not (per_process and launcher.done())
                and time.monotonic() < t0 + 300
            ):
                time.sleep(0.02)
            t0 = time.monotonic()
        while launcher.running() and time.monotonic() < t0 + delay:
            time.sleep(0.01)
        killed = launcher.running() and not (per_process and launcher.done())
        t_kill = time.monotonic()
        if killed:
            launcher.kill()
        time.sleep(0.3)  # a request the process sent just before it died may still be on its way to the server
        kill = Kill(k, phase, delay, killed=killed)
        if killed:
            kill.in_flight, kill.just_answered = server.in_flight_at(
                t_kill, time.monotonic(), t_spawn, JUST_ANSWERED_S, client
            )
            launcher.after_kill(kill)
        after = _snapshot(launcher.database_url)
        if per_process:
            kill.sent = _requests(server, client) if killed else 0  # the killed worker's requests, all its life
        else:
            kill.sent = server.stats()["requests"] - requests_before
            kill.wasted_calls = kill.sent - (after.completed - before.completed)
            kill.never_sent = (after.started - before.started) - kill.wasted_calls
        kill.replies_kept, kill.articles_so_far = after.kept, after.articles
        before = after
        out.append(kill)
        if not killed:
            console.print(f"round {k}: the work ended before its kill ({phase} + {delay} s)")
            if per_process and launcher.done():
                break
            continue
        console.print(
            f"kill {sum(x.killed for x in out)}/{kills} (round {k}, {kill.victim or 'run'}, {phase} + {delay} s):"
            f" sent {kill.sent}, in flight {kill.in_flight} (+{kill.just_answered} just answered), wasted"
            f" {kill.wasted_calls if not per_process else '(counted at the end)'}, jobs held {len(kill.stories)},"
            f" replies kept {kill.replies_kept}, articles {kill.articles_so_far}"
        )
    return out


# ---- the checks ------------------------------------------------------------------------------------------------------


def verify(
    url: str, content: Path, expected_items: int, server: dict[str, int], kills: list[Kill], per_process: bool = False
) -> dict[str, Any]:
    """What the run left, checked against the targets of issue 11 (database and folder only: any launcher). With
    ``per_process`` (workers mode) the attempts never sent are counted for the whole run (the ``started`` rows left
    beyond the requests the server saw and no process completed), not per kill."""
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
        "never_sent_total": (
            outcomes.get("started", 0) - (server["requests"] - (outcomes.total() - outcomes.get("started", 0)))
            if per_process
            else sum(k.never_sent for k in kills)
        ),
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
    for col in ("kill", "victim", "phase", "delay s", "sent", "in flight", "just answered", "wasted", "never sent",
                "jobs held", "kept"):  # fmt: skip
        per.add_column(col, justify="right")
    killed = [k for k in r["per_kill"] if k["killed"]]
    for i, k in enumerate(killed, 1):
        per.add_row(
            str(i), k["victim"] or "run", k["phase"], f"{k['delay_s']:.2f}", str(k["sent"]), str(k["in_flight"]),
            str(k["just_answered"]), str(k["wasted_calls"]), str(k["never_sent"]),
            str(len(k["stories"])), str(k["replies_kept"]),
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
        "stats_calls", "server_requests", "server_answered", "workers", "jobs_taken_over",
        "lost_calls_unattributed", "never_sent_split_exact", "exit_codes_after_sigterm", "seconds",
        "cpu_seconds_children", "ok",
    ):  # fmt: skip
        if key in r:
            t.add_row(key, str(r[key]))
    console.print(t)


def _pg(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


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
    ap.add_argument("--mode", choices=("run", "workers"), default="run", help="`run` on SQLite, or `worker`s on PG")
    ap.add_argument("--workers", type=int, default=3, help="workers mode: how many `newsroom worker` processes")
    ap.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="workers mode: the PostgreSQL database (a fresh schema is made in it, and dropped at the end)",
    )
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
            schema = None
            if args.mode == "run":
                url = f"sqlite:///{tmp / 'n.db'}"
                cfg = write_config(tmp, database_url=url, feed_url=feed_url, llm_url=server.v1, items=args.stories)
                launcher: RunLauncher | WorkersLauncher = RunLauncher(cfg, url, tmp / "run.log")
            else:
                schema = f"chaos_{os.getpid()}"
                _pg(args.database_url, f'CREATE SCHEMA "{schema}"')
                sep = "&" if "?" in args.database_url else "?"
                url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
                cfg = write_config(
                    tmp, database_url=url, feed_url=feed_url, llm_url=server.v1, items=args.stories,
                    extra_stories=WORKER_TOML,
                )  # fmt: skip
                launcher = WorkersLauncher(cfg, url, tmp / "logs", args.workers)
            try:
                try:
                    kills = chaos(launcher, server, rnd, args.kills, args.max_delay, args.startup_share, console)
                    launcher.finish(timeout=1800)
                finally:
                    launcher.close()
                extra: dict[str, Any] = {}
                if isinstance(launcher, WorkersLauncher):
                    launcher.count_lost(kills)
                    extra = {
                        "workers": args.workers,
                        "jobs_taken_over": launcher.took_over,
                        "lost_calls_unattributed": launcher.lost_unattributed,
                        "exit_codes_after_sigterm": launcher.exit_codes,
                    }
                result = verify(url, tmp / "content", args.stories, server.stats(), kills, per_process=bool(extra))
                result.update(extra)
                if extra:
                    bounds = sum(k.never_sent for k in kills)
                    result["never_sent_split_exact"] = bounds == result["never_sent_total"]
                    result["ok"] = bool(
                        result["ok"] and launcher.lost_unattributed == 0 and result["never_sent_split_exact"]
                    )
            finally:
                if schema is not None:
                    _pg(args.database_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        server.stop()
    cpu1 = os.times()
    cpu = cpu1.children_user + cpu1.children_system - cpu0.children_user - cpu0.children_system
    result = {
        "command": "python bench/chaos.py " + " ".join(sys.argv[1:]),
        "mode": launcher.mode,
        "data": f"synthetic feed of {args.stories} invented stories (bench/pipeline.py), scripted model server at"
        f" {args.latency_ms:g} ms, concurrency 8,"
        f" {'SQLite' if args.mode == 'run' else f'{args.workers} workers on PostgreSQL'}, en + uk, seed {args.seed}",
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

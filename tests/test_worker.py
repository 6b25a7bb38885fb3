"""`newsroom worker`: the stages as procrastinate jobs on PostgreSQL, the schedule as periodic tasks.

Real parts: `newsroom worker` subprocesses on a fresh PostgreSQL schema, an invented RSS feed served on 127.0.0.1
(pytest-httpserver) and the scripted OpenAI-compatible server (`newsroom.devtools.scripted_llm`: not a model). The
workers are never told to poll: only their periodic tasks find the due source, and only the schedule defers the
story jobs. The schedule runs every second here (`[worker]` below) so the file stays quick.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, text
from typer.testing import CliRunner
from werkzeug import Request, Response

from crash_support import REPO, kill9, wait_for, write_config
from newsroom.cli import app
from newsroom.config import Settings, SourceConfig, WorkerConfig, load_settings
from newsroom.devtools.scripted_llm import ScriptedReply, start_scripted_server
from newsroom.editorial import Editor
from newsroom.llm.budget import Budget
from newsroom.store.db import Store
from newsroom.store.tables import (
    ArticleRow,
    DeliveryRow,
    ItemRow,
    ModelCallRow,
    SourceRow,
    StoryRow,
    TargetStateRow,
    utcnow,
)
from newsroom.tasks import (
    ENQUEUE_STORIES,
    POLL_DUE,
    POLL_SOURCE,
    PROCESS_STORY,
    SWEEP,
    cron_every,
    defer_due_polls,
    defer_in,
    enqueue_stories,
    make_app,
    retry_stalled,
)
from pg_support import drop_schema, fresh_schema
from story_support import front

WORKER_TOML = """
[stories]
same_event = false
{stories}
[select]
enabled = false
[images]
provider = "none"
[worker]
schedule_seconds = 1
sweep_seconds = 2
stalled_seconds = {stalled}
warm_up = {warm_up}
concurrency = 4
"""

# invented events, one per item (no corpus text)
EVENTS = [
    (
        "Velora Exchange lists Quartzcoin after a 14-month review",
        "Velora adds the Quartzcoin token to its desk.",
    ),
    ("Harbor Bank opens a bitcoin custody desk for 300 funds", "Harbor Bank will hold bitcoin for pension funds."),
    ("Mintaro DAO votes to burn 2 million governance tokens", "Holders of the Mintaro crypto token approved a burn."),
    ("Eastland regulator fines Nimbus Wallet 5 million dollars", "The crypto wallet failed to check 41,000 customers."),
    ("Solen Labs ships a zero-knowledge bridge to three chains", "The bridge moves ether and bitcoin between chains."),
    (
        "Crestline miner adds a 40 MW bitcoin mining site in Norway",
        "Crestline doubles its hash rate this year.",
    ),
]


def _feed(n: int, follow_ups: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The first ``n`` events; each follow-up is a newer item (its own guid) on the first event's link: it joins
    that story (the same canonical URL) even with ``stories.same_event`` off."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>{title}</title><link>https://news.example.org/0</link><guid>follow-up-{i}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=30 - i))}</pubDate><description>{summary}</description>"
        "</item>"
        for i, (title, summary) in enumerate(follow_ups)
    ) + "".join(
        f"<item><title>{title}</title><link>https://news.example.org/{i}</link><guid>invented-{i}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(hours=i + 1))}</pubDate><description>{summary}</description></item>"
        for i, (title, summary) in enumerate(EVENTS[:n])
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Invented Wire</title>'
        f"<link>https://news.example.org/</link><description>invented</description>{items}</channel></rss>"
    ).encode()


class Newsroom:
    """A PostgreSQL schema (migrated), the invented feed, the scripted model and a config for workers."""

    def __init__(
        self,
        tmp_path: Path,
        httpserver: HTTPServer,
        postgres_url: str,
        stories: int,
        stalled: float,
        warm: bool,
        extra: str = "",
        stories_toml: str = "",
    ) -> None:
        self.tmp_path = tmp_path
        self.postgres_url = postgres_url
        self.url, self.schema = fresh_schema(postgres_url)
        self.store = Store(self.url)  # migrated here, so the workers start on a ready schema
        self.feed = _feed(stories)  # what the feed serves: a test may change it between polls
        httpserver.expect_request("/feed.xml").respond_with_handler(
            lambda _request: Response(self.feed, content_type="application/rss+xml")
        )
        self.llm = start_scripted_server(latency_ms=200)
        source = SourceConfig(key="invented", name="Invented Wire", url=httpserver.url_for("/feed.xml"))
        extra = WORKER_TOML.format(stalled=stalled, warm_up=str(warm).lower(), stories=stories_toml) + extra
        self.cfg = write_config(tmp_path, self.url, [source], self.llm.base_url, per_feed=stories + 4, extra=extra)
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def worker(self, *args: str, before: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        """Start `newsroom [BEFORE] worker --config CFG [ARGS]`, its output to a log file (never a full pipe)."""
        log = self.tmp_path / f"worker-{len(self.procs)}.log"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsroom", *before, "worker", "--config", str(self.cfg), *args],
            cwd=self.tmp_path,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append((proc, log))
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')}" for _, log in self.procs)

    def state(self) -> str:
        """The workers' logs, exit codes and the rows that decide what runs next: the message of a failure."""
        queries = {
            "stories": "SELECT id, status, claimed_by, claim_expires_at, next_attempt_at, last_error FROM stories",
            "jobs": "SELECT id, task_name, status, lock, queueing_lock, worker_id, scheduled_at, attempts, args"
            " FROM procrastinate_jobs ORDER BY id",
            "workers": "SELECT id, last_heartbeat FROM procrastinate_workers ORDER BY id",
            "events": "SELECT job_id, type, at FROM procrastinate_events ORDER BY id DESC LIMIT 40",
        }
        lines = [f"exit codes: {[proc.poll() for proc, _ in self.procs]}, now {datetime.now(UTC).isoformat()}"]
        with self.store.session() as s:
            for name, sql in queries.items():
                lines.append(f"--- {name}")
                lines.extend(repr(tuple(row)) for row in s.execute(text(sql)))
        return "\n".join([self.logs(), *lines])

    def count(self, what, *where) -> int:  # type: ignore[no-untyped-def]
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(what).where(*where)) or 0)

    def written(self) -> int:
        return self.count(StoryRow, StoryRow.status == "written")

    def files(self) -> list[Path]:
        return sorted((self.tmp_path / "content").rglob("*.md"))

    def close(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                kill9(proc)
        self.llm.stop()
        self.store.close()
        drop_schema(self.postgres_url, self.schema)


@pytest.fixture
def newsroom_factory(tmp_path: Path, httpserver: HTTPServer, postgres_url: str):  # type: ignore[no-untyped-def]
    made: list[Newsroom] = []

    def make(stories: int, stalled: float, warm: bool = True, extra: str = "", stories_toml: str = "") -> Newsroom:
        made.append(Newsroom(tmp_path, httpserver, postgres_url, stories, stalled, warm, extra, stories_toml))
        return made[-1]

    yield make
    for n in made:
        n.close()


def _stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


def _assert_once_per_language(n: Newsroom, stories: int) -> None:
    with n.store.session() as s:
        per_story_lang = s.execute(
            select(ArticleRow.story_id, ArticleRow.lang, func.count()).group_by(ArticleRow.story_id, ArticleRow.lang)
        ).all()
        assert len(per_story_lang) == 2 * stories and {c for _, _, c in per_story_lang} == {1}
        assert not s.scalar(select(func.count()).where(StoryRow.claimed_by.is_not(None)))
        assert not s.scalar(select(func.count()).where(ArticleRow.published_version < ArticleRow.version))
    files = n.files()
    assert len(files) == 2 * stories, files  # one file per article: no duplicate, no orphan
    assert not list((n.tmp_path / "content").rglob("*.tmp"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        body = r.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


@pytest.mark.postgres
def test_two_workers_publish_every_story_exactly_once_per_language(newsroom_factory) -> None:  # type: ignore[no-untyped-def]
    stories = len(EVENTS)
    n = newsroom_factory(stories, stalled=30)  # no worker dies here: none is taken for dead while it loads torch
    port = _free_port()
    workers = [n.worker("--metrics-port", str(port)), n.worker(before=("--log-format", "json"))]
    wait_for(
        lambda: n.written() == stories or any(p.poll() is not None for p in workers),
        150,
        "every story written",
        n.state,
    )
    assert n.written() == stories, n.logs()
    with n.store.session() as s:  # a crash between an article's row and its file: the outbox's other half
        article = s.scalars(select(ArticleRow).order_by(ArticleRow.id)).first()
        assert article is not None and article.path
        lost, article.published_version = Path(article.path), 0
    lost.unlink()
    unpublished = (ArticleRow.published_version < ArticleRow.version,)
    wait_for(lambda: lost.exists() and n.count(ArticleRow, *unpublished) == 0, 60, "the sweep's publish job", n.state)
    metrics = _scrape(port)  # the worker's own /metrics: database-wide series
    assert metrics[("newsroom_stories", (("status", "written"),))] == stories
    assert metrics[("newsroom_queue_depth", ())] == 0
    codes = [_stop(p) for p in workers]  # idle workers stop at once, exit status 0
    assert codes == [0, 0], n.logs()
    _assert_once_per_language(n, stories)
    assert n.count(ItemRow) == stories
    with n.store.session() as s:
        outcomes = list(s.scalars(select(ModelCallRow.outcome)))
        jobs = dict(s.execute(text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")).all())
    assert outcomes.count("ok") == 2 * stories  # a write and a translation per story: nothing written twice
    assert len(outcomes) == n.llm.llm.stats()["answered"]  # every call the server answered is counted
    assert set(jobs) <= {"todo"}, jobs  # succeeded jobs are deleted; none failed, none left running
    assert "Traceback" not in n.logs()
    assert n.logs().count("offline classifiers loaded") == 2  # before either took a story job
    json_lines = n.procs[1][1].read_text().splitlines()
    assert json_lines and all(json.loads(line)["level"] for line in json_lines)  # --log-format json: every line
    assert any("worker started" in json.loads(line)["message"] for line in json_lines)


@pytest.mark.postgres
def test_workers_stopped_or_killed_mid_call_lose_nothing(newsroom_factory) -> None:  # type: ignore[no-untyped-def]
    """One story whose first three write calls never answer, and four workers in turn:
    1. SIGTERM mid-call: the worker waits for its job (still beating, so a second worker leaves the job alone); a
       second SIGTERM exits at once;
    2. the second worker retries the dead one's job (stalled: no heartbeat) and is killed with kill -9 mid-call;
    3. a third worker retries that job, and SIGTERM with a 0.5 s grace: it gives the story back and exits 0;
    4. the restart takes the story at once and writes it, once per language."""
    n = newsroom_factory(1, stalled=3, warm=False)  # only the restart writes: no encoders to load before that
    n.llm.script([ScriptedReply.hang(120)] * 3)
    stats = n.llm.llm.stats

    def call_in_flight(proc: subprocess.Popen[bytes], call: int) -> None:
        """Wait until the worker's write call is the ``call``-th to take its hang: a request that arrived is not
        enough (a worker killed before the server read its body takes no hang, and the restart would get it)."""
        wait_for(
            lambda: 3 - stats()["pending_script"] >= call or proc.poll() is not None,
            120,
            f"write call {call} taking its hang",
            n.state,
        )
        assert proc.poll() is None, n.state()
        assert stats()["in_flight"] >= 1

    def holder() -> str:
        with n.store.session() as s:
            return s.scalar(select(StoryRow.claimed_by)) or ""

    # a grace longer than the test: on a loaded machine the second worker may take longer to start than the default
    # 20 s, after which the first worker would end its run and exit by the default action of the second SIGTERM
    first = n.worker("--grace", "120")
    call_in_flight(first, 1)
    first.send_signal(signal.SIGTERM)
    second = n.worker()
    wait_for(lambda: "worker started" in n.logs().split("worker-1.log")[-1], 60, "the second worker", n.state)
    time.sleep(3 + 2)  # stalled_seconds + sweep_seconds: the stopping worker still beats, nobody takes its job
    assert first.poll() is None and stats()["requests"] == 1, n.logs()
    asked = time.monotonic()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=10) == 128 + signal.SIGTERM  # the second signal: at once
    assert time.monotonic() - asked < 5
    assert holder().startswith("job:")  # left as a kill would leave it

    call_in_flight(second, 2)  # the dead worker's job, retried by the second worker
    kill9(second)
    third = n.worker("--grace", "0.5")
    call_in_flight(third, 3)  # retried again, long before the lease (stories.claim_seconds: 600) would end
    asked = time.monotonic()
    assert _stop(third, timeout=30) == 0, n.logs()
    assert time.monotonic() - asked < 20
    assert holder() == ""  # the abandoned job gave its story back
    assert n.written() == 0

    restart = n.worker()
    wait_for(lambda: n.written() == 1 or restart.poll() is not None, 120, "the restart writes the story", n.state)
    assert _stop(restart) == 0, n.logs()
    logs = n.logs()
    assert logs.count("stopped beating") >= 2 and "taking no new jobs" in logs
    _assert_once_per_language(n, 1)
    with n.store.session() as s:
        outcomes = list(s.scalars(select(ModelCallRow.outcome)))
    assert outcomes.count("ok") == 2 and outcomes.count("started") == 3  # the three lost calls, counted; no more


# invented follow-ups of EVENTS[0], each with numbers and names the story has not had (stages/update.py's new facts)
FOLLOW_UPS = (
    ("Velora Exchange opens Quartzcoin futures to 2,500 traders", "Orlan Capital of Tavira backs the futures desk."),
    ("Velora Exchange pauses Quartzcoin withdrawals for 7,300 users", "Pellmar Trust asks Velora for an audit."),
)


def _articles(n: Newsroom) -> dict[str, ArticleRow]:
    with n.store.session() as s:
        rows = list(s.scalars(select(ArticleRow)))
    assert len(rows) == len({a.lang for a in rows}), [(a.id, a.lang) for a in rows]  # one live article per language
    return {a.lang: a for a in rows}


def _poll_now(n: Newsroom) -> None:
    """Make the source due now (instead of in a minute): the schedule finds it at its next round."""
    with n.store.session() as s:
        s.scalars(select(SourceRow)).one().next_poll_at = utcnow() - timedelta(seconds=1)


def _settled(n: Newsroom, items: int) -> bool:
    """``items`` items stored, and the story's update job has dealt with all of them (``written_through``)."""
    with n.store.session() as s:
        ids = list(s.scalars(select(ItemRow.id)))
        through = s.scalar(select(StoryRow.written_through))
    return len(ids) == items and through == max(ids)


@pytest.mark.postgres
def test_the_update_job_rewrites_a_developing_story_and_leaves_a_locked_one_alone(newsroom_factory) -> None:  # type: ignore[no-untyped-def]
    """A written story gains a member with new facts at a later poll: the sweep's update job rewrites the article
    in every language (ai.version 1 -> 2, updatedAt, the file); once an editor locks the pivot, more news leaves the
    story's articles alone."""
    n = newsroom_factory(1, stalled=30, warm=False, stories_toml="update_interval_minutes = 0")
    proc = n.worker()
    unpublished = (ArticleRow.published_version < ArticleRow.version,)
    wait_for(lambda: (n.written() == 1 and n.count(ArticleRow, *unpublished) == 0) or proc.poll() is not None, 150,
             "the story written", n.state)  # fmt: skip
    assert proc.poll() is None, n.logs()
    first = _articles(n)
    assert set(first) == {"en", "uk"} and {a.version for a in first.values()} == {1}
    before = {lang: Path(a.path).read_text(encoding="utf-8") for lang, a in first.items()}  # type: ignore[arg-type]
    first_front = {lang: front(a.path) for lang, a in first.items()}  # type: ignore[arg-type]
    assert {fm["ai"]["version"] for fm in first_front.values()} == {1}
    written = n.llm.llm.stats()["answered"]

    n.feed = _feed(1, FOLLOW_UPS[:1])
    _poll_now(n)

    def rewritten() -> bool:
        arts = _articles(n)
        return all(a.version == 2 and a.published_version == 2 for a in arts.values()) or proc.poll() is not None

    wait_for(rewritten, 150, "the update job's rewrite, published", n.state)
    assert proc.poll() is None, n.logs()
    second = _articles(n)
    assert set(second) == {"en", "uk"}
    for lang, a in second.items():
        old = first[lang]
        assert a.id == old.id and a.slug == old.slug and a.path == old.path  # the same article, URL and file
        assert a.updated_at > old.updated_at
        fm = front(a.path)  # type: ignore[arg-type]
        assert fm["ai"]["version"] == 2 and fm["updatedAt"] != first_front[lang]["updatedAt"]
        assert Path(a.path).read_text(encoding="utf-8") != before[lang]  # type: ignore[arg-type]
    assert n.llm.llm.stats()["answered"] == written + 2  # one write, one translation
    with n.store.session() as s:
        story = s.scalars(select(StoryRow)).one()
        assert story.update_count == 1 and story.item_count == 2 and story.status == "written"
    assert _settled(n, 2)

    # an editor locks the pivot; more news arrives: the update job settles the story and rewrites nothing
    pivot = second["en"]
    Editor(load_settings(n.cfg), n.store).set_lock(pivot.id, True)
    pivot_file = Path(pivot.path).read_text(encoding="utf-8")  # type: ignore[arg-type]
    n.feed = _feed(1, FOLLOW_UPS)
    _poll_now(n)
    wait_for(lambda: _settled(n, 3) or proc.poll() is not None, 150, "the update job on the locked story", n.state)
    assert proc.poll() is None, n.logs()
    third = _articles(n)
    assert third["en"].version == 2 and third["en"].updated_at == pivot.updated_at
    assert Path(pivot.path).read_text(encoding="utf-8") == pivot_file  # type: ignore[arg-type]
    assert third["uk"].version == 2  # no rewrite: the translation follows its pivot, not the news
    assert n.llm.llm.stats()["answered"] == written + 2
    with n.store.session() as s:
        assert s.scalars(select(StoryRow)).one().update_count == 1
    assert _stop(proc) == 0, n.logs()
    _assert_once_per_language(n, 1)
    assert "Traceback" not in n.logs()


class Hook:
    """A loopback webhook receiver that answers HTTP 500 to its first ``fail`` POSTs."""

    def __init__(self, httpserver: HTTPServer, fail: int) -> None:
        self.fail = fail
        self.delay = 0.0  # seconds before each answer (a slow build hook)
        self.answers: list[tuple[int, dict]] = []  # (status, body) of every POST, in order
        self.url = httpserver.url_for("/hook")
        httpserver.expect_request("/hook", method="POST").respond_with_handler(self)

    def __call__(self, request: Request) -> Response:
        time.sleep(self.delay)
        status = 500 if self.fail > 0 else 200
        self.fail -= 1
        self.answers.append((status, json.loads(request.get_data())))
        return Response("down" if status == 500 else "ok", status=status)

    def delivered(self) -> dict[int, int]:
        """The latest version of each article the receiver accepted."""
        out: dict[int, int] = {}
        for status, body in self.answers:
            for a in body["articles"] if status == 200 else ():
                out[a["id"]] = max(out.get(a["id"], 0), a["version"])
        return out


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.mark.postgres
def test_the_deliver_job_brings_every_target_up_to_date_and_retries_a_failing_one(  # type: ignore[no-untyped-def]
    newsroom_factory, httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A git target (a local bare repository) and a webhook target whose first two POSTs get HTTP 500 (no retry
    within a delivery): the worker's deliver jobs push every article, and the hook's failed batches are sent again
    by a later job, none lost."""
    stories = 2
    remote = tmp_path / "site.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(remote)], check=True)
    hook = Hook(httpserver, fail=2)
    targets = f"""
[[publish.targets]]
kind = "git"
name = "site"
repo_dir = "{tmp_path / "clone"}"
remote_url = "{remote}"
[[publish.targets]]
kind = "webhook"
name = "hook"
url = "{hook.url}"
max_retries = 0
"""
    n = newsroom_factory(stories, stalled=30, warm=False, extra=targets, stories_toml="update_interval_minutes = 0")
    proc = n.worker()

    def live() -> dict[int, tuple[str, str, int]]:
        with n.store.session() as s:
            rows = s.scalars(select(ArticleRow).where(ArticleRow.published_version == ArticleRow.version))
            return {a.id: (a.lang, a.slug, a.version) for a in rows}

    def delivered() -> bool:
        if proc.poll() is not None or n.written() < stories:
            return proc.poll() is not None
        articles = live()
        if len(articles) < 2 * stories or hook.delivered() != {i: v for i, (_l, _s, v) in articles.items()}:
            return False
        with n.store.session() as s:  # recorded with the target's state, after the receiver had it
            rows = s.execute(select(DeliveryRow.target, DeliveryRow.article_id, DeliveryRow.version)).all()
        want = sorted((i, v) for i, (_l, _s, v) in articles.items())
        return all(sorted((i, v) for t, i, v in rows if t == target) == want for target in ("site", "hook"))

    wait_for(delivered, 180, "every article delivered to both targets", n.state)
    assert proc.poll() is None, n.logs()
    articles = live()
    tree = _git(remote, "ls-tree", "-r", "--name-only", "main").split()
    assert sorted(p for p in tree if p.endswith(".md")) == sorted(
        f"content/{lang}/{slug}.md" for lang, slug, _v in articles.values()
    )
    assert all(line.startswith("Newsroom: ") for line in _git(remote, "log", "--format=%s", "main").splitlines())

    failed = [a["id"] for status, body in hook.answers if status == 500 for a in body["articles"]]
    assert [status for status, _ in hook.answers[:2]] == [500, 500] and failed
    assert set(failed) <= set(hook.delivered())  # every article of a failed batch went again, later
    accepted = [(a["id"], a["version"]) for status, body in hook.answers if status == 200 for a in body["articles"]]
    assert len(accepted) == len(set(accepted))  # one delivery at a time: no version sent twice
    with n.store.session() as s:
        state = s.get_one(TargetStateRow, "hook")
        assert state.failures == 0 and state.last_error is None and state.last_success_at is not None
        assert s.get_one(TargetStateRow, "site").failures == 0

    # the story develops: the update job's new version reaches both targets (the same files, ai.version 2); the hook
    # now answers slowly, longer than a sweep: a delivery still running is never joined by a second one
    hook.delay = 3.0
    n.feed = _feed(stories, FOLLOW_UPS[:1])
    _poll_now(n)
    wait_for(
        lambda: (
            (delivered() and sorted(v for *_x, v in live().values()) == [1] * (2 * stories - 2) + [2, 2])
            or proc.poll() is not None
        ),
        180,
        "the updated articles delivered",
        n.state,
    )
    assert proc.poll() is None, n.logs()
    for lang, slug, version in live().values():
        pushed = _git(remote, "show", f"main:content/{lang}/{slug}.md")
        assert yaml.safe_load(pushed.split("---\n")[1])["ai"]["version"] == version
    assert len(_git(remote, "ls-tree", "-r", "--name-only", "main").split()) == len(tree)  # no file added
    accepted = [(a["id"], a["version"]) for status, body in hook.answers if status == 200 for a in body["articles"]]
    assert len(accepted) == len(set(accepted)) == 2 * stories + 2
    assert _stop(proc) == 0, n.logs()
    assert "publish target hook: webhook hook: HTTP 500" in n.logs()
    assert "Traceback" not in n.logs()


def test_worker_refuses_sqlite_and_points_at_run(tmp_path: Path) -> None:
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(f'database_url = "sqlite:///{tmp_path / "n.db"}"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["worker", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output and "newsroom run" in result.output
    assert not (tmp_path / "n.db").exists()  # refused before anything was opened


def test_worker_refuses_an_unknown_queue(tmp_path: Path) -> None:
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text('database_url = "postgresql://nobody@127.0.0.1:9/none"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["worker", "--config", str(cfg), "--queue", "stories", "--queue", "mail"])
    assert result.exit_code == 2
    assert "unknown queue(s) mail" in result.output and "schedule, poll, stories" in result.output


@pytest.mark.postgres
def test_the_schedule_defers_polls_and_story_jobs_with_the_data(pg_store: Store, tmp_path: Path) -> None:
    settings = Settings(
        database_url=pg_store.url,
        sources=[SourceConfig(key="wire", name="Wire", url="http://127.0.0.1:9/feed.xml")],
        worker=WorkerConfig(schedule_seconds=5, sweep_seconds=120),
    )
    registered = make_app(settings, pg_store.url).periodic_registry.periodic_tasks
    crons = {name: pt.cron for (name, _), pt in registered.items()}
    assert crons == {POLL_DUE: "* * * * * */5", ENQUEUE_STORIES: "* * * * * */5", SWEEP: "*/2 * * * *"}
    assert cron_every(1) == "* * * * * */1" and cron_every(60) == "*/1 * * * *"

    def jobs(task: str) -> list[tuple[str, str, str]]:
        with pg_store.session() as s:
            rows = s.execute(
                text("SELECT lock, queueing_lock, status::text FROM procrastinate_jobs WHERE task_name = :t"),
                {"t": task},
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    assert defer_due_polls(pg_store, settings) == ["wire"]
    assert jobs(POLL_SOURCE) == [("source:wire", "source:wire", "todo")]
    with pg_store.session() as s:  # polls go before stories, the schedule before both
        assert s.scalar(text("SELECT priority FROM procrastinate_jobs WHERE task_name = :t"), {"t": POLL_SOURCE}) == 10
    assert {pt.task.priority for pt in registered.values()} == {20}
    with pg_store.session() as s:  # the claim committed with the job: the source is not due again for a while
        assert s.scalars(select(SourceRow.next_poll_at)).one() > utcnow() + timedelta(minutes=4)
    assert defer_due_polls(pg_store, settings) == []
    with pg_store.session() as s:
        s.scalars(select(SourceRow)).one().next_poll_at = utcnow() - timedelta(seconds=1)
    assert defer_due_polls(pg_store, settings) == ["wire"]  # due again: claimed again, but one job is waiting
    assert len(jobs(POLL_SOURCE)) == 1

    now = utcnow()
    with pg_store.session() as s:
        stories = [StoryRow(lead_item_id=0, created_at=now, updated_at=now) for _ in range(3)]
        s.add_all(stories)
        s.flush()
        stories[1].next_attempt_at = now + timedelta(hours=1)  # failed, waiting out its backoff
        stories[2].claimed_by, stories[2].claim_expires_at = "host:1:abc", now + timedelta(minutes=5)
        ids = [st.id for st in stories]
    budget = Budget(settings.budget, pg_store)
    assert enqueue_stories(pg_store, budget) == 1
    assert jobs(PROCESS_STORY) == [(f"story:{ids[0]}", f"story:{ids[0]}", "todo")]
    assert enqueue_stories(pg_store, budget) == 0  # its job is waiting: not deferred twice

    # a worker died while it ran two jobs (no heartbeat for an hour); meanwhile a scheduler racing a fetch deferred a
    # second job for the story: its stalled job is ended (the waiting one does the work), the poll job is retried
    with pg_store.session() as s:
        dead = s.scalar(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id")
        )
        s.execute(text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w"), {"w": dead})
        key = f"story:{ids[0]}"
        assert defer_in(s, PROCESS_STORY, {"story_id": ids[0]}, lock=key, queueing_lock=key)

    async def sweep_stalled() -> list[int]:
        app = make_app(settings, pg_store.url)
        async with app.open_async():
            return await retry_stalled(app, 3)

    retried = asyncio.run(sweep_stalled())
    assert len(retried) == 2
    assert sorted(jobs(PROCESS_STORY), key=lambda j: j[2]) == [(key, key, "failed"), (key, key, "todo")]
    assert jobs(POLL_SOURCE) == [("source:wire", "source:wire", "todo")]


def test_the_poll_job_defers_each_chunk_of_stories_as_it_commits(
    pg_store: Store, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's poll job defers the story jobs of each chunk of new items right after the chunk commits: the first
    stories are being written while the rest of the feed is stored, without waiting for the schedule's next round."""
    from newsroom.config import FetchConfig, LLMConfig, StoriesConfig
    from newsroom.stages import poll
    from newsroom.tasks import Runtime, poll_and_defer

    httpserver.expect_request("/feed.xml").respond_with_data(_feed(len(EVENTS)), content_type="application/rss+xml")
    settings = Settings(
        database_url=pg_store.url,
        sources=[SourceConfig(key="invented", name="Invented Wire", url=httpserver.url_for("/feed.xml"))],
        fetch=FetchConfig(allow_private_networks=True),
        stories=StoriesConfig(same_event=False),
        llm=LLMConfig(provider="openai", base_url="http://127.0.0.1:9/v1", model="none"),
    )
    monkeypatch.setattr(poll, "FIRST_CHUNK", 2)
    monkeypatch.setattr(poll, "STORE_CHUNK", 2)
    import newsroom.tasks as tasks

    seen: list[tuple[int, int]] = []  # (stories stored, story jobs waiting) each time the poll defers
    enqueue = tasks.enqueue_stories

    def counting(store: Store, budget: Budget | None = None) -> int:
        n = enqueue(store, budget)
        with store.session() as s:
            stories = s.scalar(select(func.count()).select_from(StoryRow)) or 0
            jobs = s.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"), {"t": PROCESS_STORY})
        seen.append((stories, jobs))
        return n

    monkeypatch.setattr(tasks, "enqueue_stories", counting)
    defer_due_polls(pg_store, settings)

    async def go() -> str:
        rt = Runtime.open(settings, pg_store)
        try:
            return await poll_and_defer(rt, "invented")
        finally:
            await rt.aclose()

    assert asyncio.run(go()).endswith(f"{len(EVENTS)} new item(s)")
    assert seen == [(2, 2), (4, 4), (6, 6)]

"""Many processes on one database: work is claimed (owner + lease, one atomic UPDATE), the schema migrates once when
first starts race, and a failed story is retried with capped backoff, never given up.

Real parts: `newsroom run` subprocesses against one SQLite file and one PostgreSQL schema, corpus feeds and the
scripted OpenAI-compatible server on 127.0.0.1.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from typer.testing import CliRunner

from crash_support import start_run, write_config
from newsroom.cli import app
from newsroom.config import SourceConfig
from newsroom.devtools.scripted_llm import start_scripted_server
from newsroom.stages.job import retry_delay
from newsroom.store import claims
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, ModelCallRow, StoryRow
from pg_support import drop_schema, fresh_schema
from web_support import serve_feeds

PER_FEED = 4


@pytest.fixture
def feeds(httpserver: HTTPServer, corpus: Path) -> list[SourceConfig]:
    return serve_feeds(httpserver, corpus)


def _two_runs_share_the_work(tmp_path: Path, db_url: str, feeds: list[SourceConfig]) -> None:
    llm = start_scripted_server(latency_ms=150)
    try:
        cfg = write_config(tmp_path, db_url, feeds, llm.base_url, per_feed=PER_FEED)
        procs = [start_run(cfg), start_run(cfg)]  # both first starts: they also race the migration
        outputs = [p.communicate(timeout=600)[0].decode() for p in procs]
        answered = llm.llm.stats()["answered"]
    finally:
        llm.stop()
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out
        assert "IntegrityError" not in out and "Traceback" not in out
    store = Store(db_url)
    try:
        with store.session() as s:
            stories = s.scalar(select(func.count()).select_from(StoryRow))
            assert s.scalar(select(func.count()).select_from(ItemRow)) == 2 * PER_FEED
            assert stories and s.scalar(select(func.count()).select_from(ArticleRow)) == 2 * stories
            calls = s.scalars(select(ModelCallRow)).all()
            assert [c.outcome for c in calls].count("ok") == 2 * stories  # no story written twice
            assert len(calls) == answered
            assert not s.scalar(select(func.count()).where(StoryRow.claimed_by.is_not(None)))
    finally:
        store.close()
    assert len(list((tmp_path / "content").rglob("*.md"))) == 2 * stories


def test_two_run_processes_on_one_sqlite_file(tmp_path: Path, feeds: list[SourceConfig]) -> None:
    _two_runs_share_the_work(tmp_path, f"sqlite:///{tmp_path / 'n.db'}", feeds)


def test_two_run_processes_on_one_postgresql_database(
    tmp_path: Path, feeds: list[SourceConfig], postgres_url: str
) -> None:
    url, schema = fresh_schema(postgres_url)
    try:
        _two_runs_share_the_work(tmp_path, url, feeds)
    finally:
        drop_schema(postgres_url, schema)


def _open(url: str) -> None:
    Store(url).close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_first_starts_racing_on_an_empty_database_migrate_once(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    if engine == "postgres":
        postgres_url = request.getfixturevalue("postgres_url")
        url, schema = fresh_schema(postgres_url)
    else:
        url, schema = f"sqlite:///{tmp_path / 'race.db'}", ""
    try:
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_open, args=(url,)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
        store = Store(url)
        assert "stories" in store.table_names()
        store.close()
    finally:
        if schema:
            drop_schema(request.getfixturevalue("postgres_url"), schema)


def _story(s, n: int = 1) -> list[int]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    rows = [StoryRow(lead_item_id=0, created_at=now, updated_at=now) for _ in range(n)]
    s.add_all(rows)
    s.flush()
    return [r.id for r in rows]


def test_a_claimed_story_is_nobody_elses_until_its_lease_expires(store: Store) -> None:
    lease = timedelta(minutes=10)
    with store.session() as s:
        ids = _story(s, 2)
    with store.session() as s:
        assert claims.claim_stories(s, "a", ids, lease) == ids
    with store.session() as s:
        assert claims.claim_stories(s, "b", ids, lease) == []
        assert claims.due_story_ids(s, "b") == []
        assert claims.due_story_ids(s, "a") == ids  # its own claims stay visible to the holder
        claims.renew_claims(s, "a", ids[:1], lease)
        s.get_one(StoryRow, ids[1]).claim_expires_at = datetime.now(UTC) - timedelta(seconds=1)  # a dead holder
    with store.session() as s:
        assert claims.claim_stories(s, "b", ids, lease) == ids[1:]


def test_a_story_job_claims_only_a_pending_due_free_story(store: Store) -> None:
    """A worker's story job checks and claims its story with one UPDATE (``claims.claim_due_story``)."""
    lease = timedelta(minutes=10)
    now = datetime.now(UTC)
    with store.session() as s:
        free, backing_off, written, held = _story(s, 4)
        s.get_one(StoryRow, backing_off).next_attempt_at = now + timedelta(minutes=5)
        s.get_one(StoryRow, written).status = "written"
    with store.session() as s:
        assert claims.claim_stories(s, "b", [held], lease) == [held]
    with store.session() as s:
        assert claims.claim_due_story(s, "a", free, lease)
        assert not claims.claim_due_story(s, "a", backing_off, lease)
        assert not claims.claim_due_story(s, "a", written, lease)
        assert not claims.claim_due_story(s, "a", held, lease)  # another owner's lease runs
        assert not claims.claim_due_story(s, "a", 10**9, lease)  # no such story
    with store.session() as s:
        assert claims.claim_due_story(s, "a", free, lease)  # a retried job (same owner) takes its story back
        assert s.get_one(StoryRow, free).claimed_by == "a"
        s.get_one(StoryRow, backing_off).next_attempt_at = now - timedelta(seconds=1)
    with store.session() as s:
        assert claims.claim_due_story(s, "a", backing_off, lease)


def test_retry_backoff_is_capped_and_never_gives_up() -> None:
    delays = [retry_delay(n, 60, 3600).total_seconds() for n in range(1, 10)]
    assert delays[:4] == [60, 120, 240, 480] and max(delays) == 3600 and delays[-1] == 3600


def test_retry_command_makes_failed_stories_due_now(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    store = Store(f"sqlite:///{db}")
    later = datetime.now(UTC) + timedelta(hours=1)
    with store.session() as s:
        ids = _story(s, 3)
        for sid in ids:
            st = s.get_one(StoryRow, sid)
            st.attempts, st.last_error, st.next_attempt_at = 7, "server_error: HTTP 503", later
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(f'database_url = "sqlite:///{db}"\n', encoding="utf-8")
    runner = CliRunner()
    stats = runner.invoke(app, ["stats", "--json", "--config", str(cfg)])
    assert stats.exit_code == 0, stats.output
    assert '"attempts": 7' in stats.output  # a story that keeps failing stays visible
    one = runner.invoke(app, ["retry", "--story", str(ids[0]), "--config", str(cfg)])
    assert one.exit_code == 0 and "1 story due now" in one.output
    with store.session() as s:
        assert claims.due_story_ids(s, "me") == ids[:1]
    rest = runner.invoke(app, ["retry", "--config", str(cfg)])
    assert rest.exit_code == 0 and "2 stories due now" in rest.output
    with store.session() as s:
        assert claims.due_story_ids(s, "me") == ids
    store.close()

"""Exactly once across crashes: the slug is fixed before the model is called, the row is committed before its file
(outbox), a start sweeps what a crash left on disk, and a call whose reply a crash lost is still counted.

Real parts: corpus feeds and the scripted OpenAI-compatible server on 127.0.0.1, `newsroom run` as a subprocess
killed with SIGKILL, a real SQLite file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from crash_support import kill9, start_run, wait_for, write_config
from newsroom.config import ExtractConfig, FetchConfig, GuardsConfig, LLMConfig, PublishConfig, Settings, SourceConfig
from newsroom.devtools.scripted_llm import start_scripted_server
from newsroom.slugs import slugify
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ModelCallRow, StoryRow
from web_support import run_pipeline, serve_feeds

PER_FEED = 2


@pytest.fixture
def feeds(httpserver: HTTPServer, corpus: Path) -> list[SourceConfig]:
    return serve_feeds(httpserver, corpus)


def _settings(tmp_path: Path, store: Store, feeds: list[SourceConfig], llm_url: str, **llm: object) -> Settings:
    return Settings(
        database_url=store.url,
        languages=["en", "uk"],
        max_items_per_source=PER_FEED,
        sources=feeds,
        fetch=FetchConfig(allow_private_networks=True),
        llm=LLMConfig(provider="openai", base_url=llm_url, model="scripted", concurrency=4, **llm),  # type: ignore[arg-type]
        publish=PublishConfig(content_dir=tmp_path / "content"),
        guards=GuardsConfig(enabled=False),
        extract=ExtractConfig(enabled=False),
    )


def test_the_slug_is_fixed_before_the_model_is_called(
    tmp_path: Path, sqlite_store: Store, feeds: list[SourceConfig], scripted_llm: str
) -> None:
    dead = _settings(tmp_path, sqlite_store, feeds, "http://127.0.0.1:9/v1", max_retries=0, timeout_seconds=2)
    assert run_pipeline(dead, sqlite_store).failures
    with sqlite_store.session() as s:
        fixed = {st.id: st.slug for st in s.scalars(select(StoryRow))}
        titles = {st.id: [i.title for i in st.items] for st in s.scalars(select(StoryRow))}
        assert s.scalar(select(func.count()).select_from(ArticleRow)) == 0
    assert fixed and all(fixed.values())
    for sid, slug in fixed.items():  # from a source's headline, not from whatever title the model will give
        assert any(slug.startswith(slugify(t, max_length=71)[:20]) for t in titles[sid])

    healed = run_pipeline(_settings(tmp_path, sqlite_store, feeds, scripted_llm), sqlite_store)
    assert not healed.failures
    with sqlite_store.session() as s:
        for a in s.scalars(select(ArticleRow)):
            assert a.slug == fixed[a.story_id] and Path(a.path or "").stem == a.slug


def test_a_start_sweeps_temporary_and_orphan_files_and_keeps_the_rest(
    tmp_path: Path, sqlite_store: Store, feeds: list[SourceConfig], scripted_llm: str
) -> None:
    settings = _settings(tmp_path, sqlite_store, feeds, scripted_llm)
    run_pipeline(settings, sqlite_store)
    content = tmp_path / "content"
    articles = sorted(content.rglob("*.md"))
    assert articles
    orphan = content / "en" / "a-title-the-model-gave-last-time-0123abcd.md"  # what the old file-first order left
    orphan.write_bytes(articles[0].read_bytes())
    stale = content / "en" / ".gone.md.x1y2.tmp"
    stale.write_text("half an article")
    old = time.time() - 600
    os.utime(stale, (old, old))
    fresh = content / "en" / ".busy.md.z9.tmp"  # another process may be writing it right now
    fresh.write_text("being written")
    dead = subprocess.Popen(["true"])  # a writer on this host that no longer runs: its file goes at once, young
    dead.wait()
    host = socket.gethostname()
    host = "".join(c if c.isalnum() or c == "-" else "-" for c in host)[:32] or "host"
    killed = content / "en" / f".half.md.{host}~{dead.pid}.ab_12xyz.tmp"
    killed.write_text("the half a kill -9 left")
    alive = content / "uk" / f".busy.md.{host}~{os.getpid()}.cd34_xyz.tmp"  # this process is still writing it
    alive.write_text("being written")
    page = content / "en" / "about.md"  # the site's own page, not an article
    page.write_text("---\ntitle: About\n---\nWho we are.\n")
    before = {p: p.stat().st_mtime_ns for p in articles}

    again = run_pipeline(settings, sqlite_store)
    assert again.model_calls == 0
    assert not orphan.exists() and not stale.exists() and not killed.exists()
    assert fresh.exists() and page.exists() and alive.exists()
    assert {p: p.stat().st_mtime_ns for p in articles} == before


def test_a_row_committed_before_its_file_is_published_on_the_next_start(
    tmp_path: Path, sqlite_store: Store, feeds: list[SourceConfig], scripted_llm: str
) -> None:
    settings = _settings(tmp_path, sqlite_store, feeds, scripted_llm)
    run_pipeline(settings, sqlite_store)
    with sqlite_store.session() as s:  # as if the process died after the row's commit, before its file
        article = s.scalars(select(ArticleRow).where(ArticleRow.lang == "en")).first()
        assert article is not None and article.path
        path = Path(article.path)
        article.published_version, article.path = 0, None
    path.unlink()
    summary = run_pipeline(settings, sqlite_store)
    assert path in summary.published and path.exists() and summary.model_calls == 0
    with sqlite_store.session() as s:
        assert not queries.unpublished_article_ids(s)


def test_a_call_in_flight_when_the_process_is_killed_is_still_counted(
    tmp_path: Path, feeds: list[SourceConfig], scripted_llm: str
) -> None:
    db = tmp_path / "n.db"
    slow = start_scripted_server(latency_ms=60_000)  # every call is in flight when the kill comes
    try:
        proc = start_run(write_config(tmp_path, f"sqlite:///{db}", feeds, slow.base_url, per_feed=PER_FEED))
        wait_for(lambda: slow.llm.stats()["in_flight"] >= 1, what="a model call in flight")
        time.sleep(1.0)  # let the other writers' requests arrive too
        seen = slow.llm.stats()["requests"]
        kill9(proc)
    finally:
        slow.stop()
    store = Store(f"sqlite:///{db}")
    try:
        with store.session() as s:
            rows = s.scalars(select(ModelCallRow)).all()
            assert seen <= len(rows) <= seen + 4  # + at most the attempts that were announced but not yet sent
            assert {r.outcome for r in rows} == {"started"}
            lost = queries.stats(s)["model_usage"]["write"]["calls"]
            assert lost == len(rows)

        # the rerun finishes every story once per language and completes nothing twice
        proc = start_run(write_config(tmp_path, f"sqlite:///{db}", feeds, scripted_llm, per_feed=PER_FEED))
        assert proc.wait(timeout=300) == 0, proc.stdout.read().decode() if proc.stdout else ""
        with store.session() as s:
            stories = s.scalar(select(func.count()).select_from(StoryRow))
            assert s.scalar(select(func.count()).select_from(ArticleRow)) == 2 * stories
            ok = s.scalar(select(func.count()).where(ModelCallRow.outcome == "ok"))
            assert ok == 2 * stories
        files = list((tmp_path / "content").rglob("*.md"))
        assert len(files) == 2 * stories and not list((tmp_path / "content").rglob("*.tmp"))
    finally:
        store.close()

"""An answered model call is never asked twice, and an outage of the model endpoint ends without a manual step.

Real parts: the corpus feeds and the scripted OpenAI-compatible server on 127.0.0.1 (its request counters are what the
endpoint saw), a real SQLite store, the real pipeline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from newsroom.config import Settings, StoriesConfig
from newsroom.devtools.scripted_llm import RunningServer, start_scripted_server
from newsroom.llm import make_provider
from newsroom.llm.base import Prompt
from newsroom.llm.replies import DurableReplies
from newsroom.llm.usage import CallBuffer, current_story
from newsroom.models import ArticleText
from newsroom.stages import write
from newsroom.store import claims, queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ModelCallRow, ModelReplyRow, StoryRow
from web_support import plain_settings, run_pipeline


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = start_scripted_server(latency_ms=0)
    yield running
    running.stop()


def _count(store: Store, stmt) -> int:  # type: ignore[no-untyped-def]
    with store.session() as s:
        return int(s.scalar(stmt) or 0)


def test_a_reply_whose_article_never_committed_is_reused_not_asked_again(
    tmp_path: Path,
    sqlite_store: Store,
    httpserver: HTTPServer,
    corpus: Path,
    server: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = plain_settings(tmp_path, sqlite_store, httpserver, corpus, server.base_url)

    def crash(*_a: object, **_k: object) -> None:  # what a kill -9 in the offline classifiers would leave
        raise RuntimeError("killed while the classifiers ran")

    monkeypatch.setattr(write, "pivot_row", crash)
    first = run_pipeline(settings, sqlite_store)
    n = first.stories
    assert n >= 2 and len(first.failures) == n and first.written == {}
    assert server.llm.stats()["answered"] == n  # one write call per story, all answered
    # each reply was committed with its call's outcome the moment it arrived, before the work that failed
    assert _count(sqlite_store, select(func.count()).select_from(ModelReplyRow)) == n
    assert _count(sqlite_store, select(func.count()).where(ModelCallRow.outcome == "ok")) == n

    monkeypatch.undo()
    with sqlite_store.session() as s:
        claims.retry_now(s)
    second = run_pipeline(settings, sqlite_store)
    assert second.written == {"en": n, "uk": n} and not second.failures
    stats = server.llm.stats()
    assert stats["answered"] == 2 * n  # the rerun asked only for the translations: no write call twice
    assert second.model_calls == n
    with sqlite_store.session() as s:
        usage = queries.stats(s)["model_usage"]
        assert usage["write"]["calls"] == n and usage["translate"]["calls"] == n
        assert sum(u["calls"] for u in usage.values()) == stats["answered"]
        assert s.scalar(select(func.count()).select_from(ArticleRow)) == 2 * n
        assert s.scalar(select(func.count()).select_from(ModelReplyRow)) == 0  # spent replies are dropped


def test_a_stored_reply_is_handed_out_once_per_process(sqlite_store: Store, server: RunningServer) -> None:
    settings = Settings(database_url=sqlite_store.url)
    llm = settings.llm.model_copy(update={"provider": "openai", "base_url": server.base_url, "model": "scripted"})
    prompt = Prompt(stage="translate", system="Translate.", user='{"title": "An invented headline"}')

    async def ask(times: int) -> None:
        calls = CallBuffer(sqlite_store)
        provider = DurableReplies(make_provider(llm, calls), sqlite_store, calls)
        current_story.set(7)
        try:
            for _ in range(times):
                await provider.generate(prompt, ArticleText)
        finally:
            await provider.aclose()

    asyncio.run(ask(2))  # the same question twice in one process: two answers
    assert server.llm.stats()["answered"] == 2
    asyncio.run(ask(3))  # a restarted process gets the two stored replies, then asks once more
    assert server.llm.stats()["answered"] == 3
    assert _count(sqlite_store, select(func.count()).select_from(ModelReplyRow)) == 3
    assert _count(sqlite_store, select(func.count()).where(ModelCallRow.outcome == "ok")) == 3


def test_a_job_reads_its_stored_replies_once_not_at_every_call(sqlite_store: Store, server: RunningServer) -> None:
    """The look-up runs in another thread: the job's replies read at its first call must reach it there (a context
    variable does not cross ``run_in_executor``), or every call costs a query and a commit of its own."""
    from sqlalchemy import event

    from newsroom.llm import replies

    settings = Settings(database_url=sqlite_store.url)
    llm = settings.llm.model_copy(update={"provider": "openai", "base_url": server.base_url, "model": "scripted"})
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "model_replies" in statement:
            reads.append(statement)

    async def job(questions: int) -> None:
        calls = CallBuffer(sqlite_store)
        provider = DurableReplies(make_provider(llm, calls), sqlite_store, calls)
        replies.new_job()
        current_story.set(7)
        try:
            for i in range(questions):
                prompt = Prompt(stage="translate", system="Translate.", user=f'{{"title": "Invented headline {i}"}}')
                await provider.generate(prompt, ArticleText)
        finally:
            await provider.aclose()

    event.listen(sqlite_store.engine, "before_cursor_execute", seen)
    try:
        asyncio.run(job(3))
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", seen)
    assert server.llm.stats()["answered"] == 3
    assert len(reads) == 1  # the first call of the job; the two after it use what it read


def test_stories_that_failed_in_an_outage_are_written_soon_after_it_ends(
    tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, server: RunningServer
) -> None:
    """`run --watch` in short: rounds every 0.3 s through a 2 s outage; the backoff after a failure is an hour, so
    only the probe of the endpoint (llm/health.py) can bring the stories back."""
    settings = plain_settings(
        tmp_path,
        sqlite_store,
        httpserver,
        corpus,
        server.base_url,
        stories=StoriesConfig(same_event=False, retry_base_seconds=3600),
    )
    outage_s = 2.0
    server.llm.outage(outage_s, from_next_request=True)  # from the first model request, however long the poll takes
    first = run_pipeline(settings, sqlite_store)
    ends = server.llm.outage_until
    n = first.stories
    assert n >= 2 and len(first.failures) == n and first.written == {}
    with sqlite_store.session() as s:
        stories = s.scalars(select(StoryRow)).all()
        assert all(st.last_error and st.last_error.startswith("server_error") for st in stories)
        later = datetime.now(UTC) + timedelta(minutes=30)
        assert all(st.next_attempt_at and st.next_attempt_at > later for st in stories)  # an hour's backoff

    written: dict[str, int] = {}
    rounds_after = 0
    while time.monotonic() < ends + 30:
        time.sleep(0.3)
        summary = run_pipeline(settings, sqlite_store)
        for lang, k in summary.written.items():
            written[lang] = written.get(lang, 0) + k
        if time.monotonic() > ends:
            rounds_after += 1
        if written == {"en": n, "uk": n}:
            break
    assert written == {"en": n, "uk": n}
    assert rounds_after <= 2  # the first round after the outage (the second, when one straddles its end)
    with sqlite_store.session() as s:
        assert all(st.status == "written" and st.last_error is None for st in s.scalars(select(StoryRow)))
    assert server.llm.stats()["refused"] >= n


def test_the_first_call_does_not_wait_behind_cpu_work_in_the_default_executor(server: RunningServer) -> None:
    """The SDK looked up its platform headers through asyncio.to_thread on its first request: behind the stages' CPU
    work in the default executor, past the call's total deadline. Here that executor is busy for 6 s or more and the
    deadline is 2 s."""
    settings = Settings(database_url="sqlite://")
    llm = settings.llm.model_copy(
        update={"provider": "openai", "base_url": server.base_url, "model": "scripted", "timeout_seconds": 2}
    )
    prompt = Prompt(stage="translate", system="Translate.", user='{"title": "An invented headline"}')

    async def go() -> None:
        busy = [asyncio.create_task(asyncio.to_thread(time.sleep, 3)) for _ in range(64)]
        await asyncio.sleep(0.1)
        provider = make_provider(llm, CallBuffer())
        try:
            await provider.generate(prompt, ArticleText)
        finally:
            await provider.aclose()
            for task in busy:
                task.cancel()

    asyncio.run(go())
    assert server.llm.stats()["answered"] == 1

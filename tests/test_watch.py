"""`newsroom run --watch` survives errors that are not the model's: a round that fails (here the content folder is
not a folder, so publishing fails) is logged, the daemon backs off and goes on, and once the folder is fixed every
story is published without a manual step. A real subprocess, real feeds and the scripted server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from crash_support import start_run, wait_for, write_config
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, StoryRow
from web_support import serve_feeds


def test_watch_survives_a_publish_error_and_finishes_after_it(
    tmp_path: Path, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    db = tmp_path / "n.db"
    content = tmp_path / "site"
    content.write_text("a file where the content folder should be")
    cfg = write_config(
        tmp_path,
        f"sqlite:///{db}",
        serve_feeds(httpserver, corpus),
        scripted_llm,
        per_feed=2,
        content=content,
        extra="[stories]\nsame_event = false\nretry_base_seconds = 0.5\nretry_max_seconds = 1",
    )
    proc = start_run(cfg, "--watch", "--every", "0.5")
    store = Store(f"sqlite:///{db}")
    try:

        def failed_publish() -> bool:
            with store.session() as s:
                errors = s.scalars(select(StoryRow.last_error).where(StoryRow.last_error.is_not(None))).all()
            return any("internal" in e for e in errors)

        wait_for(failed_publish, timeout=400, what="a story whose publishing failed")
        assert proc.poll() is None  # still running after the failed round
        content.unlink()
        content.mkdir()

        def all_published() -> bool:
            with store.session() as s:
                stories = s.scalar(select(func.count()).select_from(StoryRow)) or 0
                written = s.scalar(select(func.count()).where(StoryRow.status == "written"))
                articles = s.scalar(select(func.count()).select_from(ArticleRow))
            return stories > 0 and written == stories and articles == 2 * stories

        wait_for(all_published, timeout=400, what="every story written after the fix")
        wait_for(lambda: len(list(content.rglob("*.md"))) == 2 * _stories(store), timeout=30, what="the files")
        assert proc.poll() is None
    finally:
        proc.kill()
        out = proc.communicate(timeout=30)[0].decode()
        store.close()
    # the failure was logged (per story, and as "round failed" when a round ends while the folder is broken)
    assert "NotADirectoryError" in out


def _stories(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(StoryRow)) or 0

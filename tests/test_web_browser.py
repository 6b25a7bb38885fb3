"""End to end in a real browser: Playwright driving Debian's Chromium against `newsroom serve`'s app on 127.0.0.1.

Sign in, approve a draft from the review queue, edit a section and see the Markdown file change, regeneration refused
while the article is locked; screenshots of the queue and the dashboard land in test-artifacts/ (gitignored).
Without /usr/bin/chromium the tests skip with a reason; with NEWSROOM_REQUIRE_BROWSER=1 (CI) that is a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow
from newsroom.web import create_app
from web_support import TOKEN, Newsroom, corpus_newsroom, read_file

CHROMIUM = Path(os.environ.get("NEWSROOM_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _browser_or_skip() -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed"
    if reason:
        if os.environ.get("NEWSROOM_REQUIRE_BROWSER", "") not in ("", "0", "false"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def newsroom(tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str) -> Newsroom:
    _browser_or_skip()
    return corpus_newsroom(tmp_path, sqlite_store, httpserver, corpus, scripted_llm)


@pytest.fixture
def server(newsroom: Newsroom) -> Iterator[str]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(newsroom.settings, newsroom.store)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the web server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        yield pg
        context.close()
        browser.close()


def _row(store: Store, article_id: int) -> ArticleRow:
    with store.session() as s:
        return s.get_one(ArticleRow, article_id)


def _sign_in(page, server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/ui/")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Review queue')")


def test_review_edit_and_locked_regeneration(page, server: str, newsroom: Newsroom) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{server}/ui/")
    expect(page.locator("input[name=token]")).to_be_visible()  # the UI needs the token
    page.fill("input[name=token]", "not-the-token-not-the-token")
    page.click("button[type=submit]")
    expect(page.locator("#error")).to_contain_text("Wrong token")
    _sign_in(page, server)
    cookie = next(c for c in page.context.cookies() if c["name"] == "newsroom_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # the review queue shows the drafts with the guard reasons
    draft_id = newsroom.drafts[0]
    row = page.locator(f"#row-{draft_id}")
    expect(row).to_contain_text("grounding:number-not-in-source")
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)

    # approve it from its page: the file flips to draft: false
    path = Path(_row(newsroom.store, draft_id).path)
    assert read_file(path)[0]["draft"] is True
    row.locator("a").first.click()
    expect(page.locator("h2:has-text('Source item')")).to_be_visible()
    page.click("#publish")
    expect(page.locator(".flash.ok")).to_contain_text("Published")
    expect(page.locator("#status")).to_have_text("live")
    assert read_file(path)[0]["draft"] is False

    # edit a section: the Markdown file changes and the article is locked
    page.click("#edit")
    page.fill("#overview", "An editor rewrote this overview in the browser.")
    page.click("#save")
    expect(page.locator(".flash.ok")).to_contain_text("locked against regeneration")
    expect(page.locator("#locked")).to_be_visible()
    front, body = read_file(path)
    assert "An editor rewrote this overview in the browser." in body
    version = front["ai"]["version"]

    # regenerate is refused while locked; nothing changes
    before = path.read_bytes()
    page.click("#regenerate")
    expect(page.locator("#error")).to_contain_text("locked")
    assert path.read_bytes() == before and _row(newsroom.store, draft_id).version == version

    # the dashboard's charts
    page.click("a:has-text('Dashboard')")
    expect(page.locator("svg.chart")).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "review-queue.png").stat().st_size > 10_000
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_reading_works_without_javascript(server: str, newsroom: Newsroom) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        _sign_in(page, server)
        page.click(f"#row-{newsroom.drafts[0]} a")
        expect(page.locator("#body h2").first).to_be_visible()
        page.click("#publish")  # a plain form post and redirect
        expect(page.locator("#status")).to_have_text("live")
        context.close()
        browser.close()

"""The editorial UI without a browser: sign-in, session cookie, CSRF, escaping, every page renders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, SourceRow
from newsroom.web import create_app
from web_support import TOKEN, Newsroom, corpus_newsroom, read_file

HTML = {"Accept": "text/html"}


@pytest.fixture
def newsroom(tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str) -> Newsroom:
    return corpus_newsroom(tmp_path, sqlite_store, httpserver, corpus, scripted_llm)


@pytest.fixture
def client(newsroom: Newsroom) -> Iterator[TestClient]:
    with TestClient(create_app(newsroom.settings, newsroom.store), base_url="https://testserver") as c:
        yield c


def _login_form_value(client: TestClient) -> str:
    form = client.get("/ui/login", headers=HTML)
    assert "newsroom_login=" in form.headers["set-cookie"]
    return re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]


def _sign_in(client: TestClient) -> str:
    value = _login_form_value(client)
    r = client.post("/ui/login", data={"token": TOKEN, "next": "/ui/", "csrf_token": value}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    page = client.get("/ui/", headers=HTML)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]


def test_ui_needs_sign_in(client: TestClient) -> None:
    for path in ["/ui/", "/ui/articles", "/ui/sources", "/ui/dashboard", "/ui/articles/1"]:
        r = client.get(path, headers=HTML)
        assert r.status_code == 401 and 'name="token"' in r.text, path
    assert client.get("/ui/").json()["error"]["code"] == "unauthorized"  # non-browser clients get JSON
    value = _login_form_value(client)
    r = client.post("/ui/login", data={"token": "wrong-wrong-wrong-wrong", "csrf_token": value}, headers=HTML)
    assert r.status_code == 401 and "Wrong token." in r.text and "newsroom_session" not in r.headers["set-cookie"]
    # the right token from a form this server did not hand out (login CSRF): refused, no session
    r = client.post("/ui/login", data={"token": TOKEN, "csrf_token": "forged-value"}, headers=HTML)
    assert r.status_code == 403 and "newsroom_session" not in r.headers["set-cookie"]
    client.cookies.clear()
    r = client.post("/ui/login", data={"token": TOKEN, "csrf_token": value}, headers=HTML)
    assert r.status_code == 403  # the value without its cookie
    forged = "abc." + "9" * 10 + ".forged"
    client.cookies.set("newsroom_session", forged, domain="testserver.local")
    assert client.get("/ui/", headers=HTML).status_code == 401
    client.cookies.clear()


def test_sign_out_revokes_copies_of_the_cookie(client: TestClient) -> None:
    csrf = _sign_in(client)
    copied = client.cookies.get("newsroom_session")
    assert copied
    client.cookies.clear()
    client.cookies.set("newsroom_session", copied, domain="testserver.local")
    assert client.get("/ui/", headers=HTML).status_code == 200  # a copy works while the session is live
    r = client.post("/ui/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "signed_out" in r.headers["location"]
    assert client.get("/ui/", headers=HTML).status_code == 401
    client.cookies.set("newsroom_session", copied, domain="testserver.local")  # the copy, replayed after sign-out
    assert client.get("/ui/", headers=HTML).status_code == 401
    client.cookies.clear()
    _sign_in(client)  # a new sign-in gets a new session, which works
    assert client.get("/ui/sources", headers=HTML).status_code == 200


def test_csrf_is_required_and_nothing_changes_without_it(client: TestClient, newsroom: Newsroom) -> None:
    csrf = _sign_in(client)
    draft = newsroom.drafts[0]
    assert client.post(f"/ui/articles/{draft}/publish", headers=HTML).status_code == 403
    assert client.post(f"/ui/articles/{draft}/publish", data={"csrf_token": "x" * 43}).status_code == 403
    with newsroom.store.session() as s:
        assert s.get_one(ArticleRow, draft).draft is True
    r = client.post(f"/ui/articles/{draft}/publish", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/articles/{draft}?done=published"
    with newsroom.store.session() as s:
        row = s.get_one(ArticleRow, draft)
        assert row.draft is False
    assert read_file(Path(row.path))[0]["draft"] is False
    # htmx sends the token as a header
    r = client.post(f"/ui/articles/{draft}/unpublish", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 200 and "Unpublished" in r.text


def test_pages_render_and_escape_hostile_text(client: TestClient, newsroom: Newsroom) -> None:
    csrf = _sign_in(client)
    queue = client.get("/ui/", headers=HTML).text
    assert "grounding:number-not-in-source" in queue and "Review queue" in queue
    article_id = newsroom.drafts[0]
    with newsroom.store.session() as s:
        s.get_one(ArticleRow, article_id).title = '<script>alert("x")</script>'
    page = client.get(f"/ui/articles/{article_id}", headers=HTML)
    assert page.status_code == 200 and "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "Source item" in page.text and "Guard reasons" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    edit = client.get(f"/ui/articles/{article_id}/edit", headers=HTML)
    assert edit.status_code == 200 and 'name="overview"' in edit.text
    for path in ["/ui/articles", "/ui/articles?status=published&lang=uk&q=scripted", "/ui/sources", "/ui/dashboard"]:
        r = client.get(path, headers=HTML)
        assert r.status_code == 200, path
    dash = client.get("/ui/dashboard", headers=HTML).text
    assert dash.count("<svg") == 3 and "Model tokens per day by stage" in dash and "<rect" in dash

    # a bad edit is refused with the form kept, and nothing changes
    r = client.post(f"/ui/articles/{article_id}/edit", data={"csrf_token": csrf, "title": "", "score": "500"})
    assert r.status_code == 422 and 'id="error"' in r.text
    # adding a source with a bad URL is refused
    r = client.post("/ui/sources", data={"csrf_token": csrf, "key": "x", "name": "X", "url": "ftp://x"})
    assert r.status_code == 422


def test_sources_page_adds_api_sources_and_shows_skipped_entries(client: TestClient, newsroom: Newsroom) -> None:
    csrf = _sign_in(client)
    form = {"csrf_token": csrf, "key": "cd-api", "name": "CoinDesk Data", "type": "API", "language": "en",
            "url": "https://data-api.coindesk.com/news/v1/article/list", "api_key_env": "COINDESK_API_KEY"}  # fmt: skip
    r = client.post("/ui/sources", data=form, headers=HTML, follow_redirects=False)
    assert r.status_code == 303, r.text
    with newsroom.store.session() as s:
        added = s.scalars(select(SourceRow).where(SourceRow.key == "cd-api")).one()
        assert (added.type, added.options) == ("API", {"language": "en", "api_key_env": "COINDESK_API_KEY"})
        s.scalars(select(SourceRow).where(SourceRow.key == "coindesk")).one().skip_counts = {"duplicate-id": 4}
    page = client.get("/ui/sources", headers=HTML).text
    assert "duplicate-id 4" in page and "cd-api" in page

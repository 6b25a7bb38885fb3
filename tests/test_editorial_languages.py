"""Publish, unpublish and pin every language of a story at once (API ?allLanguages=true, the UI's box), or one
language as before; the files show it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow
from newsroom.web import create_app
from web_support import AUTH, TOKEN, Newsroom, corpus_newsroom, read_file

HTML = {"Accept": "text/html"}


@pytest.fixture
def newsroom(tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str) -> Newsroom:
    return corpus_newsroom(tmp_path, sqlite_store, httpserver, corpus, scripted_llm)


@pytest.fixture
def client(newsroom: Newsroom) -> Iterator[TestClient]:
    with TestClient(create_app(newsroom.settings, newsroom.store), base_url="https://testserver") as c:
        yield c


def rows(newsroom: Newsroom, ids: list[int]) -> list[ArticleRow]:
    with newsroom.store.session() as s:
        return list(s.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)).order_by(ArticleRow.id)))


def test_api_acts_on_one_language_or_all(client: TestClient, newsroom: Newsroom) -> None:
    drafts = rows(newsroom, newsroom.drafts)
    assert len(drafts) == 2 and {a.lang for a in drafts} == {"en", "uk"}
    en = next(a for a in drafts if a.lang == "en")
    uk = next(a for a in drafts if a.lang == "uk")

    r = client.post(f"/api/v1/articles/en/{en.slug}/publish", headers=AUTH)
    assert r.status_code == 200 and r.json()["draft"] is False
    assert [a.draft for a in rows(newsroom, [en.id, uk.id])] == [False, True]  # one language only

    r = client.post(f"/api/v1/articles/en/{en.slug}/unpublish?allLanguages=true", headers=AUTH)
    assert r.status_code == 200
    after = rows(newsroom, [en.id, uk.id])
    assert [a.draft for a in after] == [True, True]
    assert all(read_file(Path(a.path))[0]["draft"] is True for a in after)

    r = client.post(f"/api/v1/articles/uk/{uk.slug}/publish?allLanguages=true", headers=AUTH)
    assert r.status_code == 200
    r = client.put(f"/api/v1/articles/uk/{uk.slug}/sticky?allLanguages=true", json={"stickyWeight": 5}, headers=AUTH)
    assert r.status_code == 200
    after = rows(newsroom, [en.id, uk.id])
    assert [(a.draft, a.sticky_weight, a.draft_reasons) for a in after] == [(False, 5, []), (False, 5, [])]
    for a in after:
        front = read_file(Path(a.path))[0]
        assert front["draft"] is False and front["stickyWeight"] == 5 and front["ai"]["version"] == a.version
    # another story is untouched
    with newsroom.store.session() as s:
        others = list(s.scalars(select(ArticleRow).where(ArticleRow.story_id != en.story_id)))
    assert others and all(a.sticky_weight == 0 for a in others)
    assert client.post(f"/api/v1/articles/en/{en.slug}/publish?allLanguages=maybe", headers=AUTH).status_code == 422


def test_ui_box_applies_to_every_language(client: TestClient, newsroom: Newsroom) -> None:
    form = client.get("/ui/login", headers=HTML)
    value = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]
    client.post("/ui/login", data={"token": TOKEN, "next": "/ui/", "csrf_token": value}, follow_redirects=False)
    en = next(a for a in rows(newsroom, newsroom.drafts) if a.lang == "en")
    page = client.get(f"/ui/articles/{en.id}", headers=HTML)
    assert 'id="publish-all"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    r = client.post(f"/ui/articles/{en.id}/publish", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert [a.draft for a in rows(newsroom, newsroom.drafts)] == [
        a.lang != "en" for a in rows(newsroom, newsroom.drafts)
    ]
    r = client.post(
        f"/ui/articles/{en.id}/sticky",
        data={"csrf_token": csrf, "sticky_weight": "3", "all_languages": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [a.sticky_weight for a in rows(newsroom, newsroom.drafts)] == [3, 3]
    r = client.post(
        f"/ui/articles/{en.id}/publish", data={"csrf_token": csrf, "all_languages": "yes"}, follow_redirects=False
    )
    assert [a.draft for a in rows(newsroom, newsroom.drafts)] == [False, False]

"""The JSON API over a real newsroom (pipeline-written articles and files) on SQLite and on the local PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newsroom.models import ArticleText
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, SourceRow
from newsroom.web import create_app
from source_support import api_articles
from web_support import AUTH, DRAFT_REASONS, TOKEN, Newsroom, corpus_newsroom, read_file


@pytest.fixture
def newsroom(tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str) -> Newsroom:
    return corpus_newsroom(tmp_path, store, httpserver, corpus, scripted_llm)


@pytest.fixture
def client(newsroom: Newsroom) -> Iterator[TestClient]:
    with TestClient(create_app(newsroom.settings, newsroom.store), base_url="https://testserver") as c:
        yield c


def _all(client: TestClient, **params: object) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        r = client.get("/api/v1/articles", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        pages += 1
        cursor = page["nextCursor"]
        if not cursor:
            return items
        assert pages < 100


def _row(store: Store, article_id: int) -> ArticleRow:
    with store.session() as s:
        return s.get_one(ArticleRow, article_id)


# ---- reads -------------------------------------------------------------------------------------------------------


def test_list_excludes_drafts_paginates_and_orders(client: TestClient, newsroom: Newsroom) -> None:
    with newsroom.store.session() as s:
        total = len(s.scalars(select(ArticleRow)).all())
    items = _all(client, limit=3)
    assert len(items) == total - len(newsroom.drafts) and total >= 8
    assert len({i["id"] for i in items}) == len(items)  # no page repeats a row
    assert not any(i["draft"] for i in items)
    keys = [(i["stickyWeight"], i["publishedAt"], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    first = items[0]
    assert set(first) >= {"title", "lang", "slug", "externalId", "source", "category", "tags", "sentiment", "ai"}
    assert first["url"] == f"/api/v1/articles/{first['lang']}/{first['slug']}"

    # a pin moves an article to the top
    last = items[-1]
    r = client.put(f"{last['url']}/sticky", json={"stickyWeight": 5}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert _all(client)[0]["id"] == last["id"]


def test_drafts_need_the_token(client: TestClient, newsroom: Newsroom) -> None:
    assert client.get("/api/v1/articles", params={"drafts": "true"}).status_code == 401
    r = client.get("/api/v1/articles", params={"drafts": "true", "limit": 100}, headers=AUTH)
    drafts = [i for i in r.json()["items"] if i["draft"]]
    assert sorted(i["id"] for i in drafts) == sorted(newsroom.drafts)
    draft = drafts[0]
    assert client.get(draft["url"]).status_code == 404  # a draft is not public
    detail = client.get(draft["url"], headers=AUTH).json()
    assert detail["draftReasons"] == DRAFT_REASONS and detail["draft"] is True


def test_filters(client: TestClient, newsroom: Newsroom) -> None:
    everything = _all(client, limit=100)
    uk = _all(client, lang="uk")
    assert uk and all(i["lang"] == "uk" for i in uk) and len(uk) < len(everything)
    coindesk = _all(client, source="coindesk")
    assert coindesk and all(i["source"]["key"] == "coindesk" for i in coindesk)
    assert len(coindesk) + len(_all(client, source="theblock")) == len(everything)

    some = everything[0]
    by_cat = _all(client, category=some["category"].lower())
    assert some["id"] in [i["id"] for i in by_cat] and all(i["category"] == some["category"] for i in by_cat)
    tag = some["tags"][0]
    by_tag = _all(client, tag=tag.lower())
    assert some["id"] in [i["id"] for i in by_tag] and all(tag in i["tags"] for i in by_tag)
    by_sent = _all(client, sentiment=some["sentiment"])
    assert all(i["sentiment"] == some["sentiment"] for i in by_sent) and some["id"] in [i["id"] for i in by_sent]

    times = sorted({i["publishedAt"] for i in everything})
    middle = times[len(times) // 2]
    later = _all(client, since=middle)
    earlier = _all(client, until=middle)
    assert later and earlier and len(later) + len(earlier) == len(everything)
    assert all(i["publishedAt"] >= middle for i in later) and all(i["publishedAt"] < middle for i in earlier)
    # bounds at the calendar's edges, whose UTC time does not exist (found by the schema fuzz): clamped, not a 500
    assert len(_all(client, since="0001-01-01T00:00:00+01:00")) == len(everything)
    assert _all(client, until="0001-01-01T00:00:00+01:00") == []
    assert len(_all(client, until="9999-12-31T23:59:59-01:00")) == len(everything)

    # full text over title, description and body (the scripted server writes the same text for every story, so
    # two articles get distinctive words here)
    other = everything[1]
    with newsroom.store.session() as s:
        s.get_one(ArticleRow, some["id"]).title = "Quokka treasury buys more coins"
        row = s.get_one(ArticleRow, other["id"])
        text = ArticleText.model_validate(row.text)
        text.overview = "The wombat protocol upgrade shipped."
        row.text = text.model_dump()
    assert [i["id"] for i in _all(client, q="QUOKKA treasury")] == [some["id"]]
    assert [i["id"] for i in _all(client, q="wombat")] == [other["id"]]
    assert _all(client, q="quokka wombat") == []  # every word must match
    assert _all(client, q="100%_") == []  # LIKE wildcards are literal


def test_article_detail_matches_the_file_and_html_is_sanitised(client: TestClient, newsroom: Newsroom) -> None:
    item = _all(client, lang="uk")[0]
    detail = client.get(item["url"]).json()
    front, body = read_file(Path(_row(newsroom.store, item["id"]).path))
    assert detail["frontmatter"] == front and list(detail["frontmatter"]) == list(front)
    assert detail["markdown"] == body
    assert "<h2>Огляд</h2>" in detail["html"] and detail["translations"]["en"].startswith("/api/v1/articles/en/")

    # hostile text in the store never reaches the HTML as markup
    with newsroom.store.session() as s:
        row = s.get_one(ArticleRow, item["id"])
        text = ArticleText.model_validate(row.text)
        text.overview = "<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) **bold**"
        row.text = text.model_dump()
    html = client.get(item["url"]).json()["html"]
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html and "<img" not in html
    assert "<strong>bold</strong>" in html


def test_stories_and_sources(client: TestClient, newsroom: Newsroom) -> None:
    page = client.get("/api/v1/stories", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    story = page["items"][0]
    assert story["items"] and story["sources"] and any(i["lead"] for i in story["items"])
    assert story["sources"][0]["key"] in {"coindesk", "theblock"}
    one = client.get(f"/api/v1/stories/{story['id']}").json()
    assert one["id"] == story["id"] and one["items"] == story["items"]
    assert client.get("/api/v1/stories/999999").status_code == 404

    sources = {s["key"]: s for s in client.get("/api/v1/sources").json()}
    assert set(sources) == {"coindesk", "theblock"}
    assert sources["coindesk"]["healthy"] is True and sources["coindesk"]["lastStatus"] == "ok"
    assert sources["coindesk"]["itemsSeen"] == 3 and sources["coindesk"]["lastPolledAt"]


# ---- writes --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}])
def test_writes_without_the_token_are_401_and_change_nothing(
    client: TestClient, newsroom: Newsroom, headers: dict[str, str]
) -> None:
    item = _all(client)[0]
    path = Path(_row(newsroom.store, item["id"]).path)
    before_file, before = path.read_bytes(), _row(newsroom.store, item["id"])
    url = item["url"]
    for method, suffix, body in [
        ("PATCH", "", {"title": "Hijacked"}),
        ("POST", "/unpublish", None),
        ("PUT", "/sticky", {"stickyWeight": 9}),
        ("POST", "/lock", None),
        ("POST", "/regenerate", None),
        ("DELETE", "", None),
    ]:
        r = client.request(method, url + suffix, json=body, headers=headers)
        assert r.status_code == 401, (method, suffix, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
    assert client.post("/api/v1/sources", json={"key": "x", "name": "x", "url": "https://x.test/"}).status_code == 401
    assert client.patch("/api/v1/sources/coindesk", json={"enabled": False}).status_code == 401
    after = _row(newsroom.store, item["id"])
    assert path.read_bytes() == before_file
    assert (after.version, after.title, after.draft, after.locked) == (
        before.version,
        before.title,
        before.draft,
        before.locked,
    )
    with newsroom.store.session() as s:
        assert s.scalars(select(SourceRow).where(SourceRow.key == "x")).first() is None


def test_edit_locks_regenerate_refused_then_allowed(client: TestClient, newsroom: Newsroom) -> None:
    item = _all(client, lang="en")[0]
    url, path = item["url"], Path(_row(newsroom.store, item["id"]).path)
    r = client.patch(
        url,
        json={"title": "An editor's title", "overview": "Edited overview paragraph.", "tags": ["btc", "Etf", "BTC"]},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["locked"] is True and edited["ai"]["version"] == item["ai"]["version"] + 1
    assert edited["tags"] == ["BTC", "ETF"]
    front, body = read_file(path)
    assert front["title"] == "An editor's title" and "Edited overview paragraph." in body
    assert front["ai"]["version"] == edited["ai"]["version"]

    refused = client.post(f"{url}/regenerate", headers=AUTH)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "locked"
    assert read_file(path)[0]["title"] == "An editor's title"

    assert client.post(f"{url}/unlock", headers=AUTH).json()["locked"] is False
    regen = client.post(f"{url}/regenerate", headers=AUTH)
    assert regen.status_code == 200, regen.text
    data = regen.json()
    assert data["ai"]["version"] == edited["ai"]["version"] + 1 and data["title"] != "An editor's title"
    assert data["slug"] == item["slug"]  # the URL stays
    front, _ = read_file(path)
    assert front["ai"]["version"] == data["ai"]["version"] and front["title"] == data["title"]
    # the pivot's regeneration re-translated the (unlocked) translation too
    uk = client.get(data["translations"]["uk"], headers=AUTH).json()  # a draft now if the guards hold it back
    assert uk["ai"]["version"] == 3  # 1 written, 2 reviewed by the fixture, 3 re-translated


def test_publish_unpublish_delete(client: TestClient, newsroom: Newsroom) -> None:
    draft_id = newsroom.drafts[0]
    row = _row(newsroom.store, draft_id)
    url = f"/api/v1/articles/{row.lang}/{row.slug}"
    r = client.post(f"{url}/publish", headers=AUTH)
    assert r.status_code == 200 and r.json()["draft"] is False and r.json()["draftReasons"] == []
    assert read_file(Path(row.path))[0]["draft"] is False
    assert client.get(url).status_code == 200  # public now
    assert client.post(f"{url}/unpublish", headers=AUTH).json()["draft"] is True
    assert read_file(Path(row.path))[0]["draft"] is True

    assert client.delete(url, headers=AUTH).status_code == 204
    assert not Path(row.path).exists()
    assert client.get(url, headers=AUTH).status_code == 404
    assert client.delete(url, headers=AUTH).status_code == 404


def test_bad_input_is_4xx_json(client: TestClient) -> None:
    for url in [
        "/api/v1/articles?limit=0",
        "/api/v1/articles?limit=abc",
        "/api/v1/articles?sentiment=HAPPY",
        "/api/v1/articles?since=yesterday",
        "/api/v1/articles?cursor=not-a-cursor",
        "/api/v1/articles?q=%00",
        "/api/v1/articles?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z",
        "/api/v1/articles/EN/../../etc",
        "/api/v1/articles/en/Bad%20Slug",
        "/api/v1/stories/0",
        "/api/v1/stories?cursor=eyJ4Ijox",
        "/feeds/xx/rss.xml",
        "/feeds/en/rss.html",
    ]:
        r = client.get(url)
        assert 400 <= r.status_code < 500, (url, r.status_code)
        assert r.headers["content-type"].startswith("application/json"), url
        assert r.json()["error"]["status"] == r.status_code
    item = _all(client)[0]
    for body in [{"score": 101}, {"tags": "BTC"}, {"sections": []}, {"nope": 1}, {}, {"category": "NOT-IN-TAXONOMY"}]:
        r = client.patch(item["url"], json=body, headers=AUTH)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "invalid"
    r = client.patch(item["url"], content=b"{not json", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 422


def test_sources_add_pause_poll(client: TestClient, newsroom: Newsroom, httpserver: HTTPServer, corpus: Path) -> None:
    httpserver.expect_request("/decrypt").respond_with_data(
        (corpus / "feeds" / "decrypt.rss").read_bytes(), content_type="application/rss+xml"
    )
    body = {"key": "decrypt", "name": "Decrypt", "url": httpserver.url_for("/decrypt"), "intervalMinutes": 30}
    r = client.post("/api/v1/sources", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["origin"] == "editor" and r.json()["intervalSeconds"] == 1800
    assert client.post("/api/v1/sources", json=body, headers=AUTH).status_code == 409
    assert client.post("/api/v1/sources", json={**body, "key": "Bad Key"}, headers=AUTH).status_code == 422
    for url in ("http://xn--a.example/feed", "http://\u00a5\u0094.example/feed"):  # hosts no request can be built for
        r = client.post("/api/v1/sources", json={**body, "key": "bad-host", "url": url}, headers=AUTH)
        assert r.status_code == 422 and "not a fetchable URL" in r.text

    polled = client.post("/api/v1/sources/decrypt/poll", headers=AUTH).json()
    assert polled["status"] in ("ok", "bozo") and polled["newItems"] > 0
    src = {s["key"]: s for s in client.get("/api/v1/sources").json()}["decrypt"]
    assert src["itemsSeen"] == polled["newItems"] and src["lastSuccessAt"]

    paused = client.patch("/api/v1/sources/coindesk", json={"enabled": False}, headers=AUTH).json()
    assert paused["enabled"] is False and paused["paused"] is True
    # the next poll round syncs the config: the editor's pause and the editor's source both survive it
    from newsroom.stages.poll import sync_sources

    sync_sources(newsroom.store, newsroom.settings)
    after = {s["key"]: s for s in client.get("/api/v1/sources").json()}
    assert after["coindesk"]["enabled"] is False and after["decrypt"]["enabled"] is True
    assert client.patch("/api/v1/sources/nope", json={"enabled": True}, headers=AUTH).status_code == 404


def test_an_editor_adds_an_api_source(
    client: TestClient, newsroom: Newsroom, httpserver: HTTPServer, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSROOM_TEST_WEB_KEY", "k-123")
    page = api_articles(corpus)[:3]  # the newsroom takes 3 items per poll (max_items_per_source)
    httpserver.expect_request("/news/v1/article/list", headers={"Authorization": "Apikey k-123"}).respond_with_json(
        {"Data": [*page, dict(page[0], ID=None)], "Err": {}}  # one article without an ID: skipped and counted
    )
    url = httpserver.url_for("/news/v1/article/list")
    body = {"key": "cd-api", "name": "CoinDesk Data", "url": url, "type": "API", "apiKeyEnv": "NEWSROOM_TEST_WEB_KEY"}
    r = client.post("/api/v1/sources", json={**body, "language": "en"}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "API" and r.json()["language"] == "en"
    r = client.post("/api/v1/sources", json={**body, "key": "other", "type": "GOPHER"}, headers=AUTH)
    assert r.status_code == 422 and "unknown source type" in r.text

    polled = client.post("/api/v1/sources/cd-api/poll", headers=AUTH).json()
    assert polled["status"] == "ok" and polled["newItems"] == 3, polled
    sources = {s["key"]: s for s in client.get("/api/v1/sources").json()}
    assert sources["cd-api"]["skippedEntries"] == {"no-id": 1}
    assert sources["cd-api"]["lastSkips"]["skipped"] == {"no-id": 1}
    with newsroom.store.session() as s:  # stored under the real publisher, the configured CoinDesk source
        ids = set(s.scalars(select(ItemRow.external_id).where(ItemRow.source_key == "coindesk")))
    assert {str(a["ID"]) for a in page} <= ids


def test_private_read_mode(newsroom: Newsroom) -> None:
    settings = newsroom.settings.model_copy(
        update={"web": newsroom.settings.web.model_copy(update={"public_read": False})}
    )
    with TestClient(create_app(settings, newsroom.store), base_url="https://testserver") as c:
        assert c.get("/api/v1/articles").status_code == 401
        assert c.get("/feeds/en/rss.xml").status_code == 401
        assert c.get("/api/v1/articles", headers=AUTH).status_code == 200
        assert c.get("/feeds/en/rss.xml", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/articles" in spec["paths"] and "/feeds/{lang}/{fmt}" in spec["paths"]
    assert client.get("/docs").status_code == 200
    assert isinstance(httpx.Headers(client.get("/api/v1/sources").headers).get("x-content-type-options"), str)

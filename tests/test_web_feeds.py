"""Feeds per language: feedparser reads back every entry of RSS and Atom; JSON Feed has its fields; 304 works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from newsroom.store.db import Store
from newsroom.web import create_app
from web_support import AUTH, Newsroom, corpus_newsroom


@pytest.fixture
def newsroom(tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str) -> Newsroom:
    return corpus_newsroom(tmp_path, sqlite_store, httpserver, corpus, scripted_llm)


@pytest.fixture
def client(newsroom: Newsroom) -> Iterator[TestClient]:
    with TestClient(create_app(newsroom.settings, newsroom.store), base_url="https://testserver") as c:
        yield c


def _published(client: TestClient, lang: str, **params: str) -> list[dict]:
    return client.get("/api/v1/articles", params={"lang": lang, "limit": 100, **params}).json()["items"]


@pytest.mark.parametrize("lang", ["en", "uk"])
@pytest.mark.parametrize(("fmt", "ctype"), [("rss.xml", "application/rss+xml"), ("atom.xml", "application/atom+xml")])
def test_xml_feeds_read_back(client: TestClient, lang: str, fmt: str, ctype: str) -> None:
    r = client.get(f"/feeds/{lang}/{fmt}")
    assert r.status_code == 200 and r.headers["content-type"] == f"{ctype}; charset=utf-8"
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if fmt == "rss.xml" else "atom10")
    expected = _published(client, lang)
    assert expected and len(parsed.entries) == len(expected)  # drafts are not in the feed
    by_link = {e.link: e for e in parsed.entries}
    for a in expected:
        e = by_link[f"https://testserver/api/v1/articles/{lang}/{a['slug']}"]
        assert e.title == a["title"]
        assert e.published_parsed is not None
        html = e.content[0].value
        assert "<h2>" in html and "<script" not in html
        assert {t.term for t in e.tags} >= set(a["tags"])
    assert parsed.feed.get("language", lang) == lang


def test_json_feed_fields(client: TestClient) -> None:
    r = client.get("/feeds/uk/feed.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/feed+json; charset=utf-8"
    feed = json.loads(r.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] and feed["feed_url"].endswith("/feeds/uk/feed.json") and feed["language"] == "uk"
    expected = {a["slug"]: a for a in _published(client, "uk")}
    assert len(feed["items"]) == len(expected)
    for item in feed["items"]:
        a = expected[item["url"].rsplit("/", 1)[1]]
        assert item["id"] == item["url"] and item["title"] == a["title"] and item["summary"] == a["description"]
        assert item["content_html"].startswith("<h2>Огляд</h2>")
        assert item["date_published"].endswith("Z") and item["date_modified"].endswith("Z")
        assert item["external_url"] == a["sourceUrl"] and item["authors"][0]["name"] == a["source"]["name"]
        assert item["image"].startswith("https://testserver/")


def test_conditional_requests(client: TestClient, newsroom: Newsroom) -> None:
    first = client.get("/feeds/en/atom.xml")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and last_modified.endswith("GMT")
    again = client.get("/feeds/en/atom.xml", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/feeds/en/atom.xml", headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get("/feeds/en/atom.xml", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/feeds/en/atom.xml", headers={"If-Modified-Since": "garbage"}).status_code == 200
    # another format or filter is another representation
    assert client.get("/feeds/en/rss.xml", headers={"If-None-Match": etag}).status_code == 200

    # an edit changes the feed: the old validator no longer matches
    a = _published(client, "en")[0]
    assert client.patch(a["url"], json={"title": "Changed for the feed"}, headers=AUTH).status_code == 200
    changed = client.get("/feeds/en/atom.xml", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "Changed for the feed" in changed.text


def test_category_and_tag_filters(client: TestClient) -> None:
    articles = _published(client, "en")
    a = articles[0]
    by_cat = feedparser.parse(client.get("/feeds/en/rss.xml", params={"category": a["category"]}).content)
    assert len(by_cat.entries) == len([x for x in articles if x["category"] == a["category"]])
    tag = a["tags"][-1]
    by_tag = feedparser.parse(client.get("/feeds/en/atom.xml", params={"tag": tag}).content)
    assert len(by_tag.entries) == len([x for x in articles if tag in x["tags"]]) >= 1
    none = feedparser.parse(client.get("/feeds/en/rss.xml", params={"tag": "NO-SUCH-TAG"}).content)
    assert none.entries == [] and not none.bozo
    assert client.get("/feeds/fr/rss.xml").status_code == 404  # not a configured language


def _jsonfeed_validator():  # type: ignore[no-untyped-def]
    import jsonschema_rs

    schema = json.loads((Path(__file__).parent / "data" / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def test_json_feed_validates_against_the_1_1_schema(client: TestClient) -> None:
    v = _jsonfeed_validator()
    for params in ({}, {"tag": "NO-SUCH-TAG"}, {"category": "BTC"}):
        for lang in ("en", "uk"):
            feed = client.get(f"/feeds/{lang}/feed.json", params=params).json()
            errors = [f"{e.instance_path}: {e.message}" for e in v.iter_errors(feed)]
            assert not errors, errors
    full = client.get("/feeds/en/feed.json").json()
    assert full["items"]
    assert not v.is_valid({**full, "items": [{**full["items"][0], "content_html": None}]})  # the schema can fail
    assert not v.is_valid({**full, "items": [{"title": "no id"}]})


def test_empty_feeds_carry_plausible_dates(client: TestClient) -> None:
    from datetime import UTC, datetime

    this_year = datetime.now(UTC).year
    rss = client.get("/feeds/en/rss.xml", params={"tag": "NO-SUCH-TAG"})
    atom = client.get("/feeds/en/atom.xml", params={"tag": "NO-SUCH-TAG"})
    for r in (rss, atom):
        assert r.status_code == 200 and "1970" not in r.text
        assert "last-modified" not in r.headers  # nothing was modified: no date to claim
        assert client.get(r.url, headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status_code == 200
    parsed_rss, parsed_atom = feedparser.parse(rss.content), feedparser.parse(atom.content)
    assert parsed_rss.feed.updated_parsed.tm_year == this_year
    assert parsed_atom.feed.updated_parsed.tm_year == this_year
    full = client.get("/feeds/en/rss.xml")
    newest = max(a["updatedAt"] for a in _published(client, "en"))
    assert feedparser.parse(full.content).feed.updated_parsed[:6] == datetime.fromisoformat(newest).utctimetuple()[:6]


def test_categories_once_channel_link_and_item_source(client: TestClient, newsroom: Newsroom) -> None:
    feed_urls = {s.name: s.url for s in newsroom.settings.sources}
    for fmt in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse(client.get(f"/feeds/en/{fmt}").content)
        for e in parsed.entries:
            terms = [t.term for t in e.tags]
            assert len(terms) == len(set(terms)), terms
    rss = client.get("/feeds/en/rss.xml").text
    channel = rss.split("<item>", 1)[0]
    assert "<link>https://testserver/</link>" in channel
    parsed = feedparser.parse(rss)
    for e in parsed.entries:
        assert e.source["href"] == feed_urls[e.source["title"]]  # the feed the item came from, not the article


def test_cover_urls_in_the_feed_and_the_api_answer(client: TestClient) -> None:
    feed = client.get("/feeds/en/feed.json").json()
    images = [item["image"] for item in feed["items"]]
    assert images and all(i.startswith("https://testserver/covers/") for i in images)
    for url in images:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    article = _published(client, "en")[0]
    for size in ("raw", "regular", "thumb", "small_s3"):
        assert client.get(article["coverImage"][size]).status_code == 200
    assert client.get("/covers/no-such-slug/regular.png").status_code == 404

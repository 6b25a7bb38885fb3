"""News sitemaps (Google News ``news:`` tags, sitemap indexes) and JSON Feed sources against a loopback server.

The documents are built from the real CoinDesk feed of ../shared/corpus/feeds (its links, titles, dates and
categories), so the adapters see real-world values in the shapes those formats give them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from pytest_httpserver import HTTPServer

from newsroom.models import FeedItem
from newsroom.sources.feeds import parse_feed
from newsroom.stages.poll import poll_sources
from newsroom.store.db import Store
from source_support import NOW, Scripted, http_server, serve, server, settings_for, source_row, stored

__all__ = ["http_server", "server"]
pytestmark = pytest.mark.anyio
NEWS_NS = (
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def real_items(corpus: Path) -> list[FeedItem]:
    return parse_feed((corpus / "feeds" / "coindesk.rss").read_bytes(), source_key="x", now=NOW).items


def url_entry(i: FeedItem, lang: str = "en") -> str:
    return (
        f"<url><loc>{escape(i.url)}</loc><news:news><news:publication><news:name>CoinDesk</news:name>"
        f"<news:language>{lang}</news:language></news:publication>"
        f"<news:publication_date>{i.published_at.isoformat()}</news:publication_date>"
        f"<news:title>{escape(i.title)}</news:title><news:keywords>{escape(', '.join(i.categories))}</news:keywords>"
        "</news:news></url>"
    )


def urlset(entries: list[str]) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NEWS_NS}>{"".join(entries)}</urlset>'.encode()


async def test_a_news_sitemap(store: Store, server: HTTPServer, real_items: list[FeedItem]) -> None:
    hostile = [
        "<url><loc></loc></url>",  # no link
        "<url><loc>https://e.com/plain-page</loc><lastmod>2025-12-12</lastmod></url>",  # no news:title
        "<url><loc>javascript:alert(1)</loc><news:news><news:title>Script</news:title></news:news></url>",
    ]
    handler = Scripted(urlset([url_entry(i) for i in real_items] + hostile), ETag='"v1"')
    url = serve(server, "/news-sitemap.xml", handler)
    (report,) = await poll_sources(store, settings_for({"key": "map", "url": url, "type": "SITEMAP"}), now=NOW)
    assert report.status == "ok" and report.new_items == len(real_items) + 1, report
    assert report.skipped == {"no-id": 1, "no-title": 1} and report.flagged == {"link-scheme": 1}
    items = {i.url: i for i in stored(store, "map")}
    for real in real_items:
        got = items[real.url]
        assert (got.title, got.published_at, got.language) == (real.title, real.published_at, "en")
        assert got.categories == real.categories and got.summary == "" and got.content == ""  # text: extract stage
    assert source_row(store, "map").etag == '"v1"'


async def test_a_sitemap_index_is_followed_newest_first(store: Store, server: HTTPServer, real_items: list) -> None:  # type: ignore[type-arg]
    halves = [real_items[: len(real_items) // 2], real_items[len(real_items) // 2 :]]
    children = [
        serve(server, f"/news-{n}.xml", Scripted(urlset([url_entry(i) for i in h]))) for n, h in enumerate(halves)
    ]
    children.append(serve(server, "/broken.xml", Scripted(b"<html>not a sitemap</html>")))
    old = serve(server, "/old.xml", Scripted(urlset([])))
    lastmods = ["2025-12-12T10:00:00Z", "2025-12-12T09:00:00Z", "2025-12-12T08:00:00Z", "2020-01-01T00:00:00Z"]
    index = "".join(
        f"<sitemap><loc>{loc}</loc><lastmod>{m}</lastmod></sitemap>"
        for loc, m in zip([*children, old], lastmods, strict=True)
    )
    body = (
        f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{index}</sitemapindex>'
    )
    url = serve(server, "/sitemap-index.xml", Scripted(body.encode()))
    source = {"key": "map", "url": url, "type": "SITEMAP", "max_pages": 3}
    (report,) = await poll_sources(store, settings_for(source), now=NOW)
    assert report.new_items == len(real_items)
    assert report.status == "bozo" and "1 of the index's sitemaps failed" in (report.error or "")
    assert "/broken.xml" in (report.error or "")
    assert all(h not in (report.error or "") for h in ("/old.xml",))  # beyond max_pages: not fetched


async def test_not_a_sitemap_is_an_error(store: Store, server: HTTPServer) -> None:
    url = serve(server, "/x.xml", Scripted(b"<rss version='2.0'><channel/></rss>"))
    (report,) = await poll_sources(store, settings_for({"key": "map", "url": url, "type": "SITEMAP"}), now=NOW)
    assert report.status == "error" and "not <urlset> or <sitemapindex>" in (report.error or "")


def json_feed(items: list[FeedItem], extra: list[object]) -> bytes:
    entries: list[object] = [
        {
            "id": i.external_id,
            "url": i.url,
            "title": i.title,
            "summary": i.summary,
            "content_html": f"<p>{escape(i.summary)}</p><script>alert(1)</script>",
            "date_published": i.published_at.isoformat(),
            "tags": i.categories,
            "authors": [{"name": i.author or "Someone"}],
        }
        for i in items
    ]
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "CoinDesk",
        "language": "en",
        "items": entries + extra,
    }
    return json.dumps(doc).encode()


async def test_a_json_feed(store: Store, server: HTTPServer, real_items: list[FeedItem]) -> None:
    hostile: list[object] = [
        "not an object",
        {"title": "no id, no url"},
        {"id": "rel", "url": "/relative/path", "title": "Relative link", "date_published": "2025-12-12T09:00:00Z"},
        {"id": "future", "url": "https://e.com/f", "title": "Future", "date_published": "2199-01-01T00:00:00+00:00"},
    ]
    url = serve(server, "/feed.json", Scripted(json_feed(real_items, hostile), content_type="application/feed+json"))
    (report,) = await poll_sources(store, settings_for({"key": "jf", "url": url, "type": "JSONFEED"}), now=NOW)
    assert report.status == "ok" and report.new_items == len(real_items) + 2, report
    assert report.skipped == {"invalid": 1, "no-id": 1} and report.flagged == {"date-in-future": 1}
    items = {i.external_id: i for i in stored(store, "jf")}
    for real in real_items:
        got = items[real.external_id]
        assert (got.url, got.title, got.published_at, got.categories) == (
            real.url, real.title, real.published_at, real.categories
        )  # fmt: skip
        assert "alert" not in got.content and got.language == "en"
    assert items["rel"].url.endswith("/relative/path") and items["rel"].url.startswith("http://127.0.0.1")
    assert items["future"].published_at == NOW
    assert items["rel"].published_at == datetime(2025, 12, 12, 9, tzinfo=UTC)


async def test_not_a_json_feed_is_an_error(store: Store, server: HTTPServer) -> None:
    url = serve(server, "/feed.json", Scripted(b'{"items": []}', content_type="application/json"))
    (report,) = await poll_sources(store, settings_for({"key": "jf", "url": url, "type": "JSONFEED"}), now=NOW)
    assert report.status == "error" and "not a JSON Feed" in (report.error or "")

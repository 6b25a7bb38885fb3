"""Full text: extraction of saved article pages (corpus), teaser detection on real feeds, guarded fetching.

Servers are pytest-httpserver instances on 127.0.0.1; that one host is allowed explicitly (``fetch.allow_hosts``),
so every other private, loopback or link-local target - as a literal, behind a redirect, or behind a DNS name that
resolves there (``localhost``) - is still refused.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from newsroom.config import ExtractConfig, FetchConfig, Settings
from newsroom.sources.extract import RobotsCache, extract_article, fetch_full_text, is_teaser, unfetchable_host
from newsroom.sources.feeds import parse_feed
from newsroom.stages.extract import fill_full_text
from newsroom.store.tables import ItemRow

LOOPBACK_ONLY = FetchConfig(allow_private_networks=False, allow_hosts=["127.0.0.1"])
EXTRACT = ExtractConfig(timeout_seconds=5)
ARTICLE = (
    "<html><head><title>Harbor Exchange raises funds</title></head><body><nav>Home | Markets</nav><article>"
    "<h1>Harbor Exchange raises funds</h1>"
    + "".join(f"<p>Paragraph {i} of an invented article about a crypto exchange and its plans.</p>" for i in range(12))
    + "<script>steal()</script></article><footer>Cookie policy</footer></body></html>"
)


def _fetch(url: str, fetch: FetchConfig = LOOPBACK_ONLY, robots: bool = True) -> tuple[object, str | None]:
    async def go() -> tuple[object, str | None]:
        async with httpx.AsyncClient() as client:
            return await fetch_full_text(
                client, url, fetch=fetch, extract=EXTRACT, robots=RobotsCache() if robots else None
            )

    return asyncio.run(go())


# ---- extraction on the corpus pages (expectations from ../shared/corpus/SOURCES.md) ---------------------------------


def test_coindesk_page(corpus: Path) -> None:
    page = extract_article((corpus / "article_html" / "coindesk_nexis.html").read_bytes())
    assert page is not None
    assert "bitcoin" in page.title.lower()
    assert "tariffs" in page.description.lower()
    assert "Speculation about a Trump tariff delay sent markets swinging wildly during early U.S." in page.text
    assert "<" not in page.text and "\n\n" in page.text


def test_decrypt_page(corpus: Path) -> None:
    page = extract_article((corpus / "article_html" / "decrypt_nexis.html").read_bytes())
    assert page is not None
    assert "Tariffs" in page.title and "Ray Dalio" in page.title
    assert "Crypto and equities have moved in lockstep" in page.description
    assert "Vince Dioquino" in page.author
    assert len(page.text) > 1500


def test_no_article_in_junk() -> None:
    assert extract_article(b"\x00\xff not html at all") is None
    assert extract_article("<html><body><nav>menu</nav></body></html>") is None


# ---- teasers on real feeds -------------------------------------------------------------------------------------------


def test_content_encoded_feeds(corpus: Path) -> None:
    # The Block's content:encoded only repeats the teaser: still a teaser, so the page is fetched.
    items = parse_feed((corpus / "feeds" / "theblock.rss").read_bytes(), source_key="theblock").items
    assert items and all(i.content for i in items)
    assert all(is_teaser(i.summary, i.content, EXTRACT.min_chars) for i in items)
    # A feed whose content:encoded carries the whole article needs no fetch.
    from guard_fixtures import feed_xml

    body = "\n\n".join(
        f"Paragraph {i} of an invented article about a crypto exchange and its plans." for i in range(12)
    )
    (item,) = parse_feed(feed_xml(text=body), source_key="wire").items
    assert len(item.content) > EXTRACT.min_chars > len(item.summary)
    assert not is_teaser(item.summary, item.content, EXTRACT.min_chars)


def test_summary_only_feed_is_a_teaser(corpus: Path) -> None:
    items = parse_feed((corpus / "feeds" / "coindesk.rss").read_bytes(), source_key="coindesk").items
    assert items and all(is_teaser(i.summary, i.content, EXTRACT.min_chars) for i in items)


def test_reserved_hosts_are_never_fetched() -> None:
    assert unfetchable_host("http://demo.invalid/news/1") and unfetchable_host("https://bench.invalid/x")
    assert not unfetchable_host("https://www.coindesk.com/markets/x")


# ---- fetching ------------------------------------------------------------------------------------------------------


def test_fetch_and_extract_from_a_loopback_server(httpserver: HTTPServer, corpus: Path) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n", content_type="text/plain")
    html = (corpus / "article_html" / "coindesk_nexis.html").read_bytes()
    httpserver.expect_request("/markets/bitcoin").respond_with_data(html, content_type="text/html; charset=utf-8")
    page, why = _fetch(httpserver.url_for("/markets/bitcoin").replace("localhost", "127.0.0.1"))
    assert why is None and page is not None
    assert "Speculation about a Trump tariff delay" in page.text  # type: ignore[attr-defined]


def test_robots_txt_is_respected(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: NewsroomBot\nDisallow: /private/\n", content_type="text/plain"
    )
    httpserver.expect_request("/private/a").respond_with_data(ARTICLE, content_type="text/html")
    page, why = _fetch(_url(httpserver, "/private/a"))
    assert page is None and why is not None and "robots.txt disallows" in why
    # a site without robots.txt (404) allows everything
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/private/a").respond_with_data(ARTICLE, content_type="text/html")
    page, why = _fetch(_url(httpserver, "/private/a"))
    assert why is None and "Paragraph 11" in page.text  # type: ignore[attr-defined]
    assert "steal" not in page.text and "Cookie policy" not in page.text  # type: ignore[attr-defined]


def test_robots_txt_longest_match_wins(httpserver: HTTPServer) -> None:
    """RFC 9309: the most specific rule decides, whatever the order (the standard library takes the first match)."""
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nAllow: /news\nDisallow: /news/private\n", content_type="text/plain"
    )
    httpserver.expect_request("/news/private/x").respond_with_data(ARTICLE, content_type="text/html")
    httpserver.expect_request("/news/open").respond_with_data(ARTICLE, content_type="text/html")
    page, why = _fetch(_url(httpserver, "/news/private/x"))
    assert page is None and why is not None and why.startswith("robots.txt disallows")
    page, why = _fetch(_url(httpserver, "/news/open"))
    assert why is None and page is not None


def test_unreachable_robots_txt_is_not_called_a_disallow(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=503)
    httpserver.expect_request("/a").respond_with_data(ARTICLE, content_type="text/html")
    page, why = _fetch(_url(httpserver, "/a"))
    assert page is None and why is not None
    assert "unreachable" in why and "HTTP 503" in why and "disallows" not in why
    assert not any(r.path == "/a" for r, _resp in httpserver.log)  # RFC 9309: nothing fetched meanwhile


def test_size_cap_and_content_type(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/huge").respond_with_data("<p>x</p>" * 1_000_000, content_type="text/html")
    httpserver.expect_request("/pdf").respond_with_data(b"%PDF-1.7", content_type="application/pdf")
    page, why = _fetch(_url(httpserver, "/huge"))
    assert page is None and why is not None and "too large" in why
    page, why = _fetch(_url(httpserver, "/pdf"))
    assert page is None and why is not None and "not an HTML page" in why


@pytest.mark.parametrize(
    "target",
    [
        "http://10.1.2.3/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.1/",
        "http://[::1]:8080/",
        "http://[::ffff:10.0.0.1]/",
        "http://localhost:{port}/article",  # a DNS name that resolves to loopback
    ],
)
def test_private_targets_are_refused_directly_and_behind_redirects(httpserver: HTTPServer, target: str) -> None:
    target = target.format(port=httpserver.port)
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/article").respond_with_data(ARTICLE, content_type="text/html")
    httpserver.expect_request("/jump").respond_with_data("", status=302, headers={"Location": target})
    page, why = _fetch(target, robots=False)
    assert page is None and why is not None and "refusing" in why and "allow_private_networks" in why
    page, why = _fetch(_url(httpserver, "/jump"), robots=False)
    assert page is None and why is not None and "refusing" in why
    assert not [r for r, _ in httpserver.log if r.path == "/article"]  # the private target was never requested


def test_a_link_with_a_malformed_host_is_an_error_not_a_crash() -> None:
    allowed = FetchConfig(allow_hosts=["xn--a.org"])  # past the network guard, to the request itself
    page, why = _fetch("http://xn--a.org/article", allowed, robots=False)
    assert page is None and why is not None and "invalid URL" in why


def test_allowing_private_networks_lets_localhost_through(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/article").respond_with_data(ARTICLE, content_type="text/html")
    page, why = _fetch(f"http://localhost:{httpserver.port}/article", FetchConfig(allow_private_networks=True))
    assert why is None and page is not None


# ---- the stage -----------------------------------------------------------------------------------------------------


def test_fill_full_text_updates_teasers_and_keeps_feed_text_on_failure(
    httpserver: HTTPServer, sqlite_store, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/good").respond_with_data(ARTICLE, content_type="text/html")
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    settings = Settings(database_url=sqlite_store.url, fetch=LOOPBACK_ONLY, extract=EXTRACT)
    now = datetime.now(UTC)
    with sqlite_store.session() as s:
        from newsroom.store.tables import SourceRow

        s.add(SourceRow(key="w", name="W", type="RSS", url="http://127.0.0.1/"))
        s.flush()
        rows = [
            ItemRow(
                source_key="w",
                external_id=str(i),
                url=_url(httpserver, path),
                title="t",
                summary="Short teaser…",
                content="",
                categories=[],
                published_at=now,
                fingerprint=str(i),
            )
            for i, path in enumerate(["/good", "/gone"])
        ]
        s.add_all(rows)
    assert asyncio.run(fill_full_text(sqlite_store, settings, rows)) == 1
    with sqlite_store.session() as s:
        stored = {r.url.rsplit("/", 1)[1]: r for r in s.query(ItemRow)}
    assert "Paragraph 11" in stored["good"].content and rows[0].content == stored["good"].content
    assert stored["gone"].content == "" and stored["gone"].summary == "Short teaser…"
    off = settings.model_copy(update={"extract": ExtractConfig(enabled=False)})
    assert asyncio.run(fill_full_text(sqlite_store, off, rows[1:])) == 0


def _url(server: HTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"

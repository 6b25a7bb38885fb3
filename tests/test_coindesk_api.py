"""The CoinDesk Data news API adapter against a loopback server that answers real-shaped responses.

The records are the real ones of ../shared/corpus/api/ (CSV flattening of ``/news/v1/article/list``), rebuilt at
test time into the API's JSON: the ``{"Data": [...], "Err": {}}`` envelope, nested ``SOURCE_DATA`` and
``CATEGORY_DATA``, newest first, ``limit``/``to_ts``/``source_ids``/``categories``/``lang`` honoured, the key checked
in the ``Authorization: Apikey`` header; its error envelope for a bad key (401) and for rate limiting (429).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from newsroom.stages.poll import poll_sources
from newsroom.store.db import Store
from newsroom.store.tables import StoryRow
from source_support import api_articles, http_server, serve, server, settings_for, source_row, stored

__all__ = ["http_server", "server"]
pytestmark = pytest.mark.anyio
KEY_ENV = "NEWSROOM_TEST_COINDESK_KEY"
GOOD_KEY = "test-key-0123456789"
NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)  # after the newest record (2025-10-01 08:06 UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, GOOD_KEY)


def envelope_error(message: str, kind: int, status: int, **headers: str) -> Response:
    body = {"Data": {}, "Err": {"type": kind, "message": message, "other_info": {}}}
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


class FakeNewsApi:
    """``/news/v1/article/list`` over a list of records; ``visible`` hides the newest ones (time passing)."""

    def __init__(self, articles: list[dict[str, Any]]) -> None:
        self.articles = articles
        self.visible = len(articles)  # the oldest `visible` records exist
        self.requests: list[Request] = []
        self.fail: Response | None = None
        self.fail_after: int | None = None  # fail only from this request on (counting from 0)

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        if self.fail is not None and (self.fail_after is None or len(self.requests) > self.fail_after):
            return self.fail
        if request.headers.get("Authorization") != f"Apikey {GOOD_KEY}":
            return envelope_error("The api key is invalid or expired.", 1, 401)
        q = request.args
        pool = self.articles[len(self.articles) - self.visible :]
        if q.get("to_ts"):
            pool = [a for a in pool if a["PUBLISHED_ON"] <= int(q["to_ts"])]
        if q.get("lang"):
            pool = [a for a in pool if a["LANG"] == q["lang"]]
        if q.get("source_ids"):
            pool = [a for a in pool if a["SOURCE_DATA"]["SOURCE_KEY"] in q["source_ids"].split(",")]
        if q.get("categories"):
            wanted = set(q["categories"].split(","))
            pool = [a for a in pool if wanted & {c["CATEGORY"] for c in a["CATEGORY_DATA"]}]
        if q.get("exclude_categories"):
            unwanted = set(q["exclude_categories"].split(","))
            pool = [a for a in pool if not unwanted & {c["CATEGORY"] for c in a["CATEGORY_DATA"]}]
        limit = min(int(q.get("limit", 10)), 100)
        body = {"Data": pool[:limit], "Err": {}}
        return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def api(corpus: Path, server: HTTPServer) -> Iterator[tuple[FakeNewsApi, str]]:
    fake = FakeNewsApi(api_articles(corpus))
    yield fake, serve(server, "/news/v1/article/list", fake)


def api_source(url: str, **kw: Any) -> dict[str, Any]:
    return {"key": "coindesk-data", "name": "CoinDesk Data", "url": url, "type": "API", "api_key_env": KEY_ENV, **kw}


async def test_first_poll_stores_the_newest_page_under_the_real_publisher(
    store: Store, api: tuple[FakeNewsApi, str]
) -> None:
    fake, url = api
    settings = settings_for(api_source(url, language="en"), max_items_per_source=40)
    (report,) = await poll_sources(store, settings, now=NOW)
    assert report.status == "ok" and report.new_items == 40, report
    (request,) = fake.requests
    assert request.args["limit"] == "40" and request.args["lang"] == "EN" and "to_ts" not in request.args
    assert GOOD_KEY not in request.url  # the key travels in a header, never in the URL

    publisher = source_row(store, "coindesk")
    assert (publisher.name, publisher.type, publisher.parent) == ("CoinDesk", "RSS", "coindesk-data")
    assert source_row(store, "coindesk-data").cursor == f"{fake.articles[0]['PUBLISHED_ON']}:{fake.articles[0]['ID']}"
    items = {i.external_id: i for i in stored(store, "coindesk")}
    assert stored(store, "coindesk-data") == []  # every item belongs to its publisher
    expected = fake.articles[:40]
    assert set(items) == {str(a["ID"]) for a in expected}
    for a in expected:
        item = items[str(a["ID"])]
        assert len(item.external_id) == 8 and item.title == a["TITLE"].strip()
        assert item.url == a["URL"] and item.published_at == datetime.fromtimestamp(a["PUBLISHED_ON"], UTC)
        assert item.language == "en"
        assert item.signals == {"api": {"sentiment": a["SENTIMENT"], "upvotes": 0, "downvotes": 0, "score": 0}}
        categories = [c["CATEGORY"] for c in a["CATEGORY_DATA"]]
        keywords = [k for k in a["KEYWORDS"].split("|") if k.casefold() not in {c.casefold() for c in categories}]
        assert item.categories == list(dict.fromkeys(categories + keywords))  # CATEGORIES, then KEYWORDS, no repeats
        if a["BODY"]:
            assert item.content.split()[:50] == a["BODY"].split()[:50]  # the full text, no page fetch needed
    assert any(a["BODY"] for a in expected)  # the test saw at least one body
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(StoryRow)) >= 1


async def test_later_polls_page_back_to_the_last_item_seen(store: Store, api: tuple[FakeNewsApi, str]) -> None:
    fake, url = api
    total = len(fake.articles)
    fake.visible = total - 230  # the newest 230 records are "not yet published"
    settings = settings_for(api_source(url, language="en", max_pages=10), max_items_per_source=300)
    (first,) = await poll_sources(store, settings, now=NOW)
    assert first.new_items == 100 and len(fake.requests) == 1  # a first poll reads one page

    fake.visible = total  # 230 newer records appeared: three pages back to the last item seen
    fake.requests.clear()
    (second,) = await poll_sources(store, settings, now=NOW + timedelta(hours=1), force=True)
    assert second.status == "ok" and second.new_items == 230, second
    to_ts = [int(r.args["to_ts"]) for r in fake.requests[1:]]
    assert len(fake.requests) == 3 and to_ts == sorted(to_ts, reverse=True)
    stored_ids = {i.external_id for i in stored(store, "coindesk")}
    assert stored_ids == {str(a["ID"]) for a in fake.articles[:230]} | {str(a["ID"]) for a in fake.articles[230:330]}

    fake.requests.clear()
    (third,) = await poll_sources(store, settings, now=NOW + timedelta(hours=2), force=True)
    assert third.new_items == 0 and len(fake.requests) == 1  # the first page already reaches the cursor


async def test_filters_go_to_the_api(store: Store, api: tuple[FakeNewsApi, str]) -> None:
    fake, url = api
    source = api_source(url, source_keys=["coindesk"], categories=["ETH", "SOL"], exclude_categories=["SPONSORED"])
    (report,) = await poll_sources(store, settings_for(source, max_items_per_source=30), now=NOW)
    (request,) = fake.requests
    assert request.args["source_ids"] == "coindesk" and request.args["categories"] == "ETH,SOL"
    assert request.args["exclude_categories"] == "SPONSORED" and "lang" not in request.args
    items = stored(store, "coindesk")
    assert report.new_items == len(items) == 30
    assert all({"ETH", "SOL"} & set(i.categories) for i in items)


async def test_an_expired_key_and_a_missing_key_are_clear_errors(
    store: Store, api: tuple[FakeNewsApi, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = api
    monkeypatch.setenv(KEY_ENV, "expired-key")
    settings = settings_for(api_source(url))
    (report,) = await poll_sources(store, settings, now=NOW)
    assert report.status == "error" and report.http_status == 401
    assert f"refused the key in ${KEY_ENV}" in (report.error or "")
    assert "The api key is invalid or expired. (Err.type 1)" in (report.error or "")
    assert "expired-key" not in (report.error or "")
    row = source_row(store, "coindesk-data")
    assert row.error_count == 1 and row.next_poll_at is not None and stored(store) == []

    monkeypatch.delenv(KEY_ENV)
    fake.requests.clear()
    (report,) = await poll_sources(store, settings, now=NOW, force=True)
    assert report.status == "error" and f"set the environment variable {KEY_ENV}" in (report.error or "")
    assert fake.requests == []  # no request without a key


async def test_rate_limiting_waits_as_long_as_the_api_asks(store: Store, api: tuple[FakeNewsApi, str]) -> None:
    fake, url = api
    fake.fail = envelope_error("You are over your rate limit please upgrade your account!", 99, 429, **{
        "Retry-After": "7200"
    })  # fmt: skip
    settings = settings_for(api_source(url))
    (report,) = await poll_sources(store, settings, now=NOW)
    assert report.status == "error" and report.http_status == 429
    assert "rate limited by the API; retry after 7200 s" in (report.error or "")
    assert "over your rate limit" in (report.error or "")
    assert source_row(store, "coindesk-data").next_poll_at == NOW + timedelta(hours=2)  # not the 20-minute backoff


async def test_rate_limited_mid_paging_keeps_the_pages_read(store: Store, api: tuple[FakeNewsApi, str]) -> None:
    fake, url = api
    total = len(fake.articles)
    fake.visible = total - 250
    settings = settings_for(api_source(url, max_pages=10), max_items_per_source=300)
    await poll_sources(store, settings, now=NOW)
    fake.visible, fake.requests = total, []
    fake.fail, fake.fail_after = envelope_error("slow down", 99, 429), 1  # the second page is refused
    (report,) = await poll_sources(store, settings, now=NOW, force=True)
    assert report.status == "bozo" and "stopped paging" in (report.error or "") and report.new_items == 100
    assert len(stored(store, "coindesk")) == 200
    fake.fail = None  # the next poll reads down to the item seen before the failure: the gap is filled
    (report,) = await poll_sources(store, settings, now=NOW, force=True)
    assert report.new_items == 150 and len(stored(store, "coindesk")) == 350


async def test_an_error_envelope_with_http_200_is_an_error(store: Store, server: HTTPServer) -> None:
    body = json.dumps({"Data": [], "Err": {"type": 2, "message": "Not found", "other_info": {"param": "lang"}}})
    url = serve(server, "/news/v1/article/list", lambda r: Response(body, content_type="application/json"))
    (report,) = await poll_sources(store, settings_for(api_source(url)), now=NOW)
    assert report.status == "error" and "Not found (Err.type 2)" in (report.error or "")


async def test_hostile_articles_are_skipped_one_by_one(store: Store, corpus: Path, server: HTTPServer) -> None:
    good = api_articles(corpus)[:3]
    future = dict(good[2], ID=90000001, PUBLISHED_ON=4102444800)  # 2100-01-01
    hostile = [
        "not an object",
        dict(good[0], ID=None),
        dict(good[0], ID=90000002, STATUS="DELETED"),
        dict(good[0], ID=90000003, PUBLISHED_ON="soon"),
        dict(good[1], ID=90000004, TITLE="NUL\x00 in the title", URL="javascript:alert(1)", BODY="lone \ud800 here"),
        dict(good[1]),  # the same ID twice
        future,
    ]
    body = json.dumps({"Data": [*good, *hostile], "Err": {}})  # json escapes NUL and the lone surrogate
    url = serve(server, "/news/v1/article/list", lambda r: Response(body, content_type="application/json"))
    (report,) = await poll_sources(store, settings_for(api_source(url)), now=NOW)
    assert report.status == "ok" and report.new_items == 5
    assert report.skipped == {"invalid": 1, "no-id": 1, "inactive": 1, "no-date": 1, "duplicate-id": 1}
    assert report.flagged == {"link-scheme": 1, "date-in-future": 1}
    items = {i.external_id: i for i in stored(store, "coindesk")}
    assert {str(a["ID"]) for a in good} <= set(items)
    odd = items["90000004"]
    assert odd.title == "NUL in the title" and odd.url == "" and odd.content == "lone  here"
    assert items["90000001"].published_at == NOW and items["90000001"].signals["date_replaced"].startswith("2100")
    row = source_row(store, "coindesk-data")
    assert row.skip_counts is not None and row.skip_counts["duplicate-id"] == 1
    assert row.skip_counts["flagged:date-in-future"] == 1
    assert row.last_skips is not None and {s["reason"] for s in row.last_skips["samples"]} >= {"inactive", "no-id"}

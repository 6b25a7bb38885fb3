"""Shared by the source adapter tests: a loopback HTTP server (pytest-httpserver), scripted responses, settings."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from newsroom.config import FetchConfig, Settings, SourceConfig
from newsroom.store.db import Store
from newsroom.store.tables import ItemRow, SourceRow

NOW = datetime(2025, 12, 13, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def server(http_server: HTTPServer) -> Iterator[HTTPServer]:
    http_server.clear()
    yield http_server
    http_server.clear()


class Scripted:
    """Fixed bytes with a content type and headers; records every request's headers and query."""

    def __init__(self, body: bytes, *, content_type: str = "application/xml", status: int = 200, **headers: str):
        self.body, self.content_type, self.status, self.headers = body, content_type, status, headers
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(self.body, status=self.status, headers=self.headers, content_type=self.content_type)


def serve(server: HTTPServer, path: str, handler: Callable[[Request], Response]) -> str:
    server.expect_request(path).respond_with_handler(handler)
    return server.url_for(path)


def settings_for(*sources: dict[str, Any], **overrides: Any) -> Settings:
    fetch = {"allow_private_networks": True, "timeout_seconds": 5, **overrides.pop("fetch", {})}
    return Settings(
        sources=[SourceConfig(**{"name": s["key"].title(), **s}) for s in sources],
        fetch=FetchConfig(**fetch),
        max_items_per_source=overrides.pop("max_items_per_source", 100),
        **overrides,
    )


def stored(store: Store, source_key: str | None = None) -> list[ItemRow]:
    with store.session() as s:
        q = select(ItemRow).order_by(ItemRow.published_at, ItemRow.id)
        if source_key is not None:
            q = q.where(ItemRow.source_key == source_key)
        rows = list(s.scalars(q))
        s.expunge_all()
        return rows


def source_row(store: Store, key: str) -> SourceRow:
    with store.session() as s:
        row = s.scalars(select(SourceRow).where(SourceRow.key == key)).one()
        s.expunge(row)
        return row


def api_articles(corpus: Path) -> list[dict[str, Any]]:
    """The corpus records as the API returns them (one per ID, newest first)."""
    folder = corpus / "api"
    with (folder / "coindesk_data_categories.csv").open(encoding="utf-8") as f:
        category_ids = {r["NAME"]: int(r["ID"]) for r in csv.DictReader(f)}
    with (folder / "coindesk_data_articles_body.csv").open(encoding="utf-8") as f:
        bodies = {r["ID"]: r["BODY"] for r in csv.DictReader(f)}
    out: dict[int, dict[str, Any]] = {}
    with (folder / "coindesk_data_articles.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            cats = [c.strip() for c in r["CATEGORIES"].split(",") if c.strip()]
            out[int(r["ID"])] = {
                "TYPE": "121",
                "ID": int(r["ID"]),
                "GUID": r["GUID"],
                "PUBLISHED_ON": int(r["PUBLISHED_ON"]),
                "PUBLISHED_ON_NS": None,
                "IMAGE_URL": r["IMAGE_URL"],
                "TITLE": r["TITLE"],
                "SUBTITLE": r["SUBTITLE"],
                "AUTHORS": r["AUTHORS"],
                "URL": r["URL"],
                "SOURCE_ID": 5,
                "BODY": bodies.get(r["ID"], ""),
                "KEYWORDS": r["KEYWORDS"],
                "LANG": r["LANG"],
                "UPVOTES": int(r["UPVOTES"]),
                "DOWNVOTES": int(r["DOWNVOTES"]),
                "SCORE": int(r["SCORE"]),
                "SENTIMENT": r["SENTIMENT"],
                "STATUS": r["STATUS"],
                "CREATED_ON": int(r["CREATED_ON"]),
                "UPDATED_ON": int(r["UPDATED_ON"] or r["CREATED_ON"]),
                "SOURCE_DATA": {
                    "TYPE": "120",
                    "ID": 5,
                    "SOURCE_KEY": r["SOURCE_KEY"],
                    "NAME": r["SOURCE_NAME"],
                    "IMAGE_URL": "https://resources.cryptocompare.com/news/5/default.png",
                    "URL": "https://www.coindesk.com/arc/outboundfeeds/rss/",
                    "LANG": "EN",
                    "SOURCE_TYPE": "RSS",
                    "LAUNCH_DATE": 1367884800,
                    "SORT_ORDER": 0,
                    "BENCHMARK_SCORE": 66,
                    "STATUS": "ACTIVE",
                    "LAST_UPDATED_TS": int(r["CREATED_ON"]),
                    "CREATED_ON": 1657730110,
                    "UPDATED_ON": 1719411583,
                },
                "CATEGORY_DATA": [
                    {"TYPE": "122", "ID": category_ids.get(c, 0), "NAME": c, "CATEGORY": c} for c in cats
                ],
            }
    return sorted(out.values(), key=lambda a: (a["PUBLISHED_ON"], a["ID"]), reverse=True)

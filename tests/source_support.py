"""Shared by the source adapter tests: a loopback HTTP server (pytest-httpserver), scripted responses, settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
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

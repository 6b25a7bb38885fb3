"""Operations: /healthz, /readyz and /metrics on `newsroom serve` (SQLite and PostgreSQL), the same metrics from a
worker's metrics server. The numbers come from a real pipeline run against the scripted OpenAI-compatible server
(newsroom.devtools.scripted_llm) and are checked against what that server answered and what the store holds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from newsroom.config import BudgetConfig, ExtractConfig, GuardsConfig, Settings, StoriesConfig
from newsroom.devtools.scripted_llm import RunningServer, start_scripted_server
from newsroom.llm import make_provider
from newsroom.llm.usage import CallBuffer
from newsroom.metrics import LATENCY_BUCKETS, serve_metrics
from newsroom.pipeline import Pipeline
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, ModelCallRow
from newsroom.web import create_app
from web_support import AUTH, make_settings, serve_feeds

BUDGET_TOKENS = 10_000_000


@pytest.fixture
def llm() -> Iterator[RunningServer]:
    server = start_scripted_server(latency_ms=30)
    yield server
    server.stop()


def _settings(tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, url: str, **web: object) -> Settings:
    s = make_settings(tmp_path, store.url, serve_feeds(httpserver, corpus), url, **web)
    return s.model_copy(
        update={
            "budget": BudgetConfig(daily_tokens=BUDGET_TOKENS, stage_cost={"translate": 5.0}),
            "guards": GuardsConfig(enabled=False),
            "extract": ExtractConfig(enabled=False),
            "stories": StoriesConfig(same_event=False),
        }
    )


def _run(settings: Settings, store: Store) -> None:
    async def go() -> None:
        calls = CallBuffer()
        provider = make_provider(settings.llm, calls)
        try:
            summary = await Pipeline(settings, store, provider, calls).run_once(force_poll=True)
            assert not summary.failures, summary.failures
        finally:
            await provider.aclose()

    asyncio.run(go())


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _total(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def test_metrics_reflect_the_calls_the_model_server_answered(
    tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, llm: RunningServer
) -> None:
    settings = _settings(tmp_path, store, httpserver, corpus, llm.base_url)
    _run(settings, store)
    answered = llm.llm.stats()["requests"]
    assert answered > 0
    with TestClient(create_app(settings, store)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    m = _samples(response.text)

    with store.session() as s:
        items = s.scalar(select(func.count(ItemRow.id)))
        articles = s.scalar(select(func.count(ArticleRow.id)))
        t_in, t_out = s.execute(select(func.sum(ModelCallRow.tokens_in), func.sum(ModelCallRow.tokens_out))).one()
    assert m[("newsroom_store_up", ())] == 1
    assert m[("newsroom_items", ())] == items > 0
    assert _total(m, "newsroom_articles") == articles
    assert _total(m, "newsroom_articles", lang="uk") == articles / 2
    assert _total(m, "newsroom_stories", status="written") == articles / 2
    assert m[("newsroom_queue_depth", ())] == 0
    assert _total(m, "newsroom_model_calls_total") == answered
    assert _total(m, "newsroom_model_calls_total", outcome="ok") == answered
    assert _total(m, "newsroom_model_calls_total", stage="translate") == articles / 2
    assert _total(m, "newsroom_model_tokens_total", direction="in") == t_in > 0
    assert _total(m, "newsroom_model_tokens_total", direction="out") == t_out > 0
    # latency: every call in the histogram, buckets cumulative and as the call log says, at least the scripted 30 ms
    for stage in ("write", "translate"):
        count = _total(m, "newsroom_model_latency_seconds_count", stage=stage)
        assert count == _total(m, "newsroom_model_calls_total", stage=stage)
        buckets = [_total(m, "newsroom_model_latency_seconds_bucket", stage=stage, le=str(b)) for b in LATENCY_BUCKETS]
        assert buckets == sorted(buckets)
        assert _total(m, "newsroom_model_latency_seconds_bucket", stage=stage, le="+Inf") == count
        with store.session() as db:
            under_1s = db.scalar(
                select(func.count()).where(ModelCallRow.stage == stage, ModelCallRow.latency_ms <= 1000)
            )
        assert _total(m, "newsroom_model_latency_seconds_bucket", stage=stage, le="1.0") == under_1s
        assert _total(m, "newsroom_model_latency_seconds_sum", stage=stage) >= 0.03 * count
    assert m[("newsroom_budget_left", (("scope", "total"), ("unit", "tokens")))] == BUDGET_TOKENS - t_in - t_out
    assert m[("newsroom_budget_left", (("scope", "translate"), ("unit", "cost")))] == 5.0
    assert _total(m, "newsroom_budget_paused") == 0

    # a worker's metrics server: the same series, from a thread of its own
    server = serve_metrics(store, settings, port=0)
    try:
        worker = _samples(httpx.get(f"http://127.0.0.1:{server.server_port}/metrics").text)
    finally:
        server.shutdown()
    store_series = {k: v for k, v in m.items() if k[0].startswith("newsroom_")}
    assert {k: v for k, v in worker.items() if k[0].startswith("newsroom_")} == store_series
    assert _total(worker, "process_resident_memory_bytes") > 0


def test_metrics_follow_public_read(tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path) -> None:
    settings = _settings(tmp_path, sqlite_store, httpserver, corpus, "http://127.0.0.1:9/v1", public_read=False)
    with TestClient(create_app(settings, sqlite_store)) as client:
        assert client.get("/metrics").status_code == 401
        shown = client.get("/metrics", headers=AUTH)
        assert shown.status_code == 200
        assert _samples(shown.text)[("newsroom_items", ())] == 0
        assert client.get("/healthz").json() == {"status": "ok"}  # probes need no token


def test_healthz_and_readyz(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, store.url, [], "http://127.0.0.1:9/v1")
    with TestClient(create_app(settings, store)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_readyz_says_when_the_schema_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store = Store(url, auto_migrate=False)
    with TestClient(create_app(make_settings(tmp_path, url, [], "http://127.0.0.1:9/v1"), store)) as client:
        assert client.get("/healthz").status_code == 200  # the process is up …
        ready = client.get("/readyz")  # … but not ready
        assert ready.status_code == 503
        assert "no migration" in ready.json()["reason"]
        m = _samples(client.get("/metrics").text)
        assert m[("newsroom_store_up", ())] == 0  # no tables: the store's series are absent, not zero
        assert ("newsroom_items", ()) not in m


def test_readyz_when_the_database_does_not_answer(tmp_path: Path) -> None:
    url = "postgresql://newsroom@127.0.0.1:9/none?connect_timeout=2"  # port 9 (discard): nothing listens
    store = Store(url, auto_migrate=False)
    with TestClient(create_app(make_settings(tmp_path, url, [], "http://127.0.0.1:9/v1"), store)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "does not answer" in ready.json()["reason"]

"""Prometheus metrics, read from the store at scrape time: the same numbers from ``serve`` (``/metrics``) and from
every worker process (``serve_metrics``), whichever process did the work.

Every value is database-wide (items, stories and articles by status, model calls, tokens, cost and latency from the
call log, the queue of pending stories, the daily budget left), so N processes report the same series: aggregate
with ``max`` (not ``sum``) across instances. ``newsroom_store_up`` is 0 when the database cannot be read; the other
series are then absent from that scrape rather than wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .config import MODEL_STAGES, Settings
from .llm.budget import Budget
from .store.db import Store
from .store.tables import ArticleRow, ItemRow, ModelCallRow, StoryRow

__all__ = ["LATENCY_BUCKETS", "StoreCollector", "make_registry", "serve_metrics"]

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)  # seconds


class StoreCollector(Collector):
    """Collects the newsroom's series from the store on every scrape."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("newsroom_store_up", "1 when the database answered this scrape, else 0")
        try:
            with self.store.session() as s:
                metrics = list(_store_metrics(s))
            metrics += _budget_metrics(Budget(self.settings.budget, self.store).status())
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics


def _store_metrics(s: Session) -> Iterator[Metric]:
    items = GaugeMetricFamily("newsroom_items", "items stored (feed entries)")
    items.add_metric([], s.scalar(select(func.count(ItemRow.id))) or 0)
    yield items

    by_status = dict(s.execute(select(StoryRow.status, func.count()).group_by(StoryRow.status)).all())
    stories = GaugeMetricFamily("newsroom_stories", "stories by status (new: pending)", labels=["status"])
    for status in sorted({"new", "written", "failed", *by_status}):
        stories.add_metric([status], by_status.get(status, 0))
    yield stories
    queue = GaugeMetricFamily("newsroom_queue_depth", "stories waiting for an article in some language")
    queue.add_metric([], by_status.get("new", 0))
    yield queue

    articles = GaugeMetricFamily("newsroom_articles", "articles by language and status", labels=["lang", "status"])
    counts = {
        (lang, "draft" if draft else "published"): n
        for lang, draft, n in s.execute(
            select(ArticleRow.lang, ArticleRow.draft, func.count()).group_by(ArticleRow.lang, ArticleRow.draft)
        )
    }
    for (lang, status), n in sorted(counts.items()):
        articles.add_metric([lang, status], n)
    yield articles

    yield from _call_metrics(s)


def _call_metrics(s: Session) -> Iterator[Metric]:
    seconds = ModelCallRow.latency_ms / 1000.0
    buckets = [func.sum(case((seconds <= b, 1), else_=0)) for b in LATENCY_BUCKETS]
    calls = CounterMetricFamily("newsroom_model_calls", "model calls by stage and outcome", labels=["stage", "outcome"])
    tokens = CounterMetricFamily(
        "newsroom_model_tokens", "model tokens by stage and direction", labels=["stage", "direction"]
    )
    cost = CounterMetricFamily("newsroom_model_cost", "model cost by stage (llm.cost_per_1k_*)", labels=["stage"])
    latency = HistogramMetricFamily("newsroom_model_latency_seconds", "model call latency by stage", labels=["stage"])
    per_stage: dict[str, dict[str, Any]] = {}
    rows = s.execute(
        select(
            ModelCallRow.stage,
            ModelCallRow.outcome,
            func.count(),
            func.coalesce(func.sum(ModelCallRow.tokens_in), 0),
            func.coalesce(func.sum(ModelCallRow.tokens_out), 0),
            func.coalesce(func.sum(ModelCallRow.cost), 0.0),
            func.coalesce(func.sum(seconds), 0.0),
            *buckets,
        ).group_by(ModelCallRow.stage, ModelCallRow.outcome)
    )
    for stage, outcome, n, t_in, t_out, c, total_s, *in_bucket in rows:
        calls.add_metric([stage, outcome], n)
        agg = per_stage.setdefault(stage, {"in": 0, "out": 0, "cost": 0.0, "n": 0, "s": 0.0, "b": [0] * len(buckets)})
        agg["in"] += int(t_in)
        agg["out"] += int(t_out)
        agg["cost"] += float(c)
        agg["n"] += n
        agg["s"] += float(total_s)
        agg["b"] = [a + int(b or 0) for a, b in zip(agg["b"], in_bucket, strict=True)]
    for stage, agg in sorted(per_stage.items()):
        tokens.add_metric([stage, "in"], agg["in"])
        tokens.add_metric([stage, "out"], agg["out"])
        cost.add_metric([stage], agg["cost"])
        le = [(floatToGoString(b), n) for b, n in zip(LATENCY_BUCKETS, agg["b"], strict=True)]
        latency.add_metric([stage], [*le, ("+Inf", agg["n"])], agg["s"])
    yield from (calls, tokens, cost, latency)


def _budget_metrics(status: dict[str, Any]) -> list[Metric]:
    left = GaugeMetricFamily(
        "newsroom_budget_left", "what today's (UTC) daily caps leave, by scope and unit", labels=["scope", "unit"]
    )
    for cap in status["caps"]:
        left.add_metric([cap["scope"], cap["unit"]], cap["left"])
    paused = GaugeMetricFamily("newsroom_budget_paused", "1 while the daily budget pauses a stage", labels=["stage"])
    for stage in MODEL_STAGES:
        paused.add_metric([stage], 1 if stage in status["paused_stages"] else 0)
    return [left, paused]


def make_registry(store: Store, settings: Settings) -> CollectorRegistry:
    """A registry with the store's series and this process's (CPU, memory, open files)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, settings))
    ProcessCollector(registry=registry)
    return registry


def serve_metrics(store: Store, settings: Settings, port: int | None = None, host: str | None = None) -> Any:
    """Serve ``/metrics`` from a daemon thread of this process (a worker, ``run --watch``); returns the server (call
    ``.shutdown()`` to stop it). ``port``/``host`` default to ``[metrics]`` in the config."""
    port = port if port is not None else settings.metrics.port
    if port is None:
        raise ValueError("no metrics port: pass one or set [metrics] port in the config")
    server, _thread = start_http_server(
        port, addr=host or settings.metrics.host, registry=make_registry(store, settings)
    )
    log.info("metrics on http://%s:%s/metrics", host or settings.metrics.host, server.server_port)
    return server

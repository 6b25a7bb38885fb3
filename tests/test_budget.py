"""Daily budgets: reached mid-run against the scripted OpenAI-compatible server (newsroom.devtools.scripted_llm),
writing pauses with stories pending (not failed), and it resumes when the cap is raised or the UTC day turns."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from typer.testing import CliRunner

from newsroom.cli import app
from newsroom.config import (
    BudgetConfig,
    ConfigError,
    ExtractConfig,
    GuardsConfig,
    Settings,
    StoriesConfig,
    load_settings,
)
from newsroom.devtools.scripted_llm import RunningServer, start_scripted_server
from newsroom.editorial import BudgetPaused, Editor
from newsroom.llm import make_provider
from newsroom.llm.budget import Budget, BudgetReached, Cap, blocking, caps
from newsroom.llm.usage import CallBuffer
from newsroom.pipeline import Pipeline, RunSummary
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ModelCallRow, StoryRow
from newsroom.web import create_app
from web_support import TOKEN, make_settings, serve_feeds

HTML = {"Accept": "text/html"}


@pytest.fixture
def llm() -> Iterator[RunningServer]:
    server = start_scripted_server(latency_ms=0)
    yield server
    server.stop()


def _settings(tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, url: str, **budget) -> Settings:  # type: ignore[no-untyped-def]
    s = make_settings(tmp_path, store.url, serve_feeds(httpserver, corpus), url)
    s.llm.concurrency = 1  # one call at a time: the cap is met exactly where the test expects it
    return s.model_copy(
        update={
            "budget": BudgetConfig(**budget),
            "guards": GuardsConfig(enabled=False),
            "extract": ExtractConfig(enabled=False),
            "stories": StoriesConfig(same_event=False),
        }
    )


def _run(settings: Settings, store: Store) -> RunSummary:
    async def go() -> RunSummary:
        calls = CallBuffer()
        provider = make_provider(settings.llm, calls)
        try:
            return await Pipeline(settings, store, provider, calls).run_once(force_poll=True)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def _count(store: Store, stmt) -> int:  # type: ignore[no-untyped-def]
    with store.session() as s:
        return int(s.scalar(stmt) or 0)


def test_caps_are_pure_arithmetic() -> None:
    cfg = BudgetConfig(daily_tokens=100, daily_cost=0.5, stage_tokens={"translate": 10})
    spent = {"write": (60, 0.1), "translate": (10, 0.45)}
    all_caps = caps(cfg, spent)
    assert all_caps == [
        Cap("total", "tokens", 100, 70),
        Cap("total", "cost", 0.5, pytest.approx(0.55)),
        Cap("translate", "tokens", 10, 10),
    ]
    assert blocking(all_caps, "write") == all_caps[1]  # the total cost cap stops every stage
    assert blocking(caps(BudgetConfig(stage_tokens={"translate": 10}), spent), "write") is None
    assert blocking(caps(BudgetConfig(stage_tokens={"translate": 10}), spent), "translate") is not None
    assert caps(BudgetConfig(), spent) == []  # 0 everywhere: no budget


def test_a_stage_name_that_makes_no_calls_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text("[budget]\nstage_tokens = {wirte = 1000}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"budget\.stage_tokens.*unknown stage"):
        load_settings(cfg)


def test_total_cap_reached_mid_run_pauses_then_resumes_when_raised(
    tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, llm: RunningServer
) -> None:
    store = sqlite_store
    capped = _settings(tmp_path, store, httpserver, corpus, llm.base_url, daily_tokens=1)
    summary = _run(capped, store)
    # the first call passes (nothing spent yet), it spends > 1 token, and nothing else is sent
    assert llm.llm.stats()["requests"] == 1
    assert summary.model_calls == 1
    assert summary.paused is not None and "daily_tokens" in summary.paused
    assert summary.failures == []
    stories = _count(store, select(func.count(StoryRow.id)))
    assert stories > 1
    assert _count(store, select(func.count(StoryRow.id)).where(StoryRow.status == "new")) == stories
    assert _count(store, select(func.count(StoryRow.id)).where(StoryRow.attempts > 0)) == 0  # waiting, not failing
    assert _count(store, select(func.count(ModelCallRow.id))) == 1  # the call it made is logged
    assert _count(store, select(func.count(ArticleRow.id))) == 1  # its pivot article is kept
    status = Budget(capped.budget, store).status()
    assert status["paused"] and status["paused_stages"] == ["write", "translate"]
    assert status["caps"][0]["left"] == 0 and status["caps"][0]["reached"]

    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(f'database_url = "{store.url}"\n[budget]\ndaily_tokens = 1\n', encoding="utf-8")
    shown = CliRunner().invoke(app, ["stats", "--json", "--config", str(cfg)])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["budget"]["paused"] is True
    assert "writing paused" in CliRunner().invoke(app, ["stats", "--config", str(cfg)]).stdout

    # the dashboard and /metrics say so too
    with TestClient(create_app(capped, store), base_url="https://testserver") as client:
        form = client.get("/ui/login", headers=HTML).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
        client.post("/ui/login", data={"token": TOKEN, "next": "/ui/", "csrf_token": csrf})
        dash = client.get("/ui/dashboard", headers=HTML).text
        assert 'id="budget-paused"' in dash and "Daily budget" in dash and dash.count("<svg") == 4
        metrics = client.get("/metrics").text
    assert 'newsroom_budget_paused{stage="write"} 1.0' in metrics
    assert 'newsroom_budget_left{scope="total",unit="tokens"} 0.0' in metrics

    # an editor's regeneration is held by the same budget (HTTP 503 budget_reached through the API)
    editor = Editor(capped, store, lambda calls: make_provider(capped.llm, calls))
    with store.session() as s:
        article_id = s.scalar(select(ArticleRow.id))
    with pytest.raises(BudgetPaused, match="daily budget reached"):
        asyncio.run(editor.regenerate(article_id))
    assert llm.llm.stats()["requests"] == 1

    # a second run at the same cap spends nothing: polling goes on, no model call
    assert _run(capped, store).model_calls == 0
    assert llm.llm.stats()["requests"] == 1

    raised = capped.model_copy(update={"budget": BudgetConfig(daily_tokens=10_000_000)})
    summary = _run(raised, store)
    assert summary.paused is None and summary.failures == []
    assert _count(store, select(func.count(StoryRow.id)).where(StoryRow.status != "written")) == 0
    assert _count(store, select(func.count(ArticleRow.id))) == 2 * stories
    assert _count(store, select(func.count(ModelCallRow.id))) == llm.llm.stats()["requests"]
    assert not Budget(raised.budget, store).status()["paused"]


def test_stage_cap_pauses_translation_while_pivots_are_written(
    tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, llm: RunningServer
) -> None:
    store = sqlite_store
    capped = _settings(tmp_path, store, httpserver, corpus, llm.base_url, stage_tokens={"translate": 1})
    summary = _run(capped, store)
    stories = _count(store, select(func.count(StoryRow.id)))
    assert summary.written["en"] == stories  # writing goes on
    assert summary.written["uk"] == 1  # one translation, then the cap
    assert summary.paused is not None and "stage_tokens.translate" in summary.paused
    assert _count(store, select(func.count(StoryRow.id)).where(StoryRow.status == "written")) == 1
    status = Budget(capped.budget, store).status()
    assert status["paused_stages"] == ["translate"]

    # the next UTC day the same cap lets translations through again
    tomorrow = Budget(capped.budget, store, clock=lambda: datetime.now(UTC) + timedelta(days=1))
    tomorrow.check("translate")
    with pytest.raises(BudgetReached, match=r"stage_tokens\.translate"):
        Budget(capped.budget, store).check("translate")


def test_spend_counts_only_today_utc(sqlite_store: Store) -> None:
    with sqlite_store.session() as s:
        for days_ago, tokens in ((0, 30), (1, 1000)):
            s.add(
                ModelCallRow(
                    created_at=datetime.now(UTC) - timedelta(days=days_ago),
                    stage="write",
                    provider="openai",
                    model="m",
                    tokens_in=tokens,
                    tokens_out=0,
                    latency_ms=1.0,
                    cost=0.0,
                    outcome="ok",
                )
            )
    now = datetime.now(UTC)
    with sqlite_store.session() as s:
        assert queries.spend_since(s, now.replace(hour=0, minute=0, second=0, microsecond=0)) == {"write": (30, 0.0)}

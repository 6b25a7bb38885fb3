"""Shared by the web tests: a real newsroom (corpus feeds on 127.0.0.1 → pipeline with the scripted
OpenAI-compatible server → articles and files in a real store), and the app over it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newsroom.config import (
    ExtractConfig,
    FetchConfig,
    GuardsConfig,
    LLMConfig,
    PublishConfig,
    Settings,
    SourceConfig,
    StoriesConfig,
    WebConfig,
)
from newsroom.llm import make_provider
from newsroom.llm.usage import CallBuffer
from newsroom.pipeline import Pipeline, RunSummary
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow

TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PER_FEED = 3
FEEDS = [("coindesk", "CoinDesk", "coindesk.rss"), ("theblock", "The Block", "theblock.rss")]
DRAFT_REASONS = ["grounding:number-not-in-source", "language:mixed"]


@dataclass
class Newsroom:
    settings: Settings
    store: Store
    content: Path
    drafts: list[int]  # ids of the articles turned into drafts (both languages of one story)


def serve_feeds(httpserver: HTTPServer, corpus: Path) -> list[SourceConfig]:
    sources = []
    for key, name, file in FEEDS:
        httpserver.expect_request(f"/{key}").respond_with_data(
            (corpus / "feeds" / file).read_bytes(), content_type="application/rss+xml"
        )
        sources.append(SourceConfig(key=key, name=name, url=httpserver.url_for(f"/{key}")))
    return sources


def make_settings(tmp_path: Path, db_url: str, sources: list[SourceConfig], llm_url: str, **web: object) -> Settings:
    return Settings(
        database_url=db_url,
        languages=["en", "uk"],
        max_items_per_source=PER_FEED,
        sources=sources,
        fetch=FetchConfig(allow_private_networks=True),
        llm=LLMConfig(provider="openai", base_url=llm_url, model="scripted", concurrency=4, max_retries=0),
        publish=PublishConfig(content_dir=tmp_path / "content"),
        web=WebConfig(admin_token=TOKEN, **web),  # type: ignore[arg-type]
    )


def corpus_newsroom(tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, llm_url: str) -> Newsroom:
    """The newsroom most web tests start from: the corpus feeds served on loopback, one pipeline run on ``store``."""
    return build_newsroom(make_settings(tmp_path, store.url, serve_feeds(httpserver, corpus), llm_url), store)


def plain_settings(
    tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, llm_url: str, **update: object
) -> Settings:
    """``make_settings`` without the guards, full-text fetching and same-event embeddings (the scripted server's
    filler is no article, corpus links point at real sites): what tests of the pipeline's plumbing need."""
    s = make_settings(tmp_path, store.url, serve_feeds(httpserver, corpus), llm_url)
    return s.model_copy(
        update={
            "guards": GuardsConfig(enabled=False),
            "extract": ExtractConfig(enabled=False),
            "stories": StoriesConfig(same_event=False),
            **update,
        }
    )


def run_pipeline(settings: Settings, store: Store) -> RunSummary:
    """One real ``run`` round (poll every source now, write, translate, publish)."""

    async def go() -> RunSummary:
        calls = CallBuffer()
        provider = make_provider(settings.llm, calls)
        try:
            return await Pipeline(settings, store, provider, calls).run_once(force_poll=True)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def build_newsroom(settings: Settings, store: Store) -> Newsroom:
    """Run the real pipeline once, then hold one story (both languages) back as drafts with guard reasons."""
    summary = run_pipeline(settings, store)
    assert not summary.failures, summary.failures
    with store.session() as s:
        # The scripted server's text is not real prose, so the quality guards keep it as drafts: the tests set the
        # review outcome themselves, as an editor would: one story held back with reasons, everything else live.
        rows = list(s.scalars(select(ArticleRow).order_by(ArticleRow.story_id, ArticleRow.id)))
        assert rows
        held = rows[0].story_id
        drafts = [a for a in rows if a.story_id == held]
        for a in rows:
            a.draft = a.story_id == held
            a.draft_reasons = list(DRAFT_REASONS) if a.draft else []
            a.version += 1
    calls = CallBuffer()
    Pipeline(settings, store, make_provider(settings.llm, calls), calls).publish_pending()
    return Newsroom(settings, store, settings.publish.content_dir, [a.id for a in drafts])


def read_file(path: Path) -> tuple[dict, str]:
    import yaml

    text = path.read_text(encoding="utf-8")
    front, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body

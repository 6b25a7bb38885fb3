"""Shared by the story tests (write from all sources, score, updates): a written story of several sources in a real
store, new members joining it through the stories stage, and one run of a story's job with the scripted model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from newsroom.config import GuardsConfig, LLMConfig, PublishConfig, Settings
from newsroom.llm import make_provider
from newsroom.llm.usage import CallBuffer
from newsroom.stages.job import StageEnv, run_story
from newsroom.stages.stories import assign_stories
from newsroom.stages.update import UpdateResult, update_stories
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ItemRow, SourceRow, StoryRow

T0 = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
REPORTS = [  # (source, headline, text): one sale, each site with a fact of its own
    ("alpha", "Acme Fund sells 1,200 BTC", "Acme Fund sold 1,200 BTC on Friday, its filing shows. " * 12),
    ("beta", "Acme offloads bitcoin worth $140 million", "The sale was worth $140 million, said Jane Roe. " * 4),
    ("gamma", "Acme Fund trims bitcoin holdings", "Acme still holds 8,800 BTC after the sale, Omega Labs said."),
]


def story_with_members(store: Store, reports: list[tuple[str, str, str]] = REPORTS) -> int:
    with store.session() as s:
        for key, *_ in reports:
            s.add(SourceRow(key=key, name=key.title() + " News", type="RSS", url=f"https://{key}.example/feed"))
        s.flush()
        story = StoryRow(lead_item_id=0, status="new", source_count=len(reports), item_count=len(reports))
        s.add(story)
        s.flush()
        for i, (key, title, text) in enumerate(reports):
            item = ItemRow(
                source_key=key,
                external_id=f"{key}-1",
                url=f"https://{key}.example/news/acme-sale",
                title=title,
                summary=text[:200],
                content=text,
                published_at=T0 + timedelta(minutes=10 * i),
                fingerprint=f"fp-{key}",
                story_id=story.id,
            )
            s.add(item)
            s.flush()
            if i == 0:
                story.lead_item_id = item.id
        return story.id


def story_settings(tmp_path: Path, store: Store, **llm: object) -> Settings:
    return Settings(
        database_url=store.url,
        languages=["en", "uk"],
        llm=LLMConfig(**llm),  # type: ignore[arg-type]
        publish=PublishConfig(content_dir=tmp_path / "content"),
        guards=GuardsConfig(enabled=False),
    )


def join(store: Store, story_id: int, key: str, title: str, text: str) -> None:
    """A new item from source ``key`` joins the story through the stories stage (an exact match on the lead's
    fingerprint), which counts its source."""
    with store.session() as s:
        if not s.query(SourceRow).filter(SourceRow.key == key).first():
            s.add(SourceRow(key=key, name=key.title() + " News", type="RSS", url=f"https://{key}.example/feed"))
            s.flush()
        story = s.get_one(StoryRow, story_id)
        lead = s.get_one(ItemRow, story.lead_item_id)
        n = s.query(ItemRow).count()
        item = ItemRow(
            source_key=key,
            external_id=f"{key}-join-{n}",
            url=f"https://{key}.example/news/{n}",
            title=title,
            summary=text[:300],
            content=text,
            published_at=lead.published_at + timedelta(hours=1),
            fingerprint=lead.fingerprint,
        )
        s.add(item)
        s.flush()
        assert assign_stories(s, [item], same_event=False)[0].id == story_id


def with_env(settings: Settings, store: Store, fn):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        calls = CallBuffer()
        provider = make_provider(settings.llm, calls)
        try:
            return await fn(StageEnv.build(settings, store, provider, calls))
        finally:
            await provider.aclose()

    return asyncio.run(go())


def write_story(settings: Settings, store: Store, story_id: int) -> None:
    async def go(env: StageEnv) -> None:
        with store.session() as s:
            ctx = queries.story_contexts(s, [story_id])[0]
        result = await run_story(env, ctx)
        assert result.error is None and result.skipped is None, result

    with_env(settings, store, go)


def update(settings: Settings, store: Store, now: datetime | None = None) -> list[UpdateResult]:
    from newsroom.stages.publish import publish_pending

    async def go(env: StageEnv) -> list[UpdateResult]:
        out = await update_stories(env, now)
        publish_pending(store, env.target, env.calls)
        return out

    return with_env(settings, store, go)


def front(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8").split("---\n")[1])

"""Updates as the story develops: a member with new facts (or a source-count threshold) rewrites the article, with a
new ai.version and updatedAt in every language; an editor's locked article is left alone; updates are bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from newsroom.stages.update import new_facts, plan
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, StoryRow
from story_support import REPORTS, front, join, story_settings, story_with_members, update, write_story


def _articles(store: Store, story_id: int) -> dict[str, ArticleRow]:
    with store.session() as s:
        return {a.lang: a for a in s.scalars(select(ArticleRow).where(ArticleRow.story_id == story_id))}


def test_new_facts_use_the_guards_extractors() -> None:
    known = ["Acme Fund sells 1,200 BTC. Acme Fund sold 1,200 BTC on Friday, its filing shows."]
    assert new_facts(["Acme Fund sold 1,200 BTC on Friday"], known) == []
    found = new_facts(["The sale was worth $140 million, said Jane Roe of Omega Labs in 2026."], known)
    assert "$140 million" in found or "140" in " ".join(found)
    assert {"Jane", "Roe", "Omega", "Labs"} & set(found)
    assert not any("2026" in f for f in found)  # a year is no new fact


def test_plan_is_bounded() -> None:
    from newsroom.config import Settings

    settings = Settings()
    now = datetime(2026, 8, 1, 12, tzinfo=UTC)
    kw = {"old_sources": 1, "new_sources": 2, "locked": False, "update_count": 0, "now": now, "settings": settings}
    assert not plan(facts=[], last_write=now - timedelta(days=1), **kw).rewrite  # type: ignore[arg-type]
    assert plan(facts=["Jane Roe"], last_write=now - timedelta(days=1), **kw).rewrite  # type: ignore[arg-type]
    soon = plan(facts=["Jane Roe"], last_write=now - timedelta(minutes=5), **kw)  # type: ignore[arg-type]
    assert not soon.rewrite and not soon.settled  # waits for the interval, then looks again
    kw["update_count"] = settings.stories.max_updates
    assert not plan(facts=["Jane Roe"], last_write=now - timedelta(days=1), **kw).rewrite  # type: ignore[arg-type]
    kw |= {"update_count": 0, "old_sources": 2, "new_sources": 3}
    assert plan(facts=[], last_write=now - timedelta(days=1), **kw).reason == "3 sources"  # type: ignore[arg-type]


def test_update_bumps_versions_and_leaves_a_locked_article_alone(
    tmp_path: Path, store: Store, scripted_llm: str
) -> None:
    settings = story_settings(tmp_path, store, provider="openai", base_url=scripted_llm, model="scripted")
    settings.extract.enabled = False
    settings.stories.max_updates = 2
    story_id = story_with_members(store, REPORTS[:1])
    write_story(settings, store, story_id)
    first = _articles(store, story_id)
    first_updated = {lang: front(a.path)["updatedAt"] for lang, a in first.items()}  # type: ignore[arg-type]
    later = datetime.now(UTC) + timedelta(hours=1)  # past stories.update_interval_minutes

    # a second site brings new facts: the article is rewritten in every language, from both sources
    join(store, story_id, "beta", REPORTS[1][1], REPORTS[1][2])
    [result] = update(settings, store, later)
    assert sorted(result.rewritten) == sorted(a.id for a in first.values()), result
    second = _articles(store, story_id)
    for lang, a in second.items():
        assert a.version == 2 and a.published_version == 2 and a.updated_at > first[lang].updated_at
        assert a.slug == first[lang].slug and a.path == first[lang].path  # same URL, same file
        fm = front(a.path)  # type: ignore[arg-type]
        assert fm["ai"]["version"] == 2 and fm["updatedAt"] != first_updated[lang]
        assert fm["sources"] == [{"name": "Beta News", "url": fm["sources"][0]["url"]}]
    with store.session() as s:
        story = s.get_one(StoryRow, story_id)
        assert story.update_count == 1 and story.last_update_at is not None

    # an editor locks the pivot; more news arrives: the locked article is not touched, file included
    pivot_id = second["en"].id
    with store.session() as s:
        s.get_one(ArticleRow, pivot_id).locked = True
    locked_file = Path(second["en"].path).read_text(encoding="utf-8")  # type: ignore[arg-type]
    join(store, story_id, "gamma", REPORTS[2][1], REPORTS[2][2])
    [result] = update(settings, store, later + timedelta(hours=1))
    assert not result.rewritten and pivot_id not in result.rescored
    assert result.reason.startswith("locked by an editor")
    third = _articles(store, story_id)
    assert third["en"].version == 2 and Path(third["en"].path).read_text(encoding="utf-8") == locked_file  # type: ignore[arg-type]

    # unlocked again, news beyond stories.max_updates: the score may follow, the text no longer moves
    with store.session() as s:
        s.get_one(ArticleRow, pivot_id).locked = False
        s.get_one(StoryRow, story_id).update_count = 2
    join(store, story_id, "delta", "Acme Fund buys 500 ETH", "Acme Fund bought 500 ETH, Zeta Capital said.")
    [result] = update(settings, store, later + timedelta(hours=2))
    assert not result.rewritten and "max_updates" in result.reason

"""Score that follows the story: recomputed as sources join (not frozen at write time), every language re-published
with a new version when it changes; a member from a source already counted changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from newsroom.score import coverage
from newsroom.stages.update import rescore
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, StoryRow
from story_support import REPORTS, front, join, story_settings, story_with_members, update, write_story


def _articles(store: Store, story_id: int) -> dict[str, ArticleRow]:
    with store.session() as s:
        return {a.lang: a for a in s.scalars(select(ArticleRow).where(ArticleRow.story_id == story_id))}


def test_score_recomputed_when_a_source_joins(tmp_path: Path, store: Store, scripted_llm: str) -> None:
    settings = story_settings(tmp_path, store, provider="openai", base_url=scripted_llm, model="scripted")
    settings.extract.enabled = False
    story_id = story_with_members(store, REPORTS[:1])
    write_story(settings, store, story_id)
    before = _articles(store, story_id)
    assert {a.version for a in before.values()} == {1}

    # the same report again from the same source: no new source, nothing moves
    join(store, story_id, "alpha", REPORTS[0][1], REPORTS[0][2])
    update(settings, store)
    assert {a.version for a in _articles(store, story_id).values()} == {1}

    # a second site carries it (the same facts): the score rises, every language gets a new version and file
    join(store, story_id, "beta", REPORTS[0][1], REPORTS[0][2])
    results = update(settings, store)
    assert [r.rewritten for r in results] == [[]]  # no new facts, no threshold: a rescore, not a rewrite
    after = _articles(store, story_id)
    for lang, a in after.items():
        assert a.score > before[lang].score
        assert a.score - before[lang].score in (12, 13)  # 25 × (coverage(2) − coverage(1)), rounded
        assert a.version == 2 and a.published_version == 2 and a.updated_at > before[lang].updated_at
        fm = front(a.path)  # type: ignore[arg-type]
        assert fm["score"] == a.score and fm["ai"]["version"] == 2
    with store.session() as s:
        assert s.get_one(StoryRow, story_id).score_sources == 2


def test_rescore_is_monotone_and_covers_old_rows() -> None:
    from datetime import UTC, datetime

    t = datetime(2026, 8, 1, tzinfo=UTC)
    common = {"importance": 60, "published": t, "asset": 1.0, "source_weight": 1.0, "scored_at": t, "old_score": 0}
    scores = [rescore(old_sources=1, new_sources=n, **common) for n in range(1, 8)]  # type: ignore[arg-type]
    assert scores == sorted(scores) and scores[1] > scores[0]
    legacy = rescore(old_score=50, old_sources=1, new_sources=3, importance=None, published=t, asset=0, source_weight=1,
                     scored_at=t)  # fmt: skip
    assert legacy == 50 + round(25 * (coverage(3) - coverage(1)))

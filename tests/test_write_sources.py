"""Write from all sources: the prompt carries every member's facts (bounded, richest first), the guards ground the
article in all of them, ``sourceUrl`` stays the lead and the other sources are listed after the seed's keys."""

from __future__ import annotations

from pathlib import Path

from newsroom.publish.frontmatter import SEED_KEYS
from newsroom.stages.write import story_write_prompt
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow
from story_support import front, story_settings, story_with_members, write_story


def test_prompt_carries_every_sources_facts_bounded(tmp_path: Path, store: Store) -> None:
    story_id = story_with_members(store)
    with store.session() as s:
        ctx = queries.story_contexts(s, [story_id])[0]
    prompt, guard = story_write_prompt(story_settings(tmp_path, store, max_source_chars=1200), ctx)
    for fact in ("1,200 BTC", "$140 million", "Jane Roe", "8,800 BTC", "Omega Labs"):
        assert fact in prompt.user, fact
        assert fact in guard.source, fact  # the article may use it: the guards ground it
    for name in ("Alpha News", "Beta News", "Gamma News"):
        assert name in prompt.user and name in guard.extra_grounding
    # richest first after the lead; all the texts together within the budget
    assert prompt.user.index("Beta News") < prompt.user.index("Gamma News")
    assert len(guard.source) <= 1200 + 200
    assert f"at least {guard.min_words} words in all" in prompt.system  # the guards' minimum, told to the model
    # a tight budget keeps the lead and cuts the others, never the other way round
    prompt, guard = story_write_prompt(story_settings(tmp_path, store, max_source_chars=400), ctx)
    assert "1,200 BTC" in prompt.user and "Omega Labs" not in prompt.user


def test_article_lists_the_other_sources_after_the_seed_keys(tmp_path: Path, store: Store, scripted_llm: str) -> None:
    story_id = story_with_members(store)
    settings = story_settings(tmp_path, store, provider="openai", base_url=scripted_llm, model="scripted")
    settings.extract.enabled = False
    write_story(settings, store, story_id)
    with store.session() as s:
        rows = list(s.query(ArticleRow).filter(ArticleRow.story_id == story_id))
        assert {a.lang for a in rows} == {"en", "uk"}
        assert all(a.importance is not None or a.lang != "en" for a in rows)
        paths = [Path(a.path) for a in rows if a.path]
    for path in paths:
        fm = front(path)
        keys = list(fm)
        assert keys[: len(SEED_KEYS)] == list(SEED_KEYS)
        assert keys[len(SEED_KEYS) : len(SEED_KEYS) + 2] == ["slug", "sourceUrl"] and keys[-1] == "sources"
        assert fm["sourceUrl"] == "https://alpha.example/news/acme-sale"
        assert fm["sources"] == [
            {"name": "Beta News", "url": "https://beta.example/news/acme-sale"},
            {"name": "Gamma News", "url": "https://gamma.example/news/acme-sale"},
        ]
    # the file validates against the published JSON Schema, and the API serves it (its model is the same schema)
    import jsonschema_rs
    from fastapi.testclient import TestClient

    from newsroom.publish.schema import json_schema
    from newsroom.web.app import create_app

    validator = jsonschema_rs.Draft202012Validator(json_schema())
    client = TestClient(create_app(settings, store))
    for path in paths:
        assert not [e.message for e in validator.iter_errors(front(path))], path
        body = client.get(f"/api/v1/articles/{path.parent.name}/{path.stem}")
        assert body.status_code == 200 and body.json()["frontmatter"] == front(path)

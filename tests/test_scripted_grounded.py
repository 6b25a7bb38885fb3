"""The scripted server's grounded mode: its articles pass every guard, in each language the benchmark asks for."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from newsroom.config import Settings
from newsroom.devtools.grounded import facts, target_language
from newsroom.devtools.scripted_llm import start_scripted_server
from newsroom.guards import check_article
from newsroom.llm.schema import json_schema_for
from newsroom.models import ArticleText, WrittenArticle
from newsroom.stages.translate import translate_prompt, translation_context
from newsroom.stages.write import grounding_extras, write_context, write_prompt

HEADLINE = "Harbor Labs raises $120 million in bitcoin (story 4)"
TEXT = (
    "Harbor Labs said on day 1 that it raises $121 million worth of bitcoin. Analysts at Quartz Research expect"
    " volumes to change by 12%."
)
PUBLISHED = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def _ask(base_url: str, prompt, schema) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "model": "scripted",
        "messages": [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": json_schema_for(schema)}},
    }
    reply = httpx.post(f"{base_url}/chat/completions", json=body, timeout=10).json()
    return json.loads(reply["choices"][0]["message"]["content"])


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    running = start_scripted_server(latency_ms=0, grounded=True)
    yield running
    running.stop()


def test_language_and_facts_are_read_from_the_request() -> None:
    assert target_language("Translate the article ... from English into German.\nRules") == "de"
    assert target_language("Write an original news article in Ukrainian about") == "uk"
    assert facts(HEADLINE, "de") == ("Harbor Labs", "120 Mio. $")
    assert facts("Harbor Labs переказує 120 млн доларів у помітній угоді", "en") == ("Harbor Labs", "$120 million")


@pytest.mark.parametrize("lang", ["uk", "de"])
def test_written_and_translated_articles_pass_every_guard(server, lang: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(languages=["en", lang], pivot_language="en")
    extras = grounding_extras("Bench Wire", PUBLISHED, ["Markets"])
    prompt = write_prompt(
        language="en",
        categories=settings.taxonomy,
        source_name="Bench Wire",
        headline=HEADLINE,
        text=TEXT,
        source_categories=["Markets"],
        published=PUBLISHED,
        max_source_chars=4000,
    )
    written = WrittenArticle.model_validate(_ask(server.base_url, prompt, WrittenArticle))
    pivot = written.text_part()
    report = check_article(pivot, write_context(settings, HEADLINE, TEXT, extras))
    assert report.ok, report.reasons()
    assert "Harbor Labs" in pivot.overview and "$120 million" in pivot.title

    t_prompt = translate_prompt(article=pivot, source_language="en", language=lang)
    translated = ArticleText.model_validate(_ask(server.base_url, t_prompt, ArticleText))
    report = check_article(translated, translation_context(settings, pivot, lang, extras))
    assert report.ok, report.reasons()
    assert translated.title != pivot.title and "Harbor Labs" in translated.overview


def test_a_request_that_is_not_an_article_gets_the_plain_instance(server) -> None:  # type: ignore[no-untyped-def]
    from pydantic import BaseModel

    class Label(BaseModel):
        label: str

    prompt = translate_prompt(article=ArticleText.model_validate(_minimal()), source_language="en", language="de")
    assert set(_ask(server.base_url, prompt, Label)) == {"label"}


def _minimal() -> dict:  # type: ignore[type-arg]
    return {
        "title": "t",
        "description": "d",
        "overview": "o",
        "sections": [{"heading": "h", "body": "b"}],
        "why_it_matters": "w",
        "from_the_author": "f",
        "market_impact": ["a", "b", "c"],
    }

"""The model-based faithfulness judge against the *scripted* OpenAI-compatible server (not a model): answers that say
supported or unsupported, evidence the source lacks, malformed answers, and its calls counted in ``newsroom stats``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from guard_fixtures import FAITHFUL_EN, SOURCE, WRITTEN_EXTRAS, as_reply, feed_xml, run_pipeline_once, variant
from newsroom.config import FetchConfig, GuardsConfig, LLMConfig, PublishConfig, Settings, SourceConfig
from newsroom.devtools.scripted_llm import ScriptedReply, start_scripted_server
from newsroom.guards import article_fields
from newsroom.guards.judge import judge
from newsroom.llm import make_provider
from newsroom.models import ArticleText
from newsroom.pipeline import CallBuffer
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow

FIELDS = article_fields(ArticleText.model_validate(FAITHFUL_EN))
SUPPORTED = {
    "claim": "Harbor Exchange raised $1.2 billion.",
    "supported": True,
    "evidence": "it had raised $1.2 billion",
}
UNSUPPORTED = {"claim": "Bitcoin will hit $1,000,000.", "supported": False, "evidence": ""}
INVENTED_QUOTE = {"claim": "Harbor has 5 million users.", "supported": True, "evidence": "serves 5 million customers"}


def verdict(*claims: dict) -> ScriptedReply:
    return ScriptedReply.ok(json.dumps({"claims": list(claims)}))


@pytest.fixture(scope="module")
def llm():
    server = start_scripted_server(latency_ms=0)
    yield server
    server.stop()


def _judge(llm, replies: list[ScriptedReply]) -> tuple[list[str], CallBuffer]:
    llm.llm.reset()
    llm.script(replies)
    calls = CallBuffer()
    cfg = LLMConfig(provider="openai", base_url=llm.base_url, model="scripted", max_retries=0)

    async def go() -> list[str]:
        provider = make_provider(cfg, calls)
        try:
            return [f.code for f in await judge(provider, FIELDS, SOURCE)]
        finally:
            await provider.aclose()

    return asyncio.run(go()), calls


def test_supported_claims_pass(llm) -> None:
    codes, calls = _judge(llm, [verdict(SUPPORTED)])
    assert codes == [] and calls.total == 1
    body = llm.llm.bodies[0]
    assert body["messages"][-1]["content"].count("<<<") == 2  # source and article fenced as data
    assert "claims" in json.dumps(body["response_format"])


def test_unsupported_claim_and_invented_evidence_are_findings(llm) -> None:
    codes, _ = _judge(llm, [verdict(SUPPORTED, UNSUPPORTED, INVENTED_QUOTE)])
    assert codes == ["unsupported-claim", "unsupported-claim"]


def test_malformed_answers_leave_the_article_unverified(llm) -> None:
    codes, calls = _judge(llm, [ScriptedReply.invalid_json(), ScriptedReply.invalid_json()])
    assert codes == ["unverified"]
    assert calls.total >= 1


@pytest.mark.parametrize(
    "reply",
    [
        ScriptedReply.schema_violation(),  # valid JSON, not a verdict
        ScriptedReply.ok(json.dumps({"claims": [{"claim": "Harbor raised $1.2 billion."}]})),  # no "supported"
        ScriptedReply.ok(json.dumps({"claims": "all supported"})),  # claims not a list
        ScriptedReply.ok(""),  # an empty answer
        ScriptedReply.ok(json.dumps({"claims": []})),  # judged nothing
    ],
    ids=["schema-violation", "claim-without-verdict", "claims-not-a-list", "empty", "no-claims"],
)
def test_answers_that_are_not_verdicts_leave_the_article_unverified(llm, reply: ScriptedReply) -> None:
    codes, calls = _judge(llm, [reply, reply])  # the provider's one repair attempt gets the same answer
    assert codes == ["unverified"]
    assert 1 <= calls.total <= 2


def test_judge_in_the_pipeline_is_counted_in_stats(tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, llm):
    llm.llm.reset()
    written = as_reply(variant(FAITHFUL_EN, **WRITTEN_EXTRAS))
    llm.script([written, verdict(SUPPORTED, UNSUPPORTED), written, verdict(UNSUPPORTED)])
    httpserver.expect_request("/feed").respond_with_data(feed_xml(), content_type="application/rss+xml")
    settings = Settings(
        database_url=sqlite_store.url,
        languages=["en"],
        sources=[SourceConfig(key="wire", name="Test Wire", url=httpserver.url_for("/feed"))],
        fetch=FetchConfig(allow_private_networks=True),
        llm=LLMConfig(
            provider="openai",
            base_url=llm.base_url,
            model="scripted",
            max_retries=0,
            cost_per_1k_input=0.5,
            cost_per_1k_output=1.5,
        ),
        publish=PublishConfig(content_dir=tmp_path / "content"),
        guards=GuardsConfig(judge=True),
    )

    run_pipeline_once(settings, sqlite_store)
    stages = ["judge" if "faithfulness" in b["messages"][0]["content"] else "write" for b in llm.llm.bodies]
    assert stages == ["write", "judge", "write", "judge"]  # judged, rewritten with the reasons, judged again
    with sqlite_store.session() as s:
        en = s.scalars(select(ArticleRow)).one()
        stats = queries.stats(s)
    assert en.draft and [r.split(":", 1)[0] for r in en.draft_reasons] == ["unsupported-claim"]
    judged = stats["model_usage"]["judge"]
    assert judged["calls"] == 2  # one per written reply, counted apart from the writes
    # its cost: the scripted server's token counts at the configured prices, apart from the write stage's
    assert judged["tokens_in"] > 0 and judged["tokens_out"] > 0
    assert judged["cost"] == pytest.approx(judged["tokens_in"] / 1000 * 0.5 + judged["tokens_out"] / 1000 * 1.5)
    assert judged["cost"] > 0 and stats["model_usage"]["write"]["cost"] > 0

"""The ``openai`` provider's fault paths against the *scripted* OpenAI-compatible server (devtools.scripted_llm).

The scripted server is real HTTP on 127.0.0.1 (uvicorn + Starlette), not a mock; it is scripted, not a model: each
test queues the replies it needs (429 with Retry-After, 500, a hang, invalid JSON, a schema violation).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from newsroom.config import LLMConfig
from newsroom.devtools.scripted_llm import (
    RunningServer,
    ScriptedLLM,
    ScriptedReply,
    instance_for,
    start_scripted_server,
)
from newsroom.llm import CallRecord, LLMError, Prompt, make_provider
from newsroom.llm.openai_compat import OpenAIProvider
from newsroom.llm.schema import json_schema_for
from newsroom.models import ArticleText, WrittenArticle

ABSENT_KEY_ENV = "NEWSROOM_TEST_UNSET_KEY"


class Tiny(BaseModel):
    city: str = Field(min_length=1, max_length=40)
    population: int = Field(ge=0, le=10**9)


PROMPT = Prompt(stage="write", system="Answer with JSON.", user="Which city?", max_tokens=100)


@pytest.fixture(scope="module")
def scripted() -> Iterator[RunningServer]:
    server = start_scripted_server(latency_ms=20)
    yield server
    server.stop()


@pytest.fixture
def server(scripted: RunningServer) -> Iterator[RunningServer]:
    scripted.llm.reset()
    scripted.llm.latency_s = 0.02
    scripted.llm.reject_json_schema = False
    yield scripted
    scripted.llm.reset()


def provider(server: RunningServer, records: list[CallRecord], **overrides: Any) -> OpenAIProvider:
    settings = {
        "provider": "openai",
        "base_url": server.base_url,
        "model": "scripted",
        "api_key_env": ABSENT_KEY_ENV,
        "structured_output": "json_schema",
        "timeout_seconds": 5,
        "max_retries": 3,
        **overrides,
    }
    p = make_provider(LLMConfig(**settings), records.append)
    assert isinstance(p, OpenAIProvider)
    p.backoff_base_s = 0.02  # keep the suite fast; Retry-After is still honoured in full
    return p


def run(p: OpenAIProvider, coro: Any) -> Any:
    async def go() -> Any:
        try:
            return await coro
        finally:
            await p.aclose()

    return asyncio.run(go())


def outcomes(records: list[CallRecord]) -> list[str]:
    return [r.outcome for r in records]


# ---- the happy path ----------------------------------------------------------------------------------------------


def test_calls_reuse_at_most_concurrency_lanes(server: RunningServer) -> None:
    """Each call in flight holds one lane (a client pooling its one connection); lanes are reused, never more than
    ``llm.concurrency`` of them, closed by ``aclose``, and a provider used under a new event loop opens new ones."""
    records: list[CallRecord] = []
    p = provider(server, records, concurrency=4)

    async def calls() -> tuple[int, int]:
        for _ in range(3):
            await p.generate(PROMPT, Tiny)
        one = len(p._lanes)
        await asyncio.gather(*[p.generate(PROMPT, Tiny) for _ in range(12)])
        return one, len(p._lanes)

    async def go() -> tuple[int, int]:
        got = await calls()
        lanes = set(p._lanes)
        await p.aclose()
        assert not p._lanes and all(lane.is_closed for lane in lanes)
        return got

    assert asyncio.run(go()) == (1, 4)
    assert server.llm.stats()["max_in_flight"] <= 4
    assert run(p, p.generate(PROMPT, Tiny)).value.city  # a new loop: a new lane, the call goes through
    assert outcomes(records) == ["ok"] * 16


def test_valid_reply_one_record_with_usage(server: RunningServer) -> None:
    records: list[CallRecord] = []
    p = provider(server, records, cost_per_1k_input=1.0, cost_per_1k_output=2.0)
    result = run(p, p.generate(PROMPT, Tiny))
    assert isinstance(result.value, Tiny)
    assert result.attempts == 1
    assert outcomes(records) == ["ok"]
    rec = records[0]
    assert (rec.stage, rec.provider, rec.model) == ("write", "openai", "scripted")
    assert rec.tokens_in > 0 and rec.tokens_out > 0
    assert rec.tokens_in == result.tokens_in and rec.tokens_out == result.tokens_out
    assert rec.cost == pytest.approx(rec.tokens_in / 1000 + rec.tokens_out / 1000 * 2)
    assert rec.latency_ms >= 15  # the server's 20 ms
    body = server.llm.bodies[-1]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == json_schema_for(Tiny)
    assert body["max_tokens"] == 100


def test_article_schema_with_overrides_round_trips(server: RunningServer) -> None:
    records: list[CallRecord] = []
    p = provider(server, records, max_string_chars=300)
    prompt = Prompt(
        stage="write", system="s", user="u", schema_overrides={"properties": {"category": {"enum": ["DEFI"]}}}
    )
    result = run(p, p.generate(prompt, WrittenArticle))
    assert result.value.category == "DEFI"
    sent = server.llm.bodies[-1]["response_format"]["json_schema"]["schema"]
    assert sent["properties"]["overview"]["maxLength"] == 300


# ---- faults ------------------------------------------------------------------------------------------------------


def test_429_then_success_honours_retry_after(server: RunningServer) -> None:
    server.script([ScriptedReply.rate_limited(retry_after=1)])
    records: list[CallRecord] = []
    p = provider(server, records)
    started = time.perf_counter()
    result = run(p, p.generate(PROMPT, Tiny))
    elapsed = time.perf_counter() - started
    assert 1.0 <= elapsed < 5  # waited out Retry-After; the upper bound only rules out a second wait
    assert outcomes(records) == ["rate_limited", "ok"]
    assert "429" in (records[0].error or "")
    assert result.attempts == 2


def test_500_is_retried(server: RunningServer) -> None:
    server.script(["500", "503"])
    records: list[CallRecord] = []
    p = provider(server, records)
    result = run(p, p.generate(PROMPT, Tiny))
    assert outcomes(records) == ["server_error", "server_error", "ok"]
    assert result.attempts == 3
    assert server.llm.stats()["requests"] == 3


def test_server_errors_exhaust_the_retries(server: RunningServer) -> None:
    server.script(["500"] * 5)
    records: list[CallRecord] = []
    p = provider(server, records, max_retries=2)
    with pytest.raises(LLMError) as err:
        run(p, p.generate(PROMPT, Tiny))
    assert err.value.outcome == "server_error"
    assert outcomes(records) == ["server_error"] * 3
    assert "3 attempts" in str(err.value)


def test_timeout_is_retried(server: RunningServer) -> None:
    server.script([ScriptedReply.hang(30)])
    records: list[CallRecord] = []
    p = provider(server, records, timeout_seconds=0.4)
    result = run(p, p.generate(PROMPT, Tiny))
    assert outcomes(records) == ["timeout", "ok"]
    assert 350 <= records[0].latency_ms < 2000
    assert isinstance(result.value, Tiny)


def test_timeouts_exhausted_raise_timeout(server: RunningServer) -> None:
    server.script([ScriptedReply.hang(30)] * 3)
    records: list[CallRecord] = []
    p = provider(server, records, timeout_seconds=0.3, max_retries=2)
    started = time.perf_counter()
    with pytest.raises(LLMError) as err:
        run(p, p.generate(PROMPT, Tiny))
    assert err.value.outcome == "timeout"
    assert outcomes(records) == ["timeout"] * 3
    assert time.perf_counter() - started < 5


def test_a_server_that_keeps_streaming_is_cut_at_the_total_deadline(server: RunningServer) -> None:
    server.script([ScriptedReply.trickle(0.05)])  # a byte every 50 ms: the per-read timeout never fires
    records: list[CallRecord] = []
    p = provider(server, records, timeout_seconds=1.0, max_retries=0)
    started = time.perf_counter()
    with pytest.raises(LLMError) as err:
        run(p, p.generate(PROMPT, Tiny))
    elapsed = time.perf_counter() - started
    assert 1.0 <= elapsed < 4  # the deadline, not the stream, ended it
    assert err.value.outcome == "timeout"
    assert "llm.timeout_seconds = 1 s" in str(err.value) and "total deadline" in str(err.value)
    assert outcomes(records) == ["timeout"]


def test_client_errors_are_not_retried(server: RunningServer) -> None:
    server.script(["404"])
    records: list[CallRecord] = []
    p = provider(server, records)
    with pytest.raises(LLMError) as err:
        run(p, p.generate(PROMPT, Tiny))
    assert err.value.outcome == "error" and "HTTP 404" in str(err.value)
    assert outcomes(records) == ["error"]


def test_invalid_json_gets_one_repair_retry(server: RunningServer) -> None:
    server.script([ScriptedReply.invalid_json()])
    records: list[CallRecord] = []
    p = provider(server, records)
    result = run(p, p.generate(PROMPT, Tiny))
    assert isinstance(result.value, Tiny)
    assert outcomes(records) == ["invalid_output", "ok"]
    assert records[0].tokens_out > 0  # an invalid reply still cost tokens, and they are counted
    repair = server.llm.bodies[-1]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert "rejected" in repair[-1]["content"] and "JSON" in repair[-1]["content"]
    assert result.tokens_in == records[0].tokens_in + records[1].tokens_in


def test_invalid_twice_raises_invalid_output(server: RunningServer) -> None:
    server.script([ScriptedReply.invalid_json(), ScriptedReply.schema_violation()])
    records: list[CallRecord] = []
    p = provider(server, records)
    with pytest.raises(LLMError) as err:
        run(p, p.generate(PROMPT, Tiny))
    assert err.value.outcome == "invalid_output"
    assert "city" in str(err.value)  # the reason names the field
    assert outcomes(records) == ["invalid_output", "invalid_output"]


def test_a_broken_endpoint_is_invalid_output_not_a_crash(server: RunningServer) -> None:
    server.script([ScriptedReply(raw={"unexpected": 1}), ScriptedReply(raw=["not", "a", "completion"])])
    records: list[CallRecord] = []
    p = provider(server, records)
    with pytest.raises(LLMError) as err:
        run(p, p.generate(PROMPT, Tiny))
    assert err.value.outcome == "invalid_output"
    assert outcomes(records) == ["invalid_output", "invalid_output"]


def test_a_reply_read_from_its_json_body_with_odd_usage_counts(server: RunningServer) -> None:
    """The reply is read from its JSON body as it came (no SDK objects): a usage count that is not a number counts 0,
    never a crash; the content and the other count are used."""
    content = json.dumps({"city": "Lviv", "population": 720000})
    server.script(
        [
            ScriptedReply(
                raw={
                    "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": "lots", "completion_tokens": 7},
                }
            )
        ]
    )
    records: list[CallRecord] = []
    p = provider(server, records)
    result = run(p, p.generate(PROMPT, Tiny))
    assert result.value == Tiny(city="Lviv", population=720000)
    assert (result.tokens_in, result.tokens_out) == (0, 7)
    assert outcomes(records) == ["ok"]
    body = server.llm.bodies[-1]  # the request's JSON body: the keys the SDK's create() sent, in its order
    assert list(body) == ["model", "messages", "max_tokens", "temperature", "response_format"]
    assert server.llm.authorizations[-1].startswith("Bearer ")


def test_auto_falls_back_from_json_schema_to_json_object(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.llm.reject_json_schema = True  # like `python -m llama_cpp.server`: HTTP 500
    records: list[CallRecord] = []
    p = provider(server, records, structured_output="auto")

    async def two_calls() -> None:
        await p.generate(PROMPT, Tiny)
        await p.generate(PROMPT, Tiny)

    with caplog.at_level("WARNING", logger="newsroom.llm"):
        run(p, two_calls())
    assert p.mode == "json_object"
    assert outcomes(records) == ["server_error", "ok", "ok"]
    assert "falling back to json_object" in (records[0].error or "")
    assert any("json_object" in r.getMessage() for r in caplog.records)
    formats = [b["response_format"]["type"] for b in server.llm.bodies]
    assert formats == ["json_schema", "json_object", "json_object"]
    system = server.llm.bodies[-1]["messages"][0]["content"]
    assert json.dumps(json_schema_for(Tiny)) in system


def test_auto_keeps_json_schema_when_accepted(server: RunningServer) -> None:
    records: list[CallRecord] = []
    p = provider(server, records, structured_output="auto")

    async def two_calls() -> None:
        await p.generate(PROMPT, Tiny)
        server.script(["500"])  # json_schema is known to work now: a 500 is a server error, not a refusal
        await p.generate(PROMPT, Tiny)

    run(p, two_calls())
    assert p.mode == "json_schema"
    assert outcomes(records) == ["ok", "server_error", "ok"]


def test_grammar_mode_sends_the_patched_grammar(server: RunningServer) -> None:
    server.script([ScriptedReply.ok('{"city": "Oslo", "population": 700000}')])
    records: list[CallRecord] = []
    p = provider(server, records, structured_output="grammar")
    result = run(p, p.generate(PROMPT, Tiny))
    assert result.value.city == "Oslo"
    body = server.llm.bodies[-1]
    assert "response_format" not in body
    assert r"\x00-\x1F" in body["grammar"]


# ---- concurrency, secrets, configuration ---------------------------------------------------------------------------


def test_concurrency_bound_is_respected_and_latency_accurate(server: RunningServer) -> None:
    server.llm.latency_s = 0.2
    records: list[CallRecord] = []
    p = provider(server, records, concurrency=4)

    async def many() -> float:
        started = time.perf_counter()
        await asyncio.gather(*[p.generate(PROMPT, Tiny) for _ in range(12)])
        return time.perf_counter() - started

    elapsed = run(p, many())
    assert server.llm.stats()["max_in_flight"] == 4
    # 12 calls / 4 at a time x 200 ms = 0.6 s; one at a time would be 2.4 s (speed itself is bench/pipeline.py's job)
    assert 0.6 <= elapsed < 2.4
    assert outcomes(records) == ["ok"] * 12


def test_scripted_server_serves_32_concurrent_requests_at_its_latency(server: RunningServer) -> None:
    server.llm.latency_s = 0.25
    records: list[CallRecord] = []
    p = provider(server, records, concurrency=32)

    async def many() -> float:
        await asyncio.gather(*[p.generate(PROMPT, Tiny) for _ in range(32)])  # open the 32 connections
        started = time.perf_counter()
        await asyncio.gather(*[p.generate(PROMPT, Tiny) for _ in range(96)])
        return time.perf_counter() - started

    elapsed = run(p, many())
    assert server.llm.stats()["max_in_flight"] == 32
    # three rounds of 250 ms; client and server share one process (and its GIL) here, so this bound is loose; the
    # standalone test below times the server in its own process
    assert 0.75 <= elapsed < 0.75 * 8  # 24 s one at a time; timings proper are in bench/pipeline.py


def test_the_key_never_leaks(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-test-SECRET-0123456789abcdef"
    monkeypatch.setenv("NEWSROOM_TEST_KEY", key)
    server.script(
        [
            ScriptedReply(status=500, error=f"upstream said: bad key {key}"),
            ScriptedReply(status=401, error=f"invalid api key {key}"),
        ]
    )
    records: list[CallRecord] = []
    p = provider(server, records, api_key_env="NEWSROOM_TEST_KEY")
    with pytest.raises(LLMError) as err:
        run(p, p.generate(PROMPT, Tiny))
    assert server.llm.authorizations[-1] == f"Bearer {key}"  # it was sent ...
    assert key not in str(err.value) and key not in repr(err.value)  # ... and never repeated
    assert "NEWSROOM_TEST_KEY" in str(err.value)  # the error says which variable to check
    assert records and all(key not in repr(r) for r in records)
    assert "***" in (records[0].error or "")


def test_missing_key_for_a_remote_endpoint_names_the_variable() -> None:
    os.environ.pop(ABSENT_KEY_ENV, None)
    cfg = LLMConfig(provider="openai", base_url="https://api.example.invalid/v1", model="m", api_key_env=ABSENT_KEY_ENV)
    with pytest.raises(LLMError, match=ABSENT_KEY_ENV):
        make_provider(cfg)


def test_loopback_endpoints_need_no_key_and_a_model_is_required() -> None:
    cfg = LLMConfig(provider="openai", base_url="http://localhost:1/v1", model="m", api_key_env=ABSENT_KEY_ENV)
    assert make_provider(cfg).name == "openai"
    with pytest.raises(LLMError, match=r"llm\.model"):
        make_provider(LLMConfig(provider="openai", base_url="http://127.0.0.1:1/v1", api_key_env=ABSENT_KEY_ENV))


def test_a_provider_survives_a_new_event_loop(server: RunningServer) -> None:
    records: list[CallRecord] = []
    p = provider(server, records)
    asyncio.run(p.generate(PROMPT, Tiny))
    asyncio.run(p.generate(PROMPT, Tiny))  # e.g. one asyncio.run per CLI round
    run(p, asyncio.sleep(0))
    assert outcomes(records) == ["ok", "ok"]


# ---- the scripted server itself --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(min_value=1, max_value=1000),
    items=st.integers(min_value=3, max_value=12),
    enum=st.lists(st.sampled_from(["BTC", "ETH", "DEFI", "AI"]), min_size=1, max_size=4, unique=True),
)
def test_instances_validate_against_the_models(cap: int, items: int, enum: list[str]) -> None:
    overrides = {"properties": {"category": {"enum": enum}, "tags": {"maxItems": items}}}
    schema = json_schema_for(WrittenArticle, max_string_chars=cap, overrides=overrides)
    value = WrittenArticle.model_validate(instance_for(schema))
    assert value.category == enum[0]
    assert 0 <= value.importance <= 100
    assert len(value.tags) <= items
    text_schema = json_schema_for(ArticleText, max_string_chars=cap)
    ArticleText.model_validate(instance_for(text_schema))


def test_instance_generator_respects_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "minLength": 70, "maxLength": 80},
            "b": {"type": "string", "maxLength": 3},
            "n": {"type": "integer", "minimum": 60, "maximum": 70},
            "m": {"type": "integer", "exclusiveMaximum": 10},
            "x": {"type": "number", "minimum": 0.5, "maximum": 0.75},
            "l": {"type": "array", "items": {"type": "boolean"}, "minItems": 5, "maxItems": 9},
            "e": {"enum": ["only"]},
            "o": {"anyOf": [{"type": "null"}, {"type": "integer", "maximum": -1}]},
        },
    }
    got = instance_for(schema)
    assert 70 <= len(got["a"]) <= 80 and len(got["b"]) <= 3
    assert 60 <= got["n"] <= 70 and got["m"] < 10 and 0.5 <= got["x"] <= 0.75
    assert got["l"] == [True] * 5 and got["e"] == "only" and got["o"] == -1
    assert instance_for(schema) == got  # deterministic


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(url: str, data: Any = None) -> Any:
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_standalone_server_runs_and_is_scriptable_over_http() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsroom.devtools.scripted_llm", "--port", str(port), "--latency-ms", "250"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                models = _http(f"{base}/v1/models")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"the scripted server did not start: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.1)
        assert models["data"][0]["id"] == "scripted"
        assert _http(f"{base}/_script", ["429", {"kind": "invalid_json"}])["pending_script"] == 2
        records: list[CallRecord] = []
        cfg = LLMConfig(
            provider="openai",
            base_url=f"{base}/v1",
            model="scripted",
            api_key_env=ABSENT_KEY_ENV,
            structured_output="json_schema",
            concurrency=32,
        )
        p = make_provider(cfg, records.append)
        assert isinstance(p, OpenAIProvider)
        latency_s = 0.25

        async def calls() -> float:
            await p.generate(PROMPT, Tiny)  # takes the two scripted faults (and waits out the Retry-After)
            assert outcomes(records) == ["rate_limited", "invalid_output", "ok"]
            await asyncio.gather(*[p.generate(PROMPT, Tiny) for _ in range(32)])  # open 32 connections
            _http(f"{base}/_reset", {})
            started = time.perf_counter()
            await asyncio.gather(*[p.generate(PROMPT, Tiny) for _ in range(96)])
            return time.perf_counter() - started

        elapsed = run(p, calls())
        stats = _http(f"{base}/_stats")
        assert stats["requests"] == 96 and stats["max_in_flight"] == 32
        # 96 calls, 32 at a time, 250 ms each: 0.75 s. Measured 1.03-1.12 s on 2 cores: each burst of 32 requests
        # costs ~4 ms of client CPU apiece (openai SDK + httpx) plus ~1.4 ms apiece in the server, all serialised.
        # the upper bound only rules out serialised calls (24 s); timings proper are in bench/pipeline.py
        assert 3 * latency_s <= elapsed < 3 * latency_s * 8
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_scripted_llm_rejects_unknown_scripts() -> None:
    with pytest.raises(ValueError, match="unknown scripted reply"):
        ScriptedLLM().script(["teapot"])

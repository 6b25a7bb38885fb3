"""The ``local`` provider in process with the embedded model (a tiny base model): real llama.cpp, real grammar.

Tests marked ``model`` run the model: a few seconds per call on 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, Field

from newsroom.config import LLMConfig
from newsroom.llm import CallRecord, LLMError, Prompt, make_provider
from newsroom.llm.local import ConstrainedGenerator, LocalProvider, build_prompt, embedded_model_path
from newsroom.llm.schema import grammar_for, json_schema_for
from newsroom.models import WrittenArticle

CONTROL = re.compile(r"[\x00-\x1f]")


class Note(BaseModel):
    headline: str = Field(min_length=1, max_length=60)
    mood: str = Field(pattern="^(calm|tense)$")
    lines: list[str] = Field(min_length=1, max_length=2)
    rating: int = Field(ge=1, le=5)


def note_schema_override() -> dict[str, object]:
    return {"properties": {"mood": {"enum": ["calm", "tense"]}, "lines": {"items": {"maxLength": 60}}}}


PROMPT = Prompt(
    stage="write",
    system="Write a short note about the news below as JSON with a headline, a mood, one or two lines and a rating.",
    user="Bitcoin traded flat on Monday.\nLine one\tof the story.\nLine two of the story.",
    max_tokens=160,
    schema_overrides=note_schema_override(),
)


@pytest.fixture(scope="module")
def local() -> Iterator[tuple[LocalProvider, list[CallRecord]]]:
    records: list[CallRecord] = []
    provider = make_provider(LLMConfig(provider="local", max_string_chars=200, temperature=0.7), records.append)
    assert isinstance(provider, LocalProvider)
    yield provider, records
    asyncio.run(provider.aclose())


@pytest.mark.model
def test_embedded_model_is_assembled_once() -> None:
    path = embedded_model_path()
    assert path.is_file() and path.suffix == ".gguf"
    assert embedded_model_path() == path
    assert path.stat().st_size > 100_000_000


@pytest.mark.model
def test_local_call_validates_counts_tokens_and_is_not_publishable(
    local: tuple[LocalProvider, list[CallRecord]],
) -> None:
    provider, records = local
    records.clear()
    started = time.perf_counter()
    result = asyncio.run(provider.generate(PROMPT, Note))
    elapsed = time.perf_counter() - started
    assert isinstance(result.value, Note)
    assert provider.publishable is False
    assert provider.model == "gemma-3-270m-q4_k_m" == result.model
    assert result.tokens_in > 20 and 0 < result.tokens_out <= 2 * 160
    assert [r.outcome for r in records][-1] == "ok"
    rec = records[-1]
    assert (rec.provider, rec.stage, rec.cost) == ("local", "write", 0.0)
    assert rec.tokens_in > 20 and rec.tokens_out > 0 and rec.latency_ms > 0
    for text in (result.value.headline, *result.value.lines):
        assert not CONTROL.search(text)
    assert elapsed < 60


@pytest.mark.model
def test_grammar_output_is_strict_json_without_control_characters(
    local: tuple[LocalProvider, list[CallRecord]],
) -> None:
    """Invite line breaks and tabs (the prompt is full of them); the patched grammar must never emit them raw."""
    provider, _ = local
    generator = provider._load()
    schema = json_schema_for(Note, max_string_chars=80, overrides=note_schema_override())
    text = build_prompt(PROMPT) + '{"headline": "Line one\n'  # even a prompt that ends inside a string
    for seed in (1, 2):
        done = generator.complete(
            build_prompt(PROMPT) if seed == 1 else text,
            grammar_for(schema),
            max_tokens=160,
            temperature=1.0,
            seed=seed,
            deadline=time.monotonic() + 60,
            cancel=threading.Event(),
        )
        assert done.finish_reason == "stop", done
        data = json.loads(done.text)  # strict: a raw control character inside a string would fail here
        Note.model_validate(data)
        assert done.completion_tokens > 0


@pytest.mark.model
def test_article_sized_grammar_loads_in_llama_cpp(local: tuple[LocalProvider, list[CallRecord]]) -> None:
    """Strings bounded at 1,000 characters (the cap) must build; llama.cpp segfaults at 1,500."""
    import llama_cpp

    provider, _ = local
    generator: ConstrainedGenerator = provider._load()
    grammar = grammar_for(json_schema_for(WrittenArticle, max_string_chars=1000))
    sampler = llama_cpp.llama_sampler_init_grammar(generator._vocab, grammar.encode(), b"root")
    assert sampler
    llama_cpp.llama_sampler_free(sampler)


@pytest.mark.model
def test_local_timeout_stops_generation(local: tuple[LocalProvider, list[CallRecord]]) -> None:
    provider, records = local
    slow = LocalProvider(provider.cfg.model_copy(update={"timeout_seconds": 0.3}), records.append)
    slow._generator = provider._load()  # share the loaded model: loading is not what is timed
    records.clear()
    with pytest.raises(LLMError) as err:
        asyncio.run(slow.generate(PROMPT, Note))
    assert err.value.outcome == "timeout"
    assert [r.outcome for r in records] == ["timeout"]


def test_missing_model_path_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LLMError, match="model_path"):
        make_provider(LLMConfig(provider="local", model_path=str(tmp_path / "nope.gguf")))


def test_user_model_path_is_publishable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gguf = tmp_path / "my-instruct-model.gguf"
    gguf.write_bytes(b"GGUF")  # never loaded: loading is lazy
    provider = make_provider(LLMConfig(provider="local", model_path=str(gguf)))
    assert provider.publishable is True and provider.model == "my-instruct-model"

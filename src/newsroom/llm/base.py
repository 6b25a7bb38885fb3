"""The provider protocol: one structured call in, a validated pydantic object out, every attempt logged."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)

Outcome = Literal["ok", "invalid_output", "rate_limited", "server_error", "timeout", "error", "started"]

log = logging.getLogger("newsroom.llm")


@dataclass(frozen=True)
class Prompt:
    """What a stage asks for. ``system`` holds the instructions; ``user`` holds the data (source text is data)."""

    stage: str
    system: str
    user: str
    max_tokens: int | None = None
    # JSON schema overrides merged into the schema derived from the pydantic model, e.g. an enum for category
    schema_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallRecord:
    """One request to a model, successful or not. The pipeline stores these (table model_calls)."""

    stage: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    outcome: Outcome
    error: str | None = None
    cost: float = 0.0
    call_key: str | None = None  # the attempt's id, shared by its "started" record and its outcome


CallLogger = Callable[[CallRecord], None]


def report_call(logger: CallLogger | None, record: CallRecord) -> None:
    """Hand one attempt's outcome to the call logger; a broken logger must not turn a good call into a failed story."""
    if logger is None:
        return
    try:
        logger(record)
    except Exception:
        log.exception("the call logger failed")


def start_call(logger: CallLogger | None, stage: str, provider: str, model: str) -> str | None:
    """Announce one HTTP attempt before it is made, to a logger that records calls up front (``started``: the
    pipeline's CallBuffer stores a row at once, so a crash that loses the reply still leaves the call counted).
    Returns the attempt's key, which its outcome record carries; None for a logger without ``started``."""
    hook = getattr(logger, "started", None)
    if hook is None:
        return None
    key = uuid.uuid4().hex
    try:
        hook(CallRecord(stage, provider, model, 0, 0, 0.0, "started", call_key=key))
    except Exception:  # a broken logger must not fail the call; the outcome is still recorded after it
        log.exception("the call logger failed to record a call's start")
        return None
    return key


async def astart_call(logger: CallLogger | None, stage: str, provider: str, model: str) -> str | None:
    """:func:`start_call` for a provider on an event loop: a logger with ``astarted`` stores the row without blocking
    the loop (the attempt still waits until it is committed); others are called as :func:`start_call` calls them."""
    hook = getattr(logger, "astarted", None)
    if hook is None:
        return start_call(logger, stage, provider, model)
    key = uuid.uuid4().hex
    try:
        await hook(CallRecord(stage, provider, model, 0, 0, 0.0, "started", call_key=key))
    except Exception:  # a broken logger must not fail the call; the outcome is still recorded after it
        log.exception("the call logger failed to record a call's start")
        return None
    return key


@dataclass
class Result(Generic[T]):
    value: T
    model: str
    tokens_in: int
    tokens_out: int
    attempts: int


class LLMError(Exception):
    """A model call that did not yield a valid object after its retries. ``outcome`` says why."""

    def __init__(self, message: str, outcome: Outcome = "error") -> None:
        super().__init__(message)
        self.outcome = outcome


class Provider(Protocol):
    name: str  # "openai", "local"
    model: str
    publishable: bool  # False for models whose text must never go live (the embedded base model)

    async def generate(self, prompt: Prompt, schema: type[T]) -> Result[T]: ...

    async def aclose(self) -> None: ...

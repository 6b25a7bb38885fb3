"""Provider ``openai``: any OpenAI-compatible chat endpoint (OpenAI, OpenRouter, vLLM, Ollama, llama.cpp server).

The request is one ``POST {base_url}/chat/completions`` with httpx2: the JSON body built once, the reply's JSON parsed
once and read defensively. The openai SDK is not on this path (nor imported). Each call in flight holds a *lane*: an
``httpx2.AsyncClient`` whose keep-alive pool holds the one connection it reuses, taken from the provider's idle lanes
(at most ``llm.concurrency`` of them per event loop). One client shared by every call did the same work but its pool
(httpcore) walks every pooled connection, and asks the kernel whether each idle socket is readable, at each request
and each response: O(connections) per call, about 40 % of the client's CPU at concurrency 32. Event-loop CPU per call
against the scripted server at concurrency 32 (2-core AMD EPYC without AVX-512, load 5-6; ``generate`` whole, reply
validation included): the SDK's client 4.1-4.6 ms, one shared httpx2 client 3.0-3.2 ms, lanes 1.7-1.8 ms.
Every HTTP attempt must become one CallRecord (tokens, latency, outcome), and the backoff must honour a capped
Retry-After; both need the retry loop to be ours. Structured output follows
``llm.structured_output``; ``auto`` tries strict ``json_schema`` and, if the endpoint refuses it (llama.cpp's server
answers HTTP 500), switches to ``json_object`` with the schema in the system message for the provider's lifetime.
Whatever the mode, the reply is validated against the pydantic model, with one repair retry.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx2

from ..config import LLMConfig
from ..netguard import tls_context
from .base import CallLogger, CallRecord, LLMError, Outcome, Prompt, Result, T, astart_call, report_call
from .retry import backoff_delay, parse_retry_after
from .schema import ReplyError, grammar_for, json_schema_for, parse_reply

log = logging.getLogger("newsroom.llm")

LOOPBACK_DUMMY_KEY = "sk-no-key-needed-for-loopback"
_REJECTING_STATUSES = (400, 422, 500)
_MAX_ERROR_CHARS = 300
_MAX_ECHO_CHARS = 4000

Mode = Literal["json_schema", "json_object", "grammar"]


def is_loopback_url(url: str | None) -> bool:
    """True for http(s)://localhost, 127.0.0.0/8 and [::1] endpoints: these may run without an API key."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_api_key(cfg: LLMConfig) -> str:
    """The key from the environment variable the config names; a dummy for loopback endpoints without one."""
    key = os.environ.get(cfg.api_key_env, "").strip()
    if key:
        return key
    if is_loopback_url(cfg.base_url):
        return LOOPBACK_DUMMY_KEY
    where = cfg.base_url or "https://api.openai.com/v1"
    raise LLMError(
        f"no API key for {where}: the environment variable {cfg.api_key_env} is not set. "
        f"Export it (export {cfg.api_key_env}=...) or name another variable in llm.api_key_env.",
        outcome="error",
    )


DEFAULT_BASE_URL = "https://api.openai.com/v1"
# one lane (client) per call in flight: its pool never holds more than the one connection it reuses
_LANE_LIMITS = httpx2.Limits(max_connections=2, max_keepalive_connections=1, keepalive_expiry=5.0)


def endpoint_url(cfg: LLMConfig) -> str:
    """The chat completions URL: ``llm.base_url``, else ``OPENAI_BASE_URL``, else OpenAI's (as the SDK chose)."""
    base = cfg.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    return base.rstrip("/") + "/chat/completions"


class _StatusError(Exception):
    """A reply with a status other than 2xx: its status, headers and body (what ``_classify`` reads)."""

    def __init__(self, response: httpx2.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.status_code = response.status_code
        self.response = response
        try:
            self.body: object = json.loads(response.content)
        except ValueError:
            self.body = None


class _Attempt(Exception):
    """One failed HTTP attempt, already recorded; ``retryable`` says whether backing off may help."""

    def __init__(self, message: str, outcome: Outcome, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.outcome: Outcome = outcome
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Reply:
    text: str
    tokens_in: int
    tokens_out: int
    attempts: int
    latency_ms: float
    finish_reason: str | None
    call_key: str | None = None


class OpenAIProvider:
    """Structured calls against an OpenAI-compatible endpoint. See the module docstring for the why."""

    name = "openai"
    publishable = True
    backoff_base_s = 0.5  # first retry waits 0.25-0.5 s, doubling; a 429's Retry-After (capped) overrides it

    def __init__(self, cfg: LLMConfig, on_call: CallLogger | None = None) -> None:
        if not cfg.model:
            raise LLMError("llm.model is empty: set it to the model name the endpoint serves (e.g. gpt-4o-mini)")
        self.cfg = cfg
        self.model = cfg.model
        self._on_call = on_call
        self._key = resolve_api_key(cfg)
        self._url = endpoint_url(cfg)
        self._lanes: set[httpx2.AsyncClient] = set()  # every lane opened under the current loop
        self._idle: list[httpx2.AsyncClient] = []  # ...and those no call holds now
        self._sem = asyncio.Semaphore(cfg.concurrency)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mode: Mode = "json_schema" if cfg.structured_output == "auto" else cfg.structured_output
        self._auto_pending = cfg.structured_output == "auto"  # not yet known whether json_schema is accepted
        self._schemas: dict[tuple[type, str], dict[str, Any]] = {}
        self._grammars: dict[str, str] = {}

    @property
    def mode(self) -> Mode:
        """The structured-output mode in use now (``auto`` resolves to json_schema or json_object)."""
        return self._mode

    async def aclose(self) -> None:
        lanes, self._lanes, self._idle = self._lanes, [], []
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            # the lanes' connections died with the loop that opened them: nothing to close from here
            self._loop = None
            return
        for lane in lanes:
            await lane.aclose()

    def _new_client(self) -> httpx2.AsyncClient:
        """One client (its keep-alive pool) for every call of this provider under one event loop; the process's one
        TLS context instead of a CA bundle loaded again. The key goes in a header set here, never in a log line."""
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "newsroom",
        }
        for env, header in (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project")):
            if os.environ.get(env):  # as the SDK sent them
                headers[header] = os.environ[env]
        return httpx2.AsyncClient(
            headers=headers,
            timeout=httpx2.Timeout(self.cfg.timeout_seconds),
            limits=_LANE_LIMITS,
            verify=tls_context(),
            follow_redirects=False,
        )

    def _bind_loop(self) -> None:
        """A client's connection pool and a semaphore belong to one event loop; a provider reused under a new loop
        (one ``asyncio.run`` per CLI round or test) gets fresh ones instead of 'Event loop is closed'."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            self._loop = loop
            self._lanes, self._idle = set(), []
            self._sem = asyncio.Semaphore(self.cfg.concurrency)

    # ---- the call ----------------------------------------------------------------------------------------------

    async def generate(self, prompt: Prompt, schema: type[T]) -> Result[T]:
        self._bind_loop()
        json_schema = self._schema(schema, prompt)
        messages: list[dict[str, str]] = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]
        async with self._sem:
            lane = self._idle.pop() if self._idle else self._new_lane()
            try:
                return await self._generate(prompt, schema, messages, json_schema, lane)
            finally:
                if lane in self._lanes:  # not a lane of a loop that was replaced meanwhile
                    self._idle.append(lane)

    def _new_lane(self) -> httpx2.AsyncClient:
        lane = self._new_client()
        self._lanes.add(lane)
        return lane

    async def _generate(
        self,
        prompt: Prompt,
        schema: type[T],
        messages: list[dict[str, str]],
        json_schema: dict[str, Any],
        lane: httpx2.AsyncClient,
    ) -> Result[T]:
        tokens_in = tokens_out = attempts = 0
        for repair in (False, True):
            reply = await self._complete(prompt, messages, json_schema, schema.__name__, lane)
            tokens_in += reply.tokens_in
            tokens_out += reply.tokens_out
            attempts += reply.attempts
            try:
                value = parse_reply(reply.text, schema)
            except ReplyError as exc:
                reason = exc.reason
                if reply.finish_reason == "length":
                    reason += " (the reply hit max_tokens: keep every field shorter)"
                self._record(
                    prompt,
                    reply.tokens_in,
                    reply.tokens_out,
                    reply.latency_ms,
                    "invalid_output",
                    reason,
                    reply.call_key,
                )
                if repair:
                    raise LLMError(
                        f"{self.model} gave invalid output twice ({prompt.stage}): {reason}",
                        outcome="invalid_output",
                    ) from None
                messages = [
                    *messages,
                    {"role": "assistant", "content": reply.text[:_MAX_ECHO_CHARS]},
                    {
                        "role": "user",
                        "content": f"That answer was rejected: {reason}. Answer again with only one JSON "
                        "object that follows the schema and the rules above.",
                    },
                ]
                continue
            self._record(prompt, reply.tokens_in, reply.tokens_out, reply.latency_ms, "ok", None, reply.call_key)
            return Result(value=value, model=self.model, tokens_in=tokens_in, tokens_out=tokens_out, attempts=attempts)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _complete(
        self,
        prompt: Prompt,
        messages: list[dict[str, str]],
        json_schema: dict[str, Any],
        schema_name: str,
        lane: httpx2.AsyncClient,
    ) -> _Reply:
        """One reply text, after as many HTTP attempts as the retry policy allows. Failed attempts are recorded here;
        the successful one is recorded by the caller once its content has been judged."""
        retry = 0
        attempts = 0
        while True:
            attempts += 1
            mode = self._mode
            kwargs = self._request_kwargs(prompt, messages, json_schema, schema_name, mode)
            key = await astart_call(self._on_call, prompt.stage, self.name, self.model)
            started = time.perf_counter()
            try:
                # a total deadline: the client's own timeout is per read, so a server that keeps streaming bytes
                # would hold the call for ever without it
                response = await asyncio.wait_for(self._post(lane, kwargs), timeout=self.cfg.timeout_seconds)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a record and a decision, never a crash
                latency = (time.perf_counter() - started) * 1000
                failure = self._classify(exc)
                if (
                    self._auto_pending
                    and mode == "json_schema"
                    and isinstance(exc, _StatusError)
                    and exc.status_code in _REJECTING_STATUSES
                ):
                    self._record(
                        prompt,
                        0,
                        0,
                        latency,
                        failure.outcome,
                        f"json_schema refused (HTTP {exc.status_code}); falling back to json_object",
                        key,
                    )
                    self._switch_to_json_object(exc.status_code)
                    continue  # a refusal of the format is not a failure of the call: no retry budget spent
                self._record(prompt, 0, 0, latency, failure.outcome, str(failure), key)
                if not failure.retryable or retry >= self.cfg.max_retries:
                    suffix = f" after {attempts} attempts" if attempts > 1 else ""
                    raise LLMError(f"{self.model} ({prompt.stage}){suffix}: {failure}", failure.outcome) from None
                await asyncio.sleep(backoff_delay(retry, retry_after=failure.retry_after, base=self.backoff_base_s))
                retry += 1
                continue
            latency = (time.perf_counter() - started) * 1000
            if mode == "json_schema":
                self._auto_pending = False
            # a hostile or broken endpoint may answer 200 with anything: read defensively, judge the text later
            data = _json_object(response)
            usage = data.get("usage")
            usage = usage if isinstance(usage, dict) else {}
            text = ""
            finish = None
            choices = data.get("choices")
            first = choices[0] if isinstance(choices, list) and choices else None
            if isinstance(first, dict):
                message = first.get("message")
                content = message.get("content") if isinstance(message, dict) else None
                text = content if isinstance(content, str) else ""
                reason = first.get("finish_reason")
                finish = reason if isinstance(reason, str) else None
            t_in, t_out = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
            return _Reply(text, t_in, t_out, attempts, latency, finish, key)

    async def _post(self, lane: httpx2.AsyncClient, body: dict[str, Any]) -> httpx2.Response:
        """POST ``/chat/completions``: the body encoded once, the whole reply read; a status other than 2xx raises
        ``_StatusError``, a transport failure httpx2's own exception (``_classify`` judges both)."""
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        response = await lane.post(self._url, content=content)
        if not response.is_success:
            raise _StatusError(response)
        return response

    def _switch_to_json_object(self, status: int) -> None:
        if self._mode != "json_object":
            log.warning(
                "endpoint %s refused response_format json_schema (HTTP %s); using json_object with the schema in "
                "the system message from now on",
                _safe_endpoint(self.cfg.base_url),
                status,
            )
        self._mode = "json_object"
        self._auto_pending = False

    def _request_kwargs(
        self,
        prompt: Prompt,
        messages: list[dict[str, str]],
        json_schema: dict[str, Any],
        schema_name: str,
        mode: Mode,
    ) -> dict[str, Any]:
        if mode == "json_object":
            schema_text = json.dumps(json_schema, ensure_ascii=False)
            system = f"{messages[0]['content']}\n\nAnswer with one JSON object that conforms to this JSON schema:\n"
            messages = [{"role": "system", "content": system + schema_text}, *messages[1:]]
        body: dict[str, Any] = {"messages": messages}
        if mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": _schema_name(schema_name), "schema": json_schema, "strict": True},
            }
        elif mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        else:  # grammar: what llama.cpp servers accept
            body["grammar"] = self._grammar(json_schema)
        # the JSON body as sent (``_post``: no typed-params transform; the same keys, in the order the SDK's
        # ``create`` sent them)
        return {
            "model": self.model,
            "messages": body.pop("messages"),
            "max_tokens": prompt.max_tokens or self.cfg.max_tokens,
            "temperature": self.cfg.temperature,
            **body,
        }

    def _classify(self, exc: Exception) -> _Attempt:
        if isinstance(exc, TimeoutError):  # asyncio.wait_for's deadline
            return _Attempt(
                f"no complete reply within llm.timeout_seconds = {self.cfg.timeout_seconds:g} s (the total deadline "
                "of one call; the endpoint was still sending)",
                "timeout",
                retryable=True,
            )
        if isinstance(exc, httpx2.TimeoutException):
            return _Attempt(
                f"timed out after {self.cfg.timeout_seconds:g} s without data (llm.timeout_seconds)",
                "timeout",
                retryable=True,
            )
        if isinstance(exc, httpx2.TransportError):  # connect, read, write, protocol: the endpoint, not the request
            detail = str(exc) or type(exc).__name__
            return _Attempt(f"connection failed: {self._redact(detail)}", "error", retryable=True)
        if isinstance(exc, _StatusError):
            status = exc.status_code
            detail = self._redact(_error_detail(exc))
            if status == 429:
                headers = exc.response.headers
                retry_after = None
                ms = parse_retry_after(headers.get("retry-after-ms"))
                retry_after = ms / 1000 if ms is not None else parse_retry_after(headers.get("retry-after"))
                return _Attempt(
                    f"rate limited (HTTP 429): {detail}", "rate_limited", retryable=True, retry_after=retry_after
                )
            if status >= 500 or status == 408:
                return _Attempt(f"server error (HTTP {status}): {detail}", "server_error", retryable=True)
            if status in (401, 403):
                return _Attempt(
                    f"HTTP {status}: the endpoint refused the API key from {self.cfg.api_key_env}: {detail}",
                    "error",
                    retryable=False,
                )
            return _Attempt(f"HTTP {status}: {detail}", "error", retryable=False)
        return _Attempt(f"{type(exc).__name__}: {self._redact(str(exc))}", "error", retryable=False)

    # ---- bookkeeping -------------------------------------------------------------------------------------------

    def _record(
        self,
        prompt: Prompt,
        t_in: int,
        t_out: int,
        latency_ms: float,
        outcome: Outcome,
        error: str | None,
        call_key: str | None = None,
    ) -> None:
        if self._on_call is None:
            return
        cost = t_in / 1000 * self.cfg.cost_per_1k_input + t_out / 1000 * self.cfg.cost_per_1k_output
        record = CallRecord(
            stage=prompt.stage,
            provider=self.name,
            model=self.model,
            tokens_in=t_in,
            tokens_out=t_out,
            latency_ms=round(latency_ms, 1),
            outcome=outcome,
            error=self._redact(error)[:_MAX_ERROR_CHARS] if error else None,
            cost=cost,
            call_key=call_key,
        )
        report_call(self._on_call, record)

    def _redact(self, text: str) -> str:
        if self._key and len(self._key) >= 4 and self._key in text:
            text = text.replace(self._key, "***")
        return text

    def _schema(self, model: type[T], prompt: Prompt) -> dict[str, Any]:
        key = (model, json.dumps(prompt.schema_overrides, sort_keys=True, default=str))
        cached = self._schemas.get(key)
        if cached is None:
            cached = json_schema_for(
                model, max_string_chars=self.cfg.max_string_chars, overrides=prompt.schema_overrides or None
            )
            self._schemas[key] = cached
        return cached

    def _grammar(self, json_schema: dict[str, Any]) -> str:
        key = json.dumps(json_schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = grammar_for(json_schema)
        return self._grammars[key]


def _json_object(response: httpx2.Response) -> dict[str, Any]:
    """The reply's JSON object; an empty one for a body that is not JSON or not an object."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _count(value: object) -> int:
    """A token count from the reply's ``usage``: 0 for anything that is not a count."""
    if isinstance(value, bool):
        return 0
    try:
        return max(0, int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0


def _schema_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name)
    return cleaned[:64] or "result"


def _error_detail(exc: _StatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg)[:_MAX_ERROR_CHARS]
    try:
        text = exc.response.text
    except Exception:  # noqa: BLE001 - a body that cannot be decoded has no text
        text = ""
    return (text or exc.response.reason_phrase or "")[:_MAX_ERROR_CHARS]


def _safe_endpoint(url: str | None) -> str:
    if not url:
        return "https://api.openai.com/v1"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}"

"""A *scripted* OpenAI-compatible server: not a model. For fault injection in tests and for the benchmark.

It answers ``POST /v1/chat/completions`` after a fixed latency with a schema-valid JSON instance generated
deterministically from the request's ``response_format`` JSON schema (or, for ``json_object`` requests, from a schema
found in the messages), with a plausible ``usage`` block. A queue of scripted replies, consumed in arrival order,
injects faults: HTTP 429 with Retry-After, 5xx, a hang longer than the client's timeout, invalid JSON, JSON that
violates the schema, a body that streams forever (``trickle``). Fill it with ``ScriptedLLM.script([...])`` in
process or ``POST /_script`` over HTTP.
``GET /_stats`` reports requests seen, replies sent (``answered``: a reply the client hung up on before it was sent is
not one) and the most requests ever in flight at once (to check a client's bound).
``GET /_in_flight?at=T[&arrived_by=T2][&since=T0][&within=S]`` counts the requests that had arrived (after T0, by
T2) and were not finished at ``time.monotonic()`` T (a kill's instant, for the chaos benchmark; the clock is the
machine's, shared by its processes), and those finished in the S seconds (default 1) before T; ``&client=C`` counts
only the requests whose ``Authorization`` header was ``Bearer C`` (one client among several: each process under test
gets its own key), and ``/_stats`` reports ``requests_by_client``. ``POST /_outage``
with ``{"seconds": N}`` makes the server an endpoint that is down for N seconds: every request (``/v1/models`` too)
gets HTTP 503 at once.

Standalone:  python -m newsroom.devtools.scripted_llm --host 127.0.0.1 --port 8765 --latency-ms 250
In process:  server = start_scripted_server(latency_ms=50); ...; server.stop()
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .grounded import grounded_article

DEFAULT_MODEL = "scripted"
_WORDS = (
    "scripted",
    "reply",
    "text",
    "from",
    "the",
    "newsroom",
    "test",
    "server",
    "standing",
    "in",
    "for",
    "a",
    "model",
    "with",
    "fixed",
    "latency",
)
_MAX_KEPT_BODIES = 200


# ---- scripted replies ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptedReply:
    """One scripted answer. ``content=None`` means: the generated schema-valid instance."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None
    delay_s: float | None = None  # None: the server's latency
    hang_s: float | None = None  # wait this long (or until the client gives up), then answer 504
    trickle_s: float | None = None  # answer 200 and send one byte every trickle_s seconds, never ending the body
    error: str = ""
    raw: Any = None  # answer this JSON body verbatim instead of a chat completion (a broken endpoint)

    @classmethod
    def ok(cls, content: str | None = None) -> ScriptedReply:
        return cls(content=content)

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> ScriptedReply:
        return cls(status=429, headers={"Retry-After": f"{retry_after:g}"}, error="rate limited (scripted)")

    @classmethod
    def server_error(cls, status: int = 500) -> ScriptedReply:
        return cls(status=status, error="internal error (scripted)")

    @classmethod
    def hang(cls, seconds: float = 3600.0) -> ScriptedReply:
        return cls(hang_s=seconds)

    @classmethod
    def trickle(cls, every_s: float = 0.1) -> ScriptedReply:
        """A server that keeps streaming: a read timeout never fires, only a total deadline ends the call."""
        return cls(trickle_s=every_s)

    @classmethod
    def invalid_json(cls, text: str = '{"title": "unterminated, "sections": [') -> ScriptedReply:
        return cls(content=text)

    @classmethod
    def schema_violation(cls) -> ScriptedReply:
        return cls(content=json.dumps({"unexpected": True, "title": 42}))

    @classmethod
    def from_spec(cls, spec: str | dict[str, Any] | ScriptedReply) -> ScriptedReply:
        """Build from ``"429"``, ``"500"``, ``"hang"``, ``"invalid_json"``, ``"violation"``, ``"ok"``, or a dict
        ``{"kind": ..., ...parameters}`` (what ``POST /_script`` takes)."""
        if isinstance(spec, ScriptedReply):
            return spec
        params: dict[str, Any] = {}
        if isinstance(spec, dict):
            params = {k: v for k, v in spec.items() if k != "kind"}
            kind = str(spec.get("kind", "ok"))
        else:
            kind = str(spec)
        if kind in ("429", "rate_limited"):
            return cls.rate_limited(float(params.get("retry_after", 1.0)))
        if kind == "hang":
            return cls.hang(float(params.get("seconds", 3600.0)))
        if kind == "trickle":
            return cls.trickle(float(params.get("every_s", 0.1)))
        if kind == "invalid_json":
            return cls.invalid_json(**({"text": params["text"]} if "text" in params else {}))
        if kind in ("violation", "schema_violation"):
            return cls.schema_violation()
        if kind == "ok":
            return cls.ok(params.get("content"))
        if kind.isdigit() and 400 <= int(kind) <= 599:
            return cls(status=int(kind), error=str(params.get("error", "scripted error")))
        raise ValueError(f"unknown scripted reply {spec!r}")


# ---- instances from schemas ------------------------------------------------------------------------------------------


def instance_for(schema: dict[str, Any]) -> Any:
    """A deterministic instance of ``schema``: enums, const, min/maxItems, min/maxLength, integer and number bounds
    respected. Covers the keywords ``llm.schema.json_schema_for`` emits; unknown shapes get ``null``."""
    return _instance(schema, "")


def _instance(node: Any, path: str) -> Any:
    if not isinstance(node, dict):
        return None
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        if node.get(key):
            options = [o for o in node[key] if isinstance(o, dict) and o.get("type") != "null"] or node[key]
            return _instance(options[0], path)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in node):
        return {name: _instance(sub, f"{path}.{name}") for name, sub in node.get("properties", {}).items()}
    if kind == "array" or (kind is None and "items" in node):
        lo = int(node.get("minItems", 0))
        hi = node.get("maxItems")
        n = max(lo, 3) if hi is None else max(lo, min(int(hi), 3))
        return [_instance(node.get("items", {}), f"{path}.{i}") for i in range(n)]
    if kind == "string":
        return _text(path, int(node.get("minLength", 0)), node.get("maxLength"))
    if kind == "integer":
        return int(_number(node, 50, integer=True))
    if kind == "number":
        return float(_number(node, 50.0, integer=False))
    if kind == "boolean":
        return True
    return None


def _text(path: str, lo: int, hi: int | None) -> str:
    target = max(lo, 60)
    if hi is not None:
        target = min(target, int(hi))
    start = sum(map(ord, path)) % len(_WORDS)
    words: list[str] = []
    i = start
    while len(" ".join(words)) < target:
        words.append(_WORDS[i % len(_WORDS)])
        i += 1
    text = " ".join(words)[:target].rstrip()
    while len(text) < target:  # the cut landed on a space; pad to the exact minimum
        text += "x"
    return text.capitalize() if text else text


def _number(node: dict[str, Any], preferred: float, *, integer: bool) -> float:
    lo = node.get("minimum")
    hi = node.get("maximum")
    if "exclusiveMinimum" in node:
        lo = node["exclusiveMinimum"] + (1 if integer else 1e-6)
    if "exclusiveMaximum" in node:
        hi = node["exclusiveMaximum"] - (1 if integer else 1e-6)
    value = preferred
    if lo is not None:
        value = max(value, lo)
    if hi is not None:
        value = min(value, hi)
    if integer:
        value = float(int(value)) if lo is None or int(value) >= lo else float(int(value) + 1)
    return value


def schema_from_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a chat request asks for: response_format json_schema, else one embedded in a message."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            return schema
    if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    decoder = json.JSONDecoder()
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or '"properties"' not in content:
            continue
        pos = content.find("{")
        while pos != -1:
            try:
                obj, _ = decoder.raw_decode(content, pos)
            except json.JSONDecodeError:
                pos = content.find("{", pos + 1)
                continue
            if isinstance(obj, dict) and ("properties" in obj or "type" in obj):
                return obj
            pos = content.find("{", pos + 1)
    return None


# ---- the server ------------------------------------------------------------------------------------------------------


class ScriptedLLM:
    """The scripted server's state and its Starlette app. Thread-safe to script and inspect from tests."""

    def __init__(
        self,
        *,
        latency_ms: float = 250.0,
        model: str = DEFAULT_MODEL,
        reject_json_schema: bool = False,
        grounded: bool = False,
    ) -> None:
        self.latency_s = latency_ms / 1000
        self.model = model
        # article requests get text that passes the guards, in the language asked for (devtools/grounded.py)
        self.grounded = grounded
        # behave like `python -m llama_cpp.server`: refuse response_format json_schema with HTTP 500
        self.reject_json_schema = reject_json_schema
        self._lock = threading.Lock()
        self._queue: deque[ScriptedReply] = deque()
        self._instances: dict[str, str] = {}
        self.requests = 0
        self.answered = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.refused = 0  # 503s sent during an outage (counted in answered too: the client got a reply)
        self.outage_until = 0.0  # time.monotonic() until which every request gets 503
        self._outage_pending: float | None = None  # an outage's length, to begin at the next request
        # per request: [arrived, finished or inf], and the client's key (its Authorization header without "Bearer ")
        self._timeline: deque[tuple[list[float], str]] = deque(maxlen=100_000)
        self.requests_by_client: dict[str, int] = {}
        self.bodies: deque[dict[str, Any]] = deque(maxlen=_MAX_KEPT_BODIES)
        self.authorizations: deque[str] = deque(maxlen=_MAX_KEPT_BODIES)
        self.app = Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/_script", self._script, methods=["POST"]),
                Route("/_stats", self._stats, methods=["GET"]),
                Route("/_reset", self._reset, methods=["POST"]),
                Route("/_outage", self._outage, methods=["POST"]),
                Route("/_in_flight", self._in_flight, methods=["GET"]),
            ]
        )

    # -- scripting (tests) --

    def script(self, replies: list[str | dict[str, Any] | ScriptedReply]) -> None:
        """Queue replies; each request takes the next one, and the default answer once the queue is empty."""
        parsed = [ScriptedReply.from_spec(r) for r in replies]
        with self._lock:
            self._queue.extend(parsed)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests = 0
            self.answered = 0
            self.requests_by_client.clear()
            self.max_in_flight = self.in_flight
            self.bodies.clear()
            self.authorizations.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "answered": self.answered,
                "in_flight": self.in_flight,
                "requests_by_client": dict(self.requests_by_client),
                "max_in_flight": self.max_in_flight,
                "pending_script": len(self._queue),
                "refused": self.refused,
                "outage_left_s": round(max(0.0, self.outage_until - time.monotonic()), 3),
            }

    def outage(self, seconds: float, *, from_next_request: bool = False) -> None:
        """Answer every request with HTTP 503 for ``seconds`` from now (0 ends an outage), or from the next request's
        arrival (a test then does not depend on how long the client takes to get there on a loaded machine)."""
        with self._lock:
            self._outage_pending = seconds if from_next_request else None
            self.outage_until = 0.0 if from_next_request else time.monotonic() + seconds

    def in_flight_at(
        self, at: float, arrived_by: float | None = None, since: float = 0.0, client: str | None = None
    ) -> int:
        """How many requests were not finished at ``time.monotonic()`` ``at``, of those that arrived after ``since``
        and by ``arrived_by`` (default ``at``; later for a request a killed client sent just before ``at`` that was
        still on its way); only ``client``'s (its API key) when given."""
        until = at if arrived_by is None else max(at, arrived_by)
        with self._lock:
            return sum(
                1
                for (arrived, done), who in self._timeline
                if since < arrived <= until and done > at and client in (None, who)
            )

    def finished_within(self, at: float, seconds: float, since: float = 0.0, client: str | None = None) -> int:
        """How many requests that arrived after ``since`` were finished (answered or dropped) in the ``seconds``
        before ``at``: replies a client may have had on the wire or in hand, not yet stored, when killed at ``at``;
        only ``client``'s when given."""
        with self._lock:
            return sum(
                1
                for (arrived, done), who in self._timeline
                if arrived > since and at - seconds < done <= at and client in (None, who)
            )

    def _down(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._outage_pending is not None:
                self.outage_until, self._outage_pending = now + self._outage_pending, None
            return now < self.outage_until

    def _next(self) -> ScriptedReply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    # -- handlers --

    async def _models(self, _request: Request) -> JSONResponse:
        if self._down():
            return _error(503, "the endpoint is down (scripted outage)")
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "newsroom"}]})

    async def _script(self, request: Request) -> JSONResponse:
        try:
            specs = await request.json()
            if not isinstance(specs, list):
                raise ValueError("expected a JSON list of replies")
            self.script(specs)
        except ValueError as exc:
            return JSONResponse({"error": {"message": str(exc)}}, status_code=400)
        return JSONResponse(self.stats())

    async def _stats(self, _request: Request) -> JSONResponse:
        return JSONResponse(self.stats())

    async def _outage(self, request: Request) -> JSONResponse:
        try:
            self.outage(float((await request.json())["seconds"]))
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": {"message": f"expected {{'seconds': N}}: {exc}"}}, status_code=400)
        return JSONResponse(self.stats())

    async def _in_flight(self, request: Request) -> JSONResponse:
        try:
            q = request.query_params
            at = float(q["at"])
            by, since, within = float(q.get("arrived_by", at)), float(q.get("since", 0)), float(q.get("within", 1))
            client = q.get("client")
        except (KeyError, ValueError):
            return JSONResponse({"error": {"message": "expected ?at=<time.monotonic()>"}}, status_code=400)
        return JSONResponse(
            {
                "at": at,
                "in_flight": self.in_flight_at(at, by, since, client),
                "finished_within": self.finished_within(at, within, since, client),
            }
        )

    async def _reset(self, _request: Request) -> JSONResponse:
        self.reset()
        return JSONResponse(self.stats())

    async def _chat(self, request: Request) -> Response:
        span = [time.monotonic(), float("inf")]
        client = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            self.requests += 1
            self.requests_by_client[client] = self.requests_by_client.get(client, 0) + 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._timeline.append((span, client))
        try:
            if self._down():
                with self._lock:
                    self.refused += 1
                    self.answered += 1
                return _error(503, "the endpoint is down (scripted outage)")
            response = await self._answer(request)
            if await request.is_disconnected():  # the client died or gave up meanwhile: nobody gets this reply
                return response
            with self._lock:
                self.answered += 1
            return response
        finally:
            with self._lock:
                self.in_flight -= 1
                span[1] = time.monotonic()

    async def _answer(self, request: Request) -> Response:
        """The reply is due ``latency`` after the request arrived: the server's own work (reading the body, building
        the reply) happens inside that time, so a client sees the scripted latency, not latency plus overhead."""
        arrived = time.monotonic()
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return _error(400, "the request body is not a JSON object")
        self.bodies.append(body)
        self.authorizations.append(request.headers.get("authorization", ""))
        reply = self._next() or ScriptedReply()
        if reply.hang_s is not None:
            deadline = time.monotonic() + reply.hang_s
            while time.monotonic() < deadline and not await request.is_disconnected():
                await asyncio.sleep(0.05)
            return _error(504, "scripted hang ended")
        if reply.trickle_s is not None:
            return StreamingResponse(_trickle(request, reply.trickle_s), media_type="application/json")
        response = self._response(body, reply)
        delay = self.latency_s if reply.delay_s is None else reply.delay_s
        await asyncio.sleep(max(0.0, arrived + delay - time.monotonic()))
        return response

    def _response(self, body: dict[str, Any], reply: ScriptedReply) -> JSONResponse:
        if reply.status != 200:
            return _error(reply.status, reply.error or "scripted error", reply.headers)
        if reply.raw is not None:
            return JSONResponse(reply.raw, headers=reply.headers)
        fmt = body.get("response_format")
        if self.reject_json_schema and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return _error(500, "json_schema response_format is not supported (scripted, like llama_cpp.server)")
        content = reply.content if reply.content is not None else self._default_content(body)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages") or [] if isinstance(m, dict))
        usage = {
            "prompt_tokens": prompt_chars // 4 + 1,
            "completion_tokens": len(content) // 4 + 1,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": str(body.get("model") or self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage,
            },
            headers=reply.headers,
        )

    def _default_content(self, body: dict[str, Any]) -> str:
        schema = schema_from_request(body)
        if self.grounded and schema is not None:
            roles = {
                m.get("role"): str(m.get("content", "")) for m in body.get("messages") or [] if isinstance(m, dict)
            }
            article = grounded_article(
                roles.get("system", ""), roles.get("user", ""), json.loads(self._instance_text(schema))
            )
            if article is not None:
                return json.dumps(article, ensure_ascii=False)
        return self._instance_text(schema)

    def _instance_text(self, schema: dict[str, Any] | None) -> str:
        if schema is None:
            return "{}"
        key = json.dumps(schema, sort_keys=True)
        text = self._instances.get(key)
        if text is None:
            text = json.dumps(instance_for(schema), ensure_ascii=False)
            self._instances[key] = text
        return text


async def _trickle(request: Request, every_s: float) -> AsyncIterator[bytes]:
    """Whitespace (valid before any JSON value) one byte at a time until the client hangs up."""
    while not await request.is_disconnected():
        yield b" "
        await asyncio.sleep(every_s)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "rate_limit_exceeded" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


# ---- running it ------------------------------------------------------------------------------------------------------


@dataclass
class RunningServer:
    """A scripted server running in a background thread."""

    base_url: str  # ends in /v1, ready for an OpenAI client
    llm: ScriptedLLM
    _server: Any
    _thread: threading.Thread

    def script(self, replies: list[str | dict[str, Any] | ScriptedReply]) -> None:
        self.llm.script(replies)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_scripted_server(
    llm: ScriptedLLM | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: float = 250.0,
    reject_json_schema: bool = False,
    grounded: bool = False,
) -> RunningServer:
    """Start uvicorn in a daemon thread on ``host:port`` (0: a free port) and return once it accepts requests."""
    import uvicorn

    state = llm or ScriptedLLM(latency_ms=latency_ms, reject_json_schema=reject_json_schema, grounded=grounded)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        state.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1, backlog=2048
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="scripted-llm", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the scripted server did not start")
        time.sleep(0.01)
    return RunningServer(f"http://{host}:{bound_port}/v1", state, server, thread)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m newsroom.devtools.scripted_llm",
        description="A scripted OpenAI-compatible server (not a model): schema-valid JSON after a fixed latency.",
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--latency-ms", type=float, default=250.0)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument(
        "--reject-json-schema", action="store_true", help="answer json_schema requests with HTTP 500 (llama.cpp-like)"
    )
    ap.add_argument(
        "--grounded",
        action="store_true",
        help="article requests get text that passes the guards (devtools/grounded.py)",
    )
    args = ap.parse_args(argv)
    import uvicorn

    state = ScriptedLLM(
        latency_ms=args.latency_ms,
        model=args.model,
        reject_json_schema=args.reject_json_schema,
        grounded=args.grounded,
    )
    uvicorn.run(state.app, host=args.host, port=args.port, log_level="warning", access_log=False, backlog=2048)


if __name__ == "__main__":
    main()

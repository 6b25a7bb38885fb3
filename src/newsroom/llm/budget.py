"""Daily budgets: caps in tokens and money, per stage and in total, checked before every model call.

What counts is today's (UTC) spend: the stored call log (``model_calls``) plus the calls this process has made but
not stored yet (its CallBuffer), read at the moment of the check. So one process stops within the calls already in
flight when a cap is reached; other processes' calls count once they are stored. At a cap the call is refused with
:class:`BudgetReached` (not an LLMError: the story waits, it has not failed). Raising the cap in the config, or the
next UTC day, lets calls through again. ``caps`` and ``blocking`` are pure; ``Budget`` does the reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import MODEL_STAGES, BudgetConfig
from ..store import queries
from ..store.db import Store
from .base import Prompt, Provider, Result, T
from .usage import CallBuffer

Spend = dict[str, tuple[int, float]]  # stage -> (tokens in + out, cost)


class BudgetReached(Exception):
    """A daily cap is reached: no model call now. The story stays pending and resumes when the budget allows."""


@dataclass(frozen=True)
class Cap:
    scope: str  # "total" or a stage name
    unit: str  # "tokens" or "cost"
    limit: float
    spent: float

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.spent)

    @property
    def reached(self) -> bool:
        return self.spent >= self.limit

    def as_json(self) -> dict[str, Any]:
        r = 6 if self.unit == "cost" else 0
        return {
            "scope": self.scope,
            "unit": self.unit,
            "limit": self.limit,
            "spent": round(self.spent, r),
            "left": round(self.left, r),
            "reached": self.reached,
        }


def caps(cfg: BudgetConfig, spent: Spend) -> list[Cap]:
    """Every configured cap (0 is no cap) with today's spend against it."""
    out = []
    if cfg.daily_tokens:
        out.append(Cap("total", "tokens", cfg.daily_tokens, sum(t for t, _ in spent.values())))
    if cfg.daily_cost:
        out.append(Cap("total", "cost", cfg.daily_cost, sum(c for _, c in spent.values())))
    for stage, limit in cfg.stage_tokens.items():
        if limit:
            out.append(Cap(stage, "tokens", limit, spent.get(stage, (0, 0.0))[0]))
    for stage, limit in cfg.stage_cost.items():
        if limit:
            out.append(Cap(stage, "cost", limit, spent.get(stage, (0, 0.0))[1]))
    return out


def blocking(all_caps: list[Cap], stage: str) -> Cap | None:
    """The first reached cap that stops a call of ``stage`` (a total cap stops every stage)."""
    return next((c for c in all_caps if c.reached and c.scope in ("total", stage)), None)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class Budget:
    """Today's spend against ``cfg``, read from ``store`` (and ``calls``, the process's unstored records)."""

    def __init__(
        self,
        cfg: BudgetConfig,
        store: Store,
        calls: CallBuffer | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.calls = calls
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return bool(caps(self.cfg, {}))

    def spent(self) -> Spend:
        with self.store.session() as s:
            spend = dict(queries.spend_since(s, day_start(self.clock())))
        for record in self.calls.pending() if self.calls is not None else []:
            tokens, cost = spend.get(record.stage, (0, 0.0))
            spend[record.stage] = (tokens + record.tokens_in + record.tokens_out, cost + record.cost)
        return spend

    def check(self, stage: str) -> None:
        """Raise BudgetReached when a cap stops a call of ``stage`` now."""
        if not self.enabled:
            return
        cap = blocking(caps(self.cfg, self.spent()), stage)
        if cap is not None:
            raise BudgetReached(self._message(cap))

    def _message(self, cap: Cap) -> str:
        key = {"tokens": "daily_tokens", "cost": "daily_cost"}[cap.unit]
        if cap.scope != "total":
            key = f"stage_{cap.unit}.{cap.scope}"
        spent = f"{cap.spent:.4f}" if cap.unit == "cost" else f"{cap.spent:,.0f}"
        limit = f"{cap.limit:.4f}" if cap.unit == "cost" else f"{cap.limit:,.0f}"
        return (
            f"daily budget reached: {cap.scope} {cap.unit} {spent} of {limit} today (UTC); writing resumes at "
            f"00:00 UTC or when [budget] {key} is raised"
        )

    def status(self) -> dict[str, Any]:
        """For ``stats``, the dashboard and ``/metrics``: every cap, and which stages are paused now."""
        now = self.clock()
        all_caps = caps(self.cfg, self.spent()) if self.enabled else []
        paused = [stage for stage in MODEL_STAGES if blocking(all_caps, stage) is not None]
        return {
            "day": day_start(now).date().isoformat(),
            "resets_at": (day_start(now) + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
            "paused": bool(paused),
            "paused_stages": paused,
            "caps": [c.as_json() for c in all_caps],
        }


class BudgetedProvider:
    """A provider whose every call first asks the budget. The check and the call share one slot of the model
    concurrency, so calls queued behind a full endpoint are checked when they go, not when they queued."""

    def __init__(self, inner: Provider, budget: Budget, concurrency: int) -> None:
        self.inner = inner
        self.budget = budget
        self.name = inner.name
        self.model = inner.model
        self.publishable = inner.publishable
        self._concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem = asyncio.Semaphore(concurrency)

    async def generate(self, prompt: Prompt, schema: type[T]) -> Result[T]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a semaphore belongs to one event loop (one asyncio.run per CLI round)
            self._loop, self._sem = loop, asyncio.Semaphore(self._concurrency)
        async with self._sem:
            self.budget.check(prompt.stage)
            return await self.inner.generate(prompt, schema)

    async def aclose(self) -> None:
        await self.inner.aclose()


def with_budget(provider: Provider, budget: Budget, concurrency: int) -> Provider:
    """``provider`` behind the budget when a cap is configured; as it is otherwise."""
    return BudgetedProvider(provider, budget, concurrency) if budget.enabled else provider

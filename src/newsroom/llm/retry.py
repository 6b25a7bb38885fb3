"""Backoff arithmetic for model calls. Pure: the caller sleeps; this only says how long.

Why our own and not the SDK's: every attempt must produce a CallRecord (tokens, latency, outcome), and a 429's
Retry-After must be honoured but capped, so one hostile header cannot park a worker for an hour.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from time import time

BASE_DELAY_S = 0.5
MAX_DELAY_S = 20.0
MAX_RETRY_AFTER_S = 60.0


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = BASE_DELAY_S,
    cap: float = MAX_DELAY_S,
    max_retry_after: float = MAX_RETRY_AFTER_S,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 = the first retry).

    A server's Retry-After wins (capped at ``max_retry_after``), plus up to 10 % jitter so that many waiting callers
    do not return in the same instant. Otherwise exponential backoff with full jitter: uniform in
    [base * 2**attempt / 2, base * 2**attempt], capped at ``cap``.
    """
    r = rng or random
    if retry_after is not None and retry_after >= 0:
        wait = min(retry_after, max_retry_after)
        return wait + r.uniform(0, wait * 0.1)
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return r.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)

"""Importance 0–100 of a story, from five signals. Pure.

    score = round(100 × (0.30·m + 0.25·s + 0.15·r + 0.15·a + 0.15·w))

- m, the model's importance / 100 (clamped to 0–1);
- s, coverage: 1 − 0.5^(distinct sources − 1): one source 0, two 0.5, three 0.75, … (strictly increasing);
- r, recency: 0.5^(age in hours / 12) at scoring time (a half-life of 12 hours; a future date counts as new);
- a, asset weight: the largest weight of the allow-listed assets the story names (BTC 1.0 … 0.45; none 0);
- w, source weight: weight / (weight + 1) of the lead source's configured weight (default 1 → 0.5).

Each term is monotone in its signal, so the score never falls when a source is added, and it is bounded to 0–100.
"""

from __future__ import annotations

from datetime import UTC, datetime

WEIGHTS = {"model": 0.30, "sources": 0.25, "recency": 0.15, "asset": 0.15, "source_weight": 0.15}
HALF_LIFE_HOURS = 12.0


def coverage(distinct_sources: int) -> float:
    return 1.0 - 0.5 ** max(0, distinct_sources - 1)


def recency(published: datetime, now: datetime) -> float:
    age_hours = max(0.0, (now - published).total_seconds() / 3600)
    return 0.5 ** (age_hours / HALF_LIFE_HOURS)


def story_score(
    *,
    importance: float,
    distinct_sources: int,
    published: datetime,
    asset_weight: float,
    source_weight: float,
    now: datetime | None = None,
) -> int:
    """The story's importance 0–100 (formula in the module docstring)."""
    now = now or datetime.now(UTC)
    terms = {
        "model": min(1.0, max(0.0, importance / 100)),
        "sources": coverage(distinct_sources),
        "recency": recency(published, now),
        "asset": min(1.0, max(0.0, asset_weight)),
        "source_weight": max(0.0, source_weight) / (max(0.0, source_weight) + 1.0),
    }
    return max(0, min(100, round(100 * sum(WEIGHTS[k] * v for k, v in terms.items()))))

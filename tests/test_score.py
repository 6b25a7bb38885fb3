"""The multi-signal score: bounded, monotone in each signal, above all in the number of distinct sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from newsroom.score import story_score

NOW = datetime(2025, 12, 12, 12, tzinfo=UTC)


def _score(**kw: object) -> int:
    base: dict[str, object] = {
        "importance": 50,
        "distinct_sources": 1,
        "published": NOW - timedelta(hours=2),
        "asset_weight": 0.5,
        "source_weight": 1.0,
        "now": NOW,
    }
    base.update(kw)
    return story_score(**base)  # type: ignore[arg-type]


@given(
    importance=st.integers(-50, 200),
    sources=st.integers(1, 30),
    age=st.floats(-10, 500),
    asset=st.floats(0, 1),
    weight=st.floats(0, 10),
)
def test_bounded_and_monotone_in_sources(
    importance: int, sources: int, age: float, asset: float, weight: float
) -> None:
    kw = {
        "importance": importance,
        "published": NOW - timedelta(hours=age),
        "asset_weight": asset,
        "source_weight": weight,
    }
    one, more = _score(distinct_sources=sources, **kw), _score(distinct_sources=sources + 1, **kw)
    assert 0 <= one <= more <= 100


def test_each_signal_raises_the_score() -> None:
    assert _score(distinct_sources=1) < _score(distinct_sources=2) < _score(distinct_sources=4)
    assert _score(importance=10) < _score(importance=90)
    assert _score(published=NOW - timedelta(hours=48)) < _score(published=NOW)
    assert _score(asset_weight=0.0) < _score(asset_weight=1.0)
    assert _score(source_weight=0.5) < _score(source_weight=3.0)
    assert _score(importance=100, distinct_sources=50, published=NOW, asset_weight=1, source_weight=10) <= 100
    assert (
        _score(importance=0, distinct_sources=1, published=NOW - timedelta(days=30), asset_weight=0, source_weight=0)
        == 0
    )

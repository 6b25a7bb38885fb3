"""Clustering quality against gold labels: pairwise and B-cubed precision, recall and F1. Pure functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(counts: Counter[tuple[Hashable, ...]] | Counter[Hashable]) -> int:
    return sum(c * (c - 1) // 2 for c in counts.values())


def pairwise(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> tuple[float, float, float]:
    """Precision, recall and F1 over all pairs of items: a pair is positive when both are in one cluster."""
    if len(pred) != len(gold):
        raise ValueError("pred and gold differ in length")
    both = _pairs(Counter(zip(pred, gold, strict=True)))
    in_pred, in_gold = _pairs(Counter(pred)), _pairs(Counter(gold))
    p = both / in_pred if in_pred else 1.0
    r = both / in_gold if in_gold else 1.0
    return p, r, _f1(p, r)


def bcubed(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> tuple[float, float, float]:
    """B-cubed (Bagga & Baldwin 1998): per item, the share of its predicted cluster that shares its gold cluster
    (precision) and the share of its gold cluster found in its predicted cluster (recall), averaged over items."""
    if len(pred) != len(gold):
        raise ValueError("pred and gold differ in length")
    if not pred:
        return 1.0, 1.0, 1.0
    joint = Counter(zip(pred, gold, strict=True))
    size_p, size_g = Counter(pred), Counter(gold)
    p = sum(c * c / size_p[pc] for (pc, _), c in joint.items()) / len(pred)
    r = sum(c * c / size_g[gc] for (_, gc), c in joint.items()) / len(pred)
    return p, r, _f1(p, r)


def articles(gold: Sequence[Hashable], leads: Iterable[int]) -> tuple[int, int]:
    """What the site would publish, one article per predicted story written from its lead item (``leads``: the
    positions of the stories' leads). Returns ``(events_lost, duplicate_articles)``: gold events none of whose items
    leads a story (no article is about them), and stories beyond one per gold event (a second article on one event)."""
    per_event = Counter(gold[i] for i in leads)
    lost = sum(1 for event in set(gold) if event not in per_event)
    return lost, sum(c - 1 for c in per_event.values())

"""Train the same-event pair model and write src/newsroom/data/event_pairs.npz (weights only, no text).

A logistic regression (``newsroom.dedupe.pairs``) on the features of every pair of news headlines (genre pieces
aside) published within the clustering window of each other in the dev file, labelled by whether the two share a gold
STORY. Deterministic: fixed folds, a deterministic solver, float32 embeddings (``NEWSROOM_BF16=0``).

Cross-validation clusters held-out items with a model trained on the others, exactly as ``newsroom eval dedupe``
clusters (``dedupe.cluster``), and scores all held-out predictions together:
- ``by_story``: 5 folds of whole gold stories (GroupKFold), each fold's items clustered alone;
- ``by_day``: leave one calendar day (UTC) out, the day's items clustered alone (a real stream's density). An event
  reported over several days is necessarily split there, so ``by_day_ceiling`` scores the gold stories cut at
  midnight: the most any clusterer can get by day.
Prints one JSON line with both and the training-set fit; about a minute on 2 cores.

``--positive-power P`` weights each same-event pair by (negative pairs / positive pairs) ** P in the fit (0, the
default: unweighted, the shipped weights; 1: both classes weigh alike). An open decision, not shipped: P = 0.1-0.5
raised the by-event figure (at 0.1-0.15) and UCI's but lowered the by-day precision and lost more events
(docs/benchmarks.md, "Session 24: dedupe").

    .venv/bin/python scripts/train_event_pairs.py [--csv ../shared/corpus/events/crypto_events_dev.csv] [--check]
        [--out PATH] [--positive-power P]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
os.environ["NEWSROOM_BF16"] = "0"

from newsroom.dedupe.cluster import HOUR, ClusterParams, Doc, cluster  # noqa: E402
from newsroom.dedupe.metrics import articles, bcubed, pairwise  # noqa: E402
from newsroom.dedupe.pairs import FEATURES, WEIGHTS_FILE, PairModel, Profile, pair_features, profile  # noqa: E402
from newsroom.embeddings import MiniLMEmbedder  # noqa: E402
from newsroom.evaluate import read_dedupe_csv, story_leads  # noqa: E402

C = 1.0
DEFAULT_CSV = REPO.parent / "shared" / "corpus" / "events" / "crypto_events_dev.csv"


def pair_rows(
    profiles: list[Profile], gold: list[str], items: list[int], window: float
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every pair of news items among ``items`` within ``window`` seconds of each other."""
    X, y = [], []
    news = [i for i in items if not profiles[i].kind]
    for a, i in enumerate(news):
        for j in news[a + 1 :]:
            if abs(profiles[i].published - profiles[j].published) <= window:
                X.append(pair_features(profiles[i], profiles[j]))
                y.append(gold[i] == gold[j])
    return np.array(X, dtype=np.float64), np.array(y, dtype=np.int8)


def fit(X: np.ndarray, y: np.ndarray, positive_power: float = 0.0) -> PairModel:
    """Standardise (unweighted) and fit; a positive pair weighs (negatives / positives) ** ``positive_power``."""
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    weight = None
    if positive_power:
        positives = int(y.sum())
        weight = np.where(y == 1, ((len(y) - positives) / max(positives, 1)) ** positive_power, 1.0)
    lr = LogisticRegression(C=C, max_iter=5000).fit((X - mean) / scale, y, sample_weight=weight)
    return PairModel(mean, scale, lr.coef_[0].copy(), float(lr.intercept_[0]))


def scores(docs: list[Doc], gold: list[str], pred: list[object]) -> dict[str, float]:
    lost, dup = articles(gold, story_leads(docs, pred))  # type: ignore[arg-type]
    return {
        "bcubed_f1": round(bcubed(pred, gold)[2], 4),
        "bcubed_precision": round(bcubed(pred, gold)[0], 4),
        "pairwise_f1": round(pairwise(pred, gold)[2], 4),
        "events_lost": lost,
        "duplicate_articles": dup,
    }


def cross_validate(
    docs: list[Doc],
    gold: list[str],
    vecs: np.ndarray,
    profiles: list[Profile],
    folds: list[list[int]],
    positive_power: float = 0.0,
) -> dict[str, float]:
    params = ClusterParams()
    pred: list[object] = [None] * len(docs)
    everything = set(range(len(docs)))
    for f, test in enumerate(folds):
        train = sorted(everything - set(test))
        model = fit(*pair_rows(profiles, gold, train, params.window_hours * HOUR), positive_power)
        labels = cluster([docs[i] for i in test], vecs[test], params, model=model)
        for i, label in zip(test, labels, strict=True):
            pred[i] = (f, label)
    return scores(docs, gold, pred)


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--out", type=Path, default=REPO / "src" / "newsroom" / "data" / WEIGHTS_FILE)
    ap.add_argument("--check", action="store_true", help="cross-validate only; do not write the weights")
    ap.add_argument(
        "--positive-power",
        type=float,
        default=0.0,
        metavar="P",
        help="weight same-event pairs by (negatives / positives) ** P (default 0: unweighted, as shipped)",
    )
    args = ap.parse_args()
    started = time.perf_counter()
    docs, gold = read_dedupe_csv(args.csv)
    vecs = MiniLMEmbedder().embed([d.title for d in docs])
    profiles = [profile(d.title, v, d.source, d.published) for d, v in zip(docs, vecs, strict=True)]
    window = ClusterParams().window_hours * HOUR

    stories = sorted(set(gold))
    group = [stories.index(g) for g in gold]
    by_story = [sorted(test.tolist()) for _, test in GroupKFold(n_splits=5).split(docs, groups=group)]
    days = [datetime.fromtimestamp(d.published, UTC).date() for d in docs]
    by_day = [[i for i, d in enumerate(days) if d == day] for day in sorted(set(days))]

    X, y = pair_rows(profiles, gold, list(range(len(docs))), window)
    model = fit(X, y, args.positive_power)
    result = {
        "positive_power": args.positive_power,
        "pairs": len(y),
        "positive_pairs": int(y.sum()),
        "cv_by_story": cross_validate(docs, gold, vecs, profiles, by_story, args.positive_power),
        "cv_by_day": cross_validate(docs, gold, vecs, profiles, by_day, args.positive_power),
        "by_day_ceiling": scores(docs, gold, [(days[i], g) for i, g in enumerate(gold)]),
        "training_fit": scores(docs, gold, cluster(docs, vecs, model=model)),  # type: ignore[arg-type]
        "coefficients": {"intercept": round(model.intercept, 3)}
        | {name: round(float(c), 3) for name, c in zip(FEATURES, model.coef, strict=True)},
    }
    if not args.check:
        model.save(str(args.out))
        result["written"] = shown(args.out if args.out.name.endswith(".npz") else Path(f"{args.out}.npz"))  # savez
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

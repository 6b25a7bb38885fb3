"""Train the offline faithfulness scorer (``newsroom.guards.faithfulness``) on FRANK dev and cross-validate it.

    PYTHONPATH=src .venv/bin/python scripts/train_faithfulness.py [--jsonl ../shared/corpus/guards/frank_dev.jsonl]

Grouped 5-fold cross-validation by source article (no article's summaries in both train and test): in each fold a
logistic regression is fitted on the training folds and its threshold chosen there, so that the fact reasons
(grounding OR the scorer) flag at most ``--faithful-flagged`` of the training folds' faithful summaries; the held-out
fold is then scored. Training weights: ``--dataset-weight`` of each line's weight balances the classes within its
dataset (FRANK's abstractive BBC/XSum part has 41 faithful summaries to 451 with errors, CNN/DM 372 to 273), the
rest balances them over the whole file, so that the fit also learns what separates errors within each part, not only
abstractive from extractive (the dataset is only read when training; the scorer never sees it). The figures are
printed overall and by dataset: balanced accuracy at the one threshold, and the area under the ROC curve of the
out-of-fold scores (threshold-free separation within the dataset). Prints the out-of-fold figures (the ones the
README quotes; also written to ``bench/results/faithfulness_cv.json``), then fits on every line and writes
``src/newsroom/data/faithfulness.json``. ``--repeats N`` also reruns the CV on N reshuffled article splits and prints
each figure's mean and standard deviation over them (a difference smaller than that spread is the split, not the
features). Deterministic: same file, same weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from newsroom.guards.base import GuardContext
from newsroom.guards.entities import check_entities
from newsroom.guards.evaluate import text_fields
from newsroom.guards.faithfulness import FEATURES, _Source, features
from newsroom.guards.numbers import check_numbers

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "newsroom" / "data" / "faithfulness.json"
CV_OUT = ROOT / "bench" / "results" / "faithfulness_cv.json"  # the out-of-fold figures, which bench/guards.py shows


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("label") in ("faithful", "error")]


def grounding_flag(row: dict) -> bool:
    ctx = GuardContext(lang="en", source=row["source"])
    fields = text_fields(row["article"])
    return bool(check_numbers(fields, ctx) or check_entities(fields, ctx))


def weights(y: np.ndarray, d: np.ndarray, within: float) -> np.ndarray:
    """Each class weighs half of the total; ``within`` of it is split equally among the datasets' lines of it."""
    w = np.zeros(len(y))
    for label in (0, 1):
        cls = y == label
        w[cls] += (1 - within) * len(y) / (2 * cls.sum())
        names = sorted(set(d[cls]))
        for name in names:
            m = cls & (d == name)
            w[m] += within * len(y) / (2 * len(names) * m.sum())
    return w


def fit(x: np.ndarray, y: np.ndarray, g: np.ndarray, target: float, d: np.ndarray, within: float) -> dict:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=5000).fit((x - mean) / scale, y, sample_weight=weights(y, d, within))
    p = model.predict_proba((x - mean) / scale)[:, 1]
    # the lowest threshold at which grounding OR scorer flags at most `target` of the faithful lines
    faithful = y == 0
    best = 1.0
    for t in np.unique(np.round(p, 4))[::-1]:
        if ((g | (p >= t)) & faithful).sum() / faithful.sum() > target:
            break
        best = float(t)
    return {
        "features": list(FEATURES),
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        "coef": model.coef_[0].round(6).tolist(),
        "intercept": round(float(model.intercept_[0]), 6),
        "threshold": round(best, 4),
    }


def predict(w: dict, x: np.ndarray) -> np.ndarray:
    z = w["intercept"] + ((x - np.array(w["mean"])) / np.array(w["scale"])) @ np.array(w["coef"])
    return 1 / (1 + np.exp(-z))


def report(name: str, flag: np.ndarray, y: np.ndarray, rows: list[dict], score: np.ndarray | None = None) -> dict:
    fa = float(flag[y == 0].mean())
    caught = float(flag[y == 1].mean())
    types: dict[str, list[bool]] = {}
    for f, r in zip(flag, rows, strict=True):
        for t in r.get("error_types") or []:
            types.setdefault(t, []).append(bool(f))
    out = {
        "balanced_accuracy": round((1 - fa + caught) / 2, 4),
        "faithful_flagged": round(fa, 4),
        "errors_caught": round(caught, 4),
        "by_error_type": {k: round(float(np.mean(v)), 4) for k, v in sorted(types.items())},
    }
    for ds in sorted({r.get("dataset", "") for r in rows}):
        m = np.array([r.get("dataset", "") == ds for r in rows])
        fa_d, c_d = float(flag[m & (y == 0)].mean()), float(flag[m & (y == 1)].mean())
        out[f"{ds}_balanced_accuracy"] = round((1 - fa_d + c_d) / 2, 4)
        out[f"{ds}_faithful_flagged"] = round(fa_d, 4)
        out[f"{ds}_errors_caught"] = round(c_d, 4)
        if score is not None:
            from sklearn.metrics import roc_auc_score

            out[f"{ds}_auc"] = round(float(roc_auc_score(y[m], score[m])), 4)
    print(name, json.dumps(out))
    return out


def repeated(rows: list[dict], y: np.ndarray, groups: np.ndarray, repeats: int, out_of_fold) -> dict:
    """The same grouped CV on ``repeats`` random relabellings of the articles (seeds 0, 1, …), so that which articles
    share a fold changes: the spread says how much of a difference between two runs is the split (BBC/XSum has 41
    faithful summaries, one of them is 1.2 points of its balanced accuracy)."""
    keys = ["balanced_accuracy", "faithful_flagged"]
    names = sorted({r.get("dataset", "") for r in rows})
    found: dict[str, list[float]] = {}
    for seed in range(repeats):
        ids = np.unique(groups)
        relabel = dict(zip(ids, np.random.RandomState(seed).permutation(len(ids)), strict=True))
        oof, _ = out_of_fold(np.array([relabel[v] for v in groups]))
        for key, mask in [("", np.ones(len(rows), dtype=bool))] + [
            (f"{ds}_", np.array([r.get("dataset", "") == ds for r in rows])) for ds in names
        ]:
            fa = float(oof[mask & (y == 0)].mean())
            found.setdefault(f"{key}{keys[0]}", []).append((1 - fa + float(oof[mask & (y == 1)].mean())) / 2)
            found.setdefault(f"{key}{keys[1]}", []).append(fa)
    return {k: [round(float(np.mean(v)), 4), round(float(np.std(v)), 4)] for k, v in found.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jsonl", type=Path, default=ROOT.parent / "shared" / "corpus" / "guards" / "frank_dev.jsonl")
    parser.add_argument("--faithful-flagged", type=float, default=0.08, help="share of faithful lines flagged")
    parser.add_argument("--dataset-weight", type=float, default=0.2, help="share of weight balanced per dataset")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--dry-run", action="store_true", help="cross-validate only; write no weights")
    parser.add_argument(
        "--repeats", type=int, default=0, help="also repeat the CV on this many reshuffled article splits (mean ± sd)"
    )
    args = parser.parse_args(argv)
    from sklearn.model_selection import GroupKFold

    rows = load(args.jsonl)
    y = np.array([r["label"] == "error" for r in rows], dtype=int)
    groups = np.array([int(hashlib.sha256(r["source"].encode()).hexdigest()[:8], 16) for r in rows])
    sources: dict[str, _Source] = {}
    x = np.array([features(r["article"], sources.setdefault(r["source"], _Source.of(r["source"]))) for r in rows])
    g = np.array([grounding_flag(r) for r in rows])
    d = np.array([r.get("dataset", "") for r in rows])

    def out_of_fold(split_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        oof = np.zeros(len(rows), dtype=bool)
        score = np.zeros(len(rows))
        for train, test in GroupKFold(n_splits=args.folds).split(x, y, split_groups):
            w = fit(x[train], y[train], g[train], args.faithful_flagged, d[train], args.dataset_weight)
            score[test] = predict(w, x[test])
            oof[test] = g[test] | (score[test] >= w["threshold"])
        return oof, score

    oof, score = out_of_fold(groups)
    print(f"{len(rows)} lines, {len(set(groups))} source articles, {args.folds}-fold grouped CV (out-of-fold):")
    cv = {
        "file": str(args.jsonl.name),
        "n": len(rows),
        "folds": args.folds,
        "faithful_flagged_target": args.faithful_flagged,
        "dataset_weight": args.dataset_weight,
        "grounding_only": report("grounding only", g, y, rows),
        "grounding_and_scorer": report("grounding + scorer", oof, y, rows, score),
    }
    if args.repeats:
        cv["repeated"] = repeated(rows, y, groups, args.repeats, out_of_fold)
        print(f"over {args.repeats} reshuffled article splits (mean ± sd):", json.dumps(cv["repeated"]))
    CV_OUT.parent.mkdir(parents=True, exist_ok=True)
    CV_OUT.write_text(json.dumps(cv, indent=2) + "\n", encoding="utf-8")
    if not args.dry_run:
        fitted = fit(x, y, g, args.faithful_flagged, d, args.dataset_weight)
        args.out.write_text(json.dumps(fitted, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

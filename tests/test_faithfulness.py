"""The offline faithfulness scorer's features (invented sentences, no corpus text), its committed weights, and the
training script's weighting; the FRANK dev figures are read from the corpus at test time (skipped where absent)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from guard_fixtures import SOURCE
from newsroom.guards.faithfulness import FEATURES, _Source, default_scorer, features

REPO = Path(__file__).resolve().parent.parent
SRC = (
    "Northwind Capital bought a stake in Harbor Exchange on Tuesday. The exchange did not disclose the price. "
    "Separately, Bluefin Partners sold its shares in Keel Bank, a lender based in Oslo. Keel Bank posted a record "
    "profit in March."
)


def feature(text: str, name: str, source: str = SRC) -> float:
    return features(text, _Source.of(source))[FEATURES.index(name)]


def test_a_copied_sentence_is_extractive_and_a_paraphrase_is_not() -> None:
    copied = "Northwind Capital bought a stake in Harbor Exchange on Tuesday."
    paraphrase = "On Tuesday a minority holding in the trading venue went to an investment firm."
    assert feature(copied, "novel_trigrams") == 0.0
    assert feature(paraphrase, "novel_trigrams") > 0.8
    assert feature(copied, "copy_density") > feature(paraphrase, "copy_density") + 1.0


def test_a_pair_of_grounded_words_the_source_keeps_apart_is_a_wrong_relation() -> None:
    right = "Bluefin Partners sold its shares in Keel Bank."
    wrong = "Northwind Capital sold its shares in Keel Bank."  # every word grounded, the relation is not
    assert feature(right, "worst_pair_novelty") == 0.0
    assert feature(wrong, "worst_pair_novelty") > 0.3
    assert feature(wrong, "novel_words") == 0.0


def test_a_flipped_negation_is_seen() -> None:
    assert feature("The exchange did not disclose the price.", "negation_mismatch") == 0.0
    assert feature("The exchange disclosed the price.", "negation_mismatch") == 1.0
    # a window is two sentences: the flip is seen against the best window's, here the last two sentences'
    assert feature("Keel Bank did not post a record profit in March.", "negation_mismatch") == 1.0


def test_novel_words_and_words_no_lexicon_knows() -> None:
    # lower-cased, as many summarisers write: a misspelt name is a word the English lexicon lacks
    assert feature("northwind capital bought a stake in harbor exchange.", "unknown_words") == 0.0
    assert feature("northwynd capitol bought a stake in harbour exchange.", "unknown_words") == 1.0
    assert feature("northwind capital bought a large stake in a rival exchange.", "novel_words") == 2.0
    assert feature("keel bank keel bank sold shares.", "repeats") == 1.0


def test_committed_weights_match_the_features_and_flag_an_invented_relation() -> None:
    scorer = default_scorer()
    assert len(scorer.coef) == len(FEATURES)
    src = _Source.of(SOURCE)
    faithful = "Harbor Exchange raised $1.2 billion from Northwind Capital and Bluefin Partners."
    invented = "Bluefin Partners sued Harbor Exchange in Lisbon after the exchange refused to pay its staff."
    assert scorer.probability(features(invented, src)) > scorer.probability(features(faithful, src))
    assert scorer.probability(features(faithful, src)) < scorer.threshold


def _train_module():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import train_faithfulness
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return train_faithfulness


def test_training_weights_balance_classes_overall_and_within_each_dataset() -> None:
    tf = _train_module()
    y = np.array([1] * 9 + [0] * 1 + [1] * 3 + [0] * 7)
    d = np.array(["a"] * 10 + ["b"] * 10)
    for within in (0.0, 0.2, 1.0):
        w = tf.weights(y, d, within)
        assert w[y == 1].sum() == pytest.approx(w[y == 0].sum()) == pytest.approx(len(y) / 2)
    w = tf.weights(y, d, 1.0)  # all of it within: each dataset's faithful lines weigh as much as the other's
    assert w[(y == 0) & (d == "a")].sum() == pytest.approx(w[(y == 0) & (d == "b")].sum())
    assert np.allclose(tf.weights(y, d, 0.0)[y == 1], len(y) / (2 * (y == 1).sum()))


def test_repeated_cv_reshuffles_articles_and_reports_the_spread() -> None:
    tf = _train_module()
    rows = [{"dataset": "a"}] * 4 + [{"dataset": "b"}] * 4
    y = np.array([0, 1] * 4)
    groups = np.array([5, 5, 7, 7, 9, 9, 11, 11])  # two lines per article
    seen: list[np.ndarray] = []

    def out_of_fold(split: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append(split)
        return (y == 1) | (split == split.min()), np.zeros(len(y))  # one article's faithful line flagged

    out = tf.repeated(rows, y, groups, 10, out_of_fold)
    assert all((s[::2] == s[1::2]).all() for s in seen)  # an article's lines stay together
    assert len({tuple(s) for s in seen}) > 1  # the split changes from one repeat to the next
    assert out["faithful_flagged"] == [0.25, 0.0]
    assert out["balanced_accuracy"] == [0.875, 0.0]
    assert out["a_faithful_flagged"][1] > 0  # which dataset's article is flagged moves: a spread


def test_frank_dev_in_sample_separation_by_dataset(corpus: Path) -> None:
    """The committed weights on FRANK dev (in-sample: they were fitted there): the faithful flagged stay under 10%
    overall and each dataset's errors score above its faithful summaries (the cross-validated figures are the
    training script's; README)."""
    from sklearn.metrics import roc_auc_score

    rows = [json.loads(x) for x in (corpus / "guards" / "frank_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r.get("label") in ("faithful", "error")]
    scorer = default_scorer()
    sources: dict[str, _Source] = {}
    p = np.array([scorer.probability(features(r["article"], sources.setdefault(r["source"], _Source.of(r["source"]))))
                  for r in rows])  # fmt: skip
    y = np.array([r["label"] == "error" for r in rows])
    ds = np.array([r.get("dataset", "") for r in rows])
    assert (p[~y] >= scorer.threshold).mean() <= 0.10
    for name, floor in (("frank-bbc", 0.62), ("frank-cnndm", 0.70)):
        m = ds == name
        assert roc_auc_score(y[m], p[m]) >= floor, name

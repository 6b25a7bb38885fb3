"""The offline sentiment classifier: the shipped weights, the encoder features, predictions, and the combine rule."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from newsroom import sentiment
from newsroom.embeddings import default_embedder
from newsroom.sentiment import (
    LAYERS,
    WEIGHTS_FILE,
    Prediction,
    Weights,
    combine,
    features,
    load_weights,
    predict,
    prefetch,
    read_weights,
    write_weights,
)

# Written for these tests (not from the corpus): one clear case per line.
POSITIVE = [
    "Bitcoin soars to a record high as institutional inflows surge",
    "Crypto startup raises $40 million in Series B funding led by major investors",
    "Major bank partners with Ethereum developers to launch tokenised bond platform",
]
NEGATIVE = [
    "Exchange hacked, $200 million in customer funds stolen from hot wallets",
    "Crypto lender files for bankruptcy after freezing withdrawals",
    "Regulators sue token issuer for fraud as prices crash",
]


def test_shipped_weights_load_and_are_small() -> None:
    w = load_weights()
    assert list(w.classes) == [-1, 0, 1]
    assert w.layers == LAYERS and list(w.layers) == ["mpnet", "minilm"]
    width = 768 * len(w.layers["mpnet"]) + 384 * len(w.layers["minilm"])
    assert w.coef.shape == (3, width) and w.intercept.shape == (3,)
    assert np.isfinite(w.coef).all()
    assert 0.70 <= w.cv_macro_f1 <= 0.80  # the stored cross-validated figure, not a training-set fit
    size = resources.files("newsroom.data").joinpath(WEIGHTS_FILE).stat().st_size  # type: ignore[attr-defined]
    assert size < 200_000


def test_weights_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w = Weights(
        coef=rng.normal(size=(3, 5)),
        intercept=rng.normal(size=3),
        classes=np.array([-1, 0, 1]),
        layers={"mpnet": (12,), "minilm": (2, 6)},
        cv_macro_f1=0.5,
    )
    write_weights(tmp_path / "w.npz", w)
    r = read_weights(tmp_path / "w.npz")
    np.testing.assert_allclose(r.coef, w.coef, rtol=1e-6)
    np.testing.assert_allclose(r.intercept, w.intercept, rtol=1e-6)
    assert r.layers == w.layers and list(r.layers) == ["mpnet", "minilm"]  # feature order is the encoders' order
    assert r.cv_macro_f1 == 0.5 and list(r.classes) == [-1, 0, 1]


def test_weights_naming_an_unknown_encoder_are_refused(tmp_path: Path) -> None:
    w = Weights(np.zeros((3, 2)), np.zeros(3), np.array([-1, 0, 1]), {"mpnet": (1,)}, 0.5)
    write_weights(tmp_path / "w.npz", w)
    with np.load(tmp_path / "w.npz") as data:
        arrays = {("layers:bert" if k == "layers:mpnet" else k): data[k] for k in data.files}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="unknown encoders"):
        read_weights(tmp_path / "bad.npz")


@pytest.mark.model
def test_last_layer_features_are_the_encoders_sentence_embeddings() -> None:
    """Layer 6 of MiniLM, pooled and normalised, is the clustering embedder's vector (same tokens, same pooling),
    and layer 12 of mpnet is all-mpnet-base-v2's sentence embedding: unit length, and closer for a paraphrase than
    for an unrelated headline."""
    np.testing.assert_allclose(features(POSITIVE, {"minilm": (6,)}), default_embedder().embed(POSITIVE), atol=1e-4)
    x = features(
        [POSITIVE[0], "Bitcoin jumps to an all-time high on strong institutional demand", NEGATIVE[1]], {"mpnet": (12,)}
    )
    assert x.shape == (3, 768)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2


@pytest.mark.model
def test_clear_headlines_come_out_right() -> None:
    preds = predict(POSITIVE + NEGATIVE)
    assert [p.label for p in preds] == ["POSITIVE"] * 3 + ["NEGATIVE"] * 3
    for p in preds:
        assert p.value == {"POSITIVE": 1, "NEUTRAL": 0, "NEGATIVE": -1}[p.label]
        assert p.ranked[0] == p.label and sorted(p.ranked) == ["NEGATIVE", "NEUTRAL", "POSITIVE"]
        assert 1 / 3 < p.confidence <= 1


@pytest.mark.model
def test_prefetch_fills_the_cache() -> None:
    headline = "Validator software upgrade scheduled for next week"
    prefetch([headline])
    assert headline in sentiment.default_classifier()._cache
    assert predict([headline])[0].confidence == pytest.approx(
        float(sentiment.default_classifier()._cache[headline].max())
    )
    assert predict([]) == []
    prefetch([])  # nothing to do, and never raises


def test_combine_rule() -> None:
    confident = Prediction("POSITIVE", 1, 0.8, ("POSITIVE", "NEUTRAL", "NEGATIVE"))
    hesitant = Prediction("POSITIVE", 1, 0.45, ("POSITIVE", "NEUTRAL", "NEGATIVE"))
    assert combine(confident, "NEGATIVE") == "POSITIVE"  # a confident classifier wins
    assert combine(hesitant, "neutral") == "NEUTRAL"  # the model agrees with the runner-up
    assert combine(hesitant, "NEGATIVE") == "POSITIVE"  # the model's label is the classifier's last choice
    assert combine(hesitant, None) == "POSITIVE" and combine(hesitant, "bullish") == "POSITIVE"

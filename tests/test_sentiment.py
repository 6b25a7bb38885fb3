"""The offline sentiment classifier: the shipped weights, the merge into MiniLM, predictions, and the combine rule."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from newsroom import sentiment
from newsroom.embeddings import default_embedder
from newsroom.sentiment import (
    WEIGHTS_FILE,
    Classifier,
    Prediction,
    Weights,
    combine,
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
    assert len(w.adapters) == 6 * 6  # six projections in each of six layers
    a, b = w.adapters["encoder.layer.5.attention.self.query"]
    assert a.shape == (16, 384) and b.shape == (384, 16)
    assert w.head_weight.shape == (3, 384) and w.head_bias.shape == (3,)
    assert any(name.endswith("LayerNorm.weight") for name in w.params)
    assert 0.66 <= w.cv_macro_f1 <= 0.80  # the stored cross-validated figure, not a training-set fit
    size = resources.files("newsroom.data").joinpath(WEIGHTS_FILE).stat().st_size  # type: ignore[attr-defined]
    assert size < 5_000_000


def test_weights_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w = Weights(
        adapters={"encoder.layer.0.output.dense": (rng.normal(size=(2, 4)), rng.normal(size=(3, 2)))},
        scale=2.0,
        params={"encoder.layer.0.output.LayerNorm.bias": rng.normal(size=3).astype(np.float32)},
        head_weight=rng.normal(size=(3, 3)),
        head_bias=np.zeros(3),
        classes=np.array([-1, 0, 1]),
        cv_macro_f1=0.5,
    )
    write_weights(tmp_path / "w.npz", w)
    r = read_weights(tmp_path / "w.npz")
    a, b = r.adapters["encoder.layer.0.output.dense"]
    np.testing.assert_allclose(a, w.adapters["encoder.layer.0.output.dense"][0], atol=1e-2)  # stored as float16
    np.testing.assert_allclose(b, w.adapters["encoder.layer.0.output.dense"][1], atol=1e-2)
    np.testing.assert_array_equal(r.params["encoder.layer.0.output.LayerNorm.bias"], w.params[next(iter(w.params))])
    assert r.scale == 2.0 and r.cv_macro_f1 == 0.5 and list(r.classes) == [-1, 0, 1]


@pytest.mark.model
def test_no_adapters_is_the_clustering_embedding() -> None:
    """With nothing to merge, the classifier's pooled vector is the embedder's own (same tokens, same pooling): the
    fine-tuned model is the base model plus exactly what the file holds."""
    import torch

    probe = Weights({}, 1.0, {}, np.eye(3, 384, dtype=np.float32), np.zeros(3, np.float32), np.array([-1, 0, 1]), 0.0)
    clf = Classifier(probe)
    model = clf._load()
    enc = clf._tokenizer(POSITIVE, padding=True, return_tensors="pt")
    with torch.inference_mode():
        pooled = sentiment.mean_pool(model(**enc).last_hidden_state, enc["attention_mask"]).numpy()
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, default_embedder().embed(POSITIVE), atol=1e-4)


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

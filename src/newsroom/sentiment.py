"""Offline sentiment: the story's likely effect on the crypto market, without the language model.

A linear model over frozen sentence-encoder features. The features are the mean-pooled, L2-normalised token vectors
of several hidden layers of two encoders that ship in PyPI wheels and load with the network off: layers 8, 10 and 12
of all-mpnet-base-v2 (``mpnet.py``) and layers 4 and 6 of all-MiniLM-L6-v2 (``embeddings.py``), 3,072 numbers a
headline. Middle layers keep more of a headline's tone than the last one, which was trained for topic similarity
(5-fold CV macro-F1 on the dev file, three fold seeds: the last layers of both encoders 0.692, these five layers 0.713).
The model is a class-balanced multinomial logistic regression with strong L2 (C = 0.0003) on standardised features;
the standardisation is folded into the weights. The weights file (``data/sentiment_lr.npz``: the coefficients, the
classes, the layers, the cross-validated figure; no corpus text; 36 KB) is written reproducibly by
``scripts/train_sentiment.py`` from ``../shared/corpus/sentiment/cryptolin_dev.csv`` (about 1.5 minutes).

A headline costs one forward pass of each encoder, mostly mpnet: on 2 cores about 3.7 ms in a batch of 256 and 25 ms
alone under bfloat16 autocast (``embeddings.cpu_autocast``; predictions agree with float32 on 99.9% of the dev file
and cross-validated macro-F1 moves by < 0.001), 14 and 50 ms in float32. Probabilities are cached per headline, and
``prefetch`` computes a batch ahead of the ``predict`` calls that need it. The encoders are loaded on first use, or
ahead by ``warm`` (``Pipeline.run_once`` calls it in a background thread while the poll runs): about 1.8 s of CPU and
0.26 GB for mpnet where the encoders run in bfloat16 (``bench/memory.py``).

The article's sentiment combines this classifier with the model's own label (``combine``):
1. the classifier's label when its probability is at least ``CONFIDENT`` (0.55);
2. otherwise the model's label when it is one of the classifier's two most probable labels;
3. otherwise the classifier's label.
So a confident classifier is never overruled by a model that may be a tiny base model, and a hesitant one defers to
a model that agrees with its runner-up. On the dev file's out-of-fold predictions, 73% of headlines reach 0.55 and
79% of those are right; the true label is among the two most probable for 94% of all headlines.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ._memory import release_free_memory
from .embeddings import cached_rows, cpu_autocast, default_embedder
from .mpnet import load_mpnet

log = logging.getLogger(__name__)

LABELS = {-1: "NEGATIVE", 0: "NEUTRAL", 1: "POSITIVE"}
CONFIDENT = 0.55
WEIGHTS_FILE = "sentiment_lr.npz"
MAX_TOKENS = 64  # headlines are 10-35 word pieces; a longer text is cut here
_BATCH = 64


def _minilm() -> tuple[Any, Any]:
    return default_embedder().model()  # the clustering embedder's copy: one MiniLM per process


# encoder name -> loader of (transformers model, tokenizer), in feature order
ENCODERS: dict[str, Callable[[], tuple[Any, Any]]] = {"mpnet": load_mpnet, "minilm": _minilm}
LAYERS = {"mpnet": (8, 10, 12), "minilm": (4, 6)}  # what the training script uses; a weights file names its own


@dataclass(frozen=True)
class Weights:
    coef: np.ndarray  # (classes, features), applied to the raw features (the standardisation is folded in)
    intercept: np.ndarray  # (classes,)
    classes: np.ndarray  # label values, e.g. [-1, 0, 1]
    layers: dict[str, tuple[int, ...]]  # encoder -> its hidden layers, in feature order
    cv_macro_f1: float


def write_weights(path: Path, w: Weights) -> None:
    np.savez_compressed(
        path,
        coef=w.coef.astype(np.float32),
        intercept=w.intercept.astype(np.float32),
        classes=w.classes.astype(np.int64),
        cv_macro_f1=np.float64(w.cv_macro_f1),
        **{f"layers:{name}": np.asarray(layers, dtype=np.int64) for name, layers in w.layers.items()},
    )


def read_weights(path: Path) -> Weights:
    with np.load(path) as data:
        layers = {
            key.split(":", 1)[1]: tuple(int(x) for x in data[key]) for key in data.files if key.startswith("layers:")
        }
        unknown = set(layers) - set(ENCODERS)
        if unknown:
            raise ValueError(f"{path}: unknown encoders {sorted(unknown)}")
        return Weights(
            coef=data["coef"].astype(np.float32),
            intercept=data["intercept"].astype(np.float32),
            classes=data["classes"].astype(np.int64),
            layers={name: layers[name] for name in ENCODERS if name in layers},
            cv_macro_f1=float(data["cv_macro_f1"]),
        )


@lru_cache(maxsize=1)
def load_weights() -> Weights:
    """The shipped weights (``data/sentiment_lr.npz``)."""
    ref = resources.files("newsroom.data").joinpath(WEIGHTS_FILE)
    with resources.as_file(ref) as path:
        return read_weights(path)


_encoders: dict[str, tuple[Any, Any]] = {}
_encoders_lock = threading.Lock()


def _encoder(name: str) -> tuple[Any, Any]:
    with _encoders_lock:
        if name not in _encoders:
            _encoders[name] = ENCODERS[name]()
        return _encoders[name]


def warm() -> None:
    """Load the encoders the shipped weights use (``Pipeline.run_once`` calls this in a worker thread while the poll
    runs, so the first article does not wait for them). Never raises: ``predict`` meets and reports a failure."""
    try:
        for name in load_weights().layers:
            _encoder(name)
    except Exception:
        log.debug("sentiment encoders could not be loaded ahead", exc_info=True)


def mean_pool(tokens: Any, mask: Any) -> Any:
    """Mean of the token vectors over the real (unpadded) tokens, as the sentence-transformers pooling does."""
    m = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * m).sum(1) / m.sum(1).clamp(min=1.0)


def features(texts: Sequence[str], layers: dict[str, tuple[int, ...]]) -> np.ndarray:
    """One float32 row per text: for each encoder in turn, the L2-normalised mean-pooled vector of each named hidden
    layer (0 is the embedding layer), concatenated. ``texts`` is not empty. The encoders are loaded on first use."""
    import torch

    texts = list(texts)
    blocks = []
    for name, wanted in layers.items():
        model, tokenizer = _encoder(name)
        rows = []
        with torch.inference_mode(), cpu_autocast():
            for i in range(0, len(texts), _BATCH):
                ids, mask = tokenizer(texts[i : i + _BATCH], max_length=MAX_TOKENS)
                hidden = model(ids, mask, keep=wanted)
                pooled = [torch.nn.functional.normalize(mean_pool(hidden[k].float(), mask), dim=1) for k in wanted]
                rows.append(torch.cat(pooled, dim=1).numpy())
        blocks.append(np.concatenate(rows))
    release_free_memory()  # the batches' activations, back to the system (_memory.py)
    return np.hstack(blocks).astype(np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Classifier:
    """The linear model over the encoders' features; thread-safe, with an LRU of recent headlines' probabilities."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _compute(self, texts: list[str]) -> np.ndarray:
        w = self.weights
        return softmax(features(texts, w.layers) @ w.coef.T + w.intercept).astype(np.float32)

    def probabilities(self, headlines: Sequence[str]) -> np.ndarray:
        """One row of class probabilities (in ``weights.classes`` order) per headline."""
        with self._lock:
            return cached_rows(self._cache, headlines, self._compute, len(self.weights.classes))


_default: Classifier | None = None
_default_lock = threading.Lock()


def default_classifier() -> Classifier:
    """The process-wide classifier with the shipped weights (the encoders are loaded on first use)."""
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
    """Offline sentiment of each headline (whatever embedder the caller clusters with)."""
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

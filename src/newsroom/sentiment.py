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

import asyncio
import logging
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
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
PREFETCH_CHUNK = 32  # headlines ``classify_ahead`` classifies at once (about 0.2 s of CPU in bfloat16)
_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentiment")


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

    @property
    def cached(self) -> Container[str]:
        """The headlines whose probabilities are cached (a read-only view; a membership test needs no lock)."""
        return self._cache.keys()

    def probabilities(self, headlines: Sequence[str]) -> np.ndarray:
        """One row of class probabilities (in ``weights.classes`` order) per headline. The encoders run outside
        the lock: a caller whose headlines are cached never waits for another thread's batch (the bench's pivot
        rows, cache hits, held six worker threads for seconds behind the prefetch's batches)."""
        texts = list(headlines)
        with self._lock:
            missing = sorted(dict.fromkeys(t for t in texts if t not in self._cache), key=len)
        fresh = dict(zip(missing, self._compute(missing), strict=True)) if missing else {}

        def rows(wanted: list[str]) -> np.ndarray:  # under the lock: the rows above, and any evicted meanwhile
            again = [t for t in wanted if t not in fresh]
            if again:
                fresh.update(zip(again, self._compute(again), strict=True))
            return np.stack([fresh[t] for t in wanted])

        with self._lock:
            return cached_rows(self._cache, texts, rows, len(self.weights.classes))


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


class _Ahead:
    """The headlines waiting to be classified in the sentiment thread (one per event loop), ``PREFETCH_CHUNK`` at a
    time: those a story awaits now first, then those a prefetch asked for, in the order asked. A headline is
    classified once, in a batch, whoever asks; a story waits for at most the chunk under way plus its own."""

    def __init__(self) -> None:
        self._done: dict[str, asyncio.Future[None]] = {}  # every headline waiting or in the chunk under way
        self._urgent: deque[str] = deque()
        self._later: deque[str] = deque()
        self._running: asyncio.Task[None] | None = None

    async def classify(self, headlines: Sequence[str], *, urgent: bool) -> None:
        loop = asyncio.get_running_loop()
        cached = default_classifier().cached
        waits = []
        for h in dict.fromkeys(headlines):
            if h in cached:  # a read: no lock, no thread hop
                continue
            if h not in self._done:
                self._done[h] = loop.create_future()
                (self._urgent if urgent else self._later).append(h)
            elif urgent:
                self._urgent.append(h)  # also still in ``_later``: taken from whichever comes first
            waits.append(self._done[h])
        if waits and (self._running is None or self._running.done()):
            self._running = asyncio.create_task(self._run())
        if waits:
            await asyncio.wait(waits)  # a waiter cancelled (its story's task) cancels no one else's wait

    def _chunk(self) -> list[str]:
        chunk: dict[str, None] = {}
        for queue in (self._urgent, self._later):
            while queue and len(chunk) < PREFETCH_CHUNK:
                h = queue.popleft()
                if h in self._done and h not in chunk:
                    chunk[h] = None
        return list(chunk)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while chunk := self._chunk():
            try:
                await loop.run_in_executor(_THREAD, prefetch, chunk)  # never raises
            finally:
                for h in chunk:
                    done = self._done.pop(h)
                    if not done.done():
                        done.set_result(None)


_ahead: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Ahead] = weakref.WeakKeyDictionary()


async def classify_ahead(headlines: Sequence[str], *, urgent: bool = False) -> None:
    """Classify ``headlines`` (those not cached yet) in the process's one sentiment thread, in chunks, so that the
    ``predict`` calls that follow are cache hits; ``urgent``: a story waits for them now, so they go first. No thread
    of the default executor waits on the classifier's lock meanwhile: there, a batch of 391 headlines held six
    threads' guards, selects and publishes back and left the model idle for 5 s of the bench's run. Never raises."""
    loop = asyncio.get_running_loop()
    if loop not in _ahead:
        _ahead[loop] = _Ahead()
    await _ahead[loop].classify(headlines, urgent=urgent)


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

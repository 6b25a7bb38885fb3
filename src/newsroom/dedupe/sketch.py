"""datasketch's ``MinHash``, imported without SciPy, and the bands and rows of its LSH for a threshold.

``import datasketch`` imports ``datasketch.lsh``, which imports ``scipy.integrate`` (SciPy's special functions,
linear algebra and sparse matrices: about 0.35 s of CPU and 60 MB in every process that polls) for one use: the
numerical integrals of ``MinHashLSH``'s choice of bands and rows for a threshold. Here datasketch is imported with a
stand-in ``scipy.integrate`` whose ``quad`` imports SciPy's own on first call, and ``lsh_params`` gives the bands and
rows of the thresholds in ``KNOWN_PARAMS`` (datasketch's own choice: ``tests/test_dedupe.py`` checks them), so SciPy
is imported only for a threshold not in the table. The index over the sketches' bands is ``cluster.BandIndex``.

``signatures`` computes datasketch's own MinHash values (its default ``affine32`` scheme: SHA-1's first four bytes,
MurmurHash3's finaliser, ``a * h + b`` modulo 2**32, the minimum per permutation) for many shingle lists at once: one
NumPy pass over all their shingles instead of a dozen small-array operations and a ``MinHash`` copy per text (about 5
microseconds a headline against 12). The values are the same bit for bit (``tests/test_sketch.py``
compares them with ``MinHash.update_batch`` on generated and corpus texts), so nothing about a signature changes: the
same seed, permutations and hash, deterministic across processes and runs.
"""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

_SCIPY_INTEGRATE = "scipy.integrate"


def _quad(*args: Any, **kwargs: Any) -> Any:
    from scipy.integrate import quad  # SciPy's own: the stand-in is out of sys.modules once datasketch is in

    return quad(*args, **kwargs)


def _import_datasketch() -> types.ModuleType:
    if "datasketch" in sys.modules or _SCIPY_INTEGRATE in sys.modules:
        import datasketch

        return datasketch
    stand_in = types.ModuleType(_SCIPY_INTEGRATE)
    stand_in.quad = _quad  # type: ignore[attr-defined]
    sys.modules[_SCIPY_INTEGRATE] = stand_in
    try:
        import datasketch
    finally:
        if sys.modules.get(_SCIPY_INTEGRATE) is stand_in:
            del sys.modules[_SCIPY_INTEGRATE]
    return datasketch


if TYPE_CHECKING:
    from datasketch import MinHash, MinHashLSH
    from datasketch.hashfunc import sha1_hash32
else:
    _ds = _import_datasketch()
    MinHash, MinHashLSH = _ds.MinHash, _ds.MinHashLSH
    sha1_hash32 = _ds.hashfunc.sha1_hash32

# (threshold, num_perm) -> (bands, rows) as datasketch's optimiser picks them (weights 0.5, 0.5)
KNOWN_PARAMS: dict[tuple[float, int], tuple[int, int]] = {(0.6, 64): (10, 6)}


@lru_cache(maxsize=16)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """The bands and rows ``MinHashLSH(threshold=…, num_perm=…)`` would choose."""
    known = KNOWN_PARAMS.get((threshold, num_perm))
    if known is not None:
        return known
    from datasketch.lsh import _optimal_param

    return tuple(_optimal_param(threshold, num_perm, 0.5, 0.5))  # type: ignore[return-value]


# ---- many signatures at once -----------------------------------------------------------------------------------------

# MurmurHash3's 32-bit finaliser, as datasketch's ``_fmix`` applies it before the affine32 permutations
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_SIGNATURE_ROWS = 1 << 16  # shingles per NumPy pass (64 permutations: 16 MB of uint32 at most)


def _sha1_32(shingle: bytes) -> int:
    """datasketch's ``sha1_hash32``: the first four bytes of the SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(shingle, usedforsecurity=False).digest()[:4], "little")


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


def signatures(grams: Sequence[Sequence[bytes]], template: MinHash) -> list[MinHash | None]:
    """A MinHash of each shingle list (None for an empty one) equal to ``template`` updated with it
    (``update_batch``): ``template`` is an empty ``affine32`` MinHash (datasketch's default scheme), whose seed,
    permutations and hash function every result shares (SHA-1: a custom ``hashfunc`` is not supported here)."""
    if template.scheme != "affine32" or template.hashfunc is not sha1_hash32:
        raise ValueError("signatures() computes datasketch's affine32 MinHash with its SHA-1 hash only")
    out: list[MinHash | None] = [None] * len(grams)
    todo = [i for i, g in enumerate(grams) if g]
    a, b = (np.asarray(p, dtype=np.uint32) for p in template.permutations)
    cls, fields = type(template), dict(vars(template))
    start = 0
    while start < len(todo):  # a bounded number of shingles per pass
        end, rows = start, 0
        while end < len(todo) and (end == start or rows + len(grams[todo[end]]) <= _SIGNATURE_ROWS):
            rows += len(grams[todo[end]])
            end += 1
        part = todo[start:end]
        hashes = [_sha1_32(s) for i in part for s in grams[i]]
        hv = _fmix32(np.array(hashes, dtype=np.uint32))
        permuted = np.multiply.outer(hv, a) + b  # uint32: wraps modulo 2**32, as datasketch's affine32 does
        offsets = np.cumsum([0] + [len(grams[i]) for i in part[:-1]])
        mins = np.minimum.reduceat(permuted, offsets, axis=0)
        for i, row in zip(part, mins, strict=True):
            # what ``copy.copy(template)`` makes, at a tenth of its cost: the template's fields, its permutations
            # shared (``MinHash.copy`` re-checks them all), and one row of ``mins`` as the values (the template
            # starts at the maximum, so the minimum with it changes nothing)
            m = cls.__new__(cls)
            m.__dict__.update(fields)
            m.hashvalues = row
            out[i] = m
        start = end
    return out

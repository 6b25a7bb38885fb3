"""datasketch's ``MinHash``, imported without SciPy, and the bands and rows of its LSH for a threshold.

``import datasketch`` imports ``datasketch.lsh``, which imports ``scipy.integrate`` (SciPy's special functions,
linear algebra and sparse matrices: about 0.35 s of CPU and 60 MB in every process that polls) for one use: the
numerical integrals of ``MinHashLSH``'s choice of bands and rows for a threshold. Here datasketch is imported with a
stand-in ``scipy.integrate`` whose ``quad`` imports SciPy's own on first call, and ``lsh_params`` gives the bands and
rows of the thresholds in ``KNOWN_PARAMS`` (datasketch's own choice: ``tests/test_dedupe.py`` checks them), so SciPy
is imported only for a threshold not in the table. The sketches are datasketch's, unchanged; the index over their
bands is ``cluster.BandIndex``.
"""

from __future__ import annotations

import sys
import types
from functools import lru_cache
from typing import TYPE_CHECKING, Any

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
else:
    _ds = _import_datasketch()
    MinHash, MinHashLSH = _ds.MinHash, _ds.MinHashLSH

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

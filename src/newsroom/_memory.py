"""Native settings made before torch or any worker thread starts: memory a long-running process would otherwise keep,
and CPU its idle encoder threads would otherwise burn.

Two caches grew with the number of items a process embedded (``bench/ingest.py``, 5,000 entries with clustering,
all in one thread: peak RSS 1,001 MB; with both limits 895 MB or less; more with the poll's worker threads):

- oneDNN, which runs the encoders' matrix products, keeps a compiled kernel per input shape, up to 1,024 of them;
  every batch of headlines has its own (rows x tokens), so the cache only grows. ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``
  caps it (a kernel is rebuilt in well under a millisecond when it is needed again).
- glibc gives each thread that allocates its own malloc arena (up to 8 per core), and memory freed into an arena
  stays with it: the embeddings run in whichever worker thread ``asyncio.to_thread`` picks. Two arenas
  (``mallopt(M_ARENA_MAX)``, the same as ``MALLOC_ARENA_MAX=2``) keep what one batch freed for the next.

- OpenMP (torch's intra-op threads) spins for a while after each parallel region by default. On a machine whose
  cores are shared (the poll's and the event loop's threads, other processes) the spinning threads take the CPU
  from the work: embedding 1,500 generated headlines with MiniLM on the 2-core development machine at load average
  6 took 7.1-7.7 s of CPU with two spinning threads, 2.4 s with one thread, and 2.4 s with two threads and
  ``OMP_WAIT_POLICY=PASSIVE``, which is set here.

An environment variable the user set wins over all three.

glibc is opened by its soname, ``libc.so.6``: ``ctypes.util.find_library("c")`` runs ``ldconfig -p`` (and, failing
that, a compiler) in a subprocess, and importing ``ctypes.util`` imports tempfile, shutil and more (together about
15 ms of every process start on the 2-core development machine); it is only the fallback, for another C library.
"""

from __future__ import annotations

import contextlib
import ctypes
import os

ONEDNN_CACHE = "32"
ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_native_caches() -> None:
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to limit
        _c_library().mallopt(_M_ARENA_MAX, ARENAS)


_libc: ctypes.CDLL | None = None


def _c_library() -> ctypes.CDLL:
    """The C library, opened once: glibc by its soname, else whatever ``find_library`` names (OSError if none)."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL("libc.so.6")
        except OSError:
            from ctypes.util import find_library

            name = find_library("c")
            if name is None:
                raise
            _libc = ctypes.CDLL(name)
    return _libc


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``), e.g. after a batch through an encoder:
    its activations (tens of MB, of a different size each batch) otherwise stay in the heap, fragmented, and the
    process grows with every batch (``bench/ingest.py``). A few milliseconds; nothing where it is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        _c_library().malloc_trim(0)

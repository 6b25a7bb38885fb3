"""Process start of ``newsroom run`` and ``newsroom worker``: Python's cyclic collector waits for the start-up.

The collector is paused from the moment the command starts (``pause_collector``) until ``run``'s first model request
is out (``resume_collector``, from ``Pipeline``'s warm-up thread, or when the round ends) or the worker takes jobs
(``tasks._serve``). Start-up allocates hundreds of thousands of objects that live as long as the process (modules,
SQLAlchemy's mappers, torch and the encoders), and the full passes they triggered walked every one of them: on the
2-core AMD EPYC four passes took 0.54 s of CPU before `run`'s first request, each holding the GIL, one (0.26 s) just
before that request. ``resume_collector`` freezes what exists then (``gc.freeze``: the start-up's objects, never
garbage, are not walked by later passes either) and turns collection back on; the few cycles start-up leaves stay
until the process ends.

Not done, measured: loading MiniLM (torch) in a thread from the moment the settings are read, beside the other
imports. Imports hold the GIL, so on 2 cores the first request came no sooner (1.86-1.94 s against 1.77-1.89 s
without, 0.1 s more CPU); the pipeline's warm-up thread loads it once the pipeline is built.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_paused = False  # this module turned the collector off (and nobody else had)


def pause_collector() -> None:
    """Turn the cyclic collector off until ``resume_collector`` (no-op when it is off already)."""
    global _paused
    with _lock:
        if gc.isenabled():
            gc.disable()
            _paused = True


def resume_collector() -> None:
    """Freeze the objects alive now and turn the collector back on, if ``pause_collector`` turned it off."""
    global _paused
    with _lock:
        if _paused:
            gc.freeze()
            gc.enable()
            _paused = False

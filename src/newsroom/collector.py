"""Python's cyclic garbage collector around the process's two large allocations: start-up and polls.

**Start-up.** The collector is paused from the moment ``newsroom run`` or ``newsroom worker`` starts
(``pause_collector``) until ``run``'s first model request is out (``resume_collector``, from ``Pipeline``'s warm-up
thread, or when the round ends) or the worker takes jobs (``tasks._serve``); ``newsroom poll`` pauses it for its
imports, settings and store, up to the first fetch. Start-up allocates hundreds of thousands
of objects that live as long as the process (modules, SQLAlchemy's mappers, torch and the encoders), and the full
passes they triggered walked every one of them: on the 2-core AMD EPYC four passes took 0.54 s of CPU before `run`'s
first request, each holding the GIL, one (0.26 s) just before that request. ``resume_collector`` freezes what exists
then (``gc.freeze``: the start-up's objects, never garbage, are not walked by later passes either) and turns
collection back on; the few cycles start-up leaves stay until the process ends.

Not done, measured: loading MiniLM (torch) in a thread from the moment the settings are read, beside the other
imports. Imports hold the GIL, so on 2 cores the first request came no sooner (1.86-1.94 s against 1.77-1.89 s
without, 0.1 s more CPU); the pipeline's warm-up thread loads it once the pipeline is built.

**Polls.** ``rare_full_collections`` makes the full (oldest-generation) passes rarer while sources are polled, as
they were once the last poll ends. A poll allocates many objects that live for its length (parsed entries, the story
index's signatures and documents); each full pass walks every object of the process, the imported modules' and the
embedding model's included: in `bench/ingest.py`'s 10,000-entry poll 6 full passes took 0.47 CPU s of 4.1
(clustering off) and 9 took 1.2 of 20 (on). Garbage is still collected: the oldest generation every
``FULL_COLLECTION_EVERY`` middle-generation passes instead of 10, and the youngest after ``YOUNG_COLLECTION_AFTER``
new objects instead of 700: nearly all of a batch's objects outlive its young passes, so each small pass only walked
them again and moved them on to the middle generation, whose passes walked them once more (the 10,000-entry poll
with clustering off: 480 young and 43 middle passes, 0.10-0.11 CPU s; with 20,000, 24 young and 1 middle, 0.06 s).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FULL_COLLECTION_EVERY = 100  # while a source is polled: a full pass at most every this many middle ones (not 10)
YOUNG_COLLECTION_AFTER = 20_000  # …and a young pass after this many new objects (not 700)

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


_polls = 0  # polls running now (their sources' polls overlap)
_saved_threshold: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def rare_full_collections() -> Iterator[None]:
    """Full and young collections rarer while sources are polled (module doc); nestable, across threads."""
    global _polls, _saved_threshold
    with _lock:
        if _polls == 0:
            _saved_threshold = gc.get_threshold()
            young, middle, oldest = _saved_threshold
            gc.set_threshold(max(young, YOUNG_COLLECTION_AFTER), middle, max(oldest, FULL_COLLECTION_EVERY))
        _polls += 1
    try:
        yield
    finally:
        with _lock:
            _polls -= 1
            if _polls == 0:
                gc.set_threshold(*_saved_threshold)

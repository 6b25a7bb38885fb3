"""`newsroom` with ``asyncio.to_thread`` run inline, so a profiler of the main thread sees the poll's work.

cProfile follows only the thread it starts in, and the poll runs its parsing, storing and clustering in worker
threads (``asyncio.to_thread``): profiled as is, the poll process shows almost nothing but the event loop's wait.
Here those calls run in the event loop's own thread, one at a time (sources no longer overlap, so read CPU time,
not wall time). ``bench/ingest.py --profile DIR`` runs the poll this way under cProfile:

    python -m cProfile -o poll.prof bench/profile_poll.py poll --config newsroom.toml --force
"""

from __future__ import annotations

import asyncio
import runpy
import sys
from collections.abc import Callable
from typing import Any


async def _inline(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


if __name__ == "__main__":
    asyncio.to_thread = _inline  # type: ignore[assignment]
    sys.argv = ["newsroom", *sys.argv[1:]]
    runpy.run_module("newsroom", run_name="__main__", alter_sys=True)

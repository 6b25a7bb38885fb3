"""Group commit: many small write transactions from an event loop's tasks, committed together in one thread.

At concurrency 32 a run makes two small writes per model call that must be durable before it goes on: the attempt's
``started`` row before the request is sent (``llm/usage.py``), the reply with its call's outcome before it is used
(``llm/replies.py``). One transaction each, in whatever thread is free, cost a commit per write and, on SQLite, writers
waiting for each other's lock. :class:`BatchWriter` queues each write (a function of a session) and one thread commits
everything queued so far in one transaction, while the next writes queue behind it. Each caller awaits its own write:
it returns only once that write is committed, as before, so every guarantee that rested on the commit still holds.

A batch whose transaction fails is rolled back and its writes are run again one transaction each, so one bad write
fails only its own caller. A write must therefore create what it adds (never reuse objects from an earlier try).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from .db import Store

log = logging.getLogger(__name__)

Write = Callable[[Session], Any]
MAX_BATCH = 256


class BatchWriter:
    """Writes of one store, committed in batches by one thread (module doc)."""

    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[tuple[Write, asyncio.Future[Any]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (for tests and benchmarks)
        self.writes = 0

    async def write(self, fn: Write) -> Any:
        """Run ``fn(session)`` in a transaction shared with other queued writes; its result once committed."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (one asyncio.run per CLI round or test): a fresh queue
            self._loop, self._queue, self._draining = loop, [], None
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.append((fn, done))
        if self._draining is None or self._draining.done():
            self._draining = loop.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                outcomes = await loop.run_in_executor(self._thread, self._commit, [fn for fn, _ in batch])
            except BaseException as exc:  # cancelled with the loop: nobody waits any more
                for _, done in batch + self._queue:
                    if not done.done():
                        done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("writer stopped"))
                self._queue = []
                raise
            for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
                if done.done():  # its caller was cancelled: the write is committed all the same
                    continue
                if ok:
                    done.set_result(value)
                else:
                    done.set_exception(value)

    def _commit(self, fns: list[Write]) -> list[tuple[bool, Any]]:
        """In the writer's thread: every write in one transaction; on a failure, each in its own."""
        try:
            with self.store.session() as s:
                results = [fn(s) for fn in fns]
            self.batches += 1
            self.writes += len(fns)
            return [(True, r) for r in results]
        except Exception as exc:  # noqa: BLE001 - handed to the caller whose write it is
            if len(fns) == 1:
                return [(False, exc)]
            log.debug("a batch of %d writes failed (%s); writing them one by one", len(fns), exc)
        return [self._commit([fn])[0] for fn in fns]

    def close(self) -> None:
        self._thread.shutdown(wait=True)

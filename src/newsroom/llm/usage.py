"""Usage accounting: the CallRecords providers report, buffered until they are stored with the work they paid for.

Each record is tagged with the story being worked on (the ``current_story`` context variable, which the story's job
sets), so a story's calls are flushed in the same transaction as its article or its failure.

Bound to a store, the buffer also writes a ``started`` row for every HTTP attempt before the request goes out
(``started``/``astarted``, called through ``llm.base.start_call``/``astart_call``; ``astarted`` commits it with the
other attempts of the moment, ``store/batch.py``); the flush completes that row. A crash that loses a reply therefore
leaves its call counted, and ``stats`` agrees with what the endpoint saw.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING

from .base import CallRecord

if TYPE_CHECKING:
    from ..store.db import Store

current_story: contextvars.ContextVar[int | None] = contextvars.ContextVar("story", default=None)


class CallBuffer:
    """Collects CallRecords from providers; flushed into the store with the article they belong to."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store
        self._pending: list[tuple[CallRecord, int | None]] = []
        self._flushing: list[tuple[CallRecord, int | None]] = []  # taken for a commit in progress (begin_flush)
        self.total = 0
        self.tokens_in = 0
        self.tokens_out = 0
        # set once the first attempt is about to go out: work that can wait (the sentiment encoders) waits for it
        self.first_started = threading.Event()

    def __call__(self, record: CallRecord) -> None:
        self._pending.append((record, current_story.get()))
        self.total += 1
        self.tokens_in += record.tokens_in
        self.tokens_out += record.tokens_out

    def started(self, record: CallRecord) -> None:
        """Store a ``started`` row for an attempt about to be made (nothing without a store)."""
        if self.store is not None:
            from ..store.queries import add_calls

            with self.store.session() as s:
                add_calls(s, [(record, current_story.get())])
        self.first_started.set()

    async def astarted(self, record: CallRecord) -> None:
        """:meth:`started` from the event loop: the row is committed (with the other attempts starting at the same
        time, one transaction: ``store/batch.py``) before this returns, and the loop never waits on the database.
        Sets ``first_started`` as :meth:`started` does: the pipeline's sentiment prefetch and encoder warm-up wait for
        it (without it they waited their whole ``SENTIMENT_WARM_WAIT_S``, and meanwhile the first stories' pivot rows
        classified their headlines one at a time)."""
        if self.store is not None:
            from ..store.queries import add_calls

            row = [(record, current_story.get())]
            await self.store.batch.write(lambda s: add_calls(s, row))
        self.first_started.set()

    def pending(self) -> list[CallRecord]:
        """The records not stored yet (what the budget adds to the stored call log)."""
        return [r for r, _ in self._pending + self._flushing]

    def begin_flush(self, story_id: int) -> list[tuple[CallRecord, int | None]]:
        """Take a story's records for a transaction that runs elsewhere (a worker thread); until
        :meth:`end_flush` they still count as pending, so the budget never misses them in between."""
        taken = self.take(story_id)
        self._flushing.extend(taken)
        return taken

    def end_flush(self, records: list[tuple[CallRecord, int | None]], *, stored: bool) -> None:
        """The transaction of :meth:`begin_flush` is over; records it failed to store are buffered again."""
        ids = {id(r) for r in records}
        self._flushing = [r for r in self._flushing if id(r) not in ids]
        if not stored:
            self._pending.extend(records)

    def take(self, story_id: int | None = None) -> list[tuple[CallRecord, int | None]]:
        """Remove and return the buffered records of one story (or all, when ``story_id`` is None)."""
        if story_id is None:
            taken, self._pending = self._pending, []
            return taken
        taken = [p for p in self._pending if p[1] == story_id]
        self._pending = [p for p in self._pending if p[1] != story_id]
        return taken

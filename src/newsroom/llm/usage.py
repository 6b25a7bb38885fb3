"""Usage accounting: the CallRecords providers report, buffered until they are stored with the work they paid for.

Each record is tagged with the story being worked on (the ``current_story`` context variable, which the story's job
sets), so a story's calls are flushed in the same transaction as its article or its failure.
"""

from __future__ import annotations

import contextvars

from .base import CallRecord

current_story: contextvars.ContextVar[int | None] = contextvars.ContextVar("story", default=None)


class CallBuffer:
    """Collects CallRecords from providers; flushed into the store with the article they belong to."""

    def __init__(self) -> None:
        self._pending: list[tuple[CallRecord, int | None]] = []
        self.total = 0
        self.tokens_in = 0
        self.tokens_out = 0

    def __call__(self, record: CallRecord) -> None:
        self._pending.append((record, current_story.get()))
        self.total += 1
        self.tokens_in += record.tokens_in
        self.tokens_out += record.tokens_out

    def take(self, story_id: int | None = None) -> list[tuple[CallRecord, int | None]]:
        """Remove and return the buffered records of one story (or all, when ``story_id`` is None)."""
        if story_id is None:
            taken, self._pending = self._pending, []
            return taken
        taken = [p for p in self._pending if p[1] == story_id]
        self._pending = [p for p in self._pending if p[1] != story_id]
        return taken

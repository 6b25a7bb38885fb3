"""Durable replies: a model's answer is committed the moment it arrives, so a crash never costs a second call for it.

Between a reply and the commit of the article it becomes lie the guards, the offline classifiers (torch) and the
file write: seconds of CPU work in which a kill -9 used to lose an answered, paid-for call. :class:`DurableReplies`
wraps a provider: for a call made inside a story's job (``usage.current_story``) it first looks for a stored reply to
the very same request (story, model, stage, instructions, data, schema) and returns it without calling; otherwise it
calls, and commits the reply (``model_replies``) together with the call's outcome (completing its ``started`` row)
before handing it back. Each stored reply is handed out at most once by one wrapper (one round of `run`, one
worker), so a question asked twice in one job still gets two answers; the rows of a story are deleted once its
articles are stored (:func:`forget`). A call holds one of ``concurrency`` slots until its reply is stored, so at most
that many calls are ever sent and not yet durable: what a kill can waste.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..store.queries import add_calls
from ..store.tables import ModelReplyRow
from .base import CallRecord, Prompt, Provider, Result, T
from .usage import CallBuffer, current_story

if TYPE_CHECKING:
    from ..store.db import Store

log = logging.getLogger(__name__)
_ADD_REPLY = insert(ModelReplyRow.__table__).returning(ModelReplyRow.__table__.c.id)  # built once

# the look-ups' own threads (one process-wide pool): the default executor may be full of CPU work (the classifiers)
# for seconds. Replies are committed by the store's writer thread (store/batch.py), never behind that work either.
_IO = ThreadPoolExecutor(max_workers=2, thread_name_prefix="replies")


# the stored replies of the stories of the job running in this context (and its child tasks), read once per job:
# only the process that holds a story's claim stores replies for it, so what a job read when it began stays true
# until it ends; a new job (new_job) reads again, so a reply stored by a process that held the story in between is seen
_job_replies: contextvars.ContextVar[dict[int, list[tuple[int, str, str, str]]] | None] = contextvars.ContextVar(
    "job_replies", default=None
)


def new_job() -> None:
    """A story's job begins in this context (``stages/job.py``, ``stages/update.py``): its calls read the stored
    replies once, at the first call, not once per call."""
    _job_replies.set({})


def prompt_key(prompt: Prompt, schema: type[T], model: str) -> str:
    """A hash of everything that decides the answer: the model, the request and the schema asked for."""
    parts = [model, prompt.stage, prompt.system, prompt.user, prompt.max_tokens, prompt.schema_overrides]
    parts.append(schema.__name__)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class DurableReplies:
    """``inner`` with every reply of a story's call stored before it is used, and reused by a rerun (module doc)."""

    def __init__(self, inner: Provider, store: Store, calls: CallBuffer, concurrency: int = 8) -> None:
        self.inner = inner
        self.store = store
        self.calls = calls
        self.name = inner.name
        self.model = inner.model
        self.publishable = inner.publishable
        self._used: set[int] = set()  # reply rows this process has handed out or stored
        self.reused = 0  # replies served from the store instead of a call (this process)
        # a call holds its slot until its reply is committed, not only until it arrives: at any instant at most
        # ``concurrency`` calls are sent and not yet durable (what a kill can waste), however slow the commits
        self._concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(concurrency)

    async def generate(self, prompt: Prompt, schema: type[T]) -> Result[T]:
        story_id = current_story.get()
        if story_id is None:  # not a story's job (the editor's tools, evaluations): nothing to resume
            return await self.inner.generate(prompt, schema)
        key = prompt_key(prompt, schema, self.inner.model)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a semaphore belongs to one event loop (one asyncio.run per CLI round)
            self._loop, self._slots = loop, asyncio.Semaphore(self._concurrency)
        async with self._slots:
            return await self._generate(loop, story_id, key, prompt, schema)

    async def _generate(
        self, loop: asyncio.AbstractEventLoop, story_id: int, key: str, prompt: Prompt, schema: type[T]
    ) -> Result[T]:
        # the job's replies are passed in: run_in_executor does not carry this context's variables to its thread, so
        # a look-up there saw no job and read the story's rows again at every call (one query and commit each)
        stored = await loop.run_in_executor(_IO, self._find, story_id, key, schema, _job_replies.get())
        if stored is not None:
            return stored
        result = await self.inner.generate(prompt, schema)
        records = self.calls.begin_flush(story_id)  # on the loop's thread: the writer gets a private list
        kept = False
        try:
            row_id = await self.store.batch.write(lambda s: self._keep(s, story_id, key, result, records))
            self._used.add(row_id)
            kept = True
        except Exception:  # the store failed: the reply is still good; its calls are stored with the article
            log.exception("story %s: could not store the model's reply; going on without", story_id)
        finally:
            self.calls.end_flush(records, stored=kept)
        return result

    def _find(
        self,
        story_id: int,
        key: str,
        schema: type[T],
        stored: dict[int, list[tuple[int, str, str, str]]] | None = None,
    ) -> Result[T] | None:
        """The stored reply to this request not handed out yet, if any; ``stored``: the job's replies read so far
        (``new_job``), filled here at the story's first call."""
        rows = None if stored is None else stored.get(story_id)
        if rows is None:  # the first call of this story's job reads its stored replies once (new_job)
            with self.store.session() as s:
                rows = [
                    (r.id, r.prompt_key, r.model, r.reply)
                    for r in s.scalars(
                        select(ModelReplyRow).where(ModelReplyRow.story_id == story_id).order_by(ModelReplyRow.id)
                    )
                ]
            if stored is not None:
                stored[story_id] = rows
        for row_id, row_key, model, reply in rows:
            if row_key != key or row_id in self._used:
                continue
            self._used.add(row_id)
            try:
                value = schema.model_validate_json(reply)
            except ValidationError:  # stored by a release with another schema: ask again
                continue
            self.reused += 1
            log.info("story %s: %s reply reused from before a restart (no call)", story_id, key[:8])
            return Result(value=value, model=model, tokens_in=0, tokens_out=0, attempts=0)
        return None

    @staticmethod
    def _keep(
        s: Session, story_id: int, key: str, result: Result[T], records: list[tuple[CallRecord, int | None]]
    ) -> int:
        """The reply and its call's outcome, in the writer's transaction (``store/batch.py``: with other replies and
        attempts of the moment, one commit); the reply row's id."""
        reply = result.value.model_dump_json()
        values = {"story_id": story_id, "prompt_key": key, "model": result.model, "reply": reply}
        row_id: int = s.connection().execute(_ADD_REPLY, values).scalar_one()  # Core: no ORM object to build, flush
        add_calls(s, records)  # the call's outcome commits with its reply: both or neither survive a crash
        return row_id

    async def aclose(self) -> None:
        await self.inner.aclose()


def forget(session: Session, story_id: int) -> None:
    """Drop a story's stored replies: its articles hold what they were for (call in the transaction that stores
    them)."""
    replies = ModelReplyRow.__table__
    session.connection().execute(delete(replies).where(replies.c.story_id == story_id))  # Core: nothing to synchronise

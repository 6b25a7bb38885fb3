"""The in-process scheduler: runs the stages (``newsroom.stages``) with bounded model concurrency, on one machine.

Polling goes on while stories are written: each story's job (``stages/job.py``) starts as soon as its items are
stored and this process has claimed the story (``store/claims.py``: other processes on the same database skip it;
the lease is renewed while the job runs). Every stage works from stored state, so a crash at any point is finished
by the next run: a story stays ``new`` until it has an article in every language; an article whose ``version`` is
ahead of ``published_version`` is (re)written to disk by ``publish_pending``. This module holds no stage logic: only
the order, the concurrency, the claims and the run's summary.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from . import collector, sentiment
from .config import Settings
from .embeddings import default_embedder
from .llm import health
from .llm.base import Provider
from .llm.usage import CallBuffer
from .publish.deliver import TargetReport, deliver
from .stages import publish, write
from .stages.extract import page_client
from .stages.job import StageEnv, run_story
from .stages.poll import SourcePollReport, poll_sources
from .stages.update import update_stories
from .store import claims, queries
from .store.db import Store

__all__ = ["Pipeline", "ProgressHook", "RunSummary"]

log = logging.getLogger(__name__)
SENTIMENT_WARM_WAIT_S = 10.0  # the longest the sentiment encoders wait for the first model request before loading


@dataclass
class RunSummary:
    polled: list[SourcePollReport] = field(default_factory=list)
    stories: int = 0
    written: Counter[str] = field(default_factory=Counter)  # articles created or updated, per language
    published: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    deliveries: list[TargetReport] = field(default_factory=list)  # per publish target (publish.targets)
    paused: str | None = None  # the daily budget stopped writing: why (stories stay pending)
    skipped: list[str] = field(default_factory=list)  # "story N: reason" for each story select skipped
    updated: int = 0  # written stories whose articles a new member changed (score or rewrite; stages/update.py)
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    @property
    def new_items(self) -> int:
        return sum(r.new_items for r in self.polled)


ProgressHook = Callable[[str, int], None]  # (event, story_id): "written", "translated", "failed", "done"


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        provider: Provider,
        calls: CallBuffer,
        *,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        self.calls = calls
        self.http_client = http_client
        self.env = StageEnv.build(settings, store, provider, calls)
        self.env.pages = http_client  # article pages (full text); one per process() call unless given
        self.owner = claims.new_owner()  # this process's name on the stories it claims
        self._held: set[int] = set()  # stories claimed and not yet done
        self._background: set[asyncio.Task[None]] = set()

    # ---- the whole run -----------------------------------------------------------------------------------------

    async def run_once(
        self,
        *,
        force_poll: bool = False,
        on_source: Callable[[SourcePollReport], None] | None = None,
        on_story: ProgressHook | None = None,
        on_plan: Callable[[int], None] | None = None,
    ) -> RunSummary:
        started = time.perf_counter()
        summary = RunSummary()
        calls_before, t_in, t_out = self.calls.total, self.calls.tokens_in, self.calls.tokens_out
        self._warm_encoders()
        await asyncio.to_thread(publish.reconcile, self.store, self.env.target)  # what a crash left on disk
        await asyncio.to_thread(self._release_dead)  # stories a killed process on this host still holds
        await self._release_after_outage()
        stored = asyncio.Event()
        polling = asyncio.create_task(
            poll_sources(
                self.store,
                self.settings,
                client=self.http_client,
                force=force_poll,
                on_source_done=on_source,
                on_items_stored=stored.set,
            )
        )
        await self.process(summary, on_story=on_story, on_plan=on_plan, polling=polling, stored=stored)
        summary.polled = polling.result()
        await self._release_after_outage()  # a probe now sees an endpoint that just failed these stories as down
        summary.updated = sum(1 for r in await update_stories(self.env) if r.rescored or r.rewritten)
        await self.env.illustrator.drain()  # cover cards are drawn off the critical path: the run ends once they are
        summary.published += self.publish_pending()
        summary.deliveries = await asyncio.to_thread(deliver, self.store, self.settings)
        summary.model_calls = self.calls.total - calls_before
        summary.tokens_in = self.calls.tokens_in - t_in
        summary.tokens_out = self.calls.tokens_out - t_out
        summary.seconds = time.perf_counter() - started
        return summary

    async def process(
        self,
        summary: RunSummary | None = None,
        *,
        limit: int | None = None,
        on_story: ProgressHook | None = None,
        on_plan: Callable[[int], None] | None = None,
        polling: asyncio.Task[list[SourcePollReport]] | None = None,
        stored: asyncio.Event | None = None,
    ) -> RunSummary:
        """Write and translate every pending story, each at most once per call. Concurrency is bounded by the
        provider. With ``polling`` (a running poll) and ``stored`` (set whenever the poll has committed new items),
        stories start as soon as they are stored, while the poll goes on; the call returns
        once the poll is over and every story it found is done. ``on_plan`` gets the growing number of stories."""
        summary = summary or RunSummary()
        own_pages = self.http_client is None and self.settings.extract.enabled
        if own_pages:
            self.env.pages = page_client(self.settings)
        renewing = asyncio.create_task(self._renew_claims())
        try:
            return await self._process(summary, limit, on_story, on_plan, polling, stored)
        finally:
            renewing.cancel()
            if own_pages and self.env.pages is not None:
                await self.env.pages.aclose()
                self.env.pages = None

    async def _process(
        self,
        summary: RunSummary,
        limit: int | None,
        on_story: ProgressHook | None,
        on_plan: Callable[[int], None] | None,
        polling: asyncio.Task[list[SourcePollReport]] | None,
        stored: asyncio.Event | None,
    ) -> RunSummary:
        begun: set[int] = set()
        tasks: list[asyncio.Task[None]] = []
        # Stories in flight at once: enough to keep every model slot busy (a story's translations run side by side),
        # few enough that the first story's own steps do not queue behind every other story's database work in the
        # worker threads (500 stories started at once held the first request back by about a second).
        gate = asyncio.Semaphore(2 * self.settings.llm.concurrency + 8)
        while True:
            last_round = polling is None or polling.done()
            if stored is not None:
                stored.clear()
            room = None if limit is None else limit - len(begun)
            if room is None or room > 0:
                ids, contexts = await asyncio.to_thread(self._claim_due, set(begun), room)
                begun.update(ids)
                self._held.update(ids)
                if contexts:
                    self._prefetch_signals(contexts)
                tasks += [asyncio.create_task(self._gated(gate, ctx, summary, on_story)) for ctx in contexts]
                if contexts and on_plan:
                    on_plan(len(begun))
            if last_round:
                break
            assert polling is not None
            waits: set[asyncio.Future[Any]] = {polling}
            if stored is not None:
                waits.add(asyncio.ensure_future(stored.wait()))
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits - {polling}:
                w.cancel()
        summary.stories = len(begun)
        if not tasks and on_plan:
            on_plan(0)
        await asyncio.gather(*tasks)
        return summary

    def _claim_due(self, begun: set[int], room: int | None) -> tuple[list[int], list[queries.StoryContext]]:
        """Claim the due stories not begun yet (at most ``room``) and read what their jobs need (a worker thread)."""
        with self.store.session() as s:
            due = [i for i in claims.due_story_ids(s, self.owner) if i not in begun][:room]
            ids = claims.claim_stories(s, self.owner, due, self._lease)
        with self.store.session() as s:
            return ids, queries.story_contexts(s, ids)

    def _warm_encoders(self) -> None:
        """Load the encoders this configuration uses in one background thread: MiniLM at once (the poll's story
        assignment waits for it when same-event clustering is on), then the sentiment encoders (the first article's
        offline sentiment, after its reply) once the first model request has gone out, or after
        ``SENTIMENT_WARM_WAIT_S``: loading mpnet (about 1.8 s of CPU) while the first story is clustered and
        prepared would hold its request back. Loading is idempotent (one copy per process). The collector paused for
        the start-up (``collector.py``) resumes once the first request is out, before the sentiment encoders load."""
        same_event = self.settings.stories.same_event
        first_call = self.calls.first_started

        def load() -> None:
            if same_event:
                try:
                    default_embedder().model()
                except Exception:  # the poll meets the failure again and reports it
                    log.debug("MiniLM could not be loaded ahead", exc_info=True)
            first_call.wait(SENTIMENT_WARM_WAIT_S)
            collector.resume_collector()
            sentiment.warm()

        threading.Thread(target=load, name="newsroom-warm-encoders", daemon=True).start()

    def _prefetch_signals(self, contexts: list[queries.StoryContext]) -> None:
        task = asyncio.create_task(self._prefetch_after_first_call(contexts))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _prefetch_after_first_call(self, contexts: list[queries.StoryContext]) -> None:
        """The sentiment of the stories' headlines in one batch, once the first model request is out (the batch and
        the encoders it loads would otherwise compete with the first story for the CPU): while replies are awaited."""
        waited = 0.0
        while not self.calls.first_started.is_set() and waited < SENTIMENT_WARM_WAIT_S:
            await asyncio.sleep(0.05)
            waited += 0.05
        await write.prefetch_signals(self.settings, contexts)

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.settings.stories.claim_seconds)

    async def _renew_claims(self) -> None:
        """Keep the leases of the stories in progress alive (every third of a lease) until cancelled."""
        while True:
            await asyncio.sleep(self.settings.stories.claim_seconds / 3)
            held = list(self._held)
            try:
                await asyncio.to_thread(self._renew, held)
            except Exception:  # a store hiccup: the next renewal tries again, well before the lease ends
                log.exception("could not renew the claims on %d stories", len(held))

    async def _release_after_outage(self) -> None:
        """Stories backing off because the model endpoint was down are due at once when a probe that found it down
        is followed by one that finds it up (llm/health.py): the end of an outage does not wait for the longest
        backoff step. A story that failed while the endpoint answered the probe keeps its backoff."""
        with self.store.session() as s:
            waiting = claims.outage_waiting(s)
        if not waiting or await health.probe(self.settings.llm) != "back":
            return
        with self.store.session() as s:
            n = claims.retry_now(s, waiting)
        log.warning("the model endpoint answers again: %d stories that failed while it was down are due now", n)

    def _release_dead(self) -> None:
        with self.store.session() as s:
            if n := claims.release_dead(s):
                log.warning("released %d stories claimed by processes that no longer run", n)

    def _renew(self, held: list[int]) -> None:
        with self.store.session() as s:
            claims.renew_claims(s, self.owner, held, self._lease)

    async def _gated(
        self, gate: asyncio.Semaphore, ctx: queries.StoryContext, summary: RunSummary, on_story: ProgressHook | None
    ) -> None:
        async with gate:
            await self._process_story(ctx, summary, on_story)

    async def _process_story(
        self, ctx: queries.StoryContext, summary: RunSummary, on_story: ProgressHook | None
    ) -> None:
        story_id = ctx.story.id
        on_written = (lambda: on_story("written", story_id)) if on_story else None
        try:
            result = await run_story(self.env, ctx, on_written)
        finally:
            self._held.discard(story_id)
        summary.written.update(result.written)
        summary.published += result.published
        if result.error is not None:
            summary.failures.append(f"story {story_id}: {result.error}")
        if result.paused is not None:
            summary.paused = result.paused
        if result.skipped is not None:
            summary.skipped.append(f"story {story_id}: {result.skipped}")
        if on_story:
            on_story("failed" if result.error is not None else "done", story_id)

    def publish_pending(self) -> list[Path]:
        """Write every article whose stored version is newer than its file (crash recovery, edits)."""
        return publish.publish_pending(self.store, self.env.target, self.calls)

"""The stages as procrastinate tasks: ``newsroom worker``, on as many machines as needed (PostgreSQL only).

The same stage functions as the in-process scheduler (``pipeline.py``) run here as jobs; this module holds no stage
logic, only the jobs, their locks and the schedule. The database stays the truth: a story is pending until it has an
article in every language (``stories.status``), an article is unpublished until its file is written (the outbox of
``stages/publish.py``), a source is due by its ``next_poll_at``. A job is a nudge to do some of that work, so a lost
job loses nothing: the schedule defers it again.

Jobs (queue; procrastinate ``lock``, ``queueing_lock``):

- ``newsroom.poll_due`` (schedule; periodic, every ``worker.schedule_seconds``): makes the sources table match the
  config, claims each due source (``store.claims.claim_source``) and defers its poll job, in one transaction.
- ``newsroom.enqueue_stories`` (schedule; periodic, every ``worker.schedule_seconds``): defers a story job for each
  pending story that is due (no backoff left), claimed by nobody and without a job waiting or running.
- ``newsroom.sweep`` (schedule; periodic, every ``worker.sweep_seconds``): retries the running jobs of workers whose
  heartbeat stopped (``kill -9``, a lost machine: procrastinate's stalled jobs), defers an update job for each
  developing story and a publish job when articles are unpublished, removes temporary and orphan files from the
  content folder, defers the deliver job when there are publish targets, and deletes finished jobs older than three
  days (succeeded jobs are deleted as they finish).
- ``newsroom.poll_source(key)`` (poll; ``source:KEY``, ``source:KEY``): one source's poll (``stages/poll.py``); the
  stories of each chunk of new items it stores are deferred as soon as the chunk commits.
- ``newsroom.process_story(story_id)`` (stories; ``story:ID``, ``story:ID``): the story's job (``stages/job.py``:
  select, extract, write, illustrate, publish, translate, publish), with the story claimed in the database.
- ``newsroom.update_story(story_id)`` (stories; ``story:ID``, ``update:ID``): rescore or rewrite a developing story
  (``stages/update.py``); the same lock as the story's job, so the two never run at once.
- ``newsroom.publish_pending()`` (stories; ``publish``, ``publish``): write every article whose row is ahead of its
  file (``stages/publish.py``), then defer the deliver job.
- ``newsroom.deliver()`` (stories; ``deliver``, ``deliver``): bring every publish target up to date
  (``publish/deliver.py``); a target that fails is retried by the next one (each sweep defers one).

A worker takes the schedule's jobs first (priority 20), then polls (10), then stories (0), so a backlog of stories
never holds up polling. The schedule's defers run inside the transaction that changes the data (``defer_in``:
procrastinate's own ``procrastinate_defer_jobs_v1`` on our session), so a source's claim and its poll job commit
together or not at all.

A story job claims its story with the owner ``job:ID`` (the procrastinate job's id) and renews the lease while it
works. A worker that stops gracefully (SIGTERM) lets running jobs finish for ``worker.grace_seconds``, then cancels
them: a cancelled job gives its story back at once (and stores the calls it made). A worker killed outright leaves its
jobs ``doing``; once its heartbeat is ``worker.stalled_seconds`` old the sweep retries them, and the retried job (the
same id, so the same owner) takes its story back without waiting for the lease. Every stage restarts from stored
state, so what the killed job finished is not done again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import procrastinate
from procrastinate.exceptions import ConnectorException, UniqueViolation
from procrastinate.job_context import JobContext
from procrastinate.jobs import Status
from procrastinate.worker import Worker
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import collector
from .config import Settings
from .llm import make_provider
from .llm.budget import Budget
from .llm.usage import CallBuffer
from .publish.deliver import deliver
from .stages import publish
from .stages.extract import page_client
from .stages.job import StageEnv, run_story
from .stages.poll import claim_due, due_source, http_client, poll_guarded, sync_sources
from .stages.update import developing_story_ids, update_story
from .stages.write import SignalPrefetcher
from .store import claims, queries
from .store.db import Store
from .store.tables import SourceRow, StoryRow

__all__ = [
    "QUEUES",
    "Runtime",
    "cron_every",
    "defer_due_polls",
    "defer_in",
    "enqueue_stories",
    "make_app",
    "retry_stalled",
    "run_worker",
    "warm_up",
]

log = logging.getLogger(__name__)

POLL_DUE = "newsroom.poll_due"
ENQUEUE_STORIES = "newsroom.enqueue_stories"
SWEEP = "newsroom.sweep"
POLL_SOURCE = "newsroom.poll_source"
PROCESS_STORY = "newsroom.process_story"
UPDATE_STORY = "newsroom.update_story"
PUBLISH_PENDING = "newsroom.publish_pending"
DELIVER = "newsroom.deliver"
QUEUES = ("schedule", "poll", "stories")
_QUEUE = {
    POLL_DUE: "schedule",
    ENQUEUE_STORIES: "schedule",
    SWEEP: "schedule",
    POLL_SOURCE: "poll",
    PROCESS_STORY: "stories",
    UPDATE_STORY: "stories",
    PUBLISH_PENDING: "stories",
    DELIVER: "stories",
}
# a worker takes the highest priority first: the schedule and the polls never wait behind a backlog of stories
_PRIORITY = {"schedule": 20, "poll": 10, "stories": 0}
SCHEDULER = "schedule"  # the owner name due_story_ids is asked for: nobody holds a claim under it
SCHEDULE_LOCK = 0x6E6577730002  # PostgreSQL advisory lock key of the schedulers' turns ("news" + 2; 1: migrations)
ENQUEUE_LIMIT = 1000  # story jobs one schedule round defers at most (the next round defers the rest)
KEEP_JOBS_HOURS = 72  # failed, aborted and cancelled jobs are kept this long (to look at), then swept


# ---- deferring jobs in our own transaction -------------------------------------------------------------------------

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(CAST(:queue AS varchar), CAST(:task AS varchar),"
    " CAST(:priority AS integer), CAST(:lock AS text), CAST(:qlock AS text), CAST(:args AS jsonb),"
    " NULL)::procrastinate_job_to_defer_v1])"
)
_ACTIVE = text(
    "SELECT DISTINCT queueing_lock FROM procrastinate_jobs"
    " WHERE status IN ('todo', 'doing') AND queueing_lock = ANY(:keys)"
)


def defer_in(
    session: Session, task: str, args: dict[str, Any], *, lock: str | None = None, queueing_lock: str | None = None
) -> bool:
    """Defer a job in ``session``'s transaction, so that it commits (and wakes the workers) with the data, or not at
    all. False when a job with the same queueing lock is waiting already (a savepoint keeps the transaction usable)."""
    params = {
        "queue": _QUEUE[task],
        "task": task,
        "priority": _PRIORITY.get(_QUEUE[task], 0),
        "lock": lock,
        "qlock": queueing_lock,
        "args": json.dumps(args),
    }
    try:
        with session.begin_nested():
            session.execute(_DEFER, params)
    except IntegrityError:  # procrastinate_jobs_queueing_lock_idx_v1: one waiting job per queueing lock
        return False
    return True


def active_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """The queueing locks among ``keys`` that have a job waiting or running."""
    return set(session.scalars(_ACTIVE, {"keys": list(keys)})) if keys else set()


def _defer_many(session: Session, task: str, jobs: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
    """Defer ``(lock, queueing_lock, args)`` jobs of ``task``, skipping those with a job waiting or running.

    Schedulers take turns (a transaction-level advisory lock): the queueing lock alone only refuses a second
    *waiting* job, so two schedulers checking at once could each add one while a worker fetched the first."""
    todo = list(jobs)
    if not todo:
        return 0
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEDULE_LOCK})
    busy = active_keys(session, [q for _, q, _ in todo])
    return sum(defer_in(session, task, a, lock=lk, queueing_lock=q) for lk, q, a in todo if q not in busy)


# ---- the schedule (plain functions over the store, run in a thread by the periodic jobs) ---------------------------


def defer_due_polls(store: Store, settings: Settings, now: datetime | None = None) -> list[str]:
    """Make the sources table match the config, claim each due source and defer its poll job (one transaction)."""
    sync_sources(store, settings)
    with store.session() as s:
        due = claim_due(s, now or datetime.now(UTC))
        for spec in due:
            key = f"source:{spec.key}"
            defer_in(s, POLL_SOURCE, {"key": spec.key}, lock=key, queueing_lock=key)
    return [spec.key for spec in due]


def _writing_paused(budget: Budget | None) -> bool:
    if budget is None or not budget.enabled:
        return False
    return {"write", "translate"} <= set(budget.status()["paused_stages"])


def enqueue_stories(store: Store, budget: Budget | None = None, limit: int = ENQUEUE_LIMIT) -> int:
    """Defer a story job for each pending story that is due, unclaimed and without a job; returns how many."""
    if _writing_paused(budget):  # the jobs would only give their stories back; polling goes on
        return 0
    with store.session() as s:
        due = claims.due_story_ids(s, SCHEDULER)[:limit]
        return _defer_many(s, PROCESS_STORY, ((f"story:{i}", f"story:{i}", {"story_id": i}) for i in due))


def _sweep_store(env: StageEnv) -> dict[str, int]:
    """The sweep's work on the store and the content folder (blocking)."""
    store, settings = env.store, env.settings
    done: dict[str, int] = {}
    with store.session() as s:
        done["released"] = claims.release_dead(s)
    with store.session() as s:
        ids = developing_story_ids(s)
        done["updates"] = _defer_many(s, UPDATE_STORY, ((f"story:{i}", f"update:{i}", {"story_id": i}) for i in ids))
        if queries.unpublished_article_ids(s):
            done["publish"] = int(defer_in(s, PUBLISH_PENDING, {}, lock="publish", queueing_lock="publish"))
        if settings.publish.targets:
            done["deliver"] = int(defer_in(s, DELIVER, {}, lock="deliver", queueing_lock="deliver"))
    swept = publish.reconcile(store, env.target)
    done["swept_files"] = len(swept.temp_files) + len(swept.orphans)
    return done


async def retry_stalled(app: procrastinate.App, stalled_seconds: float, skip: int | None = None) -> list[int]:
    """Retry now the running jobs of workers whose heartbeat is ``stalled_seconds`` old (or gone); their ids."""
    retried = []
    now = datetime.now(UTC)
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
        if job.id is None or job.id == skip:
            continue
        try:
            await app.job_manager.retry_job_by_id_async(job.id, retry_at=now)
        except UniqueViolation:
            # a job with the same queueing lock is waiting already and will do this work, once this one no longer
            # holds the lock: end this one
            await app.job_manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
            log.warning("ended job %s of a worker that stopped beating: a job of %s waits to do it", job.id, job.lock)
        except ConnectorException:  # it finished or was retried meanwhile
            continue
        retried.append(job.id)
    if retried:
        log.warning("took over %d job(s) of workers that stopped beating: %s", len(retried), retried)
    await app.job_manager.prune_stalled_workers(stalled_seconds)
    return retried


# ---- what a worker process holds -----------------------------------------------------------------------------------


@dataclass
class Runtime:
    """One worker process's stage environment (store, model provider, call buffer, adapters) and its feed client."""

    env: StageEnv
    feeds: httpx.AsyncClient
    poll_lock: asyncio.Lock  # store writes of polls, one at a time (stages/poll.py's db_lock)
    signals: SignalPrefetcher  # the offline sentiment of the stories begun, in batches (stages/write.py)

    @classmethod
    def open(cls, settings: Settings, store: Store) -> Runtime:
        calls = CallBuffer()
        env = StageEnv.build(settings, store, make_provider(settings.llm, calls), calls)
        if settings.extract.enabled:
            env.pages = page_client(settings)
        return cls(env, http_client(settings), asyncio.Lock(), SignalPrefetcher(settings))

    @property
    def store(self) -> Store:
        return self.env.store

    @property
    def settings(self) -> Settings:
        return self.env.settings

    async def aclose(self) -> None:
        await self.env.illustrator.drain()  # cover cards queued by finished jobs reach the disk
        await self.env.provider.aclose()
        await self.feeds.aclose()
        if self.env.pages is not None:
            await self.env.pages.aclose()


def _runtime(context: JobContext) -> Runtime:
    return context.additional_context["runtime"]  # type: ignore[no-any-return]


# ---- the tasks -----------------------------------------------------------------------------------------------------


async def poll_due(context: JobContext, timestamp: int) -> str:
    rt = _runtime(context)
    keys = await asyncio.to_thread(defer_due_polls, rt.store, rt.settings)
    return f"{len(keys)} poll(s) deferred"


async def enqueue_stories_task(context: JobContext, timestamp: int) -> str:
    rt = _runtime(context)
    n = await asyncio.to_thread(enqueue_stories, rt.store, rt.env.budget)
    return f"{n} story job(s) deferred"


async def sweep(context: JobContext, timestamp: int) -> str:
    rt = _runtime(context)
    retried = await retry_stalled(context.app, rt.settings.worker.stalled_seconds, skip=context.job.id)
    await context.app.job_manager.delete_old_jobs(  # succeeded jobs are deleted at once; the others kept a while
        nb_hours=KEEP_JOBS_HOURS, include_failed=True, include_cancelled=True, include_aborted=True
    )
    done = await asyncio.to_thread(_sweep_store, rt.env)
    return f"retried {len(retried)} stalled job(s); {done}"


def _source_spec(store: Store, key: str):  # type: ignore[no-untyped-def]
    with store.session() as s:
        row = s.scalars(select(SourceRow).where(SourceRow.key == key)).one_or_none()
        return due_source(row) if row is not None and row.enabled else None


async def poll_source(context: JobContext, key: str) -> str:
    rt = _runtime(context)
    return await poll_and_defer(rt, key)


async def poll_and_defer(rt: Runtime, key: str) -> str:
    """One source's poll; the stories of each chunk of new items it commits get their jobs at once (in the poll's
    thread, right after the chunk's commit), not when the whole feed is stored, nor at the next schedule round: the
    first 64 stories of a 500-item feed reach the workers while the rest is stored and clustered."""
    spec = await asyncio.to_thread(_source_spec, rt.store, key)
    if spec is None:
        return f"source {key}: not configured or disabled"

    def defer_stories() -> None:
        try:
            enqueue_stories(rt.store, rt.env.budget)
        except Exception:  # the schedule defers them at its next round; the poll goes on
            log.exception("source %s: could not defer the jobs of the stories just stored", key)

    report = await poll_guarded(rt.store, rt.settings, rt.feeds, spec, datetime.now(UTC), rt.poll_lock, defer_stories)
    return f"source {key}: {report.status}, {report.new_items} new item(s)"


def _claim(rt: Runtime, story_id: int, owner: str) -> queries.StoryContext | None:
    """Claim a pending, due story for ``owner`` and read what its job needs, in one transaction; None when it is not to
    be done now."""
    lease = timedelta(seconds=rt.settings.stories.claim_seconds)
    with rt.store.session() as s:
        if not claims.claim_due_story(s, owner, story_id, lease):
            return None
        return queries.story_contexts(s, [story_id])[0]


def _let_go(rt: Runtime, story_id: int, owner: str) -> None:
    """An interrupted job gives its story back (if it still holds it) and stores the calls it made."""
    with rt.store.session() as s:
        story = s.get(StoryRow, story_id)
        if story is not None and story.claimed_by == owner:
            claims.release(story)
        queries.add_calls(s, rt.env.calls.take(story_id))


def _renew_once(rt: Runtime, story_id: int, owner: str) -> None:
    with rt.store.session() as s:
        claims.renew_claims(s, owner, [story_id], timedelta(seconds=rt.settings.stories.claim_seconds))


async def _renew(rt: Runtime, story_id: int, owner: str) -> None:
    """Keep the story's lease alive (every third of a lease) until cancelled."""
    while True:
        await asyncio.sleep(rt.settings.stories.claim_seconds / 3)
        try:
            await asyncio.to_thread(_renew_once, rt, story_id, owner)
        except Exception:  # a store hiccup: the next renewal tries again, well before the lease ends
            log.exception("story %s: could not renew its claim", story_id)


async def process_story(context: JobContext, story_id: int) -> str:
    rt = _runtime(context)
    owner = f"job:{context.job.id}"
    ctx = await asyncio.to_thread(_claim, rt, story_id, owner)
    if ctx is None:
        return f"story {story_id}: not pending, not due, or held by another process"
    rt.signals.add(ctx)
    renewing = asyncio.create_task(_renew(rt, story_id, owner))
    try:
        result = await run_story(rt.env, ctx)
    except BaseException:  # cancelled (a stopping worker gave up waiting) or a bug: the story is free again at once
        await asyncio.shield(asyncio.to_thread(_let_go, rt, story_id, owner))
        raise
    finally:
        renewing.cancel()
    if result.published and rt.settings.publish.targets:
        await asyncio.to_thread(_defer_one, rt.store, DELIVER, "deliver", "deliver")
    if result.error is not None:
        log.warning("story %s failed (retried with backoff): %s", story_id, result.error)
        return f"story {story_id}: failed: {result.error}"
    if result.paused is not None:
        return f"story {story_id}: paused: {result.paused}"
    if result.skipped is not None:
        return f"story {story_id}: skipped: {result.skipped}"
    log.info(
        "story %s: written %s, %d file(s)", story_id, ", ".join(result.written) or "nothing new", len(result.published)
    )
    return f"story {story_id}: written {', '.join(result.written)}"


def _defer_one(store: Store, task: str, lock: str, queueing_lock: str, args: dict[str, Any] | None = None) -> bool:
    with store.session() as s:
        return defer_in(s, task, args or {}, lock=lock, queueing_lock=queueing_lock)


async def update_story_task(context: JobContext, story_id: int) -> str:
    rt = _runtime(context)
    result = await update_story(rt.env, story_id)
    if result.rewritten or result.rescored:
        await asyncio.to_thread(_defer_one, rt.store, PUBLISH_PENDING, "publish", "publish")
    return f"story {story_id}: {result.reason}"


async def publish_pending(context: JobContext) -> str:
    rt = _runtime(context)
    paths = await asyncio.to_thread(publish.publish_pending, rt.store, rt.env.target, rt.env.calls)
    if paths and rt.settings.publish.targets:  # delivered by the deliver job: one delivery at a time (its lock)
        await asyncio.to_thread(_defer_one, rt.store, DELIVER, "deliver", "deliver")
    return f"{len(paths)} file(s) written"


async def deliver_task(context: JobContext) -> str:
    rt = _runtime(context)
    reports = await asyncio.to_thread(deliver, rt.store, rt.settings)
    return "; ".join(f"{r.target}: {r.error or 'ok'}" for r in reports)


# ---- the app and the worker ----------------------------------------------------------------------------------------


def cron_every(seconds: int) -> str:
    """A procrastinate cron (six fields: the last is seconds) that fires every ``seconds`` (a divisor of 60 seconds,
    or a whole number of minutes dividing 60)."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    return f"*/{seconds // 60} * * * *"


def conninfo(url: str) -> str:
    """The store's URL as libpq reads it (without SQLAlchemy's ``+psycopg``)."""
    head, sep, rest = url.partition("://")
    if not sep or not head.startswith("postgres"):
        raise ValueError(f"newsroom worker needs a PostgreSQL database_url, not {head or url!r}")
    return f"postgresql://{rest}"


def make_app(settings: Settings, url: str) -> procrastinate.App:
    """The procrastinate app on the store's database, with the tasks and the schedule (periodic tasks)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(url), min_size=1, max_size=max(2, min(10, settings.worker.concurrency))
    )
    app = procrastinate.App(connector=connector)
    task = app.task
    for func, name in (
        (poll_source, POLL_SOURCE),
        (process_story, PROCESS_STORY),
        (update_story_task, UPDATE_STORY),
        (publish_pending, PUBLISH_PENDING),
        (deliver_task, DELIVER),
    ):
        task(name=name, queue=_QUEUE[name], priority=_PRIORITY.get(_QUEUE[name], 0), pass_context=True)(func)
    w = settings.worker
    for func, name, every in (
        (poll_due, POLL_DUE, w.schedule_seconds),
        (enqueue_stories_task, ENQUEUE_STORIES, w.schedule_seconds),
        (sweep, SWEEP, w.sweep_seconds),
    ):
        # a queueing lock: a round still waiting for a free worker is not joined by the next one; no lock: a round
        # that a killed worker left "doing" never blocks the next (the sweep is what retries it)
        registered = task(
            name=name, queue=_QUEUE[name], priority=_PRIORITY["schedule"], pass_context=True, queueing_lock=name
        )(func)
        app.periodic(cron=cron_every(every))(registered)
    return app


def warm_up() -> None:
    """Load the offline sentiment encoders (torch; seconds of CPU) before the first story job, so that a write reply
    is stored as soon as it comes: a worker killed while it would otherwise be loading them holds no answered call."""
    from . import sentiment

    started = time.perf_counter()
    sentiment.prefetch(["warm-up"])
    log.info("offline classifiers loaded in %.1f s", time.perf_counter() - started)


def _in_daemon_thread(loop: asyncio.AbstractEventLoop, func: Callable[[], None]) -> asyncio.Future[None]:
    """Run ``func`` in a daemon thread; the future is done when it returns (or raises: logged, never raised)."""
    done: asyncio.Future[None] = loop.create_future()

    def finish() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            func()
        except Exception:
            log.exception("%s failed", getattr(func, "__name__", func))
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the worker stopped meanwhile
                loop.call_soon_threadsafe(finish)

    threading.Thread(target=run, name="warm-up", daemon=True).start()
    return done


async def _beat(app: procrastinate.App, worker: Worker, interval: float) -> None:
    """Heartbeats for as long as the worker is registered. procrastinate's own stop at the start of a graceful stop,
    before the running jobs' grace period: without these, a grace longer than ``worker.stalled_seconds`` would let
    another worker's sweep take the stopping worker for dead and run its jobs a second time."""
    while True:
        await asyncio.sleep(interval)
        if worker.worker_id is not None:
            try:
                await app.job_manager.update_heartbeat(worker.worker_id)
            except Exception:  # the store hiccups: procrastinate's own heartbeat (or the next one) tries again
                log.debug("heartbeat failed", exc_info=True)


async def _serve(settings: Settings, store: Store, concurrency: int, queues: list[str] | None, grace: float) -> int:
    w = settings.worker
    rt = Runtime.open(settings, store)
    app = make_app(settings, store.url)
    loop = asyncio.get_running_loop()
    try:
        async with app.open_async():
            worker = Worker(
                app,
                queues=queues or None,
                name="newsroom",
                concurrency=concurrency,
                wait=True,
                fetch_job_polling_interval=min(5.0, float(w.schedule_seconds)),
                shutdown_graceful_timeout=grace,
                delete_jobs="successful",
                additional_context={"runtime": rt},
                install_signal_handlers=False,
                update_heartbeat_interval=max(0.5, w.stalled_seconds / 4),
                stalled_worker_timeout=w.stalled_seconds,
            )
            signals = 0
            warming: asyncio.Future[None] | None = None

            def on_signal(signum: int) -> None:
                nonlocal signals
                signals += 1
                if signals == 1:
                    log.warning(
                        "%s: taking no new jobs; running jobs have %g s to finish, then they are given back"
                        " (a second signal exits at once)",
                        signal.Signals(signum).name,
                        grace,
                    )
                    worker.stop()
                    if warming is not None:
                        warming.cancel()
                    return
                log.warning("second signal: exiting now; the jobs still running are retried by other workers")
                logging.shutdown()
                os._exit(128 + signum)

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, on_signal, sig)
            log.info(
                "worker started: queues %s, concurrency %d, schedule every %d s, sweep every %d s",
                ", ".join(queues or QUEUES),
                concurrency,
                w.schedule_seconds,
                w.sweep_seconds,
            )
            if w.warm_up and (queues is None or "stories" in queues):
                warming = _in_daemon_thread(loop, warm_up)  # a stop does not wait for the load to end
                try:
                    await warming
                except asyncio.CancelledError:  # stopped while loading: there is no job to finish
                    return 0
            collector.resume_collector()  # paused by `newsroom worker` for its start-up (collector.py)
            beating = asyncio.create_task(_beat(app, worker, w.stalled_seconds / 4))
            try:
                await worker.run()
            finally:
                beating.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await rt.aclose()
    log.info("worker stopped")
    return 0


def run_worker(
    settings: Settings,
    store: Store,
    *,
    concurrency: int | None = None,
    queues: list[str] | None = None,
    grace: float | None = None,
) -> int:
    """Run one worker until SIGTERM or SIGINT (graceful: exit status 0); a second signal exits at once."""
    if store.dialect != "postgresql":
        raise ValueError("newsroom worker needs PostgreSQL; on SQLite, `newsroom run` runs the same stages")
    unknown = sorted(set(queues or []) - set(QUEUES))
    if unknown:
        raise ValueError(f"unknown queue(s) {unknown}; the queues are {', '.join(QUEUES)}")
    w = settings.worker
    return asyncio.run(
        _serve(
            settings,
            store,
            concurrency or w.concurrency,
            list(queues or w.queues) or None,
            w.grace_seconds if grace is None else grace,
        )
    )

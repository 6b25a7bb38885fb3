"""Work claimed in the database, so any number of processes can share one store without doing anything twice.

A story is claimed with one atomic ``UPDATE … WHERE`` (unclaimed, or its lease expired, or already ours): the
database decides which process gets it, on SQLite and PostgreSQL alike. The lease is renewed while the work goes on
and released when the story is done or has failed; a process that dies leaves a lease that simply expires.
A source is claimed for polling by moving its ``next_poll_at`` forward the same way.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .. import processes
from .tables import SourceRow, StoryRow, utcnow


def new_owner() -> str:
    """This process's claim name: host, pid and a random part (pids are reused, hosts have many processes)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimable(owner: str, now: datetime):  # type: ignore[no-untyped-def]
    return or_(StoryRow.claimed_by.is_(None), StoryRow.claim_expires_at < now, StoryRow.claimed_by == owner)


def _due(now: datetime):  # type: ignore[no-untyped-def]
    """No backoff left after a failed attempt."""
    return or_(StoryRow.next_attempt_at.is_(None), StoryRow.next_attempt_at <= now)


def due_story_ids(session: Session, owner: str, now: datetime | None = None) -> list[int]:
    """Stories that miss an article in some language, are due (no backoff pending) and nobody else holds, oldest
    first."""
    now = now or utcnow()
    q = (
        select(StoryRow.id)
        .where(StoryRow.status == "new")
        .where(_due(now))
        .where(_claimable(owner, now))
        .order_by(StoryRow.created_at, StoryRow.id)
    )
    return list(session.scalars(q))


def claim_stories(session: Session, owner: str, story_ids: Iterable[int], lease: timedelta) -> list[int]:
    """Claim each story that is still pending and free; return the ids this call got (each with one UPDATE)."""
    now = utcnow()
    got = []
    for story_id in story_ids:
        done = session.execute(
            update(StoryRow)
            .where(StoryRow.id == story_id, StoryRow.status == "new", _claimable(owner, now))
            .values(claimed_by=owner, claim_expires_at=now + lease)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            got.append(story_id)
    return got


def claim_due_story(session: Session, owner: str, story_id: int, lease: timedelta) -> bool:
    """Claim one story if it is pending, due (no backoff left) and free, with one UPDATE (a worker's story job: the
    check and the claim in one statement, so the job reads what it needs in the same transaction)."""
    now = utcnow()
    done = session.execute(
        update(StoryRow)
        .where(StoryRow.id == story_id, StoryRow.status == "new", _claimable(owner, now))
        .where(_due(now))
        .values(claimed_by=owner, claim_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def renew_claims(session: Session, owner: str, story_ids: Iterable[int], lease: timedelta) -> None:
    ids = list(story_ids)
    if ids:
        session.execute(
            update(StoryRow)
            .where(StoryRow.id.in_(ids), StoryRow.claimed_by == owner)
            .values(claim_expires_at=utcnow() + lease)
        )


def release_dead(session: Session) -> int:
    """Release the claims of processes on this host that no longer run (a crash, kill -9), so a restart does not
    wait out their leases. Claims of other hosts wait for their lease. Returns how many were released."""
    host = socket.gethostname()[:32]
    dead = []
    for owner in session.scalars(select(StoryRow.claimed_by).where(StoryRow.claimed_by.is_not(None)).distinct()):
        parts = (owner or "").split(":")
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not processes.alive(int(parts[1])):
            dead.append(owner)
    if not dead:
        return 0
    done = session.execute(
        update(StoryRow).where(StoryRow.claimed_by.in_(dead)).values(claimed_by=None, claim_expires_at=None)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def release(story: StoryRow) -> None:
    story.claimed_by = None
    story.claim_expires_at = None


def claim_source(session: Session, key: str, now: datetime, lease: timedelta) -> bool:
    """Take a due source for one poll by moving its next poll past the lease; False when another process has it.
    The poll's outcome then sets the real next poll time; a poller that dies leaves the source due after the lease."""
    done = session.execute(
        update(SourceRow)
        .where(SourceRow.key == key, or_(SourceRow.next_poll_at.is_(None), SourceRow.next_poll_at <= now))
        .values(next_poll_at=now + lease)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def retry_now(session: Session, story_ids: Iterable[int] | None = None) -> int:
    """Make pending stories that failed due at once (``newsroom retry``); returns how many."""
    q = update(StoryRow).where(StoryRow.status == "new", StoryRow.next_attempt_at.is_not(None))
    if story_ids:
        q = q.where(StoryRow.id.in_(list(story_ids)))
    return int(session.execute(q.values(next_attempt_at=None)).rowcount)  # type: ignore[attr-defined]


# what a story's last error says when the endpoint itself was down (llm/openai_compat.py's outcomes), not its reply
_OUTAGE_ERRORS = ("server_error:%", "timeout:%", "error:%connection failed%")


def outage_waiting(session: Session) -> list[int]:
    """Pending stories backing off after the model endpoint was down (refused, 5xx, timed out): what the end of an
    outage makes due at once (``retry_now``). A bad reply or a rate limit keeps its backoff."""
    q = (
        select(StoryRow.id)
        .where(StoryRow.status == "new", StoryRow.next_attempt_at > utcnow())
        .where(or_(*(StoryRow.last_error.like(p) for p in _OUTAGE_ERRORS)))
        .order_by(StoryRow.id)
    )
    return list(session.scalars(q))

"""Deliver what the content folder holds to every configured publish target, each at its own pace.

Per target, the store records which version of which article the target holds (``deliveries``) and how its last
attempt went (``target_states``). A delivery sends a target exactly what it lacks: articles written since (a new
version, or never delivered) and articles deleted since. A target that fails keeps its old records, so the next
delivery retries the same changes there, while the targets that succeeded are not written again. One delivery per
target runs at a time across every process on the database (``Store.exclusive``): a worker's deliver job and an
editor's action in the web server never send a target the same version twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from ..config import Settings
from ..stages.publish import article_doc
from ..store.db import Store
from ..store.tables import ArticleRow, DeliveryRow, ItemRow, SourceRow, StoryRow, TargetStateRow
from .targets import Change, PublishTarget, TargetError, make_targets

__all__ = ["BATCH_SIZE", "TargetReport", "deliver", "pending_changes"]

log = logging.getLogger(__name__)
BATCH_SIZE = 200  # changes per commit / POST: a first delivery of a large archive goes in several batches


@dataclass
class TargetReport:
    target: str
    written: int = 0
    removed: int = 0
    error: str | None = None


def pending_changes(store: Store, target: str) -> list[Change]:
    """What ``target`` lacks: every article in the content folder at a version it does not hold, and every article
    it holds that is gone."""
    with store.session() as s:
        held = {d.article_id: d for d in s.scalars(select(DeliveryRow).where(DeliveryRow.target == target))}
        rows = s.execute(
            select(ArticleRow, ItemRow, SourceRow)
            .join(StoryRow, StoryRow.id == ArticleRow.story_id)
            .join(ItemRow, ItemRow.id == StoryRow.lead_item_id)
            .join(SourceRow, SourceRow.key == ItemRow.source_key)
            # only files that show their row's current version (one being re-written comes with the next delivery)
            .where(ArticleRow.path.is_not(None), ArticleRow.published_version == ArticleRow.version)
            .order_by(ArticleRow.id)
        ).all()
        changes = []
        live = set()
        for article, lead, source in rows:
            live.add(article.id)
            had = held.get(article.id)
            if had is not None and had.version == article.version:
                continue
            doc = article_doc(article, lead, source)
            changes.append(Change(article.id, article.lang, article.slug, article.version, doc, had and had.path))
        for article_id, had in held.items():
            if article_id not in live and not s.get(ArticleRow, article_id):
                changes.append(Change(article_id, had.lang, had.slug, had.version, None, had.path))
    return changes


def _record(store: Store, target: str, batch: Sequence[Change], paths: dict[int, str], error: str | None) -> None:
    now = datetime.now(UTC)
    with store.session() as s:
        state = s.get(TargetStateRow, target) or TargetStateRow(target=target, failures=0)
        state.last_attempt_at = now
        if error is None:
            state.last_success_at, state.last_error, state.failures = now, None, 0
        else:
            state.last_error, state.failures = error[:2000], (state.failures or 0) + 1
        s.add(state)
        if error is not None:
            return
        gone = [c.article_id for c in batch if c.doc is None]
        if gone:
            s.execute(delete(DeliveryRow).where(DeliveryRow.target == target, DeliveryRow.article_id.in_(gone)))
        for c in batch:
            if c.doc is not None:
                s.merge(
                    DeliveryRow(
                        target=target,
                        article_id=c.article_id,
                        lang=c.lang,
                        slug=c.slug,
                        version=c.version,
                        path=paths[c.article_id],
                        delivered_at=now,
                    )
                )


def deliver(store: Store, settings: Settings, targets: Sequence[PublishTarget] | None = None) -> list[TargetReport]:
    """Bring every target up to date with the content folder; a failing target is reported, never raised."""
    reports = []
    for target in make_targets(settings) if targets is None else targets:
        with store.exclusive(f"deliver-{target.name}"):  # what it lacks is read after the last delivery's record
            reports.append(_deliver_one(store, target))
    return reports


def _deliver_one(store: Store, target: PublishTarget) -> TargetReport:
    report = TargetReport(target.name)
    changes = pending_changes(store, target.name)
    for start in range(0, len(changes), BATCH_SIZE):
        batch = changes[start : start + BATCH_SIZE]
        try:
            paths = target.deliver(batch)
        except TargetError as exc:
            report.error = str(exc)
            log.warning("publish target %s: %s (retried on the next delivery)", target.name, exc)
            _record(store, target.name, batch, {}, str(exc))
            break
        _record(store, target.name, batch, paths, None)
        report.written += sum(c.doc is not None for c in batch)
        report.removed += sum(c.doc is None for c in batch)
    return report

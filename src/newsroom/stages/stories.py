"""Which story a new item belongs to: the store's side of ``dedupe/cluster.py``.

``assign_story`` is the only entry point (poll calls it for each new item, oldest first). An item joins a story when
a stored item has its canonical URL or exact fingerprint (any age), else when the clusterer finds a near-copy or the
same event among the stories active within the time window; otherwise it starts a new story. Joining never
re-clusters history and never creates a second article: it updates the story's heat (``source_count`` of distinct
sources, ``item_count``, ``last_seen_at``, the centroid and entity counts) and, while the story is not yet written,
makes the richest member its lead (the item the article is written from).

The recent stories are loaded once per session into a ``StoryIndex`` (``session.info``) and kept up to date as items
are assigned, so a poll of many items reads the store once.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..dedupe.cluster import ClusterParams, Doc, StoryIndex, StoryState
from ..embeddings import Embedder, default_embedder
from ..store.tables import ItemRow, StoryRow, utcnow
from ..text import EMPTY_FINGERPRINT

_INDEX_KEY = "newsroom.story_index"
MAX_ENTITY_KEYS = 64
PARAMS = ClusterParams()


def find_match(session: Session, item: ItemRow) -> ItemRow | None:
    """The oldest stored item (other than ``item``) with the same canonical URL or fingerprint that has a story."""
    conditions = []
    if item.url:
        conditions.append(ItemRow.url == item.url)
    if item.fingerprint and item.fingerprint != EMPTY_FINGERPRINT:
        conditions.append(ItemRow.fingerprint == item.fingerprint)
    if not conditions:
        return None
    query = (
        select(ItemRow)
        .where(or_(*conditions), ItemRow.id != item.id, ItemRow.story_id.is_not(None))
        .order_by(ItemRow.id)
        .limit(1)
    )
    return session.scalars(query).first()


def item_doc(item: ItemRow) -> Doc:
    fp = item.fingerprint if item.fingerprint != EMPTY_FINGERPRINT else ""
    return Doc(
        title=item.title,
        text=item.summary or item.content[:400],
        url=item.url,
        fingerprint=fp,
        published=item.published_at.timestamp(),
        source=item.source_key,
    )


def _state_from_row(row: StoryRow, dim: int) -> StoryState:
    centroid = np.asarray(row.centroid, dtype=np.float32) if row.centroid else np.zeros(dim, dtype=np.float32)
    first = row.first_seen_at or row.created_at
    last = row.last_seen_at or row.updated_at
    return StoryState(
        story_id=row.id,
        centroid=centroid,
        count=row.item_count or 1,
        first_seen=first.timestamp(),
        last_seen=last.timestamp(),
        keys=Counter({k: int(v) for k, v in (row.entity_counts or {}).items()}),
    )


def _load_index(session: Session, around: datetime, embedder: Embedder) -> StoryIndex:
    """The stories seen within two windows of ``around``, with their members' URLs, fingerprints and texts."""
    dim = embedder.dim
    index = StoryIndex(dim, PARAMS)
    since = around - timedelta(hours=2 * PARAMS.window_hours)
    rows = list(session.scalars(select(StoryRow).where(StoryRow.last_seen_at >= since, StoryRow.centroid.is_not(None))))
    members: dict[int, list[Doc]] = {r.id: [] for r in rows}
    ids = list(members)
    for start in range(0, len(ids), 500):
        for item in session.scalars(select(ItemRow).where(ItemRow.story_id.in_(ids[start : start + 500]))):
            members[item.story_id].append(item_doc(item))  # type: ignore[index]
    for row in rows:
        state = _state_from_row(row, dim)
        state.sources = {d.source for d in members[row.id]}
        index.load(state, members[row.id])
    titles = [d.title for docs in members.values() for d in docs]
    if titles:  # the running mean the clusterer centres vectors on (embeddings are cached)
        index.observe(embedder.embed(titles))
    return index


def story_index(session: Session, around: datetime, embedder: Embedder) -> StoryIndex:
    index = session.info.get(_INDEX_KEY)
    if index is None:
        index = _load_index(session, around, embedder)
        session.info[_INDEX_KEY] = index
    return index


def _richness(item: ItemRow) -> int:
    return max(len(item.content or ""), len(item.summary or ""))


def _save_state(story: StoryRow, state: StoryState) -> None:
    story.centroid = [round(float(x), 5) for x in state.centroid]
    story.item_count = state.count
    story.entity_counts = dict(state.keys.most_common(MAX_ENTITY_KEYS))
    story.first_seen_at = datetime.fromtimestamp(state.first_seen, tz=UTC)
    story.last_seen_at = datetime.fromtimestamp(state.last_seen, tz=UTC)


def prefetch_vectors(titles: list[str], embedder: Embedder | None = None) -> None:
    """Embed the headlines about to be assigned in one batch; ``assign_story`` then finds them in the embedder's
    cache (embedding one headline per call costs about ten times as much per headline)."""
    (embedder or default_embedder()).embed(titles)


def assign_story(
    session: Session, item: ItemRow, embedder: Embedder | None = None, *, same_event: bool = True
) -> StoryRow:
    """Attach ``item`` (already added to the session) to an existing story or a new one, and return that story.
    With ``same_event`` false (``stories.same_event`` in the config) only exact matches join: no embeddings."""
    if item.id is None:
        session.flush()
    if not same_event:
        return _assign_exact(session, item)
    embedder = embedder or default_embedder()
    index = story_index(session, item.published_at, embedder)
    doc = item_doc(item)
    exact = find_match(session, item)
    story_id = exact.story_id if exact is not None else None
    if story_id is None:
        copy = index.copy_match(doc)
        story_id = copy.story_id if copy else None
    vector = None  # a copy moves no centroid (dedupe/cluster.py): it needs no embedding
    if story_id is None:
        vector = embedder.embed([item.title])[0]
        found = index.similar(doc, vector)
        story_id = found.story_id if found else None
    if story_id is None:
        now = utcnow()
        story = StoryRow(lead_item_id=item.id, status="new", created_at=now, updated_at=now)
        session.add(story)
        session.flush()
        item.story_id = story.id
        _save_state(story, index.add(story.id, doc, vector))
        return story
    story = session.get_one(StoryRow, story_id)
    if story_id not in index.stories:  # an exact match on a story older than the window
        index.load(_state_from_row(story, embedder.dim), [])
    _join(session, story, item)
    _save_state(story, index.add(story.id, doc, vector))
    return story


def _join(session: Session, story: StoryRow, item: ItemRow) -> None:
    """A late member: the story's heat goes up (distinct sources), and while it is unwritten the richest member
    becomes its lead. Never a second article."""
    same_source = session.scalar(
        select(ItemRow.id)
        .where(ItemRow.story_id == story.id, ItemRow.source_key == item.source_key, ItemRow.id != item.id)
        .limit(1)
    )
    if same_source is None:
        story.source_count += 1
    if story.status == "new":
        lead = session.get(ItemRow, story.lead_item_id)
        if lead is None or _richness(item) > _richness(lead):
            story.lead_item_id = item.id
    story.updated_at = utcnow()
    item.story_id = story.id


def _assign_exact(session: Session, item: ItemRow) -> StoryRow:
    """The same link or the same text joins a story; anything else starts one (no centroid: the same-event index
    never loads such a story, so switching ``same_event`` back on later only affects new items)."""
    exact = find_match(session, item)
    now = utcnow()
    if exact is None or exact.story_id is None:
        story = StoryRow(
            lead_item_id=item.id,
            status="new",
            created_at=now,
            updated_at=now,
            first_seen_at=item.published_at,
            last_seen_at=item.published_at,
        )
        session.add(story)
        session.flush()
        item.story_id = story.id
        return story
    story = session.get_one(StoryRow, exact.story_id)
    _join(session, story, item)
    story.item_count = (story.item_count or 1) + 1
    if story.last_seen_at is None or item.published_at > story.last_seen_at:
        story.last_seen_at = item.published_at
    return story

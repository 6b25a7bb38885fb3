"""Which story a new item belongs to. The rule for now: exact matches only.

An item whose canonical URL or exact fingerprint matches a stored item joins that item's story; anything else starts
a new story. Near-duplicate clustering across sources (issue 3) replaces this module's rule behind the same
function, so keep callers to ``assign_story`` alone.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .store.tables import ItemRow, StoryRow, utcnow
from .text import EMPTY_FINGERPRINT


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


def assign_story(session: Session, item: ItemRow) -> StoryRow:
    """Attach ``item`` (already added to the session) to an existing story or a new one, and return that story."""
    if item.id is None:
        session.flush()
    match = find_match(session, item)
    if match is None or match.story_id is None:
        story = StoryRow(lead_item_id=item.id, status="new")
        session.add(story)
        session.flush()
        item.story_id = story.id
        return story
    story = session.get_one(StoryRow, match.story_id)
    same_source = session.scalar(
        select(ItemRow.id)
        .where(ItemRow.story_id == story.id, ItemRow.source_key == item.source_key, ItemRow.id != item.id)
        .limit(1)
    )
    if same_source is None:
        story.source_count += 1
    story.updated_at = utcnow()
    item.story_id = story.id
    return story

"""select and updates: skipped stories with their reason, the update state of written stories, article sources

Revision ID: 0030
Revises: 0020
Create Date: 2026-11-26 04:00:00

- ``stories.skip_reason``: why the select stage skipped the story (status ``skipped``); ``select_bypass``: an editor
  asked for the article anyway ("write anyway"), so select lets it through.
- ``stories.written_through``: the newest member item the article was written from; members above it are news the
  update stage looks at. ``update_count`` / ``last_update_at`` bound the updates. ``score_sources``: the distinct
  sources the stored score counts.
- ``articles.sources``: the other sources (name, url) the article was written from (frontmatter ``sources``);
  ``articles.importance``: the model's judgement at write time, so the score is recomputed as sources join.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, never batch mode: on SQLite a batch re-creates the table, and dropping the old ``stories``
    # with foreign keys on would fire ON DELETE (items.story_id set to NULL, articles deleted)
    for column in (
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("select_bypass", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("selected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("written_through", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("score_sources", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("update_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_update_at", sa.DateTime(timezone=True), nullable=True),
    ):
        op.add_column("stories", column)
    op.add_column("articles", sa.Column("sources", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("articles", sa.Column("importance", sa.Integer(), nullable=True))
    # stories written before this migration: their members so far are what the article knows
    op.execute(
        "UPDATE stories SET written_through = COALESCE((SELECT MAX(items.id) FROM items"
        " WHERE items.story_id = stories.id), 0), score_sources = source_count WHERE status = 'written'"
    )


def downgrade() -> None:
    for name in ("importance", "sources"):
        op.drop_column("articles", name)
    for name in (
        "last_update_at",
        "update_count",
        "score_sources",
        "written_through",
        "selected_at",
        "select_bypass",
        "skip_reason",
    ):
        op.drop_column("stories", name)

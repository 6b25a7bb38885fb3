"""stories: clustering state (centroid, member count, entity keys, first/last seen)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("centroid", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("item_count", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("entity_counts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_stories_last_seen", ["last_seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index("ix_stories_last_seen")
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("first_seen_at")
        batch_op.drop_column("entity_counts")
        batch_op.drop_column("item_count")
        batch_op.drop_column("centroid")

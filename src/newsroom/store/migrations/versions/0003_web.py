"""web: sources an editor added or paused

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:30:00

``sources.origin`` is ``config`` for sources that come from newsroom.toml and ``editor`` for sources added in the
editorial UI/API (config sync leaves those alone); ``sources.paused`` is an editor's "disable", which config sync
respects instead of re-enabling the source on the next poll.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), nullable=False, server_default="config"))
        batch_op.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("paused")
        batch_op.drop_column("origin")

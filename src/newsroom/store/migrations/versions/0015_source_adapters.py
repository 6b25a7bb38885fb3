"""sources: adapter options, cursors, relayed publishers, skipped-entry counts; items: language and signals

Revision ID: 0015
Revises: 0005
Create Date: 2026-11-26 03:40:00

``sources.options`` holds a source's adapter settings (the API's key variable and filters, the language);
``sources.cursor`` what an adapter resumes from; ``sources.parent`` the relay source (the CoinDesk Data API) that
created a publisher's row; ``sources.skip_counts`` / ``last_skips`` the entries not stored, by reason.
``items.language`` is the item's language; ``items.signals`` what the source itself says (the API's SENTIMENT).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("cursor", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("parent", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("skip_counts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("last_skips", sa.JSON(), nullable=True))
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("signals", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("signals")
        batch_op.drop_column("language")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        for name in ("last_skips", "skip_counts", "parent", "cursor", "options"):
            batch_op.drop_column(name)

"""work claimed in the database; failed stories retried with backoff, never dropped

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 04:10:00

``stories.claimed_by`` / ``claim_expires_at``: the process working on a story and until when its lease holds (taken
with one atomic UPDATE … WHERE unclaimed or expired, renewed while the work goes on), so any number of processes
share one database without doing a story twice. ``stories.next_attempt_at``: when a story that failed is due again
(capped exponential backoff). Stories that an older release marked ``failed`` for good become pending again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE stories SET status = 'new' WHERE status = 'failed'")


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("claim_expires_at")
        batch.drop_column("claimed_by")

"""web: UI sessions signed out before they expire

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 21:50:00

Session cookies are signed and carry their own expiry; signing out records the session's nonce here until then, so
a copy of the cookie is refused too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )


def downgrade() -> None:
    op.drop_table("revoked_sessions")

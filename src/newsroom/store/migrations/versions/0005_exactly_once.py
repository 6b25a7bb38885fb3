"""exactly once: a story's slug fixed before the model is called; model calls recorded before they are made

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 04:00:00

``stories.slug``: chosen from the lead item's headline before the write call, so a crash and a rerun (whose model
gives another title) still write the same file. ``model_calls.call_key``: the id a provider gives one HTTP attempt;
its row is inserted as ``started`` before the request and completed after it, so a call whose result a crash lost
is still counted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("slug", sa.String(length=200), nullable=True))
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(sa.Column("call_key", sa.String(length=36), nullable=True))
        batch.create_index("ix_model_calls_call_key", ["call_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_index("ix_model_calls_call_key")
        batch.drop_column("call_key")
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("slug")

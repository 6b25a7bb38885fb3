"""model_replies: a model's valid reply committed as soon as it arrives, reused by the rerun after a crash

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-26 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("prompt_key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_replies_story_prompt", "model_replies", ["story_id", "prompt_key"])


def downgrade() -> None:
    op.drop_index("ix_model_replies_story_prompt", table_name="model_replies")
    op.drop_table("model_replies")

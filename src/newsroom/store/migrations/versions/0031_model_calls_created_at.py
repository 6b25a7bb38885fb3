"""model_calls.created_at indexed: the daily budget sums today's calls before every model call

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-26 05:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_model_calls_created_at", "model_calls", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_model_calls_created_at", table_name="model_calls")

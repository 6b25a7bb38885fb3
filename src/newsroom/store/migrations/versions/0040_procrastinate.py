"""procrastinate's job queue schema (PostgreSQL only): the tables, types and functions `newsroom worker` needs

Revision ID: 0040
Revises: 0031
Create Date: 2026-11-26 06:10:00

procrastinate 3.x ships its schema as SQL (``procrastinate/sql/schema.sql``, plus ``sql/migrations/*.sql`` for the
steps between its releases), not as Alembic revisions, so this revision runs that file as the pinned release ships it,
inside our migration transaction: under the advisory lock of ``migrations/env.py``, so two first starts apply it once,
and all of it or none (PostgreSQL's DDL is transactional). The table's comment records the release that made it; a
later upgrade of procrastinate adds a revision that runs the files of ``sql/migrations`` newer than that release.
A database where someone already applied the schema (``procrastinate schema --apply``) is left as it is. SQLite has no
worker (``newsroom run`` is its scheduler), so nothing happens there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0040"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from newsroom.store.db import apply_procrastinate_schema  # the same step as a new database's (create_at_head)

    apply_procrastinate_schema(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in (
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_jobs",
        "procrastinate_workers",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    functions = bind.execute(
        text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname LIKE 'procrastinate%' AND n.nspname = current_schema()"
        )
    ).scalars()
    for signature in list(functions):
        op.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
    for type_name in ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status"):
        op.execute(f"DROP TYPE IF EXISTS {type_name} CASCADE")

"""Alembic environment: runs migrations on the engine handed in by newsroom.store.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from newsroom.store.db import MIGRATION_LOCK, ours
from newsroom.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line use: take the URL from the ini option
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # two first starts on an empty database would both create the tables: the second waits here, then
            # finds them made (PostgreSQL's DDL is transactional; the lock ends with this transaction)
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=ours,
        )
        context.run_migrations()


run()

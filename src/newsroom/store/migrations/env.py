"""Alembic environment: runs migrations on the engine handed in by newsroom.store.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from newsroom.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line use: take the URL from the ini option
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run()

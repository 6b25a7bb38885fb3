"""Fresh PostgreSQL schemas for tests: each test's rows (and a worker's procrastinate tables) stay in their own."""

from __future__ import annotations

import uuid


def fresh_schema(base_url: str) -> tuple[str, str]:
    """Create a new schema; returns a database URL whose search_path is that schema, and the schema's name."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

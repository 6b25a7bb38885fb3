"""Shared fixtures: the real corpus, real stores (SQLite file and the local PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsroom.devtools.scripted_llm import start_scripted_server
from newsroom.store.db import Store
from pg_support import drop_schema, fresh_schema

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("NEWSROOM_CORPUS", REPO.parent / "shared" / "corpus"))
SEED = CORPUS.parent / "seed" / "000_b284967437b5278f.md"
PG_URL = os.environ.get("NEWSROOM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _require(flag: str) -> bool:
    return os.environ.get(flag, "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """``../shared/corpus``: skipped with a reason where absent, a failure in CI (NEWSROOM_REQUIRE_CORPUS=1)."""
    if not (CORPUS / "feeds").is_dir():
        msg = f"the shared corpus is not at {CORPUS} (set NEWSROOM_CORPUS)"
        if _require("NEWSROOM_REQUIRE_CORPUS"):
            pytest.fail(msg)
        pytest.skip(msg)
    return CORPUS


@pytest.fixture(scope="session")
def seed_path(corpus: Path) -> Path:
    if not SEED.is_file():
        pytest.fail(f"the seed article is missing at {SEED}")
    return SEED


def _postgres_available() -> str | None:
    """Return None when the PostgreSQL server answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:  # any failure means "not usable here"
        return f"PostgreSQL at {PG_URL} is not reachable: {exc}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    reason = _postgres_available()
    if reason:
        if _require("NEWSROOM_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    return PG_URL


def _pg_schema_store(base_url: str) -> tuple[Store, str]:
    """A Store confined to a fresh schema, so tests never see each other's rows."""
    url, schema = fresh_schema(base_url)
    return Store(url), schema


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'newsroom.db'}")
    yield store
    store.close()


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    store, schema = _pg_schema_store(postgres_url)
    yield store
    store.close()
    drop_schema(postgres_url, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """The same test on both engines."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    yield request.getfixturevalue(name)


@pytest.fixture(scope="module")
def scripted_llm() -> Iterator[str]:
    """The scripted OpenAI-compatible server (not a model: schema-valid JSON at once) on 127.0.0.1; its base URL."""
    server = start_scripted_server(latency_ms=0)
    yield server.base_url
    server.stop()

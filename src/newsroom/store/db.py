"""Engine, sessions and migrations. SQLite file by default; PostgreSQL (psycopg 3) through the same schema."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time

try:
    import fcntl
except ImportError:  # Windows: no flock; one process migrates at a time there
    fcntl = None  # type: ignore[assignment]
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

    from .batch import BatchWriter

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest migration (``tests/test_store.py`` checks it against the scripts: a new revision updates it). A start
# on a database already there costs one query; alembic (its import and its script folder) only when it is not.
HEAD = "0040"
MIGRATION_LOCK = 0x6E6577730001  # PostgreSQL advisory lock key of a schema change ("news" + 1): migrations/env.py too
# alembic's own version table, as its upgrade creates it (``create_at_head`` stamps a new database at HEAD in it)
_VERSION_TABLE = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)
PING_AFTER_IDLE_S = 10.0  # a pooled PostgreSQL connection idle this long is pinged before use (_ping_when_idle)


class StoreError(Exception):
    """The database could not be opened or migrated; the message says what to check."""


def normalise_url(url: str) -> str:
    """Accept the usual spellings: ``postgresql://`` and ``postgres://`` both mean psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # SQLite's own lower() folds ASCII only; Python's folds every script, so icontains finds "ЗАГОЛОВОК"
            # in "Заголовок" as PostgreSQL's lower() does.
            dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)

        return engine
    engine = create_engine(url, json_serializer=_json_dumps)
    _ping_when_idle(engine, PING_AFTER_IDLE_S)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Check a pooled connection before use only when it has been idle ``idle_s`` or more: what SQLAlchemy's
    ``pool_pre_ping`` does on every checkout, a ``SELECT 1`` round trip before each transaction (on a busy worker one
    in four round trips, about 5,500 for 450 stories). A connection that libpq already knows to be broken is replaced
    at once; a server that restarted within the last ``idle_s`` fails the first transaction on each of its old
    connections, and SQLAlchemy then drops them all (its disconnect handling), as any work in flight at a restart."""

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
            raise DisconnectionError("the connection is closed")
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return  # new, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise DisconnectionError(str(exc)) from exc
            raise
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _json_dumps(value: object) -> str:
    """JSON columns keep non-ASCII text as it is (not ``\\u`` escapes), so text search finds Cyrillic, CJK, …"""
    return json.dumps(value, ensure_ascii=False)


def ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` filter: the job queue's tables (procrastinate's, applied by migration 0040 and
    described by procrastinate's SQL, not by our models) are not ours to compare or drop."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is at ``HEAD``, in one query (no alembic). False when it is not, when there is
    no ``alembic_version`` table yet, and when the query fails for any other reason (``migrate`` then says why)."""
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return False
    return versions == [HEAD]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration. Safe to call on every start, from any number of processes at once:
    PostgreSQL takes an advisory lock inside the migration (migrations/env.py); an SQLite file is locked here. A
    database already at ``HEAD`` costs one query; an empty one is created at ``HEAD`` without alembic
    (``create_at_head``); alembic upgrades the rest."""
    if at_head(engine):
        return
    try:
        with _sqlite_file_lock(engine):
            if not create_at_head(engine):
                from alembic import command

                command.upgrade(alembic_config(engine), "heads")
    except Exception as exc:
        raise StoreError(
            f"could not open or migrate the database at {engine.url.render_as_string(hide_password=True)}: {exc}"
        ) from exc


def create_at_head(engine: Engine) -> bool:
    """Create the newest schema on an empty database in one transaction and stamp it at ``HEAD``, as the migrations
    would leave it: the tables (``tables.Base``, whose columns are declared in the migrations' order), on PostgreSQL
    procrastinate's schema (``apply_procrastinate_schema``, migration 0040's step) and alembic's version table.
    Returns False, changing nothing, when the database already has our tables or a version (alembic migrates those).

    Neither alembic nor the twelve migration scripts are imported or run: on a new SQLite file that was about 0.4 s
    of CPU out of a poll's start (``bench/ingest.py``). ``tests/test_store.py`` checks that the result is the migrated
    schema, table for table and column for column, on SQLite and PostgreSQL; the migrations themselves are still what
    upgrades every database that exists (and what ``tests/test_migration_*.py`` run)."""
    from .tables import Base

    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Python's sqlite3 runs DDL outside any transaction unless one is open: open one, so a start killed half
            # way leaves an empty file, not half a schema without a version
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":  # a second first start waits here, then finds the tables made
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        names = set(inspect(conn).get_table_names())
        if "alembic_version" in names or names & set(Base.metadata.tables):
            conn.rollback()
            return False
        Base.metadata.create_all(conn, checkfirst=False)
        if conn.dialect.name == "postgresql":
            apply_procrastinate_schema(conn)
        conn.execute(text(_VERSION_TABLE))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD})
        conn.commit()
    return True


def apply_procrastinate_schema(conn: Connection) -> None:
    """procrastinate's job queue schema on a PostgreSQL connection, in its transaction (migration 0040, and
    ``create_at_head``), unless someone applied it already (``procrastinate schema --apply``). The file is run as the
    pinned release ships it; the table's comment records that release."""
    if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
        return
    from importlib.metadata import version

    from procrastinate.schema import SchemaManager

    # the driver's own execute, without parameters: the file holds '%' (plpgsql RAISE formats) and many statements
    conn.connection.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]
    release = version("procrastinate")
    conn.execute(text(f"COMMENT ON TABLE procrastinate_jobs IS 'procrastinate {release} schema (newsroom 0040)'"))


def schema_problem(engine: Engine) -> str | None:
    """None when the database answers and its schema is at the newest migration, else what is behind (for
    ``/readyz``). A database that cannot be reached raises SQLAlchemy's error."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return None
    return (
        f"schema at {sorted(current) or 'no migration'}, newest is {sorted(heads)}: run any newsroom command to migrate"
    )


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive flock while an SQLite file is migrated (SQLite runs DDL outside transactions through Python's
    driver, so two first starts could both create a table). The lock is on the file's folder, never on the database
    file itself: closing any other descriptor of that file would drop SQLite's own locks in this process. A no-op for
    other databases, in-memory SQLite and systems without flock."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or fcntl is None:
        yield
        return
    with _flock(Path(path).resolve().parent, os.O_RDONLY):
        yield


@contextmanager
def _flock(path: Path | str, flags: int) -> Iterator[None]:
    """An exclusive flock on ``path`` (opened with ``flags``), held until the block ends (closing releases it)."""
    assert fcntl is not None
    fd = os.open(path, flags, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (a signed 64-bit integer) for a lock's name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class Store:
    """Owns the engine and hands out sessions. Queries live in store/queries.py."""

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        if auto_migrate:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._batch: BatchWriter | None = None

    @property
    def batch(self) -> BatchWriter:
        """The store's group-commit writer (``store/batch.py``): small writes from the event loop, one commit."""
        if self._batch is None:
            from .batch import BatchWriter

            self._batch = BatchWriter(self)
        return self._batch

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lock ``name`` across every process using this database (blocking until it is free): a PostgreSQL
        session advisory lock on its own connection, an flock on ``{file}.{name}.lock`` beside an SQLite file, a
        process-wide lock for in-memory SQLite or where there is no flock. For work that is not one transaction,
        such as a delivery to a publish target (a POST or a push, then its record)."""
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key(name)})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)})
                    conn.commit()
            return
        path = self.engine.url.database if self.dialect == "sqlite" else None
        if path and path != ":memory:" and fcntl is not None:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            with _flock(f"{Path(path).resolve()}.{safe}.lock", os.O_RDWR | os.O_CREAT):
                yield
            return
        with _LOCAL_LOCKS_GUARD:
            lock = _LOCAL_LOCKS.setdefault(name, threading.Lock())
        with lock:
            yield

    def close(self) -> None:
        if self._batch is not None:
            self._batch.close()
        self.engine.dispose()

"""The store on both engines: migrations match the tables, rows round-trip, constraints hold."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, String, cast, inspect, select, text
from sqlalchemy.exc import IntegrityError

from newsroom.llm.base import CallRecord
from newsroom.store import queries
from newsroom.store.db import Store, StoreError, alembic_config, at_head, create_at_head, normalise_url, ours
from newsroom.store.tables import ArticleRow, Base, ItemRow, ModelCallRow, SourceRow, StoryRow
from pg_support import drop_schema, fresh_schema

T0 = datetime(2025, 12, 12, 15, 34, 37, tzinfo=UTC)


def _no_upgrade(*_args: object) -> None:
    raise AssertionError("alembic upgrade on a database at the newest migration")


def _source(key: str = "coindesk") -> SourceRow:
    return SourceRow(key=key, name="CoinDesk", type="RSS", url="https://example.com/rss")


def _item(key: str = "coindesk", ext: str = "55880200") -> ItemRow:
    return ItemRow(
        source_key=key, external_id=ext, url="https://example.com/a", title="t", published_at=T0, fingerprint="f" * 64
    )


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes URLs of new empty databases, SQLite files or PostgreSQL schemas (dropped afterwards)."""
    schemas: list[str] = []
    base = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    def make() -> str:
        if not base:
            return f"sqlite:///{tmp_path / f'{len(list(tmp_path.iterdir()))}.db'}"
        url, schema = fresh_schema(base)
        schemas.append(schema)
        return url

    yield make
    for schema in schemas:
        drop_schema(base, schema)


def _migrated(url: str) -> Store:
    """The database at ``url`` brought to the newest migration by alembic, step by step (a start on an empty
    database creates the schema at once instead: ``create_at_head``)."""
    from alembic import command

    empty = Store(url, auto_migrate=False)
    command.upgrade(alembic_config(empty.engine), "heads")
    return empty


def _schema(engine: Engine) -> dict[str, Any]:
    """Everything the database says about its schema, reflected: each table's columns in order (type, nullability,
    default, comment), keys, foreign keys, indexes, unique and check constraints; on PostgreSQL also the functions,
    types, triggers and sequences (procrastinate's), table comments, and alembic's version."""
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for table in insp.get_table_names():
        out[table] = {
            "columns": [
                (c["name"], repr(c["type"]), c["nullable"], str(c.get("default")), c.get("comment"))
                for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table),
            **{
                kind: sorted(json.dumps(x, sort_keys=True, default=str) for x in get(table))
                for kind, get in (
                    ("fks", insp.get_foreign_keys),
                    ("indexes", insp.get_indexes),
                    ("uniques", insp.get_unique_constraints),
                    ("checks", insp.get_check_constraints),
                )
            },
        }
    with engine.connect() as conn:
        out["version"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if engine.dialect.name == "postgresql":
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            for kind, query in (
                ("functions", "SELECT p.oid::regprocedure::text, md5(p.prosrc) FROM pg_proc p"
                 " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"),
                ("types", "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                 " WHERE n.nspname = current_schema()"),
                ("triggers", "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
                 " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE n.nspname = current_schema() AND NOT t.tgisinternal"),
                ("sequences", "SELECT sequencename, data_type::text FROM pg_sequences"
                 " WHERE schemaname = current_schema()"),
                ("comments", "SELECT c.relname, obj_description(c.oid) FROM pg_class c"
                 " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
                 " AND obj_description(c.oid) IS NOT NULL"),
            ):  # fmt: skip
                rows = conn.execute(text(query)).all()
                # each database's own schema name (a trigger's definition names its table's) set aside
                out[kind] = sorted(tuple(str(v).replace(f"{schema}.", "") for v in row) for row in rows)
        else:
            query = text("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
            out["sqlite_objects"] = sorted(tuple(row) for row in conn.execute(query))
    return out


def test_migrations_match_the_tables(empty_url: Callable[[], str]) -> None:
    migrated = _migrated(empty_url())
    with migrated.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": ours}), Base.metadata)
    migrated.close()
    assert diff == []


def test_a_new_database_is_created_as_the_migrations_leave_it(empty_url: Callable[[], str]) -> None:
    """A start on an empty database creates the newest schema at once (no alembic): the same tables, columns in the
    same order, types, defaults, keys, indexes and constraints as the migrations give, on both engines."""
    migrated, created = _migrated(empty_url()), Store(empty_url())
    try:
        assert _schema(created.engine) == _schema(migrated.engine)
    finally:
        migrated.close()
        created.close()


def test_a_new_database_is_created_without_alembic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic import command

    monkeypatch.setattr(command, "upgrade", _no_upgrade)
    fresh = Store(f"sqlite:///{tmp_path / 'new.db'}")
    assert at_head(fresh.engine) and "items" in fresh.table_names()
    assert not create_at_head(fresh.engine)  # our tables are there: never created twice


def test_a_database_with_tables_but_no_version_is_left_to_alembic(tmp_path: Path) -> None:
    """Something that is not an empty database (here a table of ours without alembic's version) is not created over:
    alembic's upgrade reports the problem, as before."""
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    odd = Store(url, auto_migrate=False)
    with odd.engine.begin() as conn:
        conn.execute(text("CREATE TABLE sources (id INTEGER PRIMARY KEY)"))
    assert not create_at_head(odd.engine)
    with pytest.raises(StoreError):
        Store(url)


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    Store(store.url)  # a second start finds the schema at the newest migration and leaves it
    assert "articles" in store.table_names()
    assert at_head(store.engine)


def test_a_start_migrates_only_a_database_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'n.db'}"
    empty = Store(url, auto_migrate=False)
    assert not at_head(empty.engine)  # no alembic_version table yet
    command.upgrade(alembic_config(empty.engine), "0031")
    assert not at_head(empty.engine)
    assert "model_replies" not in empty.table_names()
    Store(url)  # behind: migrated
    assert at_head(empty.engine) and "model_replies" in empty.table_names()
    monkeypatch.setattr(command, "upgrade", _no_upgrade)
    Store(url)  # at the head: alembic is not asked


def test_rows_round_trip_with_aware_utc(store: Store) -> None:
    kyiv = timezone(timedelta(hours=2))
    with store.session() as s:
        s.add(_source())
        s.flush()
        item = _item()
        item.published_at = T0.astimezone(kyiv)
        item.categories = ["Markets", "Bitcoin News"]
        s.add(item)
        s.flush()
        story = StoryRow(lead_item_id=item.id)
        s.add(story)
        s.flush()
        item.story_id = story.id
        s.add(
            ArticleRow(
                story_id=story.id,
                lang="uk",
                slug="s",
                external_id="55880200",
                translated_from="55880200",
                title="Заголовок",
                description="Опис",
                text={"title": "Заголовок"},
                category="BTC",
                tags=["BTC", "COREWEAVE"],
                sentiment="NEGATIVE",
                published_at=T0,
            )
        )
    with store.session() as s:
        got = s.scalars(select(ItemRow)).one()
        assert got.published_at == T0 and got.published_at.tzinfo is not None
        assert got.categories == ["Markets", "Bitcoin News"]
        art = s.scalars(select(ArticleRow)).one()
        assert art.title == "Заголовок" and art.tags == ["BTC", "COREWEAVE"]
        assert art.version == 1 and art.published_version == 0 and art.draft is True
        assert queries.unpublished_article_ids(s) == [art.id]
        assert queries.pending_story_ids(s) == [art.story_id]
        # JSON columns keep Cyrillic as text, so a text search over the article body finds it
        found = s.scalars(select(ArticleRow.id).where(cast(ArticleRow.text, String).contains("Заголовок"))).all()
        assert found == [art.id]
        # case-insensitive on both engines, Cyrillic included (SQLite's built-in lower() folds ASCII only)
        for needle in ("ЗАГОЛОВОК", "опис"):
            hits = s.scalars(
                select(ArticleRow.id).where(
                    ArticleRow.title.icontains(needle) | ArticleRow.description.icontains(needle)
                )
            ).all()
            assert hits == [art.id]


def test_items_unique_per_source_and_external_id(store: Store) -> None:
    with store.session() as s:
        s.add_all([_source("a"), _source("b")])
    with store.session() as s:
        s.add_all([_item("a", "1"), _item("b", "1")])  # same id, other source: fine
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(_item("a", "1"))
    with store.session() as s:
        assert len(s.scalars(select(ItemRow)).all()) == 2


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive"), store.session() as s:
        s.add(_source())
        s.flush()
        bad = _item()
        bad.published_at = datetime(2025, 1, 1)
        s.add(bad)


def test_call_log_and_stats(store: Store) -> None:
    with store.session() as s:
        queries.add_calls(
            s,
            [
                (CallRecord("write", "openai", "m", 900, 700, 250.0, "ok", cost=0.01), 1),
                (CallRecord("write", "openai", "m", 0, 0, 30000.0, "timeout", error="timed out"), 1),
                (CallRecord("translate", "openai", "m", 800, 650, 240.0, "ok"), 1),
            ],
        )
    with store.session() as s:
        assert s.scalars(select(ModelCallRow)).all()[0].stage == "write"
        data = queries.stats(s)
    assert data["model_usage"]["write"] == {
        "calls": 2,
        "failed_calls": 1,
        "tokens_in": 900,
        "tokens_out": 700,
        "seconds": 30.25,
        "cost": 0.01,
    }
    assert data["model_usage"]["translate"]["tokens_out"] == 650


def test_url_spellings() -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_story_contexts_load_in_chunks_and_keep_the_order(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with store.session() as s:
        s.add_all([_source("a"), _source("b")])
        s.flush()
        ids = []
        for n in range(5):
            item = _item("a" if n % 2 else "b", ext=f"x{n}")
            s.add(item)
            s.flush()
            story = StoryRow(lead_item_id=item.id)
            s.add(story)
            s.flush()
            ids.append(story.id)
    monkeypatch.setattr(queries, "_IN_CHUNK", 2)
    wanted = [ids[3], ids[0], ids[4], ids[1], ids[2]]
    with store.session() as s:
        contexts = queries.story_contexts(s, wanted)
    assert [c.story.id for c in contexts] == wanted
    assert all(c.lead.id == c.story.lead_item_id and c.source.key == c.lead.source_key for c in contexts)
    assert all(c.articles == {} for c in contexts)


def test_migrations_form_one_line(store: Store) -> None:
    """Work that lands in parallel must be linearised: one head, each revision after the one before."""
    from alembic.script import ScriptDirectory

    from newsroom.store.db import HEAD, alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(store.engine))
    assert scripts.get_heads() == [HEAD]  # db.HEAD names the newest migration: a start at it skips alembic
    revisions = list(scripts.walk_revisions())
    assert [r.revision for r in revisions] == sorted((r.revision for r in revisions), reverse=True)


def test_postgres_pings_a_connection_only_after_it_idled(pg_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pooled PostgreSQL connection used a moment ago goes without the ``SELECT 1`` round trip that
    ``pool_pre_ping`` made before every transaction; one idle for ``PING_AFTER_IDLE_S`` is pinged, and one whose server
    side is gone is replaced before the transaction instead of failing it."""
    from sqlalchemy import event, text

    from newsroom.store import db

    statements: list[str] = []
    event.listen(pg_store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    pings = []
    real_ping = pg_store.engine.dialect.do_ping
    monkeypatch.setattr(pg_store.engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    for _ in range(5):
        with pg_store.session() as s:
            assert s.scalar(text("SELECT 41 + 1")) == 42
    assert pings == []
    assert len(statements) == 5

    with pg_store.session() as s:  # the server ends this connection's backend while it idles in the pool
        pid = s.scalar(text("SELECT pg_backend_pid()"))
    clock = [db.time.monotonic()]
    monkeypatch.setattr(db.time, "monotonic", lambda: clock[0])
    import psycopg

    with psycopg.connect(str(pg_store.url).replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    clock[0] += db.PING_AFTER_IDLE_S + 1
    with pg_store.session() as s:
        assert s.scalar(text("SELECT pg_backend_pid()")) != pid  # a fresh connection, and no error
    assert pings  # the idle connection was pinged (and found dead)

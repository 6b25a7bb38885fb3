"""Migration 0030 (select and updates) on a store that already holds written stories: nothing is lost (no SQLite
table re-creation whose drop would cascade), and written stories count their members so far as written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from newsroom.store.db import alembic_config, make_engine
from pg_support import drop_schema, fresh_schema

ROWS = [
    "INSERT INTO sources (key,name,type,url,enabled,interval_seconds,weight,error_count,items_seen,origin,paused)"
    " VALUES ('a','A','RSS','http://a',true,600,1,0,0,'config',false)",
    "INSERT INTO stories (id,lead_item_id,status,source_count,attempts,created_at,updated_at,item_count)"
    " VALUES (1,1,'written',2,0,'2026-01-01','2026-01-01',2)",
    *(
        "INSERT INTO items (id,source_key,external_id,url,title,summary,content,categories,published_at,fetched_at,"
        f"fingerprint,story_id) VALUES ({i},'a','x{i}','u','t','s','c','[]','2026-01-01','2026-01-01','f',1)"
        for i in (1, 2)
    ),
    "INSERT INTO articles (story_id,lang,slug,external_id,translated_from,title,description,text,category,tags,"
    "sentiment,score,sticky_weight,draft,draft_reasons,locked,cover_image,image_query,version,published_version,"
    "published_at,created_at,updated_at) VALUES (1,'en','s','x1','x1','t','d','{}','BTC','[]','NEUTRAL',40,0,false,"
    "'[]',false,'{}','q',1,1,'2026-01-01','2026-01-01','2026-01-01')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    url, schema = fresh_schema(base)
    yield url
    drop_schema(base, schema)


def test_upgrade_keeps_every_row(url: str) -> None:
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as c:
        for sql in ROWS:
            c.execute(text(sql))
    command.upgrade(alembic_config(engine), "heads")
    with engine.connect() as c:
        assert c.execute(text("SELECT id, story_id FROM items ORDER BY id")).all() == [(1, 1), (2, 1)]
        assert c.execute(text("SELECT count(*) FROM articles")).scalar() == 1
        row = c.execute(text("SELECT written_through, score_sources, update_count, skip_reason FROM stories")).one()
        assert tuple(row) == (2, 2, 0, None)
    command.downgrade(alembic_config(engine), "-1")  # 0030 only
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM articles")).scalar() == 1
    engine.dispose()

"""`newsroom demo` for real: the bundled feed on 127.0.0.1, the embedded model in process, en + uk files on disk.

One story keeps it to about a minute on 2 cores; `make demo` runs all three the same way.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from newsroom.cli import app
from newsroom.demo import demo_feed_bytes
from newsroom.headings import HEADINGS
from newsroom.publish.markdown import split_article

SEED_KEYS = [
    "title", "description", "publishedAt", "updatedAt", "lang", "externalId", "source", "category", "tags",
    "stickyWeight", "sentiment", "score", "draft", "coverImage", "ai",
]  # fmt: skip


def test_demo_feed_can_be_cut_to_fewer_stories() -> None:
    import feedparser

    for n in (1, 2, 3):
        parsed = feedparser.parse(demo_feed_bytes(n))
        assert not parsed.bozo and len(parsed.entries) == n
    assert demo_feed_bytes() == demo_feed_bytes(None)


@pytest.mark.model
def test_demo_writes_drafts_in_both_languages_with_the_embedded_model(tmp_path: Path, seed_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--stories", "1"])
    assert result.exit_code == 0, result.output
    assert "tiny base model" in result.output and "not instruction-tuned" in result.output

    files = sorted((tmp_path / "content").rglob("*.md"))
    assert [f.parent.name for f in files] == ["en", "uk"]
    assert files[0].name == files[1].name  # one slug per story across languages
    _, seed_body = split_article(seed_path.read_text(encoding="utf-8"))
    seed_headings = re.findall(r"^## (.+)$", seed_body, flags=re.M)
    for f in files:
        front, body = split_article(f.read_text(encoding="utf-8"))
        data = yaml.safe_load(front)
        assert list(data)[: len(SEED_KEYS)] == SEED_KEYS
        assert data["draft"] is True  # a base model's text is never published live
        assert data["ai"]["model"] == "gemma-3-270m-q4_k_m" and data["ai"]["translatedFrom"] == "demo-0001"
        assert data["sourceUrl"] == "http://demo.invalid/news/harbor-exchange-staking"  # utm_ stripped
        h = HEADINGS[data["lang"]]
        headings = re.findall(r"^## (.+)$", body, flags=re.M)
        assert headings[0] == h.overview
        assert headings[-3:] == [h.why_it_matters, h.from_the_author, h.market_impact]
        if data["lang"] == "uk":  # the seed is Ukrainian: its fixed headings are the contract
            assert headings[0] == seed_headings[0] and headings[-3:] == seed_headings[-3:]

    with sqlite3.connect(tmp_path / "newsroom.db") as db:
        calls = db.execute("select stage, provider, outcome, tokens_in, tokens_out from model_calls").fetchall()
        drafts = db.execute("select lang, draft, draft_reasons from articles order by lang").fetchall()
    assert sorted(c[0] for c in calls if c[2] == "ok") == ["translate", "write"]
    assert all(c[1] == "local" and c[3] > 0 for c in calls)
    assert [(lang, draft) for lang, draft, _ in drafts] == [("en", 1), ("uk", 1)]
    assert all("model-not-publishable" in reasons for _, _, reasons in drafts)

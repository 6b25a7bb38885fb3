"""The command line: init, poll, stats, and how it reports a bad config."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from newsroom.cli import app

runner = CliRunner()


def _config(tmp_path: Path, feed_url: str) -> Path:
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(
        f"""
database_url = "sqlite:///n.db"
[fetch]
allow_private_networks = true
[[sources]]
key = "coindesk"
name = "CoinDesk"
url = "{feed_url}"
""",
        encoding="utf-8",
    )
    return cfg


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "newsroom.toml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert "7 sources" in result.output and "en, uk" in result.output
    assert "[[sources]]" in target.read_text()
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["init", str(target), "--force"]).exit_code == 0


def test_bad_config_is_reported_not_raised(tmp_path: Path) -> None:
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text('[llm]\nprovider = "gpt-5"\n', encoding="utf-8")
    result = runner.invoke(app, ["stats", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "llm.provider" in result.output and "Traceback" not in result.output


def test_poll_then_stats(tmp_path: Path, httpserver: HTTPServer, corpus: Path) -> None:
    httpserver.expect_request("/rss").respond_with_data(
        (corpus / "feeds" / "coindesk.rss").read_bytes(), content_type="application/rss+xml"
    )
    cfg = _config(tmp_path, httpserver.url_for("/rss"))
    polled = runner.invoke(app, ["poll", "--config", str(cfg)])
    assert polled.exit_code == 0, polled.output
    assert "coindesk" in polled.output and (tmp_path / "n.db").exists()

    stats = runner.invoke(app, ["stats", "--json", "--config", str(cfg)])
    assert stats.exit_code == 0, stats.output
    data = json.loads(stats.stdout)
    # 25 items; same-event clustering (stories.py) may put related CoinDesk items into one story
    assert data["items"] == 25 and 1 <= data["stories"]["new"] <= 25
    assert data["articles"] == {} and data["model_usage"] == {}
    assert data["sources"][0]["key"] == "coindesk" and data["sources"][0]["status"] == "ok"

    table = runner.invoke(app, ["stats", "--config", str(cfg)])
    assert table.exit_code == 0 and "items: 25" in table.output

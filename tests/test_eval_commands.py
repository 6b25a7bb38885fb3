"""`newsroom eval sentiment` and `newsroom eval dedupe` on small files the tests write, and on the dev corpus."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from newsroom.cli import app

runner = CliRunner()

SENTIMENT_ROWS = [
    ("Bitcoin soars to record high as ETF inflows surge", 1),
    ("Exchange hacked, $200 million stolen from hot wallets", -1),
    ("Crypto lender files for bankruptcy after withdrawals halted", -1),
    ("Ethereum rallies as staking upgrade goes live", 1),
    ("What is a blockchain oracle? An explainer", 0),
    ("Conference schedule announced for next spring", 0),
]
UCI_HEADER = ["ID", "TITLE", "URL", "PUBLISHER", "CATEGORY", "STORY", "HOSTNAME", "TIMESTAMP"]
UCI_ROWS = [
    ("SEC approves BlackRock and Fidelity spot bitcoin ETFs", "s1", 1000),
    ("SEC gives green light to spot bitcoin ETFs from BlackRock, Fidelity", "s1", 2000),
    ("Halvard Capital sells 4,210 BTC worth $262 million, filing shows", "s2", 3000),
    ("Bitcoin treasury firm Halvard Capital sells 4,210 BTC", "s2", 4000),
    ("McDonald's February sales slip on US weakness", "s3", 5000),
]


def _last_json(output: str) -> dict[str, float]:
    return json.loads(output.strip().splitlines()[-1])


def test_eval_sentiment_on_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "headline", "label"])
        w.writerows((i, h, y) for i, (h, y) in enumerate(SENTIMENT_ROWS))
    result = runner.invoke(app, ["eval", "sentiment", "--csv", str(path)])
    assert result.exit_code == 0, result.output
    out = _last_json(result.stdout)
    assert set(out) == {"n", "macro_f1", "accuracy", "seconds"}
    assert out["n"] == 6 and out["accuracy"] >= 4 / 6  # clear-cut headlines
    assert 0 <= out["macro_f1"] <= 1


def test_eval_dedupe_on_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(UCI_HEADER)
        for i, (title, story, ts) in reversed(list(enumerate(UCI_ROWS))):  # out of order: the command sorts
            w.writerow([i, title, f"https://site{i}.example/a?utm_source=x", f"Pub {i}", "b", story, "h", ts])
    result = runner.invoke(app, ["eval", "dedupe", "--csv", str(path)])
    assert result.exit_code == 0, result.output
    out = _last_json(result.stdout)
    assert list(out) == [
        "n", "clusters", "pairwise_precision", "pairwise_recall", "pairwise_f1",
        "bcubed_precision", "bcubed_recall", "bcubed_f1", "seconds", "events", "events_lost", "duplicate_articles",
    ]  # fmt: skip
    assert out["n"] == 5 and out["clusters"] == 3 and out["bcubed_f1"] == 1.0
    assert out["events"] == 3 and out["events_lost"] == 0 and out["duplicate_articles"] == 0


def test_malformed_files_get_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    r = runner.invoke(app, ["eval", "sentiment", "--csv", str(missing)])
    assert r.exit_code == 2 and "cannot read" in r.output and "Traceback" not in r.output
    bad_cols = tmp_path / "cols.csv"
    bad_cols.write_text("title,sentiment\nx,1\n")
    r = runner.invoke(app, ["eval", "sentiment", "--csv", str(bad_cols)])
    assert r.exit_code == 2 and "missing column(s) headline, label" in r.output
    bad_label = tmp_path / "label.csv"
    bad_label.write_text("headline,label\nfine,1\nodd,7\n")
    r = runner.invoke(app, ["eval", "sentiment", "--csv", str(bad_label)])
    assert r.exit_code == 2 and "line 3" in r.output and "'7'" in r.output
    bad_ts = tmp_path / "ts.csv"
    bad_ts.write_text(",".join(UCI_HEADER) + "\n1,t,u,p,b,s,h,yesterday\n")
    r = runner.invoke(app, ["eval", "dedupe", "--csv", str(bad_ts)])
    assert r.exit_code == 2 and "TIMESTAMP" in r.output and "line 2" in r.output


def test_dedupe_on_the_dev_corpora(corpus: Path) -> None:
    """Regression guards on the dev files (figures in the README; the issue's targets are for held-out files)."""
    result = runner.invoke(app, ["eval", "dedupe", "--csv", str(corpus / "events" / "crypto_events_dev.csv")])
    assert result.exit_code == 0, result.output
    out = _last_json(result.stdout)
    assert out["n"] == 421 and out["events"] == 326
    assert out["bcubed_f1"] >= 0.92 and out["bcubed_precision"] >= 0.95  # every headline alone: 0.873
    assert out["events_lost"] <= 8
    result = runner.invoke(app, ["eval", "dedupe", "--csv", str(corpus / "dedup" / "uci_news_dev.csv")])
    assert result.exit_code == 0, result.output
    out = _last_json(result.stdout)
    assert out["n"] == 2413
    assert out["bcubed_f1"] >= 0.62  # topic-level stories: a floor for cross-publisher paraphrases

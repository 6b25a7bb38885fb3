"""`newsroom eval guards --jsonl FILE`: one verdict per line, then {"n", "flagged", "seconds"} on the last line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from guard_fixtures import FAITHFUL_EN, FAITHFUL_UK, SOURCE, variant
from newsroom.cli import app


def test_eval_guards(tmp_path: Path) -> None:
    lines = [
        {"source": SOURCE, "article": FAITHFUL_EN, "lang": "en"},
        {
            "source": SOURCE,
            "article": variant(FAITHFUL_EN, overview=FAITHFUL_EN["overview"].replace("4.5%", "9%")),
            "lang": "en",
        },
        {"pivot": FAITHFUL_EN, "article": FAITHFUL_UK, "lang": "uk"},
        {"source": SOURCE, "article": "## Огляд\n\nHarbor Exchange залучила 1,2 млрд доларів.", "lang": "uk"},
        {
            "source": SOURCE,
            "article": "Harbor Exchange raised $1.2 billion, as an AI I think it is good.",
            "lang": "en",
        },
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{broken\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "guards", "--jsonl", str(path)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.strip().splitlines()]
    verdicts, summary = out[:-1], out[-1]
    assert [v["flagged"] for v in verdicts] == [False, True, False, False, True, True]
    assert verdicts[1]["reasons"][0].startswith("ungrounded-number")
    assert any(r.startswith("ai-disclaimer") for r in verdicts[4]["reasons"])
    assert verdicts[5]["reasons"][0].startswith("bad-input")
    assert summary["n"] == 6 and summary["flagged"] == 3 and summary["seconds"] >= 0
    missing = CliRunner().invoke(app, ["eval", "guards", "--jsonl", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2


def test_labelled_lines_are_scored_on_the_fact_reasons(tmp_path: Path) -> None:
    """Lines as FRANK gives them (extra keys ignored): the last line scores the reasons about facts."""
    summary = "Harbor Exchange raised $1.2 billion from Northwind Capital and Bluefin Partners."
    lines = [
        {"source": SOURCE, "article": summary, "lang": "en", "label": "faithful", "error_types": [], "id": "a"},
        {"source": SOURCE, "article": summary.replace("1.2", "7.5"), "lang": "en", "label": "error",
         "error_types": ["CircE"], "dataset": "invented"},
        {"source": SOURCE, "article": "Goldman Sachs raised $1.2 billion for Harbor.", "lang": "en",
         "label": "error", "error_types": ["EntE"]},
    ]  # fmt: skip
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "guards", "--jsonl", str(path)])
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["n"] == 3 and last["labelled"] == 3
    assert last["faithful_flagged"] == 0.0 and last["errors_caught"] == 1.0 and last["balanced_accuracy"] == 1.0
    assert last["by_error_type"] == {"CircE": 1.0, "EntE": 1.0}
    assert {"flagged", "seconds", "form_flagged"} <= set(last)


def test_frank_dev_lines_are_read_as_they_are(corpus: Path, tmp_path: Path) -> None:
    lines = (corpus / "guards" / "frank_dev.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    path = tmp_path / "frank40.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "guards", "--jsonl", str(path)])
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert not any(r.startswith("bad-input") for v in out[:-1] for r in v["reasons"])
    last = out[-1]
    assert last["n"] == 40 and last["labelled"] == 40
    assert 0.0 <= last["balanced_accuracy"] <= 1.0 and set(last["by_error_type"]) <= {
        "EntE", "CircE", "OutE", "RelE", "PredE", "CorefE", "LinkE", "GramE", "Other", "OtherE"}  # fmt: skip

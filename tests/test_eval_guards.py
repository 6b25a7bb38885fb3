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

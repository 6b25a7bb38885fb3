"""`--log-format json`: every stderr line of a real run is one JSON object; per-call HTTP/model lines only with -v.

The run polls corpus feeds on 127.0.0.1 and writes with the scripted OpenAI-compatible server
(newsroom.devtools.scripted_llm), in a subprocess, as an operator would start it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from pytest_httpserver import HTTPServer

from newsroom.logs import JsonFormatter
from web_support import serve_feeds

SRC = Path(__file__).resolve().parents[1] / "src"


def _config(tmp_path: Path, httpserver: HTTPServer, corpus: Path, llm_url: str) -> Path:
    sources = "".join(
        f'[[sources]]\nkey = "{s.key}"\nname = "{s.name}"\nurl = "{s.url}"\n' for s in serve_feeds(httpserver, corpus)
    )
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(
        'database_url = "sqlite:///n.db"\nmax_items_per_source = 2\n'
        + sources
        + f'[fetch]\nallow_private_networks = true\n[llm]\nprovider = "openai"\nbase_url = "{llm_url}"\n'
        'model = "scripted"\n[guards]\nenabled = false\n[extract]\nenabled = false\n[stories]\nsame_event = false\n'
        '[publish]\ncontent_dir = "content"\n',
        encoding="utf-8",
    )
    return cfg


def _newsroom(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("NEWSROOM_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "newsroom", *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def _lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines()]  # raises on any line that is not one JSON object


def test_json_formatter_keeps_extras_and_exceptions() -> None:
    try:
        raise ValueError("boom ü")
    except ValueError:
        record = logging.getLogger("newsroom.x").makeRecord(
            "newsroom.x", logging.ERROR, __file__, 1, "story %s failed", (7,), sys.exc_info(), extra={"story": 7}
        )
    obj = json.loads(JsonFormatter().format(record))
    assert obj["level"] == "ERROR" and obj["logger"] == "newsroom.x" and obj["message"] == "story 7 failed"
    assert obj["story"] == 7
    assert "ValueError: boom ü" in obj["exception"]
    assert obj["time"].endswith("Z")


def test_a_run_logs_one_json_object_per_line_and_no_per_call_lines(
    tmp_path: Path, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    cfg = _config(tmp_path, httpserver, corpus, scripted_llm)
    done = _newsroom("--log-format", "json", "run", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stderr)
    assert lines, "the run logged nothing"
    assert all({"time", "level", "logger", "message"} <= set(obj) for obj in lines)
    assert any("writing stories" in obj["message"] for obj in lines)  # the progress, as a log line
    assert not [obj for obj in lines if obj["logger"].startswith(("httpx", "httpcore", "openai"))]
    assert len(list((tmp_path / "content").rglob("*.md"))) == 8  # 2 feeds x 2 items x (en, uk): it did run

    verbose = _newsroom("--log-format", "json", "-v", "poll", "--force", "--config", str(cfg))
    assert verbose.returncode == 0, verbose.stderr
    requests = [obj for obj in _lines(verbose.stderr) if obj["logger"] == "httpx"]
    assert len(requests) == 2 and all("HTTP Request: GET" in obj["message"] for obj in requests)

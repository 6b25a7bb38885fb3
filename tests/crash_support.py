"""Shared by the crash and concurrency tests: a config file for `newsroom run` as a real subprocess (feeds and the
scripted model on 127.0.0.1), and the helpers to start, wait for and kill such processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from newsroom.config import SourceConfig

REPO = Path(__file__).resolve().parent.parent


def write_config(
    tmp_path: Path,
    db_url: str,
    sources: list[SourceConfig],
    llm_url: str,
    *,
    per_feed: int = 4,
    content: Path | None = None,
    extra: str = "",
    **llm: object,
) -> Path:
    llm_lines = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in llm.items())
    feeds = "\n".join(
        f'[[sources]]\nkey = "{s.key}"\nname = "{s.name}"\nurl = "{s.url}"\ninterval_minutes = 1\n' for s in sources
    )
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(
        f"""
database_url = "{db_url}"
languages = ["en", "uk"]
max_items_per_source = {per_feed}
[llm]
provider = "openai"
base_url = "{llm_url}"
model = "scripted"
concurrency = 4
{llm_lines}
[fetch]
allow_private_networks = true
[publish]
content_dir = "{content or tmp_path / "content"}"
[guards]
enabled = false
[extract]
enabled = false
{extra}
{feeds}
""",
        encoding="utf-8",
    )
    return cfg


def start_run(cfg: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "newsroom", "run", "--config", str(cfg), *args],
        cwd=cfg.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for(
    condition: Callable[[], bool],
    timeout: float = 120.0,
    what: str = "condition",
    detail: Callable[[], str] | None = None,
) -> None:
    """Wait until ``condition()``; on timeout fail with ``what`` and, if given, ``detail()`` (logs, rows: what a
    failure on a CI machine needs to be understood)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n{detail()}" if detail else ""))
        time.sleep(0.05)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

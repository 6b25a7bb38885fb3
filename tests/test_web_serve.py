"""`newsroom serve` as a user starts it: a real process, host and port from the config, the token from the env."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOKEN = "serve-test-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_api_feeds_and_refuses_unsigned_writes(tmp_path: Path) -> None:
    port = _free_port()
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "n.db"}"\n'
        'languages = ["en", "uk"]\n'
        f'[web]\nhost = "127.0.0.1"\nport = {port}\n',
        encoding="utf-8",
    )
    env = {**os.environ, "NEWSROOM_ADMIN_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsroom", "serve", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "newsroom serve exited early"
            assert time.monotonic() < deadline, "newsroom serve did not answer within 60 s"
            time.sleep(0.3)
        assert httpx.get(f"{base}/api/v1/articles").json()["items"] == []
        feed = httpx.get(f"{base}/feeds/uk/feed.json")
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/feed+json")
        refused = httpx.post(f"{base}/api/v1/sources", json={"key": "x", "name": "X", "url": "https://x.example/"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode("utf-8", "replace")
    assert f"serving on http://127.0.0.1:{port}/" in output
    assert TOKEN not in output  # the secret never reaches the log

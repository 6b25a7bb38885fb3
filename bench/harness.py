"""Shared by the benchmarks: the scripted model server as its own process, a config for `newsroom` on loopback and
`newsroom` commands as subprocesses (bench/chaos.py, bench/outage.py), and newsroom's bytecode compiled before a bench
starts it (``compile_package``: bench/pipeline.py, bench/startup.py).

The scripted server (newsroom.devtools.scripted_llm) is NOT a model: it answers schema-valid JSON after a fixed
latency, counts what it saw (``/_stats``), says how many requests were open at an instant (``/_in_flight``) and can
play an outage (``/_outage``: HTTP 503 to everything). ``BENCH_VERBOSE=1`` runs the `newsroom` commands with ``-v``
(debug logs, every HTTP request, in the run.log of ``--workdir``).
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


class Compiled(NamedTuple):
    wall_s: float
    cpu_s: float


def compile_package() -> Compiled:
    """Compile newsroom's bytecode (``compileall``, what ``pip install`` does), without importing newsroom; the wall
    and CPU seconds it took (about 0 once the ``__pycache__`` is current).

    Python reads a current ``__pycache__`` even where ``PYTHONDONTWRITEBYTECODE`` is set (as in this environment), it
    only never writes one: without this, every fresh process, and a bench's own, would compile newsroom's ~100
    modules from source again (about 0.2 s of CPU) that an installed package never pays. Call it before newsroom's
    first import and leave what it returns out of the startup figures."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    spec = importlib.util.find_spec("newsroom")  # finds the package without running its __init__
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)
    return Compiled(time.perf_counter() - t0, time.process_time() - cpu0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ScriptedServer:
    """`python -m newsroom.devtools.scripted_llm` in a subprocess on a fixed port (restartable on the same port)."""

    def __init__(self, latency_ms: float, port: int | None = None) -> None:
        self.latency_ms = latency_ms
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def v1(self) -> str:
        return f"{self.base}/v1"

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "newsroom.devtools.scripted_llm", "--port", str(self.port), "--latency-ms",
             str(self.latency_ms)],
            env=ENV,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.stats()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base}{path}", timeout=10) as r:
            return json.loads(r.read())

    def _post(self, path: str, body: Any) -> Any:
        req = urllib.request.Request(
            f"{self.base}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stats(self) -> dict[str, Any]:
        return dict(self._get("/_stats"))

    def in_flight_at(
        self, at: float, arrived_by: float, since: float, within: float = 1.0, client: str | None = None
    ) -> tuple[int, int]:
        """(requests that arrived after ``since`` and were open at ``at``, those finished in the ``within`` seconds
        before it); only those of the client with API key ``client`` when given."""
        who = f"&client={urllib.parse.quote(client)}" if client is not None else ""
        got = self._get(f"/_in_flight?at={at!r}&arrived_by={arrived_by!r}&since={since!r}&within={within!r}{who}")
        return int(got["in_flight"]), int(got["finished_within"])

    def outage(self, seconds: float) -> None:
        self._post("/_outage", {"seconds": seconds})


def write_config(
    folder: Path, *, database_url: str, feed_url: str, llm_url: str, items: int, extra_stories: str = ""
) -> Path:
    """A config for `newsroom` on loopback: one feed, the scripted model, guards, page fetching and same-event
    embeddings off (the scripted text is no article; the feed's links lead nowhere), en + uk."""
    cfg = folder / "newsroom.toml"
    cfg.write_text(
        f"""
database_url = "{database_url}"
languages = ["en", "uk"]
max_items_per_source = {items}
[llm]
provider = "openai"
base_url = "{llm_url}"
model = "scripted"
concurrency = 8
max_retries = 0
timeout_seconds = 30
[fetch]
allow_private_networks = true
[publish]
content_dir = "{folder / "content"}"
[guards]
enabled = false
[extract]
enabled = false
[images]
provider = "none"
[stories]
same_event = false
{extra_stories}
[[sources]]
key = "wire"
name = "Wire"
url = "{feed_url}"
interval_minutes = 1
""",
        encoding="utf-8",
    )
    return cfg


def newsroom(cfg: Path, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`python -m newsroom ARGS --config CFG` as a subprocess (stderr to ``log`` when given)."""
    err = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsroom",
            *(["-v"] if os.environ.get("BENCH_VERBOSE") else []),
            *args,
            "--config",
            str(cfg),
        ],
        cwd=cfg.parent,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )

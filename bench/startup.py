"""Benchmark: process start of the ``newsroom`` command, each in a fresh process, as a user pays it.

- ``newsroom --help`` and ``newsroom stats`` (light commands: no torch, no encoders, no model client);
- ``newsroom poll`` of a synthetic feed with same-event clustering off (no encoders) and on (MiniLM embeds the
  headlines), each on an empty database (migrations included) and on one already at the newest migration;
- ``newsroom run`` on the default configuration (the bench's feed and the scripted OpenAI-compatible server, as in
  ``bench/pipeline.py``): wall and CPU seconds from the process's start to the first model request the server sees
  (goal <= 3 s), on an empty database and on one already migrated; then the whole run's CPU and peak RSS.

The scripted server runs in this process (``newsroom.devtools.scripted_llm``, 250 ms latency, ``--grounded``); the
first request's arrival is read from its timeline (``time.monotonic``, one clock for the machine's processes), and the
command's CPU seconds at that moment from ``/proc`` (user + system, all threads). Each measure is repeated
``--repeat`` times; the table shows the median, the JSON every run. Timings depend on the machine's load: the JSON
records ``uptime`` before and after. The package's bytecode is compiled first (``compileall``), as an installed
package's is: where ``PYTHONDONTWRITEBYTECODE`` is set, every start would otherwise compile newsroom's ~100 modules
from source again (about 0.2 s of CPU).

    .venv/bin/python bench/startup.py               # 3 repeats, 20 stories
    .venv/bin/python bench/startup.py --repeat 1    # quick look

Prints a table and writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from harness import compile_package  # noqa: E402
from newsroom.demo import serve_demo_feed  # noqa: E402
from newsroom.devtools.scripted_llm import start_scripted_server  # noqa: E402
from pipeline import synthetic_feed  # noqa: E402  (bench/pipeline.py: the same invented stories)

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process, all its threads (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def config_text(tmp: Path, feed_url: str, base_url: str, stories: int, *, same_event: bool = True) -> str:
    """The defaults, except where the bench's servers and files are (as bench/pipeline.py's Settings)."""
    return f"""
database_url = "sqlite:///{tmp}/bench.db"
languages = ["en", "uk", "de"]
pivot_language = "en"
max_items_per_source = {stories}

[llm]
provider = "openai"
base_url = "{base_url}"
model = "scripted"
structured_output = "json_schema"
concurrency = 32
timeout_seconds = 30

[fetch]
allow_private_networks = true

[publish]
content_dir = "{tmp}/content"

[stories]
same_event = {"true" if same_event else "false"}

[[sources]]
key = "bench"
name = "Bench Wire"
url = "{feed_url}"
"""


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsroom", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OPENAI_API_KEY", "bench")
    env.pop("NEWSROOM_CONFIG", None)
    return env


TIME = Path("/usr/bin/time")


class Child:
    """A command started through ``/usr/bin/time`` where there is one: a process forked from this (large) one
    inherits its peak RSS across ``exec`` (Linux keeps ``ru_maxrss``), so the peak is read from a process forked by
    the small ``time`` instead. Without it, the peak read from ``wait4`` is at least this process's own."""

    def __init__(self, args: list[str]) -> None:
        self.report = Path(tempfile.mkstemp(prefix="startup-rss-")[1])
        wrap = [str(TIME), "-f", "%M", "-o", str(self.report)] if TIME.exists() else []
        self.proc = subprocess.Popen([*wrap, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env())
        self.pid = self.proc.pid
        if wrap:  # the command itself: time's child
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
                except OSError:
                    break
                if kids:
                    self.pid = int(kids[0])
                    break
                time.sleep(0.001)

    def wait(self) -> dict[str, float]:
        _, status, usage = os.wait4(self.proc.pid, 0)  # time's rusage includes its child's (the command)
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        self.proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code:
            raise SystemExit(f"{' '.join(self.proc.args)} exited {code}:\n{err[-2000:]}")  # type: ignore[arg-type]
        peak = usage.ru_maxrss / 1024
        with contextlib.suppress(OSError, ValueError, IndexError):
            peak = int(self.report.read_text().split()[-1]) / 1024
        self.report.unlink(missing_ok=True)
        return {"cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak}


def timed(args: list[str]) -> dict[str, float]:
    """Run a command to its end: wall, CPU (user + system) and peak RSS of the process."""
    t0 = time.perf_counter()
    done = Child(args).wait()
    return {"wall_s": time.perf_counter() - t0} | done


def run_to_first_request(args: list[str], server: Any) -> dict[str, float]:
    """Start ``newsroom run``; time the first model request the server sees; then let the run finish."""
    server.llm.reset()
    seen = len(server.llm._timeline)
    started = time.monotonic()
    child = Child(args)
    first: dict[str, float] = {}
    while child.proc.poll() is None and not first:
        if len(server.llm._timeline) > seen:
            arrived = server.llm._timeline[seen][0][0]
            first = {
                "to_first_request_s": arrived - started,
                "cpu_to_first_request_s": cpu_of(child.pid),
                "rss_at_first_request_mb": peak_rss_mb(child.pid),
            }
            break
        time.sleep(0.005)
    done = child.wait()
    if not first:
        raise SystemExit(f"{' '.join(args)}: no model request seen")
    return first | {"wall_s": time.monotonic() - started, "model_calls": float(server.llm.requests)} | done


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stories", type=int, default=20)
    ap.add_argument("--only", choices=["help", "stats", "poll", "run"], action="append", help="measure only these")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "startup.json")
    args = ap.parse_args()
    only = set(args.only or ["help", "stats", "poll", "run"])
    compile_package()  # what `pip install` does (bench/harness.py)
    runs: dict[str, list[dict[str, float]]] = {}
    load_before = uptime()
    server = start_scripted_server(latency_ms=250, grounded=True)
    try:
        with serve_demo_feed(synthetic_feed(args.stories)) as feed_url:
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as d:
                    tmp = Path(d)
                    conf = tmp / "newsroom.toml"
                    off = tmp / "off.toml"
                    conf.write_text(config_text(tmp, feed_url, server.base_url, args.stories), encoding="utf-8")
                    off.write_text(
                        config_text(tmp / "off", feed_url, server.base_url, args.stories, same_event=False),
                        encoding="utf-8",
                    )
                    if "help" in only:
                        runs.setdefault("newsroom --help", []).append(timed(command("--help")))
                    if "run" in only:  # first: an empty database
                        runs.setdefault("newsroom run, empty database", []).append(
                            run_to_first_request(command("run", "-c", str(conf)), server)
                        )
                    if "poll" in only:
                        for name, cfg in (("same_event off", off), ("same_event on", conf)):
                            sub = tmp / name.replace(" ", "_")
                            text = cfg.read_text(encoding="utf-8").replace(str(tmp), str(sub))
                            sub.mkdir()
                            (sub / "c.toml").write_text(text, encoding="utf-8")
                            c = str(sub / "c.toml")
                            runs.setdefault(f"newsroom poll, {name}, empty database", []).append(
                                timed(command("poll", "-c", c))
                            )
                            runs.setdefault(f"newsroom poll --force, {name}, database at head", []).append(
                                timed(command("poll", "--force", "-c", c))
                            )
                    if "stats" in only:
                        timed(command("stats", "-c", str(off)))  # migrates an empty database
                        runs.setdefault("newsroom stats, database at head", []).append(
                            timed(command("stats", "-c", str(off)))
                        )
                    if "run" in only:  # a database at the newest migration, nothing stored yet
                        fresh = tmp / "migrated"
                        fresh.mkdir()
                        text = conf.read_text(encoding="utf-8").replace(str(tmp) + "/", str(fresh) + "/")
                        (fresh / "c.toml").write_text(text, encoding="utf-8")
                        timed(command("stats", "-c", str(fresh / "c.toml")))  # migrates, stores nothing
                        runs.setdefault("newsroom run, database at head", []).append(
                            run_to_first_request(command("run", "-c", str(fresh / "c.toml")), server)
                        )
    finally:
        server.stop()
    load_after = uptime()

    def med(name: str, key: str) -> float | None:
        vals = [r[key] for r in runs.get(name, []) if key in r]
        return statistics.median(vals) if vals else None

    table = Table(title=f"process start, median of {args.repeat} ({args.stories} stories; load: see below)")
    for col in ("command", "wall s", "CPU s", "to 1st request s", "CPU to 1st request s", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "command" else "right")
    for name in runs:
        first = med(name, "to_first_request_s")
        cpu_first = med(name, "cpu_to_first_request_s")
        table.add_row(
            name,
            f"{med(name, 'wall_s'):.2f}",
            f"{med(name, 'cpu_s'):.2f}",
            "-" if first is None else f"{first:.2f}",
            "-" if cpu_first is None else f"{cpu_first:.2f}",
            f"{med(name, 'peak_rss_mb'):.0f}",
        )
    console = Console(width=160)
    console.print(table)
    console.print(f"load before: {load_before}\nload after:  {load_after}")
    result = {
        "command": "python bench/startup.py " + " ".join(sys.argv[1:]),
        "uptime_before": load_before,
        "uptime_after": load_after,
        "stories": args.stories,
        "median": {name: {k: med(name, k) for k in runs[name][0]} for name in runs},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

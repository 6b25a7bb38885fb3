"""Process start: a command imports only what it uses (bench/startup.py measures the seconds).

Each command runs in a fresh interpreter, which reports the modules it imported when it exits. The light commands
never import torch or the encoders (hundreds of MB, seconds of CPU), nor the model HTTP client (httpx2), SciPy's
integrals (datasketch through ``dedupe/sketch.py``), alembic (a database already at the newest migration), lingua,
PIL, procrastinate or FastAPI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsroom.demo import serve_demo_feed
from newsroom.store.db import Store

HEAVY = (
    "torch",
    "newsroom.encoders",
    "newsroom.mpnet",
    "newsroom.pipeline",
    "httpx2",
    "scipy.integrate",
    "alembic",
    "lingua",
    "PIL",
    "llama_cpp",
    "procrastinate",
    "fastapi",
)
_REPORT = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["newsroom", *json.loads(sys.argv[1])]
from newsroom.cli import main
main()
"""


def imported_by(*args: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("NEWSROOM_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-c", _REPORT, json.dumps(list(args))], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def _config(tmp_path: Path, feed_url: str, *, same_event: bool) -> Path:
    path = tmp_path / "newsroom.toml"
    path.write_text(
        f"""
database_url = "sqlite:///{tmp_path / "n.db"}"
[fetch]
allow_private_networks = true
[stories]
same_event = {str(same_event).lower()}
[[sources]]
key = "demo"
name = "Demo Wire"
url = "{feed_url}"
""",
        encoding="utf-8",
    )
    Store(f"sqlite:///{tmp_path / 'n.db'}").close()  # at the newest migration, as after any first start
    return path


def test_help_imports_nothing_heavy() -> None:
    modules = imported_by("--help")
    assert heavy_in(modules) == []
    assert "sqlalchemy" not in modules and "newsroom.config" not in modules


def test_stats_and_schema_import_nothing_heavy(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9/feed.xml", same_event=False)
    assert heavy_in(imported_by("stats", "-c", str(config))) == []
    assert heavy_in(imported_by("schema")) == []


def test_poll_without_same_event_imports_no_torch(tmp_path: Path) -> None:
    with serve_demo_feed() as feed_url:
        config = _config(tmp_path, feed_url, same_event=False)
        modules = imported_by("poll", "-c", str(config))
    assert heavy_in(modules) == []
    assert "newsroom.stages.stories" in modules  # it did store items and give them stories
    with Store(f"sqlite:///{tmp_path / 'n.db'}").session() as s:
        from sqlalchemy import func, select

        from newsroom.store.tables import ItemRow

        assert s.scalar(select(func.count()).select_from(ItemRow)) == 3


@pytest.mark.parametrize("args", [("run", "--help"), ("worker", "--help"), ("serve", "--help")])
def test_a_commands_help_imports_nothing_heavy(args: tuple[str, ...]) -> None:
    assert heavy_in(imported_by(*args)) == []


_FIRST_REQUEST = """
import atexit, gc, json, sys
from newsroom.llm.usage import CallBuffer
seen = {}
started = CallBuffer.astarted
async def first(self, record):  # the first attempt, as it is about to go out (before first_started is set)
    if not seen:
        seen.update(collecting=gc.isenabled(), frozen=gc.get_freeze_count(), modules=sorted(sys.modules))
    return await started(self, record)
CallBuffer.astarted = first
def report():
    seen.update(collecting_at_exit=gc.isenabled(), frozen_at_exit=gc.get_freeze_count())
    sys.stderr.write("\\nSEEN " + json.dumps(seen) + "\\n")
atexit.register(report)
sys.argv = ["newsroom", *json.loads(sys.argv[1])]
from newsroom.cli import main
main()
"""


def test_run_pauses_the_collector_until_its_first_request(tmp_path: Path) -> None:
    """`newsroom run` starts with Python's cyclic collector off (newsroom/collector.py): its full passes walked every
    object start-up made (torch's, SQLAlchemy's), holding the GIL ahead of the first request. It is back on, with the
    start-up's objects frozen, once that request is out."""
    from newsroom.devtools.scripted_llm import start_scripted_server

    server = start_scripted_server(latency_ms=0, grounded=True)
    try:
        with serve_demo_feed() as feed_url:
            config = _config(tmp_path, feed_url, same_event=False)
            text = config.read_text(encoding="utf-8")
            llm = f'[llm]\nprovider = "openai"\nbase_url = "{server.base_url}"\nmodel = "scripted"\n'
            config.write_text(text + llm + f'[publish]\ncontent_dir = "{tmp_path / "content"}"\n', encoding="utf-8")
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), OPENAI_API_KEY="test")
            env.pop("NEWSROOM_CONFIG", None)
            proc = subprocess.run(
                [sys.executable, "-c", _FIRST_REQUEST, json.dumps(["run", "-c", str(config)])],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(next(ln for ln in proc.stderr.splitlines() if ln.startswith("SEEN ")).removeprefix("SEEN "))
    assert seen["modules"], "no model request was made"
    assert seen["collecting"] is False and seen["frozen"] == 0
    assert seen["collecting_at_exit"] is True and seen["frozen_at_exit"] > 10_000
    assert sorted((tmp_path / "content").rglob("*.md")), "the run wrote no article"


def test_the_collector_resumes_only_where_it_was_paused() -> None:
    import gc

    from newsroom import collector

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        collector.pause_collector()
        assert not gc.isenabled()
        collector.resume_collector()
        assert gc.isenabled() and gc.get_freeze_count() > frozen
        collector.resume_collector()  # not paused: nothing to do
        gc.disable()  # someone else's pause (a caller's own gc.disable) is not ended by ours
        collector.pause_collector()
        collector.resume_collector()
        assert not gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()

"""The three example sites (Astro, Nuxt Content, Hugo) build from a real run over the corpus feeds with the scripted
model, every published file is a page of its own in each, and every cover URL resolves inside the built site.

Runs `scripts/build_examples.py` (npm ci when node_modules is missing, npm run build, hugo). It takes minutes, so it
runs where NEWSROOM_REQUIRE_SITES=1 (CI, `.ci/run`); elsewhere it skips with that reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_example_sites_build_every_file_and_cover(corpus: Path, tmp_path: Path) -> None:
    if os.environ.get("NEWSROOM_REQUIRE_SITES", "") in ("", "0", "false"):
        pytest.skip("building the example sites takes minutes: set NEWSROOM_REQUIRE_SITES=1 (CI does)")
    out = tmp_path / "sites.json"
    env = {**os.environ, "NEWSROOM_CORPUS": str(corpus), "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_examples.py"), "--json", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(out.read_text())
    assert results["problems"] == []
    files = {site: results[site]["files"] for site in ("astro", "nuxt", "hugo")}
    assert len(set(files.values())) == 1 and files["astro"] >= 10, files  # the same files everywhere, both languages
    for site in ("astro", "nuxt", "hugo"):
        assert results[site]["covers"] >= files[site], (site, results[site])  # one cover per page at least

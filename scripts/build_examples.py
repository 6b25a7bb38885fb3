"""Build the three example sites (examples/astro, examples/nuxt, examples/hugo) from Newsroom's own output and check
them, as a site owner would meet them.

1. A real run: the corpus feeds (``$NEWSROOM_CORPUS/feeds``) served on 127.0.0.1, the pipeline with the scripted
   OpenAI-compatible server (newsroom.devtools.scripted_llm: schema-valid JSON, not prose; guards off, so every
   article is live), covers drawn by the card provider, every file delivered to the three sites by folder targets
   (``publish.targets``), covers into each site's static folder.
2. The collection definitions (``src/content.config.ts``, ``content.config.ts``) must equal ``newsroom schema``'s.
3. ``npm ci`` (unless node_modules is there, or with --install) and ``npm run build`` in the Astro and Nuxt examples,
   ``hugo`` in the Hugo one (Node >= 22 comes from npm's ``node`` package in each example's dependencies).
4. Checks: every published file is a page of its own in each built site (all languages), and every cover URL on a page
   resolves to a file inside the built site.

    python scripts/build_examples.py [--per-feed 3] [--languages en,uk] [--install] [--json out.json]

Exits 1 when a check fails; prints a table (files, pages, covers, seconds per site).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from newsroom.config import (
    FetchConfig,
    FolderTargetConfig,
    GuardsConfig,
    LLMConfig,
    PublishConfig,
    Settings,
    SourceConfig,
)
from newsroom.devtools.scripted_llm import start_scripted_server
from newsroom.llm import make_provider
from newsroom.llm.usage import CallBuffer
from newsroom.pipeline import Pipeline
from newsroom.publish import schema
from newsroom.store.db import Store

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
CORPUS = Path(os.environ.get("NEWSROOM_CORPUS", REPO.parent / "shared" / "corpus"))

# site → (content folder, covers folder, build output, page path of a file "en/slug")
SITES = {
    "astro": ("src/content/articles", "public/covers", "dist", "{lang}/{slug}/index.html"),
    "nuxt": ("content/articles", "public/covers", ".output/public", "articles/{lang}/{slug}/index.html"),
    "hugo": ("content", "static/covers", "public", "{lang}/{slug}/index.html"),
}
GENERATED = {"astro": ("src/content.config.ts", schema.astro_config), "nuxt": ("content.config.ts", schema.nuxt_config)}
IMG_RE = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"")


def serve_folder(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def publish(work: Path, per_feed: int, languages: list[str]) -> dict[str, int]:
    """One pipeline run over the corpus feeds into the three example sites; the number of files per site."""
    feeds = sorted((CORPUS / "feeds").glob("*.rss"))
    if not feeds:
        sys.exit(f"no feeds in {CORPUS / 'feeds'} (set NEWSROOM_CORPUS)")
    for site, (content, covers, _out, _page) in SITES.items():  # start from nothing: only this run's files
        shutil.rmtree(EXAMPLES / site / content, ignore_errors=True)
        shutil.rmtree(EXAMPLES / site / covers, ignore_errors=True)
    feed_server, base = serve_folder(CORPUS / "feeds")
    llm = start_scripted_server(latency_ms=0)
    try:
        settings = Settings(
            database_url=f"sqlite:///{work / 'newsroom.db'}",
            languages=languages,
            pivot_language=languages[0],
            max_items_per_source=per_feed,
            sources=[SourceConfig(key=f.stem[:64], name=f.stem, url=f"{base}/{f.name}") for f in feeds],
            fetch=FetchConfig(allow_private_networks=True),
            llm=LLMConfig(provider="openai", base_url=llm.base_url, model="scripted", max_retries=0),
            guards=GuardsConfig(enabled=False),
            extract={"enabled": False},  # type: ignore[arg-type]
            publish=PublishConfig(
                content_dir=work / "content",
                covers_dir=work / "covers",
                targets=[
                    FolderTargetConfig(
                        kind="folder",
                        name=site,
                        dir=EXAMPLES / site,
                        content_subdir=Path(content),
                        covers_subdir=Path(covers),
                    )
                    for site, (content, covers, _out, _page) in SITES.items()
                ],
            ),
        )
        store = Store(settings.database_url)

        async def run() -> None:
            calls = CallBuffer()
            provider = make_provider(settings.llm, calls)
            try:
                summary = await Pipeline(settings, store, provider, calls).run_once(force_poll=True)
            finally:
                await provider.aclose()
            if summary.failures or any(r.error for r in summary.deliveries):
                sys.exit(f"the run failed: {summary.failures} {[r.error for r in summary.deliveries]}")

        asyncio.run(run())
        store.close()
    finally:
        llm.stop()
        feed_server.shutdown()
    return {site: len(list((EXAMPLES / site / content).rglob("*.md"))) for site, (content, *_r) in SITES.items()}


def check_generated() -> list[str]:
    problems = []
    for site, (name, make) in GENERATED.items():
        path = EXAMPLES / site / name
        if path.read_text(encoding="utf-8") != make():
            problems.append(f"{path} differs from `newsroom schema {site}`: regenerate it")
    return problems


def build(site: str, install: bool) -> float:
    folder = EXAMPLES / site
    env = {**os.environ, "ASTRO_TELEMETRY_DISABLED": "1", "NUXT_TELEMETRY_DISABLED": "1"}
    started = time.perf_counter()
    if site == "hugo":
        commands = [["hugo", "--quiet", "--cleanDestinationDir"]]
    else:
        commands = (
            [["npm", "ci", "--no-audit", "--no-fund"]] if install or not (folder / "node_modules").is_dir() else []
        )
        commands.append(["npm", "run", "build"])
    for cmd in commands:
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False, env=env)  # noqa: S603
        if done.returncode != 0:
            sys.exit(
                f"{site}: {' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    return time.perf_counter() - started


def check_site(site: str) -> dict[str, object]:
    """Every file is a page (draft files: none, the run has guards off); every cover URL on a page is a file."""
    content, _covers, out, page = SITES[site]
    built = EXAMPLES / site / out
    files = sorted((EXAMPLES / site / content).rglob("*.md"))
    problems, covers = [], 0
    for f in files:
        front = yaml.safe_load(f.read_text(encoding="utf-8").split("\n---\n", 1)[0].removeprefix("---\n"))
        lang, slug = f.parent.name, f.stem
        html_file = built / page.format(lang=lang, slug=slug)
        if front.get("draft"):
            continue
        if not html_file.is_file():
            problems.append(f"{site}: no page for {lang}/{slug} (expected {html_file.relative_to(EXAMPLES)})")
            continue
        html = html_file.read_text(encoding="utf-8")
        if front["title"].split()[0] not in html:
            problems.append(f"{site}: page {html_file} does not show its title")
        for src in IMG_RE.findall(html):
            path = urlsplit(src).path
            covers += 1
            if not (built / path.lstrip("/")).is_file():
                problems.append(f"{site}: cover {src} on {lang}/{slug} is not in the built site")
        if front["coverImage"]["regular"] not in IMG_RE.findall(html):
            problems.append(f"{site}: page {lang}/{slug} does not show its cover")
    pages = sum(1 for _ in built.rglob("index.html")) if built.is_dir() else 0
    return {"files": len(files), "pages": pages, "covers": covers, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-feed", type=int, default=3, help="newest entries taken from each corpus feed")
    parser.add_argument("--languages", default="en,uk", help="comma-separated; the first is the pivot")
    parser.add_argument("--install", action="store_true", help="npm ci even when node_modules exists")
    parser.add_argument("--sites", default=",".join(SITES), help="which of astro,nuxt,hugo to build")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    sites = [s for s in args.sites.split(",") if s]
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="newsroom-sites-") as tmp:
        started = time.perf_counter()
        counts = publish(Path(tmp), args.per_feed, args.languages.split(","))
        results["publish_seconds"] = round(time.perf_counter() - started, 1)
    problems = check_generated()
    for site in sites:
        seconds = build(site, args.install)
        report = check_site(site)
        report["seconds"] = round(seconds, 1)
        if report["files"] != counts[site]:
            report["problems"].append(f"{site}: {counts[site]} files delivered, {report['files']} found")  # type: ignore[union-attr]
        problems += report["problems"]  # type: ignore[arg-type]
        results[site] = report
    results["problems"] = problems
    print(f"{'site':<8}{'files':>7}{'pages':>7}{'covers':>8}{'seconds':>9}")
    for site in sites:
        r = results[site]
        print(f"{site:<8}{r['files']:>7}{r['pages']:>7}{r['covers']:>8}{r['seconds']:>9}")  # type: ignore[index]
    for p in problems:
        print("PROBLEM:", p)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``newsroom`` command: init, poll, run [--watch], worker, demo, stats, retry, serve, schema, deliver.

Each command imports what it uses when it runs: ``newsroom --help`` and the light commands (``stats``, ``poll`` with
``stories.same_event`` off, ``schema``) never import torch, the encoders, the model HTTP client or the pipeline
(``tests/test_startup.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .logs import LogFormat, LogLines, setup_logging

if TYPE_CHECKING:
    from .config import Settings
    from .pipeline import RunSummary
    from .store.db import Store

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Newsroom: news feeds in, articles out.")
eval_app = typer.Typer(no_args_is_help=True, help="Reproducible evaluations on files you give it (last line: JSON).")
app.add_typer(eval_app, name="eval")
_STDERR = Console(stderr=True, soft_wrap=True)
console = _STDERR  # where notes, errors and progress go; with --log-format json, lines of the JSON log
out = Console(soft_wrap=True)
log = logging.getLogger("newsroom.cli")
WATCH_MAX_BACKOFF_S = 900.0  # the longest pause of `run --watch` after rounds that failed

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (default: $NEWSROOM_CONFIG or ./newsroom.toml)")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    from .config import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _reload(config: Path | None, settings: Settings) -> Settings:
    """The config as it is now (``run --watch`` takes a raised budget or a new source at the next round); the
    settings in use when the file became invalid."""
    from .config import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        logging.getLogger("newsroom").error("config not reloaded, keeping the previous one: %s", exc)
        return settings


def _store(settings: Settings) -> Store:
    from .store.db import Store, StoreError

    try:
        return Store(settings.database_url)
    except StoreError as exc:
        raise _fail(f"{exc}\nCheck database_url in the config or NEWSROOM_DATABASE_URL.") from None


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="debug logging (every HTTP and model call too)")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="text (for people) or json (one object per line)")
    ] = "text",
) -> None:
    global console
    console = setup_logging(log_format, verbose, _STDERR)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write the starter config")] = Path("newsroom.toml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a starter newsroom.toml: seven public crypto feeds, the CoinDesk Data API preset (off until its key is
    set), languages en (pivot) and uk, the embedded model."""
    from .config import load_settings

    if path.exists() and not force:
        raise _fail(f"{path} exists; pass --force to overwrite it")
    starter = resources.files("newsroom.data").joinpath("newsroom.example.toml").read_text(encoding="utf-8")
    path.write_text(starter, encoding="utf-8")
    settings = load_settings(path)
    enabled = [src for src in settings.sources if src.enabled]
    off = ", ".join(src.key for src in settings.sources if not src.enabled)
    out.print(
        f"wrote {path}: {len(enabled)} sources{f' (and {off}, off until enabled)' if off else ''},"
        f" languages {', '.join(settings.languages)}"
    )
    out.print("next: `newsroom run` (or `newsroom run --watch` to keep polling)")


@app.command()
def poll(config: ConfigOpt = None, force: Annotated[bool, typer.Option(help="poll even sources not due")] = False):
    """Fetch due sources and store new items; no model calls."""
    from . import collector

    collector.pause_collector()  # until the start-up's imports, settings and store are done (collector.py)
    try:
        from .stages.poll import poll_sources

        settings = _settings(config)
        store = _store(settings)
    finally:
        collector.resume_collector()
    with _progress() as progress:
        task = progress.add_task("polling", total=len([s for s in settings.sources if s.enabled]))
        reports = asyncio.run(
            poll_sources(store, settings, force=force, on_source_done=lambda r: progress.advance(task))
        )
    _print_poll(reports)
    _force_hint(store, reports)


def _force_hint(store: Store, reports) -> None:  # type: ignore[no-untyped-def]
    """When nothing was polled because every source waits out an error backoff, say so and how to poll anyway."""
    from .stages.poll import backed_off

    if reports:
        return
    waiting = backed_off(store, datetime.now(UTC))
    if waiting:
        first = min(r.next_poll_at for r in waiting if r.next_poll_at is not None)
        console.print(
            f"[yellow]{len(waiting)} source(s) are backed off after errors[/] (next poll {first:%H:%M} UTC): "
            f"{', '.join(r.key for r in waiting[:5])}. `--force` polls them now; fixing a source's config also"
            " resets its backoff."
        )


@app.command()
def run(
    config: ConfigOpt = None,
    watch: Annotated[bool, typer.Option("--watch", help="keep polling; process new stories as they come")] = False,
    every: Annotated[float, typer.Option(help="seconds between rounds with --watch")] = 60.0,
    force: Annotated[bool, typer.Option(help="poll every source now, due or not")] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus /metrics on this port (default: [metrics] port)")
    ] = None,
) -> None:
    """Poll, write, translate and publish."""
    from . import collector

    collector.pause_collector()  # until the first model request is out (collector.py)
    try:
        _run(config, watch, every, force, metrics_port)
    finally:
        collector.resume_collector()


def _run(config: Path | None, watch: bool, every: float, force: bool, metrics_port: int | None) -> None:
    settings = _settings(config)
    store = _store(settings)
    if metrics_port is not None or settings.metrics.port is not None:
        from .metrics import serve_metrics

        try:
            serve_metrics(store, settings, metrics_port)
        except OSError as exc:
            raise _fail(f"metrics port: {exc}") from None
    failed_rounds = 0
    try:
        while True:
            try:
                summary = _run_round(settings, store, force=force)
            except Exception as exc:  # a store, disk or network error: --watch logs it, backs off and goes on
                if not watch:
                    raise
                failed_rounds += 1
                wait = min(every * 2 ** min(failed_rounds, 16), WATCH_MAX_BACKOFF_S)
                log.exception("round failed")
                console.print(f"[red]round failed[/] ({type(exc).__name__}: {exc}); next round in {wait:.0f} s")
                time.sleep(wait)
                continue
            failed_rounds = 0
            _print_summary(summary, settings)
            _force_hint(store, summary.polled)
            if not watch:
                break
            console.print(f"next round in {every:.0f} s (Ctrl-C to stop)")
            time.sleep(every)
            force = False
            settings = _reload(config, settings)
    except KeyboardInterrupt:
        console.print("stopped")
    if not watch and summary.failures:
        raise typer.Exit(1)


@app.command()
def worker(
    config: ConfigOpt = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-n", min=1, help="jobs at once (default: worker.concurrency, 8)")
    ] = None,
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", "-q", help="take jobs from this queue only: schedule, poll, stories (repeatable)"),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus /metrics on this port (default: metrics.port)")
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(min=0, help="seconds running jobs get after SIGTERM (default: worker.grace_seconds, 20)"),
    ] = None,
) -> None:
    """Run jobs from the PostgreSQL queue (procrastinate): polls, stories, updates, publishing, the schedule. Start as
    many as you like, on as many machines; SIGTERM stops one gracefully, a second signal at once."""
    from . import collector

    collector.pause_collector()  # until the worker takes jobs (collector.py; tasks._serve resumes it)
    try:
        _worker(config, concurrency, queue, metrics_port, grace)
    finally:
        collector.resume_collector()  # if it never got that far


def _worker(
    config: Path | None, concurrency: int | None, queue: list[str] | None, metrics_port: int | None, grace: float | None
) -> None:
    from .store.db import normalise_url

    settings = _settings(config)
    if not normalise_url(settings.database_url).startswith("postgresql"):
        raise _fail(
            f"newsroom worker needs PostgreSQL (database_url = postgresql://…), and this config uses "
            f"{settings.database_url.split(':', 1)[0]}. On SQLite, use `newsroom run` (or `newsroom run --watch`): it "
            "runs the same stages in one process, and several `run` processes may share the file."
        )
    from .llm.base import LLMError
    from .tasks import QUEUES, run_worker

    unknown = sorted(set(queue or settings.worker.queues) - set(QUEUES))
    if unknown:
        raise _fail(f"unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(QUEUES)}")
    store = _store(settings)
    if metrics_port is not None or settings.metrics.port is not None:
        from .metrics import serve_metrics

        try:
            serve_metrics(store, settings, metrics_port)
        except OSError as exc:
            raise _fail(f"metrics port: {exc}") from None

    try:
        code = run_worker(settings, store, concurrency=concurrency, queues=queue, grace=grace)
    except (LLMError, ValueError) as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the database and the articles")] = Path("demo-out"),
    stories: Annotated[int, typer.Option(min=1, max=3, help="how many of the three demo stories to run")] = 3,
) -> None:
    """Offline demo: serve a bundled 3-story feed on 127.0.0.1, run it through the embedded model, write en + uk."""
    from .demo import demo_feed_bytes, demo_settings, serve_demo_feed

    out_dir = out_dir.resolve()
    with serve_demo_feed(demo_feed_bytes(stories)) as feed_url:
        settings = demo_settings(out_dir, feed_url)
        store = _store(settings)
        console.print(f"demo feed served at {feed_url}; writing to {out_dir}")
        console.print("loading the embedded model (gemma3 270M, a tiny BASE model) …")
        summary = _run_round(settings, store, force=True)
    _print_summary(summary, settings)
    files = sorted(settings.publish.content_dir.rglob("*.md"))
    out.print(f"\n[bold]{len(files)} article files under {settings.publish.content_dir}[/]")
    for f in files:
        out.print(f"  {f}")
    out.print(
        "\n[yellow]Note:[/] the embedded model is a tiny base model (Gemma 3 270M, not instruction-tuned). It exercises"
        " the real local path end to end, but its text invents facts and it cannot translate: every article it"
        " writes is kept as a draft (draft: true). For publishable text point [bold]llm[/] in newsroom.toml at an"
        " instruction-tuned model (see the README)."
    )


@app.command()
def stats(
    config: ConfigOpt = None, as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False
) -> None:
    """Items, stories, articles per language and status, model tokens by stage."""
    from .llm.budget import Budget
    from .store import queries

    settings = _settings(config)
    store = _store(settings)
    with store.session() as s:
        data = queries.stats(s)
    data["budget"] = Budget(settings.budget, store).status()
    if as_json:
        out.print_json(json.dumps(data))
        return
    out.print(f"items: {data['items']}   stories: {data['stories']}")
    t = Table(title="articles")
    t.add_column("lang")
    t.add_column("published", justify="right")
    t.add_column("draft", justify="right")
    for lang, c in sorted(data["articles"].items()):
        t.add_row(lang, str(c["published"]), str(c["draft"]))
    out.print(t)
    u = Table(title="model usage by stage")
    for col in ("stage", "calls", "failed", "tokens in", "tokens out", "seconds", "cost"):
        u.add_column(col, justify="left" if col == "stage" else "right")
    for stage, v in sorted(data["model_usage"].items()):
        u.add_row(
            stage,
            str(v["calls"]),
            str(v["failed_calls"]),
            str(v["tokens_in"]),
            str(v["tokens_out"]),
            f"{v['seconds']:.1f}",
            f"{v['cost']:.4f}",
        )
    out.print(u)
    _print_budget(data["budget"])
    if data.get("draft_reasons"):
        out.print(_reason_table("why articles are drafts (guard reason codes)", "articles", data["draft_reasons"]))
        for a in data["drafts"][:10]:
            out.print(f"  draft {a['lang']}/{a['slug']}: " + "; ".join(a["reasons"][:3]), markup=False, highlight=False)
    src = Table(title="sources")
    for col in ("source", "status", "items", "errors in a row", "skipped entries (total, by reason)"):
        src.add_column(col, justify="right" if col in ("items", "errors in a row") else "left")
    for row in data["sources"]:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(row["skipped"].items()))
        key = f"{row['key']} (via {row['via']})" if row["via"] else row["key"]
        src.add_row(key, row["status"] or "-", str(row["items"]), str(row["errors_in_a_row"]), skipped)
    out.print(src)
    if data.get("skip_reasons"):
        title = "stories skipped by select (reason codes; `newsroom` API/UI: write anyway)"
        out.print(_reason_table(title, "stories", data["skip_reasons"]))
        for st in data["skipped"][:10]:
            out.print(f"  skipped story {st['story']} ({st['source']}): {st['reason']}", markup=False, highlight=False)
    if data["story_errors"]:
        out.print("[red]stories whose last try failed[/] (retried automatically; `newsroom retry` to retry now):")
        for e in data["story_errors"]:
            nxt = e["next_attempt_at"] or "now"
            out.print(f"  story {e['story']} (tries: {e['attempts']}, next: {nxt}): {e['error']}", markup=False)


@app.command()
def retry(
    config: ConfigOpt = None,
    story: Annotated[list[int] | None, typer.Option("--story", help="only this story (repeatable)")] = None,
) -> None:
    """Make failed stories due now (they are retried automatically with backoff; this skips the wait)."""
    from .store.claims import retry_now

    settings = _settings(config)
    store = _store(settings)
    with store.session() as s:
        n = retry_now(s, story)
    console.print(f"{n} stor{'y' if n == 1 else 'ies'} due now; `newsroom run` writes them")


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="interface (default: web.host, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: web.port, 8000)")] = None,
) -> None:
    """Serve the JSON API (/api/v1, /docs), the feeds (/feeds/{lang}/rss.xml|atom.xml|feed.json) and the editor UI."""
    import uvicorn

    from .web import create_app
    from .web.auth import admin_token

    settings = _settings(config)
    try:
        token = admin_token(settings)
        application = create_app(settings, _store(settings))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    bind_host, bind_port = host or settings.web.host, port or settings.web.port
    console.print(f"serving on http://{bind_host}:{bind_port}/ (API docs at /docs, editor at /ui/)")
    if token is None:
        console.print("[yellow]no admin token set (NEWSROOM_ADMIN_TOKEN or web.admin_token): the editor is closed[/]")
    json_logs = isinstance(console.file, LogLines)  # --log-format json: uvicorn's lines through the JSON handler
    uvicorn.run(
        application,
        host=bind_host,
        port=bind_port,
        log_level="info",
        proxy_headers=False,
        **({"log_config": None} if json_logs else {}),
    )


@app.command()
def schema(
    kind: Annotated[
        str, typer.Argument(help="json (JSON Schema 2020-12), astro (src/content.config.ts), nuxt (content.config.ts)")
    ] = "json",
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of standard output")] = None,
) -> None:
    """The article frontmatter's schema, or a site generator's collection definition made from it."""
    from .publish import schema as fm

    makers = {
        "json": lambda: json.dumps(fm.json_schema(), indent=2, ensure_ascii=False) + "\n",
        "astro": fm.astro_config,
        "nuxt": fm.nuxt_config,
    }
    if kind not in makers:
        raise _fail(f"unknown schema kind {kind!r}; use one of {sorted(makers)}")
    text = makers[kind]()
    if out_file is None:
        print(text, end="")
    else:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text, encoding="utf-8")
        console.print(f"wrote {out_file}")


@app.command()
def deliver(config: ConfigOpt = None) -> None:
    """Send every publish target (publish.targets: folder, git, webhook) what it lacks; retries failed ones."""
    from .publish.deliver import deliver as deliver_all

    settings = _settings(config)
    if not settings.publish.targets:
        raise _fail("no publish targets configured ([[publish.targets]] in the config)")
    reports = deliver_all(_store(settings), settings)
    _print_deliveries(reports)
    if any(r.error for r in reports):
        raise typer.Exit(1)


def _reason_table(title: str, counted: str, counts: dict[str, int]) -> Table:
    """A two-column table: each reason code and how many ``counted`` it applies to."""
    t = Table(title=title)
    t.add_column("reason")
    t.add_column(counted, justify="right")
    for code, n in counts.items():
        t.add_row(code, str(n))
    return t


def _print_deliveries(reports) -> None:  # type: ignore[no-untyped-def]
    for r in reports:
        status = f"[red]failed: {r.error}[/]" if r.error else "[green]ok[/]"
        out.print(f"target {r.target}: {r.written} written, {r.removed} removed, {status}")


@eval_app.command("guards")
def eval_guards(
    jsonl: Annotated[Path, typer.Option("--jsonl", help='lines of {"source": …, "article": …, "lang": …}')],
) -> None:
    """Run the quality guards on each line; print one verdict per line, then {"n", "flagged", "seconds"} (and, when
    lines carry a label, balanced_accuracy, faithful_flagged, errors_caught and by_error_type of the fact reasons)."""
    from .guards.evaluate import Verdict, evaluate, label_of, score

    if not jsonl.is_file():
        raise _fail(f"{jsonl} is not a file")
    started = time.perf_counter()
    n = flagged = 0
    labelled: list[tuple[Verdict, bool, list[str]]] = []
    with jsonl.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                obj, verdict = None, Verdict(number, True, [f"bad-input: line: not JSON ({exc.msg})"])
            else:
                verdict = evaluate(obj, number)
            n += 1
            flagged += verdict.flagged
            label = label_of(obj)
            if label is not None:
                kinds = obj.get("error_types") if isinstance(obj, dict) else None
                labelled.append((verdict, label, [str(k) for k in kinds] if isinstance(kinds, list) else []))
            print(json.dumps(verdict.as_json(), ensure_ascii=False), flush=True)
    summary: dict[str, object] = {"n": n, "flagged": flagged}
    if labelled:
        summary |= score(labelled)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(summary))


@eval_app.command("sentiment")
def eval_sentiment_cmd(
    csv: Annotated[Path, typer.Option("--csv", help="CSV with columns headline and label (-1, 0, 1)")],
) -> None:
    """Offline sentiment classifier on a labelled file; last line {"n", "macro_f1", "accuracy", "seconds"}."""
    from .evaluate import EvalInputError, eval_sentiment

    try:
        result = eval_sentiment(csv)
    except EvalInputError as exc:
        raise _fail(str(exc)) from None
    print(json.dumps(result), flush=True)


@eval_app.command("dedupe")
def eval_dedupe_cmd(
    csv: Annotated[Path, typer.Option("--csv", help="UCI News Aggregator CSV (ID,TITLE,URL,PUBLISHER,…,TIMESTAMP)")],
) -> None:
    """Cluster the rows incrementally in TIMESTAMP order; last line pairwise and B-cubed scores against STORY."""
    from .evaluate import EvalInputError, eval_dedupe

    try:
        result = eval_dedupe(csv)
    except EvalInputError as exc:
        raise _fail(str(exc)) from None
    print(json.dumps(result), flush=True)


# ---- helpers ---------------------------------------------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _run_round(settings: Settings, store: Store, *, force: bool) -> RunSummary:
    from .llm import make_provider
    from .llm.base import LLMError
    from .llm.usage import CallBuffer
    from .pipeline import Pipeline

    calls = CallBuffer()
    try:
        provider = make_provider(settings.llm, calls)
    except (LLMError, ValueError) as exc:
        raise _fail(f"model provider: {exc}") from None

    async def go() -> RunSummary:
        pipeline = Pipeline(settings, store, provider, calls)
        with _progress() as progress:
            polling = progress.add_task("polling sources", total=len([s for s in settings.sources if s.enabled]))
            stories = progress.add_task("writing stories", total=None)

            def on_story(event: str, _sid: int) -> None:
                if event in ("done", "failed"):
                    progress.advance(stories)

            try:
                return await pipeline.run_once(
                    force_poll=force,
                    on_source=lambda _r: progress.advance(polling),
                    on_story=on_story,
                    on_plan=lambda n: progress.update(stories, total=n),
                )
            finally:
                await provider.aclose()

    return asyncio.run(go())


def _print_poll(reports) -> None:  # type: ignore[no-untyped-def]
    t = Table(title="sources")
    for col in ("source", "status", "new items", "skipped", "error"):
        t.add_column(col)
    for r in reports:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(r.skipped.items()))
        t.add_row(r.key, r.status, str(r.new_items), skipped, (r.error or "")[:80])
    out.print(t)


def _print_budget(budget: dict[str, Any]) -> None:
    if not budget["caps"]:
        out.print("daily budget: none set ([budget] in the config)")
        return
    b = Table(title=f"daily budget, {budget['day']} (UTC)")
    for col in ("cap", "limit", "spent", "left"):
        b.add_column(col, justify="left" if col == "cap" else "right")
    for c in budget["caps"]:
        b.add_row(f"{c['scope']} {c['unit']}", f"{c['limit']:g}", f"{c['spent']:g}", f"{c['left']:g}")
    out.print(b)
    if budget["paused"]:
        out.print(
            f"[bold yellow]writing paused[/] for {', '.join(budget['paused_stages'])}: the daily budget is reached; "
            f"it resumes at {budget['resets_at']} or when the cap is raised"
        )


def _print_summary(summary: RunSummary, settings: Settings) -> None:
    if summary.polled:
        _print_poll(summary.polled)
    t = Table(title="this run")
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_row("new items", str(summary.new_items))
    t.add_row("stories processed", str(summary.stories))
    t.add_row("stories skipped (select; see `newsroom stats`)", str(len(summary.skipped)))
    t.add_row("stories updated (new sources or facts)", str(summary.updated))
    for lang in settings.languages:
        t.add_row(f"articles written ({lang})", str(summary.written.get(lang, 0)))
    t.add_row("files published", str(len(summary.published)))
    t.add_row("model calls", str(summary.model_calls))
    t.add_row("tokens in / out", f"{summary.tokens_in} / {summary.tokens_out}")
    t.add_row("failures", str(len(summary.failures)))
    t.add_row("seconds", f"{summary.seconds:.1f}")
    out.print(t)
    for f in summary.failures:
        console.print(f"[red]failed:[/] {f}")
    _print_deliveries(summary.deliveries)
    if summary.paused:
        console.print(f"[yellow]paused:[/] {summary.paused}", markup=True, highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

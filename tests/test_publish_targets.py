"""Publish targets on real parts: a git target pushing to a local bare repository, a webhook target posting to a
loopback receiver, a folder target; several at once, a failed one retried without rewriting the others."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from newsroom.config import FolderTargetConfig, GitTargetConfig, Settings, WebhookTargetConfig
from newsroom.editorial import Editor
from newsroom.publish.deliver import deliver, pending_changes
from newsroom.publish.git import GitTarget
from newsroom.publish.targets import TargetError
from newsroom.publish.webhook import SIGNATURE_HEADER, WebhookTarget, verify
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, DeliveryRow, TargetStateRow
from web_support import build_newsroom, make_settings, serve_feeds

SECRET = "webhook-secret-for-tests"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def bare_repo(tmp_path: Path) -> Path:
    remote = tmp_path / "site.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(remote)], check=True)
    return remote


class Receiver:
    """A loopback webhook receiver that answers ``fail`` times with 503 first, and checks every signature."""

    def __init__(self, httpserver: HTTPServer, fail: int = 0) -> None:
        self.fail = fail
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.url = httpserver.url_for("/hook")
        httpserver.expect_request("/hook", method="POST").respond_with_handler(self)

    def __call__(self, request: Request) -> Response:
        body = request.get_data()
        assert verify(SECRET, body, request.headers.get(SIGNATURE_HEADER)), "bad signature"
        self.requests.append((dict(request.headers), json.loads(body)))
        if self.fail > 0:
            self.fail -= 1
            return Response("busy", status=503)
        return Response("ok", status=200)

    def articles(self) -> list[dict]:
        return [a for _h, body in self.requests for a in body["articles"]]


def settings_with(tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, llm: str, targets) -> Settings:
    settings = make_settings(tmp_path, store.url, serve_feeds(httpserver, corpus), llm)
    settings.publish.targets = targets
    return settings


def git_cfg(tmp_path: Path, remote: Path, **kw: object) -> GitTargetConfig:
    return GitTargetConfig(
        kind="git",
        name="site",
        repo_dir=tmp_path / "clone",
        remote_url=str(remote),
        **kw,  # type: ignore[arg-type]
    )


def hook_cfg(url: str, **kw: object) -> WebhookTargetConfig:
    return WebhookTargetConfig(
        kind="webhook", name="hook", url=url, secret_env="NEWSROOM_TEST_HOOK_SECRET", backoff_seconds=0, **kw
    )


def live_files(store: Store) -> dict[int, tuple[str, str]]:
    with store.session() as s:
        return {a.id: (a.lang, a.slug) for a in s.scalars(select(ArticleRow).where(ArticleRow.path.is_not(None)))}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSROOM_TEST_HOOK_SECRET", SECRET)


def test_git_and_webhook_targets_get_every_file(
    tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    remote = bare_repo(tmp_path)
    receiver = Receiver(httpserver, fail=2)  # two 503s, then accepted: retried with backoff
    settings = settings_with(
        tmp_path, sqlite_store, httpserver, corpus, scripted_llm, [git_cfg(tmp_path, remote), hook_cfg(receiver.url)]
    )
    newsroom = build_newsroom(settings, sqlite_store)  # the run delivers; build_newsroom then re-writes versions
    reports = deliver(sqlite_store, settings)
    assert [r.error for r in reports] == [None, None]
    articles = live_files(sqlite_store)

    # git: every file in the pushed branch, covers where the site serves static files, one commit per batch
    tree = git(remote, "ls-tree", "-r", "--name-only", "main").split()
    md = sorted(p for p in tree if p.endswith(".md"))
    assert md == sorted(f"content/{lang}/{slug}.md" for lang, slug in articles.values())
    for _lang, slug in articles.values():
        assert f"public/covers/{slug}/regular.png" in tree
    log = git(remote, "log", "--format=%s", "main").splitlines()
    assert len(log) == 2 and all(line.startswith("Newsroom: ") for line in log), log
    pushed = git(remote, "show", f"main:content/en/{next(s for lang, s in articles.values() if lang == 'en')}.md")
    local = next((newsroom.content / "en").glob("*.md"))
    assert pushed.startswith("---\ntitle: ") and local.read_text(encoding="utf-8").startswith("---\ntitle: ")

    # webhook: signed (checked by the receiver), retried with the same delivery id, every article once at its version
    first_ids = {h["X-Newsroom-Delivery"] for h, _b in receiver.requests[:3]}
    assert len(first_ids) == 1 and len(receiver.requests) == 3 + 1
    latest = {a["id"]: a for a in receiver.articles()}
    assert set(latest) == set(articles)
    with sqlite_store.session() as s:
        versions = {a.id: a.version for a in s.scalars(select(ArticleRow))}
    assert all(a["version"] == versions[a["id"]] and a["action"] == "write" for a in latest.values())
    assert all(a["markdown"].startswith("---\n") and a["frontmatter"]["slug"] == a["slug"] for a in latest.values())

    # nothing new: nothing sent, no empty commit
    assert [(r.written, r.removed) for r in deliver(sqlite_store, settings)] == [(0, 0), (0, 0)]
    assert len(git(remote, "log", "--format=%s", "main").splitlines()) == 2 and len(receiver.requests) == 4


def test_failed_target_is_retried_without_rewriting_the_others(
    tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    remote = bare_repo(tmp_path)
    receiver = Receiver(httpserver, fail=100)
    settings = settings_with(
        tmp_path,
        sqlite_store,
        httpserver,
        corpus,
        scripted_llm,
        [
            git_cfg(tmp_path, remote),
            hook_cfg(receiver.url, max_retries=1),
            FolderTargetConfig(kind="folder", name="mirror", dir=tmp_path / "mirror"),
        ],
    )
    newsroom = build_newsroom(settings, sqlite_store)
    reports = {r.target: r for r in deliver(sqlite_store, settings)}
    assert reports["site"].error is None and reports["mirror"].error is None
    assert "HTTP 503" in (reports["hook"].error or "")
    with sqlite_store.session() as s:
        state = s.get_one(TargetStateRow, "hook")
        assert state.failures == 2 and state.last_success_at is None  # the run's delivery and this one
        assert s.scalar(select(DeliveryRow).where(DeliveryRow.target == "hook")) is None
    assert len(pending_changes(sqlite_store, "hook")) == len(live_files(sqlite_store))
    assert pending_changes(sqlite_store, "site") == [] and pending_changes(sqlite_store, "mirror") == []

    commits = git(remote, "rev-list", "--count", "main")
    mirror_file = next((tmp_path / "mirror" / "content" / "en").glob("*.md"))
    mtime = mirror_file.stat().st_mtime_ns
    receiver.fail = 0
    reports = {r.target: r for r in deliver(sqlite_store, settings)}
    assert reports["hook"].error is None and reports["hook"].written == len(live_files(sqlite_store))
    assert reports["site"].written == reports["mirror"].written == 0
    assert git(remote, "rev-list", "--count", "main") == commits and mirror_file.stat().st_mtime_ns == mtime

    # an editor's deletion reaches every target: the file leaves the repository, the mirror and the hook hears it
    editor = Editor(settings, sqlite_store)
    gone = newsroom.drafts[0]
    lang, slug = live_files(sqlite_store)[gone]
    editor.delete(gone)
    assert f"content/{lang}/{slug}.md" not in git(remote, "ls-tree", "-r", "--name-only", "main")
    assert not (tmp_path / "mirror" / "content" / lang / f"{slug}.md").exists()
    assert receiver.articles()[-1] == {
        "id": gone,
        "lang": lang,
        "slug": slug,
        "version": receiver.articles()[-1]["version"],
        "action": "delete",
        "path": f"{lang}/{slug}.md",
    }
    assert "1 removed" in git(remote, "log", "-1", "--format=%s", "main")


def test_git_push_rejected_then_rebased_never_forced(
    tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    remote = bare_repo(tmp_path)
    settings = settings_with(tmp_path, sqlite_store, httpserver, corpus, scripted_llm, [git_cfg(tmp_path, remote)])
    newsroom = build_newsroom(settings, sqlite_store)
    deliver(sqlite_store, settings)

    # someone else pushes to the site's branch between our fetch and our push (a theme change)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(other)], check=True)

    def push_from_other(path: str, text: str, message: str) -> str:
        git(other, "pull", "-q", "--rebase", "origin", "main")
        (other / path).parent.mkdir(parents=True, exist_ok=True)
        (other / path).write_text(text)
        git(other, "add", path)
        git(other, "-c", "user.name=Dev", "-c", "user.email=dev@example.test", "commit", "-qm", message)
        git(other, "push", "-q", "origin", "HEAD:main")
        return git(other, "rev-parse", "HEAD").strip()

    class Racing(GitTarget):
        """Someone pushes right before our first push: it is rejected as behind."""

        race = None
        pushes = 0

        def _push(self) -> bool:
            self.pushes += 1
            if self.race:
                race, self.race = self.race, None
                race()
            return super()._push()

    quiet = settings.model_copy(deep=True)
    quiet.publish.targets = []  # the editor's own delivery is left to the racing target below
    target = Racing(git_cfg(tmp_path, remote), settings.publish.covers_folder())
    theirs: list[str] = []
    target.race = lambda: theirs.append(push_from_other("theme.css", "body { color: black }\n", "theme"))
    Editor(quiet, sqlite_store).set_sticky(newsroom.drafts[0], 7)
    [report] = deliver(sqlite_store, settings, [target])
    assert report.error is None and report.written == 1 and target.pushes == 2  # rejected once, then rebased
    history = git(remote, "log", "--format=%H %s", "main").splitlines()
    assert history[0].split(" ", 1)[1].startswith("Newsroom: 1 article written")
    assert history[1].startswith(theirs[0] + " theme")  # on top of theirs: nothing overwritten, nothing forced
    lang, slug = live_files(sqlite_store)[newsroom.drafts[0]]
    assert "stickyWeight: 7" in git(remote, "show", f"main:content/{lang}/{slug}.md")

    # someone edits, and pushes, the very file we are about to push: our commit conflicts; it is dropped and the
    # batch is written again on top of theirs (the store is the source of the files; their commit stays in history)
    lang, slug = live_files(sqlite_store)[newsroom.drafts[1]]
    hand: list[str] = []
    target.race = lambda: hand.append(push_from_other(f"content/{lang}/{slug}.md", "edited by hand\n", "hand edit"))
    target.pushes = 0
    Editor(quiet, sqlite_store).set_sticky(newsroom.drafts[1], 9)
    [report] = deliver(sqlite_store, settings, [target])
    assert report.error is None and target.pushes == 2
    subprocess.run(["git", "merge-base", "--is-ancestor", hand[0], "main"], cwd=remote, check=True)
    assert "stickyWeight: 9" in git(remote, "show", f"main:content/{lang}/{slug}.md")
    assert pending_changes(sqlite_store, "site") == []

    # a remote that keeps moving: the target gives up after push_retries, reports it, and keeps the batch for later
    class Busy(GitTarget):
        def _push(self) -> bool:
            push_from_other("busy.txt", f"{time.time()}\n", "busy")
            return super()._push()

    busy = Busy(git_cfg(tmp_path, remote, push_retries=1), settings.publish.covers_folder())
    Editor(quiet, sqlite_store).set_sticky(newsroom.drafts[1], 10)
    [report] = deliver(sqlite_store, settings, [busy])
    assert "push still rejected after 2 attempts" in (report.error or "")
    assert [c.article_id for c in pending_changes(sqlite_store, "site")] == [newsroom.drafts[1]]
    [report] = deliver(sqlite_store, settings)  # the remote is quiet again: delivered
    assert report.error is None and pending_changes(sqlite_store, "site") == []


def test_webhook_refuses_to_send_unsigned_and_stops_on_client_errors(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.delenv("NEWSROOM_TEST_HOOK_SECRET")
    target = WebhookTarget(hook_cfg(httpserver.url_for("/hook")))
    with pytest.raises(TargetError, match="NEWSROOM_TEST_HOOK_SECRET is not set"):
        target.deliver([])
    monkeypatch.setenv("NEWSROOM_TEST_HOOK_SECRET", SECRET)
    httpserver.expect_request("/hook").respond_with_data("no", status=403)
    with pytest.raises(TargetError, match=r"HTTP 403.*not retried"):
        target.deliver([])
    assert len(httpserver.log) == 1


def test_git_target_needs_a_clone_or_a_remote(tmp_path: Path) -> None:
    cfg = GitTargetConfig(kind="git", name="site", repo_dir=tmp_path / "nothing")
    with pytest.raises(TargetError, match="not a git clone and no remote_url"):
        GitTarget(cfg, tmp_path / "covers").deliver([])


def test_concurrent_deliveries_send_each_version_once(
    tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    """A worker's deliver job and an editor's action may deliver at the same moment: one waits for the other
    (``Store.exclusive``), then finds nothing left to send."""
    import threading

    receiver = Receiver(httpserver)
    slow = receiver.__call__

    def answer_slowly(request: Request) -> Response:
        time.sleep(0.5)  # the window in which a second delivery would read the same pending changes
        return slow(request)

    httpserver.clear()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(answer_slowly)
    settings = settings_with(tmp_path, store, httpserver, corpus, scripted_llm, [])
    build_newsroom(settings, store)  # written without delivering
    settings.publish.targets = [hook_cfg(receiver.url)]
    reports: list = []
    threads = [threading.Thread(target=lambda: reports.extend(deliver(store, settings))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sent = [(a["id"], a["version"]) for a in receiver.articles()]
    assert sent and len(sent) == len(set(sent)) == len(live_files(store))
    assert sorted(r.written for r in reports) == [0, 0, len(sent)] and all(r.error is None for r in reports)

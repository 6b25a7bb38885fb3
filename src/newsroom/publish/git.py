"""Publish target: a git repository, the usual way an Astro, Nuxt or Hugo site is fed.

Each batch becomes one commit (files under ``content_subdir``, covers under ``covers_subdir``) pushed to
``remote``/``branch``. A push the remote rejects because it moved on (someone else pushed) is answered by fetching
and rebasing, then pushing again, up to ``push_retries`` times; a push is never forced. When our commit conflicts with
what was pushed (someone edited a file Newsroom writes), it is dropped and the batch is written again on top of the
remote's history: the store is the source of the files, and the other commit stays in the history.
Credentials come from the environment: git's own (SSH agent, credential helpers, ``GIT_SSH_COMMAND``) or an HTTPS
token named by ``token_env``, handed to git through ``GIT_CONFIG_*`` variables, so it never lands in ``.git/config``
or on a command line.
A commit that was made but not pushed (the remote was down) is pushed with the next batch.
"""

from __future__ import annotations

import base64
import fcntl
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..config import GitTargetConfig
from .targets import Change, SiteFolder, TargetError

__all__ = ["GitTarget", "commit_message"]

_REJECTED = ("[rejected]", "fetch first", "non-fast-forward", "failed to push some refs")


def commit_message(changes: Sequence[Change], paths: dict[int, str]) -> str:
    """``Newsroom: 2 articles written, 1 removed`` and one line per file."""
    written = [c for c in changes if c.doc is not None]
    removed = [c for c in changes if c.doc is None]
    parts = []
    if written:
        parts.append(f"{len(written)} article{'s' * (len(written) != 1)} written")
    if removed:
        parts.append(f"{len(removed)} removed")
    lines = [f"write {paths.get(c.article_id, c.label)} (v{c.version})" for c in written]
    lines += [f"remove {c.previous_path or c.label}" for c in removed]
    return f"Newsroom: {', '.join(parts) or 'no changes'}\n\n" + "\n".join(lines) + "\n"


class GitTarget:
    def __init__(self, cfg: GitTargetConfig, covers_source: Path) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.repo = Path(cfg.repo_dir)
        self.site = SiteFolder(self.repo, cfg.content_subdir, cfg.covers_subdir, cfg.path_template, covers_source)

    # ---- git -------------------------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": self.cfg.author_name,
            "GIT_AUTHOR_EMAIL": self.cfg.author_email,
            "GIT_COMMITTER_NAME": self.cfg.author_name,
            "GIT_COMMITTER_EMAIL": self.cfg.author_email,
        }
        if self.cfg.token_env:
            token = os.environ.get(self.cfg.token_env)
            if not token:
                raise TargetError(f"git target {self.name}: environment variable {self.cfg.token_env} is not set")
            basic = base64.b64encode(f"{self.cfg.username}:{token}".encode()).decode()
            env.update(
                GIT_CONFIG_COUNT="1",
                GIT_CONFIG_KEY_0="http.extraHeader",
                GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
            )
        return env

    def _git(self, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(  # noqa: S603 - git with our own arguments, no shell
                ["git", *args],  # noqa: S607 - git from PATH, as a site owner runs it
                cwd=cwd or self.repo,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=self.cfg.timeout_seconds,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TargetError(f"git target {self.name}: git {args[0]}: {exc}") from exc
        if check and done.returncode != 0:
            raise TargetError(f"git target {self.name}: git {' '.join(args)}: {done.stderr.strip()[-500:]}")
        return done

    def _remote_branch(self) -> str:
        return f"{self.cfg.remote}/{self.cfg.branch}"

    def _has_remote_branch(self) -> bool:
        ref = f"refs/remotes/{self._remote_branch()}"
        return self._git("rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0

    def _ensure_repo(self) -> None:
        if not (self.repo / ".git").exists():
            if not self.cfg.remote_url:
                raise TargetError(f"git target {self.name}: {self.repo} is not a git clone and no remote_url is set")
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            self._git("clone", "--origin", self.cfg.remote, self.cfg.remote_url, str(self.repo), cwd=self.repo.parent)
        current = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
        if current != self.cfg.branch:
            self._git("fetch", self.cfg.remote)
            if self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{self.cfg.branch}", check=False).returncode:
                start = [self._remote_branch()] if self._has_remote_branch() else []
                self._git("checkout", "-b", self.cfg.branch, *start)
            else:
                self._git("checkout", self.cfg.branch)

    def _sync(self) -> None:
        """Catch up with the remote: our unpushed commits rebased on top of it, or, when they conflict with what
        someone pushed, dropped (the store still lists their changes as undelivered: they are written again)."""
        self._git("fetch", self.cfg.remote)
        if not self._has_remote_branch():
            return
        if self._git("rebase", self._remote_branch(), check=False).returncode != 0:
            self._git("rebase", "--abort", check=False)
            self._git("reset", "--quiet", "--hard", self._remote_branch())

    def _commit(self, changes: Sequence[Change]) -> dict[int, str]:
        try:
            paths = self.site.apply(changes)
        except OSError as exc:
            raise TargetError(f"git target {self.name}: {exc}") from exc
        subdirs = [d.as_posix() for d in (self.cfg.content_subdir, self.cfg.covers_subdir) if (self.repo / d).exists()]
        if subdirs:
            self._git("add", "--all", "--", *subdirs)
        if self._git("diff", "--cached", "--quiet", check=False).returncode:
            self._git("commit", "--quiet", "--no-verify", "-m", commit_message(changes, paths))
        return paths

    def _push(self) -> bool:
        """True when the remote took it (or there is nothing to push); False when it was rejected as behind."""
        if self._git("rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode:
            return True  # nothing committed yet
        done = self._git("push", self.cfg.remote, f"HEAD:refs/heads/{self.cfg.branch}", check=False)
        if done.returncode == 0:
            return True
        if any(sign in done.stderr for sign in _REJECTED):
            return False
        raise TargetError(f"git target {self.name}: push failed: {done.stderr.strip()[-500:]}")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One delivery at a time per clone (several workers may publish at once)."""
        self.repo.parent.mkdir(parents=True, exist_ok=True)
        with open(self.repo.parent / f".{self.repo.name}.newsroom-lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- the protocol ----------------------------------------------------------------------------------------------

    def deliver(self, changes: Sequence[Change]) -> dict[int, str]:
        with self._locked():
            self._ensure_repo()
            for _attempt in range(self.cfg.push_retries + 1):
                self._sync()
                paths = self._commit(changes)
                if self._push():
                    return paths
        raise TargetError(
            f"git target {self.name}: push still rejected after {self.cfg.push_retries + 1} attempts; retried later"
        )

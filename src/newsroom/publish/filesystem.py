"""Publish target: Markdown files under a content folder (what static-site generators read).

Writes are atomic — a temporary file in the same folder, fsync, then ``os.replace`` — so a reader (or a crash) never
sees half an article; an unchanged article is not rewritten, so its mtime stays and site rebuilds stay incremental.
Paths come from a template (``{lang}/{slug}.md`` by default) and are refused when they would leave the content folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import string
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path, PurePath

from .. import processes
from ..models import ArticleDoc
from .markdown import render_article

# who writes a temporary file, in its name (".<file>.<host>~<pid>.<random>.tmp"): the sweep after a crash removes
# those of a process on this host that no longer runs at once, without waiting for them to age
_HOST = "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname())[:32] or "host"
_TMP_WRITER = re.compile(r"\.([A-Za-z0-9-]{1,32})~(\d+)\.[A-Za-z0-9_]+\.tmp$")


def _writer_dead(name: str) -> bool:
    """True when a temporary file's name says it was written by a process on this host that no longer runs."""
    m = _TMP_WRITER.search(name)
    if m is None or m[1] != _HOST:
        return False
    return not processes.alive(int(m[2]))


__all__ = ["PLACEHOLDERS", "FilesystemTarget", "PathEscapeError"]

PLACEHOLDERS = frozenset({"lang", "slug", "date", "key"})


class PathEscapeError(ValueError):
    """A rendered path would land outside the content folder."""


def _check_template(template: str) -> None:
    try:
        fields = {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"bad path template {template!r}: {exc}; use {{lang}} {{slug}} {{date}} {{key}}") from None
    unknown = fields - PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)} in path template {template!r}; use {{lang}} {{slug}} "
            "{date} {key}"
        )
    if "slug" not in fields:
        raise ValueError(f"path template {template!r} has no {{slug}}: every story would write the same file")
    rendered = PurePath(template.format(lang="en", slug="x", date="2025-01-01", key="k"))
    if rendered.is_absolute() or rendered.anchor or ".." in rendered.parts:
        raise ValueError(f"path template {template!r} must be a relative path inside the content folder")


def _segment(name: str, value: str) -> str:
    """A placeholder value: one plain path segment, nothing that could climb out or hide."""
    if not value or value in (".", "..") or any(c in value for c in "/\\\0") or value != value.strip():
        raise PathEscapeError(f"{{{name}}} value {value!r} is not a plain file-name segment")
    return value


class FilesystemTarget:
    """Article files under ``content_dir``, at ``path_template`` (placeholders {lang} {slug} {date} {key})."""

    def __init__(self, content_dir: Path, path_template: str = "{lang}/{slug}.md") -> None:
        _check_template(path_template)
        self.content_dir = Path(content_dir)
        self.path_template = path_template
        self._root: Path | None = None  # content_dir resolved, once it exists

    def relative_path(self, doc: ArticleDoc) -> str:
        """``doc``'s path inside the content folder (``/``-separated).

        ``{date}`` is the publishedAt date (UTC, YYYY-MM-DD); ``{key}`` the source key.
        """
        return self._relative(doc.lang, doc.slug, doc.published_at, doc.source.key)

    def _relative(self, lang: str, slug: str, published: datetime, key: str) -> str:
        day = (published.astimezone(UTC) if published.tzinfo else published).date().isoformat()
        return self.path_template.format(
            lang=_segment("lang", lang), slug=_segment("slug", slug), date=day, key=_segment("key", key)
        )

    def path_of(self, lang: str, slug: str, published: datetime, key: str) -> Path:
        """``path_for`` from the four values the template can use."""
        return self._inside(self.content_dir / self._relative(lang, slug, published, key))

    def path_for(self, doc: ArticleDoc) -> Path:
        """Where ``doc`` lives; PathEscapeError when that would be outside ``content_dir``."""
        return self._inside(self.content_dir / self.relative_path(doc))

    def _inside(self, path: Path) -> Path:
        root = self._root or self.content_dir.resolve()
        if self._root is None and root.is_dir():
            self._root = root
        resolved = path.resolve()
        if ".." in path.parts or not resolved.is_relative_to(root) or resolved == root:
            raise PathEscapeError(
                f"{path} is outside the content folder {root}; check publish.path_template and the values it uses"
            )
        return path

    def write(self, doc: ArticleDoc) -> Path:
        """Render ``doc`` and write it atomically; an unchanged file is left alone. Returns its path."""
        # the template and the values are plain segments (``_check_template``, ``_segment``): where the path leads
        # is checked below, once where its folder exists (each check resolves every folder on the way: system calls
        # that, at concurrency 32, each wait for the GIL again)
        path = self.content_dir / self.relative_path(doc)
        data = render_article(doc).encode("utf-8")  # rendering fails here, before anything on disk is touched
        try:
            if path.read_bytes() == data:
                return self._inside(path)
        except FileNotFoundError:
            pass
        if not path.parent.is_dir():
            self._inside(path)  # before any folder is made on the way
            path.parent.mkdir(parents=True, exist_ok=True)
        self._inside(path)  # now that the folders exist (a symlinked folder could point elsewhere)
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_HOST}~{os.getpid()}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if hasattr(os, "fchmod"):  # mkstemp creates 0600; a published file is world-readable
                    os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(path.parent)
        return path

    def stray_files(self, min_age_s: float = 60.0) -> tuple[list[Path], list[Path]]:
        """What a crash can leave here: temporary files of interrupted writes, those of a writer on this host that no
        longer runs at once, the others once older than ``min_age_s`` (a younger one may belong to a write in
        progress in another process or on another host sharing the folder), and the article files Newsroom wrote (front
        matter with ``externalId`` and ``ai``) — which of those no row claims is for the caller to decide."""
        if not self.content_dir.is_dir():
            return [], []
        now = time.time()
        temps, articles = [], []
        for path in self.content_dir.rglob("*"):
            if path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    if _writer_dead(path.name) or now - path.stat().st_mtime >= min_age_s:
                        temps.append(path)
            elif path.suffix == ".md" and path.is_file() and _written_by_newsroom(path):
                articles.append(path)
        return temps, articles

    def remove(self, path: Path) -> None:
        """Delete an article file (a no-op when it is gone) and the folders it leaves empty, up to content_dir."""
        path = Path(path)
        if not path.is_absolute() and not path.is_relative_to(self.content_dir):
            path = self.content_dir / path
        path = self._inside(path)
        path.unlink(missing_ok=True)
        root = self.content_dir.resolve()
        parent = path.parent
        while parent.resolve() != root and parent.resolve().is_relative_to(root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def _written_by_newsroom(path: Path) -> bool:
    """A Markdown file with the front matter this target writes (not a page the site keeps beside the articles)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8192).decode("utf-8", "replace")
    except OSError:
        return False
    front = head.split("\n---\n", 1)[0] if head.startswith("---\n") else ""
    return "\nexternalId: " in front and "\nai:\n" in front


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

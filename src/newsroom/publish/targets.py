"""Publish targets behind one protocol: each takes a batch of changes (write or delete an article file) and either
delivers all of it or raises :class:`TargetError`, so the caller records per target what arrived.

* :class:`FolderTarget`: a site's folder (article files under ``content_subdir``, covers under ``covers_subdir``);
* :class:`~newsroom.publish.git.GitTarget`: the same layout in a git clone, committed and pushed once per batch;
* :class:`~newsroom.publish.webhook.WebhookTarget`: a signed JSON POST (a site's build hook).

The main content folder (``publish.content_dir``) is not one of these: the pipeline writes it as it goes, and the
targets receive what it holds (newsroom.publish.deliver).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config import FolderTargetConfig, GitTargetConfig, Settings, WebhookTargetConfig
from ..models import ArticleDoc
from .filesystem import FilesystemTarget

__all__ = ["Change", "FolderTarget", "PublishTarget", "SiteFolder", "TargetError", "make_targets"]


class TargetError(Exception):
    """A target did not take the batch (unreachable, rejected, refused); nothing of the batch counts as delivered."""


@dataclass(frozen=True)
class Change:
    """One article in a batch: ``doc`` to write, or ``None`` to delete what the target holds at ``previous_path``."""

    article_id: int
    lang: str
    slug: str
    version: int
    doc: ArticleDoc | None
    previous_path: str | None = None

    @property
    def label(self) -> str:
        return f"{self.lang}/{self.slug}"


class PublishTarget(Protocol):
    name: str

    def deliver(self, changes: Sequence[Change]) -> dict[int, str]:
        """Apply every change or raise TargetError; returns each written article's path on the target."""
        ...


class SiteFolder:
    """Article files and their cover files in a site's layout, under ``root``."""

    def __init__(
        self, root: Path, content_subdir: Path, covers_subdir: Path, path_template: str, covers_source: Path
    ) -> None:
        self.root = Path(root)
        self.files = FilesystemTarget(self.root / content_subdir, path_template)
        self.covers = self.root / covers_subdir
        self.covers_source = Path(covers_source)

    def apply(self, changes: Sequence[Change]) -> dict[int, str]:
        paths: dict[int, str] = {}
        for change in changes:
            if change.doc is None:
                if change.previous_path:
                    self.files.remove(Path(change.previous_path))
                continue
            path = self.files.write(change.doc)
            relative = path.relative_to(self.files.content_dir).as_posix()
            if change.previous_path and change.previous_path != relative:
                self.files.remove(Path(change.previous_path))
            self.copy_covers(change.slug)
            paths[change.article_id] = relative
        return paths

    def copy_covers(self, slug: str) -> None:
        """The story's cover files (when Newsroom drew them), copied where the site serves static files."""
        source = self.covers_source / slug
        if not source.is_dir() or source.resolve() == (self.covers / slug).resolve():
            return
        folder = self.covers / slug
        for file in sorted(source.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                _copy_if_changed(file, folder / file.name)


def _copy_if_changed(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    with contextlib.suppress(FileNotFoundError):
        if dst.read_bytes() == data:
            return
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        shutil.copymode(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FolderTarget:
    """A site folder that receives every published file (no version control, no hook)."""

    def __init__(self, cfg: FolderTargetConfig, covers_source: Path) -> None:
        self.name = cfg.name
        self.site = SiteFolder(cfg.dir, cfg.content_subdir, cfg.covers_subdir, cfg.path_template, covers_source)

    def deliver(self, changes: Sequence[Change]) -> dict[int, str]:
        try:
            return self.site.apply(changes)
        except OSError as exc:
            raise TargetError(f"folder {self.site.root}: {exc}") from exc


def make_targets(settings: Settings) -> list[PublishTarget]:
    """The targets ``publish.targets`` names, in order."""
    from .git import GitTarget
    from .webhook import WebhookTarget

    covers = settings.publish.covers_folder()
    out: list[PublishTarget] = []
    for cfg in settings.publish.targets:
        if isinstance(cfg, FolderTargetConfig):
            out.append(FolderTarget(cfg, covers))
        elif isinstance(cfg, GitTargetConfig):
            out.append(GitTarget(cfg, covers))
        elif isinstance(cfg, WebhookTargetConfig):
            out.append(WebhookTarget(cfg, settings.publish.path_template))
    return out

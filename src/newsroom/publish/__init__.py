"""Publish stage: article files (YAML frontmatter + Markdown body) in exactly the seed's shape, and their targets."""

from __future__ import annotations

from .filesystem import FilesystemTarget, PathEscapeError
from .frontmatter import SEED_KEYS, dump_frontmatter, frontmatter_data, iso_ms
from .markdown import parse_body, render_article, render_body, split_article

__all__ = [
    "SEED_KEYS",
    "FilesystemTarget",
    "PathEscapeError",
    "dump_frontmatter",
    "frontmatter_data",
    "iso_ms",
    "parse_body",
    "render_article",
    "render_body",
    "split_article",
]

"""The filesystem target on a real folder: template paths, escapes refused, atomic writes, unchanged files untouched."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsroom.models import COVER_SIZES, ArticleDoc, ArticleText, Section, Sentiment, SourceRef
from newsroom.publish import FilesystemTarget, PathEscapeError, parse_body, render_article, split_article
from newsroom.slugs import story_slug
from newsroom.stages.illustrate import placeholder_cover


def make_doc(**changes: Any) -> ArticleDoc:
    slug = story_slug("A synthetic headline", "example:1")
    values: dict[str, Any] = {
        "title": "A synthetic headline",
        "description": "A synthetic teaser.",
        "published_at": datetime(2025, 6, 1, 22, 30, tzinfo=timezone(timedelta(hours=-3))),  # 2025-06-02 in UTC
        "updated_at": datetime(2025, 6, 2, 2, 0, tzinfo=UTC),
        "lang": "uk",
        "external_id": "1",
        "source": SourceRef(name="Example Wire", key="example", type="ATOM"),
        "category": "BTC",
        "tags": ["BTC"],
        "sentiment": Sentiment.NEUTRAL,
        "score": 10,
        "draft": False,
        "cover_image": placeholder_cover("/covers", slug),
        "translated_from": "1",
        "version": 1,
        "slug": slug,
        "source_url": "https://news.example/1",
        "text": ArticleText(
            title="A synthetic headline",
            description="A synthetic teaser.",
            overview="Overview.",
            sections=[Section(heading="Topic", body="Body.")],
            why_it_matters="Why.",
            from_the_author="Voice.",
            market_impact=["One.", "Two.", "Three."],
        ),
    }
    values.update(changes)
    return ArticleDoc(**values)


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


# ---- paths ---------------------------------------------------------------------------------------------------------


def test_default_template(tmp_path: Path) -> None:
    doc = make_doc()
    assert FilesystemTarget(tmp_path).path_for(doc) == tmp_path / "uk" / f"{doc.slug}.md"


def test_all_placeholders(tmp_path: Path) -> None:
    target = FilesystemTarget(tmp_path, "{key}/{date}/{lang}-{slug}.md")
    doc = make_doc()
    assert target.path_for(doc) == tmp_path / "example" / "2025-06-02" / f"uk-{doc.slug}.md"  # the UTC date


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("../{slug}.md", "relative path inside"),
        ("/srv/{slug}.md", "relative path inside"),
        ("{lang}/{title}.md", "unknown placeholder"),
        ("{lang}/{slug.md", "bad path template"),
        ("{lang}/index.md", "no {slug}"),
    ],
)
def test_bad_templates_refused(tmp_path: Path, template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FilesystemTarget(tmp_path, template)


@pytest.mark.parametrize(
    "changes",
    [
        {"slug": "../../escaped"},
        {"slug": ".."},
        {"slug": ""},
        {"lang": "../.."},
        {"source": SourceRef(name="x", key="a/../../b", type="RSS")},
    ],
)
def test_values_that_escape_are_refused(tmp_path: Path, changes: dict[str, Any]) -> None:
    target = FilesystemTarget(tmp_path / "content", "{key}/{lang}/{slug}.md")
    with pytest.raises(PathEscapeError):
        target.write(make_doc(**changes))
    assert not (tmp_path / "escaped.md").exists()
    assert not (tmp_path / "content").exists()


@pytest.mark.parametrize("template", ["{lang}/{slug}.md", "{lang}/{date}/{slug}.md"])
def test_symlinked_folder_pointing_outside_is_refused(tmp_path: Path, template: str) -> None:
    """Nothing is written, and no folder made (a date folder would be new), where the symlink points."""
    outside = tmp_path / "outside"
    outside.mkdir()
    content = tmp_path / "content"
    content.mkdir()
    (content / "uk").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathEscapeError, match="outside the content folder"):
        FilesystemTarget(content, template).write(make_doc())
    assert list(outside.iterdir()) == []


# ---- writing -------------------------------------------------------------------------------------------------------


def test_write_then_read_back(tmp_path: Path) -> None:
    doc = make_doc()
    path = FilesystemTarget(tmp_path / "content").write(doc)
    raw = path.read_text(encoding="utf-8")
    assert raw == render_article(doc)
    fm_text, _ = split_article(raw)
    fm = yaml.safe_load(fm_text)
    assert fm["slug"] == doc.slug and fm["coverImage"]["thumb"] == f"/covers/{doc.slug}/thumb.png"
    assert parse_body(raw, "uk") == doc.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []


def test_unchanged_content_is_not_rewritten(tmp_path: Path) -> None:
    target = FilesystemTarget(tmp_path)
    path = target.write(make_doc())
    old = 1_000_000_000
    os.utime(path, (old, old))
    inode = path.stat().st_ino
    assert target.write(make_doc()) == path
    assert path.stat().st_mtime == old and path.stat().st_ino == inode
    target.write(make_doc(version=2))  # changed: rewritten
    assert path.stat().st_mtime != old
    assert "  version: 2\n" in path.read_text(encoding="utf-8")
    assert leftovers(tmp_path) == []


def test_failed_render_leaves_the_old_file(tmp_path: Path) -> None:
    target = FilesystemTarget(tmp_path)
    path = target.write(make_doc())
    before = path.read_bytes()
    with pytest.raises(ValueError, match="naive"):
        target.write(make_doc(updated_at=datetime(2025, 6, 3), version=2))
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the disk fails at fsync, after the temporary file was written."""
    target = FilesystemTarget(tmp_path)
    path = target.write(make_doc())
    before = path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="injected"):
        target.write(make_doc(version=3))
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_existing_file_mode_is_kept(tmp_path: Path) -> None:
    target = FilesystemTarget(tmp_path)
    path = target.write(make_doc())
    path.chmod(0o664)
    target.write(make_doc(version=2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


def test_remove(tmp_path: Path) -> None:
    content = tmp_path / "content"
    target = FilesystemTarget(content, "{lang}/{date}/{slug}.md")
    path = target.write(make_doc())
    target.remove(path)
    assert not path.exists() and not (content / "uk").exists() and content.is_dir()
    target.remove(path)  # already gone: fine
    with pytest.raises(PathEscapeError):
        target.remove(tmp_path / "elsewhere.md")


# ---- cover placeholders ------------------------------------------------------------------------------------------


def test_placeholder_cover() -> None:
    cover = placeholder_cover("https://cdn.example/covers/", "some-slug-1a2b3c4d")
    assert [getattr(cover, s) for s in COVER_SIZES] == [
        f"https://cdn.example/covers/some-slug-1a2b3c4d/{s}.png" for s in COVER_SIZES
    ]
    assert cover.credit is None
    for bad in ("", "..", "a/b"):
        with pytest.raises(ValueError, match="slug"):
            placeholder_cover("/covers", bad)

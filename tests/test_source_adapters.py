"""The source protocol: built-in kinds, an adapter from an installed package (entry points), unknown kinds."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from newsroom.config import ConfigError, SourceConfig, load_settings
from newsroom.sources import base
from newsroom.sources.base import SourceAdapter, adapter_for, source_kinds
from newsroom.stages.poll import poll_sources
from newsroom.stages.write import source_label
from newsroom.store.db import Store
from source_support import NOW, Scripted, http_server, serve, server, settings_for, source_row, stored

__all__ = ["http_server", "server"]  # fixtures used by the tests below
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_every_builtin_kind_has_an_adapter() -> None:
    for kind in ("RSS", "ATOM", "API", "SITEMAP", "JSONFEED", "TELEGRAM"):
        assert kind in source_kinds()
        assert isinstance(adapter_for(kind), SourceAdapter)
    assert adapter_for("rss") is adapter_for("RSS")


def test_an_unknown_type_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text('[[sources]]\nkey = "x"\nname = "X"\nurl = "https://e.com/"\ntype = "GOPHER"\n')
    with pytest.raises(ConfigError, match=r"sources\.0\.type: .*unknown source type 'GOPHER'.*RSS"):
        load_settings(cfg)


PLUGIN = '''
from datetime import UTC, datetime

from newsroom.models import FeedItem
from newsroom.sources.base import Batch


class LinesAdapter:
    """A toy kind: each line of a text file is an item (what a third-party package would ship)."""

    async def poll(self, spec, ctx):
        response = await ctx.get(spec.url)  # the guarded GET every adapter gets
        if response.status != "ok":
            return Batch.failed(response.error)
        items = [
            FeedItem(source_key=spec.key, external_id=f"line-{n}", url=f"https://e.com/{n}", title=line,
                     published_at=datetime(2025, 12, 12, n, tzinfo=UTC))
            for n, line in enumerate(response.body.decode().splitlines(), 1)
        ]
        return Batch(status="ok", items=items, cursor=spec.options.get("tag"))
'''


@pytest.fixture
def plugin_package(tmp_path: Path) -> Iterator[None]:
    """A tiny installed distribution (a package plus its .dist-info with entry_points.txt) on sys.path."""
    root = tmp_path / "site"
    (root / "newsroom_lines").mkdir(parents=True)
    (root / "newsroom_lines" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = root / "newsroom_lines-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: newsroom-lines\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[newsroom.sources]\nLINES = newsroom_lines:LinesAdapter\n")
    sys.path.insert(0, str(root))
    base.refresh_registry()
    yield
    sys.path.remove(str(root))
    sys.modules.pop("newsroom_lines", None)
    base.refresh_registry()


async def test_an_installed_package_adds_a_source_kind(plugin_package: None, store: Store, server: HTTPServer) -> None:
    assert "LINES" in source_kinds()
    url = serve(server, "/lines.txt", Scripted(b"first line\nsecond line\n", content_type="text/plain"))
    settings = settings_for({"key": "lines", "url": url, "type": "lines", "language": "en", "options": {"tag": "t1"}})
    (report,) = await poll_sources(store, settings, now=NOW)
    assert report.status == "ok" and report.new_items == 2
    assert [i.title for i in stored(store, "lines")] == ["first line", "second line"]
    assert source_row(store, "lines").cursor == "t1"  # the adapter's cursor is kept for its next poll
    strict = settings_for({"key": "lines", "url": url, "type": "LINES"}, fetch={"allow_private_networks": False})
    (refused,) = await poll_sources(store, strict, now=NOW, force=True)
    assert refused.status == "error" and "loopback" in (refused.error or "")  # ctx.get guards a plugin's requests


def test_without_the_package_the_kind_is_unknown() -> None:
    assert "LINES" not in source_kinds()
    with pytest.raises(ValueError, match="unknown source type"):
        SourceConfig(key="x", name="X", url="https://e.com/", type="LINES")


def test_the_write_prompt_names_a_foreign_source_language() -> None:
    assert source_label("Forklog", "uk", "en") == "Forklog (text in uk)"
    assert source_label("CoinDesk", "en", "en") == source_label("CoinDesk", None, "en") == "CoinDesk"

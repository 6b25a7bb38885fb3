"""The language of an item whose feed states none: detected when the item is stored, the same decision as before.

``finalise`` keeps the configured or stated language; ``stages.poll`` detects the rest (``item_languages``) for the
new items only, on the text ``finalise`` left. These tests poll feeds that state no language (the corpus feeds with
their ``<language>`` removed, and feeds built at test time from the corpus's German, Russian, Ukrainian, Chinese and
Japanese dev sentences) and check every stored language against lingua's decision on the item's title and summary,
computed here as the poll computed it before the change; and that known entries and entries beyond
``max_items_per_source`` are never detected.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newsroom.sources import normalise
from newsroom.sources.base import Batch
from newsroom.sources.feeds import parse_feed
from newsroom.stages.poll import poll_sources
from newsroom.store.db import Store
from newsroom.store.tables import ItemRow
from source_support import Scripted, http_server, serve, server, settings_for

__all__ = ["http_server", "server"]
pytestmark = pytest.mark.anyio

NOW = datetime(2025, 12, 13, 12, 0, tzinfo=UTC)
FEEDS = ["coindesk.rss", "coingtelegraph-all.rss", "decrypt.rss", "theblock.rss"]
OTHER = ["wmt22_en_de_dev.de", "wmt22_en_ru_dev.ru", "wmt22_en_uk_dev.uk", "wmt22_en_zh_dev.zh", "wmt22_en_ja_dev.ja"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def unstated(body: bytes) -> bytes:
    """A corpus feed without its ``<language>``."""
    return re.sub(rb"<language>[^<]*</language>", b"", body)


def sentences_feed(lines: list[str], prefix: str) -> bytes:
    """An RSS 2.0 feed (no language) whose entries are the given sentences: a headline of the first words, the
    sentence as the description."""
    items = "".join(
        f"<item><title>{escape(' '.join(line.split()[:8]))}</title><link>https://e.example/{prefix}/{n}</link>"
        f"<guid>{prefix}-{n}</guid><pubDate>Sat, 13 Dec 2025 {n % 24:02d}:00:00 GMT</pubDate>"
        f"<description>{escape(line)}</description></item>"
        for n, line in enumerate(lines)
    )
    head = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>".encode()


def bodies(corpus: Path, per_language: int = 30) -> dict[str, bytes]:
    out = {f.split(".")[0].replace("-", "_"): unstated((corpus / "feeds" / f).read_bytes()) for f in FEEDS}
    for name in OTHER:
        lines = [x.strip() for x in (corpus / "translation" / name).read_text().splitlines() if x.strip()]
        lang = name.rsplit(".", 1)[1]
        out[f"wmt_{lang}"] = sentences_feed(lines[:per_language], lang)
    return out


def expected_languages(key: str, body: bytes, url: str) -> dict[str, str | None]:
    """lingua's decision on each entry as the poll made it before detection moved: in ``finalise``, on the cleaned
    title and the summary (else the start of the body)."""
    parsed = parse_feed(body, source_key=key, base_url=url, now=NOW)
    batch = normalise.finalise(Batch(status="ok", items=parsed.items), language=None, now=NOW, max_items=1000)
    return {
        i.external_id: normalise.detect_language(f"{i.title}\n{i.summary or i.content[:1000]}") for i in batch.items
    }


async def test_detected_languages_are_lingua_decisions(sqlite_store: Store, corpus: Path, server: HTTPServer) -> None:
    feeds = bodies(corpus)
    urls = {
        key: serve(server, f"/{key}", Scripted(body, content_type="application/rss+xml")) for key, body in feeds.items()
    }
    settings = settings_for(*({"key": k, "url": u} for k, u in urls.items()), max_items_per_source=1000)
    reports = await poll_sources(sqlite_store, settings, now=NOW)
    assert all(r.status == "ok" and r.new_items for r in reports), reports
    with sqlite_store.session() as s:
        got = {
            (k, e): lang for k, e, lang in s.execute(select(ItemRow.source_key, ItemRow.external_id, ItemRow.language))
        }
    expected = {(k, e): lang for k in feeds for e, lang in expected_languages(k, feeds[k], urls[k]).items()}
    assert got == expected
    found = Counter(got.values())
    for lang in ("en", "de", "ru", "uk", "zh", "ja"):
        assert found[lang] >= 10, found  # every language is really detected, not only English


async def test_known_and_surplus_entries_are_not_detected(
    sqlite_store: Store, corpus: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts: list[str] = []
    real = normalise.detect_language

    def counting(text: str) -> str | None:
        texts.append(text)
        return real(text)

    monkeypatch.setattr(normalise, "detect_language", counting)
    monkeypatch.setattr(normalise, "_detected", {})
    body = unstated((corpus / "feeds" / "decrypt.rss").read_bytes())
    url = serve(server, "/d.rss", Scripted(body, content_type="application/rss+xml"))  # ignores validators
    settings = settings_for({"key": "decrypt", "url": url}, max_items_per_source=10)
    (first,) = await poll_sources(sqlite_store, settings, now=NOW)
    assert first.new_items == 10 and len(texts) == 10  # the 48 entries beyond max_items_per_source: never detected
    (again,) = await poll_sources(sqlite_store, settings, now=NOW + timedelta(hours=1), force=True)
    assert again.new_items == 0 and len(texts) == 10  # a re-poll's known entries: not detected again


async def test_a_copy_in_another_source_is_detected_once(
    sqlite_store: Store, corpus: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Counter[str]()
    real = normalise.detect_language

    def counting(text: str) -> str | None:
        calls[text] += 1
        return real(text)

    monkeypatch.setattr(normalise, "detect_language", counting)
    monkeypatch.setattr(normalise, "_detected", {})
    lines = [x for x in (corpus / "translation" / OTHER[0]).read_text().splitlines() if x.strip()][:12]
    body = sentences_feed(lines, "de")
    urls = [serve(server, f"/{k}", Scripted(body, content_type="application/rss+xml")) for k in ("a", "b")]
    settings = settings_for({"key": "a", "url": urls[0]}, {"key": "b", "url": urls[1]})
    reports = await poll_sources(sqlite_store, settings, now=NOW)
    assert [r.new_items for r in reports] == [12, 12]
    assert len(calls) == 12 and set(calls.values()) == {1}
    with sqlite_store.session() as s:
        by_source: dict[str, list[str | None]] = {}
        for key, lang in s.execute(select(ItemRow.source_key, ItemRow.language).order_by(ItemRow.external_id)):
            by_source.setdefault(key, []).append(lang)
    assert by_source["a"] == by_source["b"] and by_source["a"].count("de") >= 10

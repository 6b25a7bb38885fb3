"""Hostile feed input: one bad entry beside good ones is skipped or repaired with a recorded reason, the good ones
are stored (SQLite and PostgreSQL); lying encodings are repaired; every request honours fetch.allow_hosts; a source
in backoff says how to poll it anyway, and a config change resets its backoff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from newsroom.cli import app
from newsroom.sources import normalise
from newsroom.sources.encoding import decode_document
from newsroom.sources.normalise import MAX_LINK_CHARS, MAX_TITLE_CHARS, web_link
from newsroom.stages.poll import poll_sources
from newsroom.store.db import Store
from source_support import NOW, Scripted, http_server, serve, server, settings_for, source_row, stored

__all__ = ["http_server", "server"]
pytestmark = pytest.mark.anyio
GOOD = [(f"g-{n}", f"Good entry number {n} about bitcoin", f"https://e.com/good/{n}") for n in (1, 2)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def item(guid: str | None, title: str, link: str | None, date: str = "Fri, 12 Dec 2025 10:00:00 GMT") -> str:
    parts = [f"<title>{title}</title>", f"<pubDate>{date}</pubDate>", "<description>Some text.</description>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if link is not None:
        parts.append(f"<link>{link}</link>")
    return "<item>" + "".join(parts) + "</item>"


def rss(*entries: str, encoding: str = "utf-8", language: str = "en") -> str:
    good = "".join(item(*g) for g in GOOD)
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>t</title>'
        f"<language>{language}</language>{good}{''.join(entries)}</channel></rss>"
    )


async def poll_one_feed(store: Store, server: HTTPServer, body: bytes, **settings: object):  # type: ignore[no-untyped-def]
    url = serve(server, "/feed.xml", Scripted(body, content_type="application/rss+xml"))
    (report,) = await poll_sources(store, settings_for({"key": "feed", "url": url}, **settings), now=NOW)
    return report, {i.external_id: i for i in stored(store, "feed")}


def assert_good_kept(items: dict) -> None:  # type: ignore[type-arg]
    for guid, title, link in GOOD:
        assert items[guid].title == title and items[guid].url == link


HOSTILE = {
    # one entry each; what must happen to it
    "lone-surrogate": (item("s-1", "Surrogate &#xD800; here", "https://e.com/s"), "s-1", "Surrogate here"),
    "nul-in-guid-and-link": (item("n&#0;-1", "NUL entry", "https://e.com/n&#0;ul"), "n-1", "NUL entry"),
    "raw-nul-and-controls": (item("r-1", "Raw \x00NUL\x07 title", "https://e.com/r"), "r-1", "Raw NUL title"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_characters_no_database_takes_are_removed(store: Store, server: HTTPServer, case: str) -> None:
    entry, guid, title = HOSTILE[case]
    report, items = await poll_one_feed(store, server, rss(entry).encode())
    assert report.status == "ok" and report.new_items == 3, report
    assert_good_kept(items)
    assert items[guid].title == title
    assert "\x00" not in items[guid].url


async def test_non_web_links_are_dropped_and_long_ones_too(store: Store, server: HTTPServer) -> None:
    entries = (
        item("js", "Script link", "javascript:alert(document.cookie)"),
        item("data", "Data link", "data:text/html;base64,PHNjcmlwdD4="),
        item("long", "Long link", "https://e.com/" + "a" * 100_000),
    )
    report, items = await poll_one_feed(store, server, rss(*entries).encode())
    assert report.new_items == 5
    assert_good_kept(items)
    assert items["js"].url == items["data"].url == items["long"].url == ""  # kept by guid, never published as a link
    assert report.flagged == {"link-scheme": 2, "link-too-long": 1}


HOSTILE_LINKS = [
    "javascript:alert(1)", "JAVASCRIPT://e.com/%0Aalert(1)", "data:text/html,<b>x</b>", "vbscript:msgbox",
    "file:///etc/passwd", "ftp://e.com/x", "mailto:a@e.com", "//e.com/no-scheme", "/relative/path", "e.com/x",
    "http:///no-host", "https://?q", "http://#f", "http:e.com", "https:/e.com", "http://[::1/x", "http://::1]/x",
    "http://[fe80::1]/x", "http://[not-ipv6]/x", "http://[v1.x]/", "https://e\u2100.com/x", "https://ｅ.com/x",
    "https://e.com/\u00e9t\u00e9", "http://\t/x", "http:\t//e.com/x", "ht\ntp://e.com/x", "http://\n", "https://e.com/a\tb",
    "HTTP://E.COM:80/x", "hTtPs://e.com", "https://user:pw@e.com:99999/x", "http://e.com:port/x", " https://e.com/ ",
    "https://e.com/\x00nul", "\x01https://e.com/x",
    "https://" + "a" * (MAX_LINK_CHARS - 8), "https://" + "a" * MAX_LINK_CHARS,
    "http://e.com\\@evil.com/", "https://e.com/<script>", "", "   ", "http://", "https://",
]  # fmt: skip


def _web_link_by_splitting(url: str) -> tuple[str, str | None]:
    """``web_link`` with every link split (its fast path for plain http(s) links off)."""
    original = normalise._plain_web_link
    normalise._plain_web_link = lambda _url: False
    try:
        return web_link(url)
    finally:
        normalise._plain_web_link = original


@pytest.mark.parametrize("link", HOSTILE_LINKS)
def test_hostile_links_are_refused_or_kept_as_without_the_fast_path(link: str) -> None:
    """Links that are not plain http(s) ones are refused (or kept) exactly as ``urlsplit`` decides: the fast path for
    the plain ones changes no outcome."""
    assert web_link(link) == _web_link_by_splitting(link)
    if link.strip().lower().startswith(("javascript", "data:", "file:", "ftp:", "mailto:", "vbscript:", "//", "/")):
        assert web_link(link)[0] == ""


_LINK_PARTS = ["http", "https", "HTTP", ":", "/", "//", "[", "]", "?", "#", "@", "e.com", ":80", "\t", "\n", " ", "é",
               "\u2100", "ｅ", "%0A", "javascript:", "\\"]  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_LINK_PARTS), max_size=8).map("".join))
def test_the_link_fast_path_agrees_with_urlsplit_on_generated_links(link: str) -> None:
    assert web_link(link) == _web_link_by_splitting(link)


async def test_a_huge_title_is_capped(store: Store, server: HTTPServer) -> None:
    huge = "Bitcoin " * 130_000  # about 1 MB
    report, items = await poll_one_feed(store, server, rss(item("big", huge, "https://e.com/big")).encode())
    assert report.new_items == 3
    assert_good_kept(items)
    assert len(items["big"].title) <= MAX_TITLE_CHARS and items["big"].title.endswith("…")


async def test_dates_in_the_future_are_replaced_and_ancient_ones_flagged(store: Store, server: HTTPServer) -> None:
    entries = (
        item("y2099", "From 2099", "https://e.com/2099", "Thu, 01 Jan 2099 00:00:00 GMT"),
        item("y9999", "From 9999", "https://e.com/9999", "Fri, 31 Dec 9999 23:59:59 GMT"),
        item("tomorrow", "Within a day", "https://e.com/t", "Sat, 13 Dec 2025 20:00:00 GMT"),
        item("y1970", "From 1970", "https://e.com/1970", "Thu, 01 Jan 1970 00:00:00 GMT"),
    )
    report, items = await poll_one_feed(store, server, rss(*entries).encode())
    assert report.new_items == 6
    assert items["y2099"].published_at == items["y9999"].published_at == NOW
    assert items["y2099"].signals["date_replaced"].startswith("2099")
    assert items["tomorrow"].published_at == datetime(2025, 12, 13, 20, tzinfo=UTC)  # within a day: kept
    assert items["y1970"].published_at.year == 1970 and items["y1970"].signals == {"date_implausible": True}
    assert report.flagged == {"date-in-future": 2, "date-implausibly-old": 1}


async def test_entries_not_stored_are_counted_by_reason(store: Store, server: HTTPServer) -> None:
    entries = (
        item(None, "Neither guid nor link", None),
        item("g-1", "The same guid again", "https://e.com/again"),
        *(item(f"x-{n}", f"Extra {n}", f"https://e.com/x/{n}", f"Thu, 11 Dec 2025 0{n}:00:00 GMT") for n in range(3)),
    )
    report, items = await poll_one_feed(store, server, rss(*entries).encode(), max_items_per_source=4)
    assert report.new_items == 4 and set(items) == {"g-1", "g-2", "x-2", "x-1"}
    assert items["g-1"].title == GOOD[0][1]  # the first occurrence of a guid wins
    assert report.skipped == {"no-id": 1, "duplicate-id": 1, "over-max-items": 1}
    row = source_row(store, "feed")
    assert row.skip_counts == {"no-id": 1, "duplicate-id": 1, "over-max-items": 1}
    assert row.last_skips is not None and row.last_skips["skipped"] == report.skipped
    # a second poll of the same feed adds to the running totals
    (again,) = await poll_sources(store, settings_for({"key": "feed", "url": row.url}, max_items_per_source=4),
                                  now=NOW + timedelta(hours=1), force=True)  # fmt: skip
    assert again.new_items == 0 and source_row(store, "feed").skip_counts == {
        "no-id": 2, "duplicate-id": 2, "over-max-items": 2
    }  # fmt: skip


CYRILLIC = "Биткоин вырос до нового максимума, сообщают аналитики рынка криптовалют"


@pytest.mark.parametrize(
    ("declared", "actual"),
    [("utf-8", "windows-1251"), ("windows-1251", "utf-8"), ("koi8-r", "utf-8")],
)
async def test_a_lying_encoding_is_repaired(store: Store, server: HTTPServer, declared: str, actual: str) -> None:
    body = rss(item("ru-1", CYRILLIC, "https://e.com/ru"), encoding=declared, language="ru").encode(actual)
    report, items = await poll_one_feed(store, server, body)
    assert items["ru-1"].title == CYRILLIC
    assert items["ru-1"].language == "ru"
    assert report.status == "bozo" and f"declared {declared}" in (report.error or "")
    assert_good_kept(items)


def test_the_encoding_check_trusts_a_true_declaration() -> None:
    text = f'<?xml version="1.0" encoding="windows-1251"?><t>{CYRILLIC}</t>'
    assert decode_document(text.encode("cp1251")) == (text, None)
    assert decode_document(text.encode("utf-16")) == (text, None)  # a BOM decides


async def test_allow_hosts_is_honoured_for_feeds(store: Store, server: HTTPServer) -> None:
    url = serve(server, "/feed.xml", Scripted(rss().encode(), content_type="application/rss+xml"))
    strict = {"allow_private_networks": False}
    (refused,) = await poll_sources(store, settings_for({"key": "feed", "url": url}, fetch=strict), now=NOW)
    assert refused.status == "error" and "loopback" in (refused.error or "")
    allowed = settings_for({"key": "feed", "url": url}, fetch={**strict, "allow_hosts": ["127.0.0.1"]})
    (report,) = await poll_sources(store, allowed, now=NOW, force=True)
    assert report.status == "ok" and report.new_items == 2


async def test_a_config_change_resets_the_backoff(sqlite_store: Store, server: HTTPServer) -> None:
    broken = serve(server, "/broken.xml", Scripted(b"gone", status=500))
    await poll_sources(sqlite_store, settings_for({"key": "feed", "url": broken}), now=NOW)
    assert source_row(sqlite_store, "feed").error_count == 1
    assert await poll_sources(sqlite_store, settings_for({"key": "feed", "url": broken}), now=NOW) == []  # waiting
    fixed = settings_for({"key": "feed", "url": broken, "language": "en"})  # any change of the source's config
    (report,) = await poll_sources(sqlite_store, fixed, now=NOW)
    assert report.status == "error" and source_row(sqlite_store, "feed").error_count == 1  # polled at once


def test_poll_says_how_to_poll_backed_off_sources(tmp_path: Path, server: HTTPServer) -> None:
    broken = serve(server, "/broken.xml", Scripted(b"gone", status=500))
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "n.db"}"\n[fetch]\nallow_private_networks = true\n'
        f'[[sources]]\nkey = "feed"\nname = "Feed"\nurl = "{broken}"\n'
    )
    runner = CliRunner()
    first = runner.invoke(app, ["poll", "--config", str(cfg)])
    assert first.exit_code == 0 and "--force" not in first.output
    second = runner.invoke(app, ["poll", "--config", str(cfg)])
    assert second.exit_code == 0
    assert "1 source(s) are backed off" in second.output and "--force" in second.output and "feed" in second.output


def test_stats_counts_skipped_entries_per_source(tmp_path: Path, server: HTTPServer) -> None:
    body = rss(item("g-1", "The same guid again", "https://e.com/again"), item(None, "No id", None)).encode()
    url = serve(server, "/feed.xml", Scripted(body, content_type="application/rss+xml"))
    cfg = tmp_path / "newsroom.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "n.db"}"\n[fetch]\nallow_private_networks = true\n'
        f'[[sources]]\nkey = "feed"\nname = "Feed"\nurl = "{url}"\nlanguage = "en"\n'
    )
    runner = CliRunner()
    polled = runner.invoke(app, ["poll", "--config", str(cfg)])
    assert polled.exit_code == 0 and "duplicate-id 1, no-id 1" in polled.output
    stats = runner.invoke(app, ["stats", "--json", "--config", str(cfg)])
    (feed,) = json.loads(stats.stdout)["sources"]
    assert feed["skipped"] == {"duplicate-id": 1, "no-id": 1} and feed["items"] == 2
    table = runner.invoke(app, ["stats", "--config", str(cfg)])
    assert "duplicate-id 1, no-id 1" in table.output

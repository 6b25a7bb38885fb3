"""parse_feed on every real feed of the corpus (no server), checked against values read independently from the XML."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from newsroom.sources.feeds import parse_feed
from newsroom.urls import canonical_url

FEEDS = [
    "coindesk.rss",
    "coingtelegraph-all.rss",
    "decrypt.rss",
    "theblock.rss",
    "prnewswire-news-releases-list.rss",
]
EXPECTED_COUNTS = {  # SOURCES.md; also recounted from the XML below
    "coindesk.rss": 25,
    "coingtelegraph-all.rss": 30,
    "decrypt.rss": 58,
    "theblock.rss": 19,
    "prnewswire-news-releases-list.rss": 20,
}
DC_SUBJECT = "{http://purl.org/dc/elements/1.1/}subject"
CAPTURE_END = datetime(2025, 12, 14, tzinfo=UTC)
ENTITY_LEFTOVER = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)


def _xml_items(path: Path) -> list[ET.Element]:
    return ET.parse(path).getroot().findall("./channel/item")


@pytest.fixture(scope="module")
def parsed(corpus: Path) -> dict[str, object]:
    return {name: parse_feed((corpus / "feeds" / name).read_bytes(), source_key=name) for name in FEEDS}


@pytest.mark.parametrize("name", FEEDS)
def test_every_entry_becomes_an_item(corpus: Path, parsed: dict, name: str) -> None:
    feed = parsed[name]
    raw = (corpus / "feeds" / name).read_bytes()
    assert len(feed.items) == len(re.findall(rb"<item[\s>]", raw)) == len(_xml_items(corpus / "feeds" / name))
    assert len(feed.items) == EXPECTED_COUNTS[name]
    assert feed.kind == "RSS"
    assert feed.bozo is None
    assert feed.skipped == 0


@pytest.mark.parametrize("name", FEEDS)
def test_external_ids_unique_and_from_guid(corpus: Path, parsed: dict, name: str) -> None:
    items = parsed[name].items
    ids = [i.external_id for i in items]
    assert len(set(ids)) == len(ids)
    guids = [(el.findtext("guid") or "").strip() for el in _xml_items(corpus / "feeds" / name)]
    for item, guid in zip(items, guids, strict=True):
        if guid:
            assert item.external_id == guid
        else:
            assert item.external_id == hashlib.sha256(item.url.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", FEEDS)
def test_timestamps_are_utc_and_match_the_feed(corpus: Path, parsed: dict, name: str) -> None:
    items = parsed[name].items
    raw_dates = [el.findtext("pubDate") for el in _xml_items(corpus / "feeds" / name)]
    for item, raw in zip(items, raw_dates, strict=True):
        assert item.published_at.tzinfo is not None
        assert item.published_at.utcoffset() == timedelta(0)
        assert item.published_at == parsedate_to_datetime(raw)  # an independent RFC 822 parser
        assert item.published_at < CAPTURE_END
    newest = max(i.published_at for i in items)
    assert datetime(2025, 12, 12, tzinfo=UTC) <= newest < CAPTURE_END  # captured 12-13 Dec 2025


def test_the_block_minus_five_hours_converts_to_utc(corpus: Path, parsed: dict) -> None:
    items = parsed["theblock.rss"].items
    raw_dates = [el.findtext("pubDate") or "" for el in _xml_items(corpus / "feeds" / "theblock.rss")]
    offsets = [d for d in raw_dates if d.strip().endswith("-0500")]
    assert offsets, "The Block's capture carries -0500 offsets"
    for item, raw in zip(items, raw_dates, strict=True):
        local = datetime.strptime(raw.strip(), "%a, %d %b %Y %H:%M:%S %z")
        assert item.published_at == local
        if raw.strip().endswith("-0500"):
            assert item.published_at.hour == (local.hour + 5) % 24


@pytest.mark.parametrize("name", FEEDS)
def test_links_are_canonical(corpus: Path, parsed: dict, name: str) -> None:
    links = [(el.findtext("link") or "").strip() for el in _xml_items(corpus / "feeds" / name)]
    for item, link in zip(parsed[name].items, links, strict=True):
        assert item.url == canonical_url(link)
        assert item.url.startswith("https://")
        assert "utm_" not in item.url
        assert "#" not in item.url


def test_cointelegraph_utm_parameters_are_stripped(corpus: Path, parsed: dict) -> None:
    raw = (corpus / "feeds" / "coingtelegraph-all.rss").read_text(encoding="utf-8")
    assert "utm_source" in raw  # the capture really has them
    assert all("?" not in i.url for i in parsed["coingtelegraph-all.rss"].items)


@pytest.mark.parametrize("name", FEEDS)
def test_text_is_plain(parsed: dict, name: str) -> None:
    for item in parsed[name].items:
        for value in (item.title, item.summary, item.content, item.author or ""):
            assert "<" not in value or not re.search(r"<[a-zA-Z/!]", value)
            assert not ENTITY_LEFTOVER.search(value), value
        assert item.title


def test_decrypt_double_escaped_entities_become_apostrophes(corpus: Path, parsed: dict) -> None:
    raw = (corpus / "feeds" / "decrypt.rss").read_text(encoding="utf-8")
    assert "&amp;#039;" in raw  # double-escaped in the capture
    feed = parsed["decrypt.rss"]
    assert "'" in feed.description
    assert "#039" not in feed.description and "&" not in feed.description
    titles_with_apostrophe = [i.title for i in feed.items if "'" in i.title]
    assert titles_with_apostrophe  # &#39; in titles decoded too
    assert not any("&#39;" in t or "&#039;" in t for t in titles_with_apostrophe)


def test_coindesk_summary_survives_the_empty_dc_description(parsed: dict) -> None:
    # CoinDesk follows <description> with an empty <dc:description/>; the summary must not be wiped.
    items = parsed["coindesk.rss"].items
    assert all(i.summary for i in items)


def test_the_block_content_encoded_is_used(parsed: dict) -> None:
    items = parsed["theblock.rss"].items
    assert all(i.content for i in items)
    assert all(i.text == i.content or len(i.summary) >= len(i.content) for i in items)


@pytest.mark.parametrize("name", FEEDS)
def test_source_categories_kept_in_order_without_duplicates(corpus: Path, parsed: dict, name: str) -> None:
    for item, el in zip(parsed[name].items, _xml_items(corpus / "feeds" / name), strict=True):
        # <category> and Dublin Core <dc:subject> (PR Newswire) are both source categories, in document order
        raw = [(c.text or "").strip() for c in el if c.tag in ("category", DC_SUBJECT)]
        expected: list[str] = []
        for term in raw:
            if term and term.casefold() not in {e.casefold() for e in expected}:
                expected.append(term)
        assert item.categories == expected


def test_categories_present_where_the_feed_has_them(parsed: dict) -> None:
    assert all(i.categories for i in parsed["theblock.rss"].items)
    assert all(i.categories for i in parsed["coindesk.rss"].items)
    assert all("" not in i.categories for i in parsed["decrypt.rss"].items)  # its empty <category/> dropped


def test_authors(parsed: dict) -> None:
    assert all(i.author for i in parsed["coindesk.rss"].items)
    assert all(i.author for i in parsed["theblock.rss"].items)


# ---- hostile and edge-case documents (written here, not from the corpus) -------------------------------------------

NOW = datetime(2025, 12, 13, 12, 0, tzinfo=UTC)


def _rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_entries_without_link_and_id_are_skipped_and_counted() -> None:
    doc = _rss(
        "<item><title>kept by guid</title><guid isPermaLink='false'>g-1</guid></item>"
        "<item><title>kept by link</title><link>https://e.com/a?utm_source=x</link></item>"
        "<item><title>dropped</title><description>nothing to identify it</description></item>"
    )
    feed = parse_feed(doc, source_key="s", now=NOW)
    assert [i.title for i in feed.items] == ["kept by guid", "kept by link"]
    assert feed.skipped == 1
    assert feed.items[0].external_id == "g-1" and feed.items[0].url == ""
    link_item = feed.items[1]
    assert link_item.url == "https://e.com/a"
    assert link_item.external_id == hashlib.sha256(b"https://e.com/a").hexdigest()[:16]


def test_missing_date_falls_back_to_fetch_time_and_updated_is_used() -> None:
    doc = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><id>urn:a</id><title>a</title><link href='/rel/a'/><updated>2025-12-12T10:00:00-05:00</updated>"
        b"<content type='html'>&lt;p&gt;Body &lt;script&gt;bad()&lt;/script&gt;&lt;/p&gt;</content></entry>"
        b"<entry><id>urn:b</id><title>b</title><link href='https://e.com/b'/></entry></feed>"
    )
    feed = parse_feed(doc, source_key="s", base_url="https://e.com/feed.xml", now=NOW)
    assert feed.kind == "ATOM"
    a, b = feed.items
    assert a.published_at == datetime(2025, 12, 12, 15, 0, tzinfo=UTC)
    assert a.url == "https://e.com/rel/a"  # relative link resolved against the feed URL
    assert a.content == "Body"
    assert b.published_at == NOW


def test_malformed_feed_with_entries_reports_bozo_and_keeps_them() -> None:
    doc = _rss("<item><title>a</title><link>https://e.com/1</link></item><item><title>b &bogus; x</title>")
    doc = doc.replace(b"</channel></rss>", b"")
    feed = parse_feed(doc, source_key="s", now=NOW)
    assert feed.bozo and "malformed" in feed.bozo
    assert len(feed.items) >= 1


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00\xff\xfe garbage", b"<html><body>not a feed</body></html>", b"/etc/passwd", b"https://e.com/feed"],
)
def test_garbage_gives_no_items_and_a_reason(garbage: bytes) -> None:
    feed = parse_feed(garbage, source_key="s", now=NOW)
    assert feed.items == []
    assert feed.bozo


def test_hostile_entry_text_is_sanitised_and_ids_are_bounded() -> None:
    long_id = "x" * 2000
    doc = _rss(
        f"<item><title><![CDATA[<img src=x onerror=alert(1)>Title]]></title><guid>{long_id}</guid>"
        "<link><![CDATA[ https://E.com/p?fbclid=1#frag ]]></link>"
        "<description><![CDATA[<script>alert(1)</script><p onclick='x()'>Safe</p>]]></description>"
        "<category>A</category><category> a </category><category>B</category><category></category></item>"
    )
    (item,) = parse_feed(doc, source_key="s", now=NOW).items
    assert item.title == "Title"
    assert item.summary == "Safe"
    assert item.url == "https://e.com/p"
    assert item.categories == ["A", "B"]
    assert item.external_id.startswith("sha256:") and len(item.external_id) <= 512

"""The RSS 2.0 fast path (sources/fastfeed.py) gives exactly what feedparser gives, or hands the document to it.

Each document is parsed twice by ``parse_feed``: as it runs (fast path where it applies) and with the fast path off
(feedparser alone); the two ParsedFeeds (items, skip counts, bozo, kind, title, description, language) must be equal.
Documents: the corpus feeds (read at test time), the generated feeds of ``bench/ingest.py``, the hostile entries of
test_hostile_sources.py and edge cases written here (relative links, permalink guids, markup, entities, mojibake,
cp1252, categories, repeated elements, comments, CDATA, malformed XML, other formats).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsroom.sources import feeds
from newsroom.sources.fastfeed import parse_rss20
from test_hostile_sources import HOSTILE, item, rss

NOW = datetime(2025, 12, 13, 12, 0, tzinfo=UTC)
BASE = "https://news.example/feeds/rss.xml"
DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
CONTENT = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'


def both(data: bytes, base: str | None = BASE) -> tuple[feeds.ParsedFeed, feeds.ParsedFeed]:
    fast = feeds.parse_feed(data, source_key="s", base_url=base, now=NOW)
    real = feeds.parse_rss20
    feeds.parse_rss20 = lambda *_a, **_k: None  # type: ignore[assignment]
    try:
        slow = feeds.parse_feed(data, source_key="s", base_url=base, now=NOW)
    finally:
        feeds.parse_rss20 = real
    return fast, slow


def takes_fast_path(data: bytes) -> bool:
    cleaned, _ = feeds.clean_xml(data)
    return parse_rss20(feeds._EMPTY_TEXT_ELEMENTS.sub(b"", cleaned), BASE) is not None


def doc(items: str, ns: str = "", channel: str = "<title>T</title><language>en</language>") -> bytes:
    head = f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {ns}><channel>'
    return f"{head}{channel}{items}</channel></rss>".encode()


DATE = "<pubDate>Fri, 12 Dec 2025 10:00:00 GMT</pubDate>"
EDGE = {
    "relative-link": doc(f"<item><title>A</title><link>/a/b?x=1&amp;y=2</link>{DATE}</item>"),
    "permalink-guid": doc(f"<item><title>A</title><guid>https://e.com/p/1#frag</guid>{DATE}</item>"),
    "relative-permalink-guid": doc("<item><title>A</title><guid>../p/1</guid></item>"),
    "guid-not-permalink": doc('<item><title>A</title><guid isPermaLink="false">abc-1</guid></item>'),
    "guid-then-link": doc("<item><guid>https://e.com/g</guid><link>https://e.com/l</link><title>x</title></item>"),
    "link-then-guid": doc("<item><link>https://e.com/l</link><guid>https://e.com/g</guid><title>x</title></item>"),
    "markup": doc(
        "<item><title>Bold &lt;b&gt;move&lt;/b&gt; &amp;amp; more</title><link>https://e.com/m</link>"
        "<description>&lt;p&gt;One&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        "&lt;iframe&gt;frame text&lt;/iframe&gt;&lt;applet&gt;applet text&lt;/applet&gt;"
        "&lt;style&gt;p{}&lt;/style&gt;&lt;!-- c --&gt;&lt;p&gt;Two &amp;amp;#039;"
        "quoted&amp;amp;#039; &lt;a href='/rel'&gt;link&lt;/a&gt;&lt;img src=x onerror=alert(1)&gt;&lt;/p&gt;"
        "&lt;svg&gt;&lt;text&gt;svg text&lt;/text&gt;&lt;/svg&gt;&lt;noscript&gt;ns&lt;/noscript&gt;"
        "&lt;![CDATA[cdata]]&gt; a &lt; b &gt; c</description></item>"
    ),
    "cdata": doc(
        "<item><title><![CDATA[It's <i>here</i> & now]]></title><link>https://e.com/c</link>"
        "<description><![CDATA[<p>Para</p><p>Two</p>]]></description></item>"
    ),
    "entities": doc(
        "<item><title>Caf&#233; &#8220;q&#8221; &#x2014; &amp;quot;x&amp;quot;</title>"
        "<link>https://e.com/e</link><description>&amp;nbsp;a&amp;amp;b &amp;bogus; &#13;x</description></item>"
    ),
    "mojibake-and-cp1252": doc(
        "<item><title>Caf\u00c3\u00a9 \u0093quoted\u0094</title><link>https://e.com/\u00c3\u00a9</link>"
        "<description>\u0080 euro \u00c3\u00bc</description></item>"
    ),
    "categories": doc(
        '<item><title>C</title><link>https://e.com/c</link><category>Bitcoin</category><category domain="d">Ether'
        '</category><category>bitcoin</category><category domain="d"></category><category>Ether</category>'
        "<category>&lt;b&gt;Markets&lt;/b&gt;</category><category></category><category>Bitcoin</category></item>"
    ),
    "titles": doc("<item><title></title><title>Second</title><title>Third</title><link>https://e.com/t</link></item>"),
    "content-before-description": doc(
        "<item><title>C</title><link>https://e.com/c</link><content:encoded>&lt;p&gt;Full body&lt;/p&gt;"
        "</content:encoded><description>Teaser</description></item>",
        CONTENT,
    ),
    "content-only": doc(
        "<item><title>C</title><link>https://e.com/c</link><content:encoded>&lt;p&gt;Full&lt;/p&gt;</content:encoded>"
        "<content:encoded>Second body</content:encoded></item>",
        CONTENT,
    ),
    "two-descriptions": doc(
        "<item><title>D</title><description>One</description><description>Two</description></item>"
    ),
    "authors": doc(
        "<item><title>A</title><link>https://e.com/a</link><author>jane@e.com (Jane Doe)</author>"
        "<dc:creator>John &lt;Smith&gt;</dc:creator></item>",
        DC,
    ),
    "media": doc(
        '<item><title>M</title><link>https://e.com/m</link><media:content url="https://e.com/i.jpg"/>'
        '<media:thumbnail url="https://e.com/t.jpg"/><enclosure url="https://e.com/x.mp3" type="audio/mpeg"/>'
        "<comments>https://e.com/m#c</comments></item>",
        MEDIA,
    ),
    "media-with-title": doc(
        '<item><title>M</title><link>https://e.com/m</link><media:content url="u"><media:title>Other</media:title>'
        "</media:content></item>",
        MEDIA,
    ),
    "media-title": doc("<item><media:title>Media</media:title><link>https://e.com/m</link></item>", MEDIA),
    "comment-in-title": doc("<item><title>A<!-- no -->B</title><link>https://e.com/c</link></item>"),
    "element-in-description": doc("<item><title>A</title><description><p>Inline</p></description></item>"),
    "uppercase": doc("<item><Title>Up</Title><LINK>https://e.com/u</LINK></item>"),
    "title-type": doc('<item><title type="html">&lt;b&gt;T&lt;/b&gt;</title><link>https://e.com/t</link></item>'),
    "link-href": doc('<item><title>T</title><link href="https://e.com/h"/></item>'),
    "atom-link-in-item": doc(
        '<item><title>T</title><atom:link href="https://e.com/h" rel="alternate"/></item>',
        'xmlns:atom="http://www.w3.org/2005/Atom"',
    ),
    "dc-date-and-subject": doc(
        "<item><title>T</title><link>https://e.com/d</link><dc:date>2025-12-01T10:00:00Z</dc:date>"
        "<dc:subject>Policy</dc:subject></item>",
        DC,
    ),
    "dates": doc(
        "<item><title>1</title><guid>https://e.com/1</guid><pubDate>2025-12-01T10:00:00+02:00</pubDate></item>"
        "<item><title>2</title><guid>https://e.com/2</guid><pubDate>not a date</pubDate></item>"
        "<item><title>3</title><guid>https://e.com/3</guid><pubDate>Mon, 01 Dec 2025 10:00:00 EST</pubDate>"
        "<pubDate>Tue, 02 Dec 2025 10:00:00 +0000</pubDate></item>"
    ),
    "channel-extras": doc(
        f"<item><title>I</title><link>https://e.com/i</link>{DATE}</item>",
        'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"',
        "<title>Site &amp;amp; co</title><link>https://e.com/</link><description>&lt;p&gt;About&lt;/p&gt;</description>"
        '<atom:link href="https://e.com/feed" rel="self"/><image><url>https://e.com/l.png</url><title>Logo</title>'
        "<link>https://e.com/</link></image><language>de-DE</language><sy:updatePeriod>hourly</sy:updatePeriod>"
        "<copyright>c</copyright><lastBuildDate>Fri, 12 Dec 2025 10:00:00 GMT</lastBuildDate>",
    ),
    "second-channel-title": doc(
        "<item><title>I</title><link>https://e.com/i</link></item>", "", "<title>One</title><title>Two</title>"
    ),
    "no-version": b"<rss><channel><title>T</title><item><title>A</title><link>https://e.com/a</link></item></channel></rss>",
    "rss-091": b'<rss version="0.91"><channel><item><title>A</title><link>https://e.com/a</link></item></channel></rss>',
    "xml-base": doc('<item xml:base="https://other.example/x/"><title>A</title><link>a</link></item>'),
    "xml-lang": doc('<item><title xml:lang="fr">Bonjour</title><link>https://e.com/a</link></item>'),
    "doctype": b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "ex">]><rss version="2.0"><channel><item>'
    b"<title>&x; &nbsp;</title><link>https://e.com/a</link></item></channel></rss>",
    "malformed": doc("<item><title>Broken & bare</title><link>https://e.com/a</link></item><item><title>Open"),
    "undefined-entity": doc("<item><title>A&nbsp;B</title><link>https://e.com/a</link></item>"),
    "undeclared-prefix": doc("<item><title>A</title><dc:creator>X</dc:creator><link>https://e.com/a</link></item>"),
    "atom": b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>E</title>'
    b'<id>urn:1</id><link href="https://e.com/e"/><updated>2025-12-01T10:00:00Z</updated></entry></feed>',
    "latin1": '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><item><title>Café</title>'
    "<link>https://e.com/a</link></item></channel></rss>".encode("iso-8859-1"),
    "empty": b"",
    "not-xml": b"<html><body>Not a feed</body></html>",
    "no-items": doc(""),
    "item-outside-channel": b'<rss version="2.0"><item><title>A</title><link>https://e.com/a</link></item></rss>',
}


def _assert_same(data: bytes, base: str | None = BASE) -> feeds.ParsedFeed:
    fast, slow = both(data, base)
    assert fast == slow
    return fast


@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases_parse_as_feedparser_parses_them(name: str) -> None:
    _assert_same(EDGE[name])
    _assert_same(EDGE[name], base=None)


def test_the_fast_path_takes_the_common_cases_and_leaves_the_rest() -> None:
    taken = {name for name, data in EDGE.items() if takes_fast_path(data)}
    assert {"relative-link", "permalink-guid", "markup", "cdata", "categories", "authors", "media", "dates"} <= taken
    left = {
        "media-with-title",
        "comment-in-title",
        "element-in-description",
        "uppercase",
        "title-type",
        "link-href",
        "atom-link-in-item",
        "dc-date-and-subject",
        "two-descriptions",
        "second-channel-title",
        "rss-091",
        "no-version",
        "xml-base",
        "xml-lang",
        "doctype",
        "malformed",
        "undefined-entity",
        "undeclared-prefix",
        "atom",
        "empty",
        "not-xml",
        "item-outside-channel",
    }
    assert not (taken & left)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_entries_parse_as_feedparser_parses_them(case: str) -> None:
    entry, _, _ = HOSTILE[case]
    _assert_same(rss(entry).encode())


def test_hostile_links_titles_and_dates_parse_as_feedparser_parses_them() -> None:
    entries = (
        item("js", "Script link", "javascript:alert(document.cookie)"),
        item("data", "Data link", "data:text/html;base64,PHNjcmlwdD4="),
        item("long", "Long link", "https://e.com/" + "a" * 100_000),
        item("big", "Bitcoin " * 20_000, "https://e.com/big"),
        item("y9999", "From 9999", "https://e.com/9999", "Fri, 31 Dec 9999 23:59:59 GMT"),
        item(None, "Neither guid nor link", None),
        item("g-1", "The same guid again", "https://e.com/again"),
    )
    data = rss(*entries).encode()
    assert takes_fast_path(data)
    parsed = _assert_same(data)
    assert parsed.entries.skipped == {"no-id": 1}
    for declared, actual in [("utf-8", "windows-1251"), ("windows-1251", "utf-8"), ("koi8-r", "utf-8")]:
        _assert_same(rss(item("ru-1", "Биткоин вырос", "https://e.com/ru"), encoding=declared).encode(actual))


def test_corpus_feeds_parse_as_feedparser_parses_them(corpus: Path) -> None:
    paths = sorted((corpus / "feeds").glob("*.rss"))
    assert paths
    for path in paths:
        parsed = _assert_same(path.read_bytes())
        assert parsed.items, path.name
    assert sum(takes_fast_path(p.read_bytes()) for p in paths) >= 3  # most real feeds take the fast path


def test_the_benchmark_feeds_parse_as_feedparser_parses_them() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        from ingest import feeds as bench_feeds
    finally:
        sys.path.pop(0)
    for key, body in bench_feeds(700).items():
        assert takes_fast_path(body)
        _assert_same(body, f"http://127.0.0.1:8000/{key}")

"""A fast path for the common feed: well-formed RSS 2.0 whose items hold only the usual elements.

feedparser is lenient and thorough, and most of a poll's parsing time goes to its per-element machinery. For a
document this module understands completely it builds the same ``feed`` / ``entries`` values feedparser would, with
feedparser's own pieces wherever a value is transformed (``_parse_date``, the HTML sanitiser, the relative-URI
resolver, its ``_cp1252`` map and UTF-8 repair, ``looks_like_html``, ``_urljoin``), and the same XML parser
(expat with namespaces, as feedparser's strict mode): a document expat rejects is one feedparser would flag ``bozo``.

Anything else returns None and the caller uses feedparser: not RSS 2.0, a DOCTYPE, ``xml:base`` / ``xml:lang``, an
element or attribute outside the lists below (in any case but the usual one), markup as elements inside a text field,
a second ``<description>`` that feedparser would take for content, a channel ``<title>`` or ``<description>`` given
twice. ``tests/test_fastfeed.py`` checks both paths give the same FeedItems on the corpus feeds and hostile fixtures.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any
from xml.parsers import expat

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris

CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
ATOM = "http://www.w3.org/2005/Atom"
SY = "http://purl.org/rss/1.0/modules/syndication/"

# item children read into the entry (expat names: "namespace local" or "local")
_TITLE, _LINK, _GUID, _DATE, _DESC, _CAT = "title", "link", "guid", "pubDate", "description", "category"
_AUTHORS = frozenset(["author", f"{DC} creator"])
_CONTENT = f"{CONTENT} encoded"
# item children that change none of the entry's fields read here, taken only when they hold nothing
_ITEM_IGNORED = frozenset(
    ["comments", "enclosure", *(f"{m} content" for m in MEDIA), *(f"{m} thumbnail" for m in MEDIA)]
)
# channel children that change neither the entries nor the feed's title, description and language
_CHANNEL_IGNORED = frozenset(
    [
        "link", "lastBuildDate", "pubDate", "copyright", "generator", "ttl", "docs", "managingEditor", "webMaster",
        "category", f"{ATOM} link", f"{SY} updatePeriod", f"{SY} updateFrequency", f"{SY} updateBase",
    ]
)  # fmt: skip
_IMAGE_CHILDREN = frozenset(["url", "title", "link", "width", "height", "description"])
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([^\"']+)[\"']")
_AMP_REF = re.compile("&([A-Za-z0-9_]+);")


class _Unsupported(Exception):
    """Something feedparser handles and this path does not: use feedparser."""


def _finish(value: str) -> str:
    """What feedparser does last to every value: repair UTF-8 read as Latin-1, map the cp1252 extensions (neither
    changes ASCII text: most values are returned at once)."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252)


def _html(value: str, base: str) -> str:
    """An HTML field as feedparser leaves it: relative URIs resolved, then sanitised (both give back a value with no
    markup, entity or carriage return unchanged)."""
    if "<" in value or "&" in value or "\r" in value:
        value = resolve_relative_uris(value, base, "utf-8", "text/html")
        value = _sanitize_html(value, "utf-8", "text/html")
    return value


class _Builder:
    def __init__(self, base: str) -> None:
        self.base = base
        self.stack: list[str] = []
        self.text: list[str] | None = None  # the open text field's pieces
        self.field_attrs: dict[str, str] = {}
        self.feed: dict[str, Any] = {}
        self.channel_fields: set[str] = set()
        self.entries: list[dict[str, Any]] = []
        self.entry: dict[str, Any] = {}
        self.has_content = False
        self.title_done = False
        self.version = ""

    # ---- expat callbacks ---------------------------------------------------------------------------------------

    def start(self, name: str, attrs: dict[str, str]) -> None:
        depth = len(self.stack)
        if self.text is not None:
            raise _Unsupported("markup inside a text field")
        if depth == 0:
            if name != "rss" or attrs.get("version") != "2.0":
                raise _Unsupported("not RSS 2.0")
            self.version = "rss20"
        elif depth == 1:
            if name != "channel":
                raise _Unsupported(name)
        elif depth == 2:
            if name == "item":
                self.entry, self.has_content, self.title_done = {}, False, False
                self.entries.append(self.entry)
            elif name in ("title", "description", "language"):
                if name in self.channel_fields and name != "language":
                    raise _Unsupported(f"second channel {name}")
                self.channel_fields.add(name)
                self._open(attrs, allowed=())
            elif name not in _CHANNEL_IGNORED and name != "image":
                raise _Unsupported(name)
        elif self.stack[2] == "image":
            if depth != 3 or name not in _IMAGE_CHILDREN:
                raise _Unsupported(f"image {name}")
        elif self.stack[2] != "item":
            raise _Unsupported(f"inside {self.stack[2]}: {name}")
        elif depth == 3:
            if name == _GUID:
                self._open(attrs, allowed=("ispermalink",))
            elif name == _CAT:
                self._open(attrs, allowed=("domain",))
            elif name in (_TITLE, _LINK, _DESC, _CONTENT) or name in _AUTHORS:
                self._open(attrs, allowed=())
                if name == _DESC and "summary" in self.entry and not self.has_content:
                    raise _Unsupported("a second description (feedparser reads it as content)")
            elif name == _DATE:
                self.text = []  # feedparser ignores its attributes
            elif name not in _ITEM_IGNORED:
                raise _Unsupported(name)
        else:
            raise _Unsupported(f"nested in an item: {name}")
        self.stack.append(name)

    def _open(self, attrs: dict[str, str], allowed: tuple[str, ...]) -> None:
        lowered = {k.lower(): v for k, v in attrs.items()}
        if any(k not in allowed for k in lowered):
            raise _Unsupported("attribute")
        self.field_attrs = lowered
        self.text = []

    def data(self, text: str) -> None:
        if self.text is not None:
            self.text.append(text)
        elif text.strip() and len(self.stack) >= 4 and self.stack[2] == "item" and self.stack[3] != "comments":
            raise _Unsupported("text in an ignored item element")

    def other(self, *_: object) -> None:  # a comment or processing instruction
        if self.text is not None:
            raise _Unsupported("a comment inside a text field")

    def end(self, name: str) -> None:
        self.stack.pop()
        if self.text is None:
            return
        value = "".join(self.text).strip()
        self.text = None
        if len(self.stack) == 2:
            self._channel(name, value)
        else:
            self._item(name, value)

    # ---- values ------------------------------------------------------------------------------------------------

    def _channel(self, name: str, value: str) -> None:
        if name == "title":
            if _FeedParserMixin.looks_like_html(value):
                value = _html(value, self.base)
            self.feed["title"] = _finish(value)
        elif name == "description":
            self.feed["subtitle"] = _finish(_html(value, self.base))
        else:
            self.feed["language"] = _finish(value)

    def _item(self, name: str, value: str) -> None:
        entry = self.entry
        if name == _TITLE:
            if _FeedParserMixin.looks_like_html(value):
                value = _html(value, self.base)
            if not self.title_done:  # the first title with text wins
                entry["title"] = _finish(value)
                self.title_done = bool(value)
        elif name == _LINK:
            if value:
                value = _urljoin(self.base, value)
            value = _finish(value).replace("&amp;", "&")
            # (a replacement template is parsed on each call: about a tenth of this path for links with no "&")
            entry["link"] = _AMP_REF.sub(r"&\g<1>", value) if "&" in value else value
        elif name == _GUID:
            is_link = self.field_attrs.get("ispermalink", "true") == "true"
            if value and is_link:
                value = _urljoin(self.base, value)
            value = _finish(value)
            entry["id"] = value
            if is_link:
                entry.setdefault("link", value)
        elif name == _DATE:
            value = _finish(value)
            entry["published"] = value
            entry["published_parsed"] = _parse_date(value)
        elif name == _DESC:
            entry["summary"] = _finish(_html(value, self.base))
        elif name == _CONTENT:
            self.has_content = True
            value = _finish(_html(value, self.base))
            entry.setdefault("content", []).append({"value": value})
            entry.setdefault("summary", value)
        elif name == _CAT:
            tags = entry.setdefault("tags", [])
            _add_tag(tags, None, self.field_attrs.get("domain"))
            value = _finish(value)
            if value:
                if tags and not tags[-1]["term"]:
                    tags[-1]["term"] = value
                else:
                    _add_tag(tags, value, None)
        else:  # author, dc:creator
            entry["author"] = _finish(value)


def _add_tag(tags: list[dict[str, Any]], term: str | None, scheme: str | None) -> None:
    if not term and not scheme:
        return
    tag = {"term": term, "scheme": scheme, "label": None}
    if tag not in tags:
        tags.append(tag)


def parse_rss20(data: bytes, base_url: str | None = None) -> dict[str, Any] | None:
    """``feed``, ``entries`` and ``version`` as feedparser gives them for ``data`` (UTF-8, as ``clean_xml`` leaves
    it), or None when the document is not one this path reads completely (feedparser then parses it)."""
    head = data[:512]
    declared = _DECLARED.match(head)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return None
    lowered = data.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered or b"xml:base" in lowered or b"xml:lang" in lowered:
        return None
    base = make_safe_absolute_uri("", base_url or "") or make_safe_absolute_uri(base_url or "") or ""
    builder = _Builder(base)
    parser = expat.ParserCreate("utf-8", " ")
    parser.buffer_text = True
    parser.ordered_attributes = False
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.other
    parser.ProcessingInstructionHandler = builder.other
    try:
        parser.Parse(data, True)
    except (_Unsupported, expat.ExpatError, ValueError):
        return None
    if not builder.version:
        return None
    return {"feed": builder.feed, "entries": builder.entries, "version": builder.version, "bozo": False}

"""RSS and Atom: fetch a feed politely and safely, parse it leniently into FeedItems.

Fetching: conditional GET (ETag / Last-Modified) so an unchanged feed costs one 304; a size cap enforced while the
body streams in (a feed that never ends cannot exhaust memory); an overall deadline besides httpx's per-operation
timeouts (a server dripping one byte a second cannot hold a poll forever); redirects followed by hand so that every
hop passes the private-network guard. Nothing here raises for a network or HTTP problem: the result says what went
wrong, and the poller records it.

Parsing: the encoding is verified and repaired first (sources/encoding.py), numeric character references that no
XML document may contain (``&#0;``, ``&#xD800;``) are removed, then feedparser, which is lenient and flags malformed
input (``bozo``) instead of failing; a well-formed RSS 2.0 feed of the usual elements takes a fast path that gives the
same values (sources/fastfeed.py). Every entry is normalised: canonical link, UTC timestamp, plain text, stable
external id; an entry that cannot be is skipped and counted with its reason (``ParsedFeed.entries``), never the feed.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin

import feedparser
import httpx

from ..config import FetchConfig
from ..models import FeedItem
from ..netguard import BlockedURL, check_url
from ..text import html_to_text
from ..urls import canonical_url
from .base import EntryLog
from .encoding import to_utf8_xml
from .fastfeed import parse_rss20
from .fetching import MAX_REDIRECTS, REDIRECT_CODES, TooLarge, read_capped

MAX_EXTERNAL_ID = 512  # the items.external_id column
ERROR_BODY_BYTES = 65_536
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

FetchStatus = Literal["ok", "not_modified", "error"]


@dataclass
class FetchResult:
    status: FetchStatus
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    http_status: int | None = None
    error: str | None = None
    final_url: str | None = None  # after redirects: the base for relative links
    content_type: str | None = None
    retry_after: float | None = None  # seconds, from a 429/503 Retry-After header


@dataclass
class ParsedFeed:
    items: list[FeedItem] = field(default_factory=list)
    bozo: str | None = None  # why feedparser found the document malformed; None when well-formed
    kind: Literal["RSS", "ATOM"] | None = None
    entries: EntryLog = field(default_factory=EntryLog)  # entries skipped (with reasons) or flagged
    title: str = ""
    description: str = ""
    language: str | None = None  # the feed's <language> / xml:lang
    note: str | None = None  # the declared encoding was wrong and was repaired

    @property
    def skipped(self) -> int:
        return sum(self.entries.skipped.values())


def _error(
    message: str, *, http_status: int | None = None, url: str | None = None, retry_after: float | None = None
) -> FetchResult:
    return FetchResult(status="error", http_status=http_status, error=message, final_url=url, retry_after=retry_after)


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    fetch: FetchConfig,
    accept: str = ACCEPT,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    """GET ``url`` with conditional headers. Never raises for network, HTTP or policy problems."""
    sent = {"User-Agent": fetch.user_agent, "Accept": accept, **(headers or {})}
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(fetch.timeout_seconds):
            return await _fetch(client, url, headers=sent, fetch=fetch)
    except TimeoutError:
        return _error(f"timed out after {fetch.timeout_seconds:g} s (fetch.timeout_seconds)", url=url)


async def _fetch(client: httpx.AsyncClient, url: str, *, headers: dict[str, str], fetch: FetchConfig) -> FetchResult:
    etag, last_modified = headers.get("If-None-Match"), headers.get("If-Modified-Since")
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            await asyncio.to_thread(
                check_url, current, allow_private=fetch.allow_private_networks, allow_hosts=fetch.allow_hosts
            )
        except BlockedURL as exc:
            return _error(str(exc), url=current)
        try:
            request = client.build_request("GET", current, headers=headers, timeout=fetch.timeout_seconds)
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException:
            return _error(f"timed out after {fetch.timeout_seconds:g} s (fetch.timeout_seconds)", url=current)
        except httpx.HTTPError as exc:
            return _error(f"network error: {type(exc).__name__}: {exc}".rstrip(": "), url=current)
        except (httpx.InvalidURL, UnicodeError) as exc:  # a malformed host (the config, or a redirect)
            return _error(f"invalid URL: {exc}", url=current)
        try:
            code = response.status_code
            if code in REDIRECT_CODES:
                location = response.headers.get("location")
                if not location:
                    return _error(f"HTTP {code} redirect without a Location header", http_status=code, url=current)
                current = urljoin(current, location.strip())
                continue
            if code == 304:
                return FetchResult(
                    status="not_modified",
                    etag=response.headers.get("etag") or etag,
                    last_modified=response.headers.get("last-modified") or last_modified,
                    http_status=304,
                    final_url=current,
                )
            if not 200 <= code < 300:
                reason = response.reason_phrase or ""
                failed = _error(
                    f"HTTP {code} {reason}".strip() + f" from {current}",
                    http_status=code,
                    url=current,
                    retry_after=retry_after_seconds(response.headers.get("retry-after")),
                )
                with contextlib.suppress(TooLarge, httpx.HTTPError):  # an API's error envelope says what is wrong
                    failed.body = await read_capped(response, ERROR_BODY_BYTES)
                return failed
            try:
                body = await read_capped(response, fetch.max_bytes)
            except TooLarge as exc:
                return _error(
                    f"response too large: {current} {exc}; the limit is fetch.max_bytes = {fetch.max_bytes}",
                    http_status=code,
                    url=current,
                )
            except httpx.TimeoutException:
                return _error(f"timed out after {fetch.timeout_seconds:g} s (fetch.timeout_seconds)", url=current)
            except httpx.HTTPError as exc:
                return _error(f"network error while reading: {type(exc).__name__}: {exc}", http_status=code)
            return FetchResult(
                status="ok",
                body=body,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                http_status=code,
                final_url=current,
                content_type=response.headers.get("content-type"),
            )
        finally:
            await response.aclose()
    return _error(f"too many redirects (more than {MAX_REDIRECTS}) starting at {url}", url=current)


# ---- parsing -------------------------------------------------------------------------------------------------------

# Benign bozo reasons: the document is fine, only its declared encoding or content type was off.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
# Empty elements that feedparser lets overwrite a filled one (CoinDesk: an empty <dc:description/> after the
# <description> wipes the summary). Removing an empty element never loses information.
_EMPTY_TEXT_ELEMENTS = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?(?:description|summary|encoded))(?:\s*/>|\s*>\s*</\1\s*>)")


def _kind(version: str) -> Literal["RSS", "ATOM"] | None:
    if version.startswith("atom"):
        return "ATOM"
    if version.startswith("rss"):
        return "RSS"
    return None


def _as_utc(parsed: Any) -> datetime | None:
    """feedparser's struct_time (already converted to UTC) as an aware datetime."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _categories(entry: Any) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for tag in entry.get("tags") or []:
        term = html_to_text(str(tag.get("term") or "")).strip()
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            out.append(term)
    return out


def external_id(raw_id: str, link: str) -> str | None:
    """The id as given (hashed past MAX_EXTERNAL_ID), else a hash of the canonical link; None without either."""
    raw_id = raw_id.strip()
    if raw_id:
        if len(raw_id) > MAX_EXTERNAL_ID:
            return "sha256:" + hashlib.sha256(raw_id.encode("utf-8")).hexdigest()
        return raw_id
    if link:
        return hashlib.sha256(link.encode("utf-8")).hexdigest()[:16]
    return None


def _entry_to_item(entry: Any, *, source_key: str, now: datetime, language: str | None) -> FeedItem | None:
    raw_id = str(entry.get("id") or "")
    link = canonical_url(str(entry.get("link") or ""))
    if not link and raw_id.strip().lower().startswith(("http://", "https://")):
        link = canonical_url(raw_id)  # a permalink guid is the link when the entry has no <link>
    ident = external_id(raw_id, link)
    if ident is None:
        return None
    summary = html_to_text(entry.get("summary"))
    contents = [html_to_text(c.get("value")) for c in entry.get("content") or []]
    content = "\n\n".join(dict.fromkeys(c for c in contents if c))
    title = html_to_text(entry.get("title"))
    if not title:
        first = (summary or content).split("\n", 1)[0]
        title = first[:117].rstrip() + "…" if len(first) > 120 else first
    published = _as_utc(entry.get("published_parsed")) or _as_utc(entry.get("updated_parsed")) or now
    return FeedItem(
        source_key=source_key,
        external_id=ident,
        url=link,
        title=title,
        summary=summary,
        content=content,
        categories=_categories(entry),
        author=html_to_text(entry.get("author")) or None,
        published_at=published,
        language=language,
    )


def _char_ref(m: re.Match[bytes]) -> bytes:
    """A numeric character reference, or nothing when it names a character XML forbids (NUL, a surrogate, …)."""
    try:
        code = int(m.group(1)[1:], 16) if m.group(1)[:1] in b"xX" else int(m.group(1))
    except ValueError:
        return b""
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
        return m.group(0)
    return b""


_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]{1,10}|[0-9]{1,12});")
# Raw bytes no XML document may contain: C0 controls but tab, newline and carriage return (NUL above all).
_RAW_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean_xml(data: bytes, http_charset: str | None = None) -> tuple[bytes, str | None]:
    """UTF-8 bytes with the characters XML forbids removed (raw or as references); a note when the encoding lied."""
    data, note = to_utf8_xml(data, http_charset)
    return _CHAR_REF.sub(_char_ref, _RAW_CONTROLS.sub(b"", data)), note


def parse_feed(
    data: bytes,
    *,
    source_key: str,
    base_url: str | None = None,
    now: datetime | None = None,
    http_charset: str | None = None,
) -> ParsedFeed:
    """Parse an RSS/Atom document into FeedItems. Never raises for malformed input.

    A malformed document that still yields entries gives them plus ``bozo``; one with no entries and a ``bozo``
    reason is an error for the caller to record. ``now`` (the fetch time) stands in for entries without a date.
    """
    now = now or datetime.now(UTC)
    cleaned, note = clean_xml(data, http_charset)
    cleaned = _EMPTY_TEXT_ELEMENTS.sub(b"", cleaned)
    # A stream, never bytes or str: feedparser treats a str as a URL or a file name and would open it.
    headers = {"content-location": base_url} if base_url else None
    try:
        # the common well-formed RSS 2.0 feed without feedparser's per-element machinery (the same values); the rest,
        # malformed documents above all, through feedparser
        doc = parse_rss20(cleaned, base_url) or feedparser.parse(io.BytesIO(cleaned), response_headers=headers)
    except Exception as exc:  # noqa: BLE001 - feedparser is lenient, but hostile bytes must never crash a poll
        return ParsedFeed(bozo=f"feed parser failed: {type(exc).__name__}: {exc}")
    bozo: str | None = None
    if doc.get("bozo"):
        exc = doc.get("bozo_exception")
        if not isinstance(exc, _BENIGN_BOZO):
            bozo = f"malformed feed: {type(exc).__name__}: {exc}" if exc else "malformed feed"
    entries = doc.get("entries") or []
    version = str(doc.get("version") or "")
    if bozo is None and not entries and not version:
        bozo = "empty response" if not data.strip() else "not an RSS or Atom feed (no <rss>, <feed> or <rdf> root)"
    feed = doc.get("feed") or {}
    language = str(feed.get("language") or "") or None
    items: list[FeedItem] = []
    log = EntryLog()
    for n, entry in enumerate(entries, 1):
        try:
            item = _entry_to_item(entry, source_key=source_key, now=now, language=language)
        except Exception as exc:  # noqa: BLE001 - one hostile entry is skipped, the rest of the feed still counts
            log.skip("invalid", f"entry {n}: {type(exc).__name__}: {exc}")
            continue
        if item is None:
            log.skip("no-id", f"entry {n}: {html_to_text(entry.get('title'))[:100]}")
        else:
            items.append(item)
    return ParsedFeed(
        items=items,
        bozo=bozo,
        kind=_kind(version),
        entries=log,
        title=html_to_text(feed.get("title")),
        description=html_to_text(feed.get("subtitle")),
        language=language,
        note=note,
    )

"""What every item goes through after its adapter, before the store: hostile input made harmless, never silent.

Source content is hostile input. Whatever the adapter, each item here: loses NUL, other C0 controls, lone surrogates
and non-characters in every string (PostgreSQL refuses NUL; a lone surrogate cannot be encoded at all); keeps its
link only when it is an http(s) URL of sane length (``javascript:``, ``data:`` and a 100 KB link are dropped and
counted); has its title, summary and body bounded; gets the fetch time instead of a date more than a day ahead (a
2099 date would sort first forever), and a flag on a date implausibly old; gets a language (the source's configured
one, or the one the source states). Then duplicates of an external id and entries beyond ``max_items_per_source`` are
counted, not silently lost. Pure functions; the counts go to the batch's EntryLog.

An item with neither language is detected (``item_languages``) only when it is about to be stored: a re-poll's known
entries and the entries beyond ``max_items_per_source`` never reach lingua (about 0.4-1.2 microseconds a character).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ..models import FeedItem
from .base import Batch, EntryLog

MAX_TITLE_CHARS = 300
MAX_LINK_CHARS = 2048
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_CHARS = 200_000
MAX_CATEGORIES = 50
FUTURE_TOLERANCE = timedelta(days=1)
OLDEST_PLAUSIBLE_AGE = timedelta(days=366 * 20)  # older than 20 years before the fetch: flagged, kept
# C0 controls but tab/newline/carriage return, lone surrogates, the two non-characters of every plane 0 block end.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


def clean_text(value: str) -> str:
    """``value`` without the characters no database or encoder should see."""
    return _BAD_CHARS.sub("", value)


def clean_json(value: Any) -> Any:
    """``clean_text`` through a JSON-like structure (strings, lists, dicts)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    return value


_PLAIN_WEB_LINK = re.compile(r"https?://[^/?#\[\]\t\r\n]", re.I)


def _plain_web_link(url: str) -> bool:
    """True where ``urlsplit`` would give an http(s) scheme and a host without raising, known without splitting: an
    ASCII link (a non-ASCII host is checked under NFKC) without brackets (an IPv6 host is checked) that starts
    ``http://`` or ``https://`` (any case) and then a host character (not ``/?#``, nor a tab or line break, which
    urlsplit deletes). The adapters' ``canonical_url`` has split each link twice already (its result is not the
    one in urlsplit's small cache by the time ``finalise`` sees it)."""
    return url.isascii() and "[" not in url and "]" not in url and _PLAIN_WEB_LINK.match(url) is not None


def web_link(url: str) -> tuple[str, str | None]:
    """(the link, None) when it is an http(s) URL with a host and at most MAX_LINK_CHARS; else ("", why not)."""
    url = clean_text(url).strip()
    if not url:
        return "", None
    if len(url) > MAX_LINK_CHARS:
        return "", "link-too-long"
    if _plain_web_link(url):  # what canonical_url made of a feed's link, nearly always: urlsplit would take it
        return url, None
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", "link-invalid"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "", "link-scheme"
    return url, None


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary where one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def language_code(value: str | None) -> str | None:
    """The primary subtag of a BCP 47 tag, lower-cased (``EN`` → ``en``, ``pt-BR`` → ``pt``); None if not a tag."""
    if not value or not _LANG.match(value.strip()):
        return None
    return re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()


def parse_date(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 or RFC 822 date as aware UTC (a date without a zone is taken as UTC); None if not one."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def detect_language(text: str) -> str | None:
    from ..guards.language import detect

    code, confidence = detect(text)
    return code if confidence >= 0.5 else None


DETECTED_MEMO = 65_536  # texts whose detected language the process remembers (a digest each, not the text)
_detected: dict[bytes, str | None] = {}
_UNKNOWN = "?"  # not in the memo (a detected language is a code or None)


def detection_text(item: FeedItem) -> str:
    """What the language of an item without a stated one is detected on: its title and summary (else the start of
    its body), as ``finalise`` left them."""
    return f"{item.title}\n{item.summary or item.content[:1000]}"


def item_languages(items: Sequence[FeedItem]) -> list[str | None]:
    """Each item's language: the configured or stated one ``finalise`` kept, else ``detect_language`` of
    ``detection_text`` (None when lingua cannot tell). The same text gives the same answer, so the process remembers
    the answers by the text's digest: a syndicated copy in another source is not detected twice."""
    out: list[str | None] = []
    for item in items:
        if item.language is not None:
            out.append(item.language)
            continue
        text = detection_text(item)
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        lang = _detected.get(key, _UNKNOWN)  # one lookup: another thread may clear the memo in between
        if lang is not _UNKNOWN:
            out.append(lang)
            continue
        lang = detect_language(text)
        if len(_detected) >= DETECTED_MEMO:
            _detected.clear()
        _detected[key] = lang
        out.append(lang)
    return out


def _clean_item(item: FeedItem, *, language: str | None, now: datetime, log: EntryLog) -> FeedItem | None:
    ident = clean_text(item.external_id).strip()
    url, link_problem = web_link(item.url)
    if link_problem:
        log.flag(link_problem, ident or item.url[:200])
    if not ident:
        log.skip("no-id", clean_text(item.title)[:200])
        return None
    title = cap(clean_text(item.title).strip(), MAX_TITLE_CHARS)
    summary = cap(clean_text(item.summary), MAX_SUMMARY_CHARS)
    content = cap(clean_text(item.content), MAX_CONTENT_CHARS)
    if not (title or summary or content):
        log.skip("no-text", ident)
        return None
    signals = clean_json(dict(item.signals))
    published = item.published_at
    if published > now + FUTURE_TOLERANCE:
        log.flag("date-in-future", ident)
        signals["date_replaced"] = published.isoformat()
        published = now
    elif published < now - OLDEST_PLAUSIBLE_AGE:
        log.flag("date-implausibly-old", ident)
        signals["date_implausible"] = True
    lang = language_code(language) or language_code(item.language)  # else detected when stored: item_languages
    categories = [c for c in (cap(clean_text(c).strip(), 100) for c in item.categories) if c][:MAX_CATEGORIES]
    author = cap(clean_text(item.author), 300) if item.author else None
    return item.model_copy(
        update={
            "source_key": clean_text(item.source_key),
            "external_id": ident,
            "url": url,
            "title": title,
            "summary": summary,
            "content": content,
            "categories": categories,
            "author": author,
            "published_at": published,
            "language": lang,
            "signals": signals,
        }
    )


def finalise(batch: Batch, *, language: str | None, now: datetime, max_items: int) -> Batch:
    """Clean every item of ``batch`` in place; drop and count duplicates and what is beyond ``max_items``."""
    kept: list[FeedItem] = []
    seen: set[tuple[str, str]] = set()
    for item in batch.items:
        try:
            cleaned = _clean_item(item, language=language, now=now, log=batch.entries)
        except Exception as exc:  # noqa: BLE001 - one hostile entry is skipped, never the whole source
            batch.entries.skip("invalid", f"{item.external_id[:100]}: {type(exc).__name__}: {exc}")
            continue
        if cleaned is None:
            continue
        key = (cleaned.source_key, cleaned.external_id)
        if key in seen:
            batch.entries.skip("duplicate-id", cleaned.external_id)
            continue
        seen.add(key)
        kept.append(cleaned)
    kept.sort(key=lambda i: i.published_at, reverse=True)
    if len(kept) > max_items:
        batch.entries.skip("over-max-items", f"{len(kept) - max_items} oldest", n=len(kept) - max_items)
        kept = kept[:max_items]
    batch.items = kept
    return batch

"""JSON Feed 1.0/1.1 sources (``type = "JSONFEED"``, https://jsonfeed.org/version/1.1).

``items[].id`` is the external id (else a hash of the link), ``url`` (else ``external_url``) the link, ``title``,
``summary``, ``content_html``/``content_text`` the text, ``date_published`` (else ``date_modified``) the date,
``tags`` the categories, ``authors``/``author`` the author, ``language`` (the item's, else the feed's) the language.
Conditional GET as for RSS.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from ..models import FeedItem
from ..text import html_to_text
from ..urls import canonical_url
from .base import Batch, EntryLog, FetchContext, SourceSpec
from .encoding import decode_document
from .feeds import external_id
from .normalise import parse_date
from .rss import fetch_changed

ACCEPT = "application/feed+json, application/json;q=0.9, */*;q=0.5"


def _author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    names = [str(a.get("name") or "").strip() for a in authors if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or None


def item_of(entry: Any, *, source_key: str, base: str, language: str | None, now: datetime) -> FeedItem | None:
    if not isinstance(entry, dict):
        raise ValueError("an item that is not an object")
    raw_link = str(entry.get("url") or entry.get("external_url") or "").strip()
    link = canonical_url(urljoin(base, raw_link)) if raw_link else ""
    raw_id = entry.get("id")
    ident = external_id(str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else "", link)
    if ident is None:
        return None
    content = html_to_text(str(entry.get("content_html") or "")) or str(entry.get("content_text") or "").strip()
    tags = entry.get("tags") if isinstance(entry.get("tags"), list) else []
    return FeedItem(
        source_key=source_key,
        external_id=ident,
        url=link,
        title=html_to_text(str(entry.get("title") or "")),
        summary=html_to_text(str(entry.get("summary") or "")),
        content=content,
        categories=[html_to_text(str(t)).strip() for t in tags if str(t).strip()],
        author=_author(entry),
        published_at=parse_date(entry.get("date_published")) or parse_date(entry.get("date_modified")) or now,
        language=str(entry.get("language") or language or "") or None,
    )


def parse_json_feed(data: bytes, *, source_key: str, base: str, now: datetime, log: EntryLog) -> list[FeedItem]:
    """The items of a JSON Feed; raises ValueError when the document is not one."""
    text, _note = decode_document(data)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a JSON Feed (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise ValueError("not a JSON Feed (no https://jsonfeed.org/version/… version)")
    entries = doc.get("items")
    if not isinstance(entries, list):
        raise ValueError("not a JSON Feed (items is not a list)")
    language = str(doc.get("language") or "") or None
    items: list[FeedItem] = []
    for n, entry in enumerate(entries, 1):
        try:
            item = item_of(entry, source_key=source_key, base=base, language=language, now=now)
        except Exception as exc:  # noqa: BLE001 - one hostile item is skipped, the rest of the feed kept
            log.skip("invalid", f"item {n}: {type(exc).__name__}: {exc}")
            continue
        if item is None:
            log.skip("no-id", f"item {n}")
        else:
            items.append(item)
    return items


class JsonFeedAdapter:
    async def poll(self, spec: SourceSpec, ctx: FetchContext) -> Batch:
        result, batch = await fetch_changed(spec, ctx, ACCEPT)
        if batch.status != "ok":
            return batch
        # JSON is UTF-8 (RFC 8259); decode_document repairs a document that is not
        try:
            batch.items = parse_json_feed(
                result.body or b"",
                source_key=spec.key,
                base=result.final_url or spec.url,
                now=ctx.now,
                log=batch.entries,
            )
        except ValueError as exc:
            return Batch.failed(str(exc), http_status=result.http_status)
        return batch

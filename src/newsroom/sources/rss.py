"""RSS and Atom sources (``type = "RSS"`` / ``"ATOM"``): feeds.py's conditional GET and lenient parse as an adapter."""

from __future__ import annotations

import asyncio

from .base import Batch, FetchContext, SourceSpec
from .feeds import ACCEPT, FetchResult, parse_feed


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def failed(result: FetchResult) -> Batch:
    return Batch.failed(result.error or "unknown error", http_status=result.http_status, retry_after=result.retry_after)


def not_modified(result: FetchResult) -> Batch:
    return Batch(
        status="not_modified",
        etag=result.etag,
        last_modified=result.last_modified,
        http_status=result.http_status,
    )


class FeedAdapter:
    """RSS 2.0, RSS 1.0 and Atom through feedparser."""

    async def poll(self, spec: SourceSpec, ctx: FetchContext) -> Batch:
        result = await ctx.get(spec.url, accept=ACCEPT, etag=spec.etag, last_modified=spec.last_modified)
        if result.status == "error":
            return failed(result)
        if result.status == "not_modified":
            return not_modified(result)
        parsed = await asyncio.to_thread(
            parse_feed,
            result.body or b"",
            source_key=spec.key,
            base_url=result.final_url or spec.url,
            now=ctx.now,
            http_charset=charset_of(result.content_type),
        )
        if not parsed.items and parsed.bozo:
            return Batch.failed(parsed.bozo, http_status=result.http_status)
        warning = "; ".join(w for w in (parsed.bozo, parsed.note) if w) or None
        return Batch(
            status="ok",
            items=parsed.items,
            entries=parsed.entries,
            warning=warning,
            etag=result.etag,
            last_modified=result.last_modified,
            http_status=result.http_status,
        )

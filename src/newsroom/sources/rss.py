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


async def fetch_changed(spec: SourceSpec, ctx: FetchContext, accept: str) -> tuple[FetchResult, Batch]:
    """Conditional GET of the source's URL: the result and the Batch to fill, ``status="ok"`` with the new
    validators when the document changed; else an error or not-modified Batch to return as it is."""
    result = await ctx.get(spec.url, accept=accept, etag=spec.etag, last_modified=spec.last_modified)
    if result.status == "error":
        return result, failed(result)
    return result, Batch(
        status=result.status, etag=result.etag, last_modified=result.last_modified, http_status=result.http_status
    )


class FeedAdapter:
    """RSS 2.0, RSS 1.0 and Atom through feedparser."""

    async def poll(self, spec: SourceSpec, ctx: FetchContext) -> Batch:
        result, batch = await fetch_changed(spec, ctx, ACCEPT)
        if batch.status != "ok":
            return batch
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
        batch.items, batch.entries = parsed.items, parsed.entries
        batch.warning = "; ".join(w for w in (parsed.bozo, parsed.note) if w) or None
        return batch

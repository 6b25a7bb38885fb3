"""News sitemaps (``type = "SITEMAP"``): a Google News sitemap, or a sitemap index that lists them.

A ``<urlset>`` gives one item per ``<url>``: ``<loc>`` the link (its hash the external id, as for a feed entry
without a guid), ``<news:title>`` the title, ``<news:publication_date>`` (else ``<lastmod>``) the date,
``<news:language>`` the language and ``<news:keywords>`` the categories. A sitemap carries no text: the extract
stage fetches each page. A ``<sitemapindex>`` is followed one level down, newest ``<lastmod>`` first, at most
``max_pages`` child sitemaps per poll; every fetch goes through the same guard (private networks, allow_hosts, size
cap, redirects) as a feed. Conditional GET applies to the configured URL.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from ..models import FeedItem
from ..text import html_to_text
from ..urls import canonical_url
from .base import Batch, EntryLog, FetchContext, SourceSpec
from .feeds import clean_xml, external_id
from .normalise import parse_date
from .rss import fetch_changed

ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.5"
DEFAULT_MAX_SITEMAPS = 5


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: ET.Element, *path: str) -> ET.Element | None:
    """The first descendant along ``path`` by local names (namespaces vary between sites)."""
    node: ET.Element | None = el
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _text(el: ET.Element, *path: str) -> str:
    node = _child(el, *path)
    return (node.text or "").strip() if node is not None else ""


def parse_sitemap(data: bytes, *, source_key: str, now: datetime, log: EntryLog) -> tuple[str, list[Any]]:
    """("urlset", items) or ("index", [(lastmod, child URL), …]); raises ValueError when it is neither."""
    cleaned, _note = clean_xml(data)
    try:
        root = ET.fromstring(cleaned)  # noqa: S314 - expat refuses external entities and caps entity expansion
    except ET.ParseError as exc:
        raise ValueError(f"not a sitemap (XML error: {exc})") from None
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = [(parse_date(_text(s, "lastmod")), _text(s, "loc")) for s in root if _local(s.tag) == "sitemap"]
        return "index", [(d, loc) for d, loc in children if loc]
    if kind != "urlset":
        raise ValueError(f"not a sitemap (root element <{kind}>, not <urlset> or <sitemapindex>)")
    items: list[FeedItem] = []
    for n, url in enumerate((u for u in root if _local(u.tag) == "url"), 1):
        loc = canonical_url(_text(url, "loc"))
        if not loc:
            log.skip("no-id", f"url {n}: no <loc>")
            continue
        title = html_to_text(_text(url, "news", "title"))
        if not title:
            log.skip("no-title", loc)
            continue
        published = parse_date(_text(url, "news", "publication_date")) or parse_date(_text(url, "lastmod")) or now
        keywords = [k.strip() for k in _text(url, "news", "keywords").split(",") if k.strip()]
        items.append(
            FeedItem(
                source_key=source_key,
                external_id=external_id("", loc) or loc,
                url=loc,
                title=title,
                categories=keywords,
                published_at=published,
                language=_text(url, "news", "publication", "language") or None,
            )
        )
    return "urlset", items


class SitemapAdapter:
    async def poll(self, spec: SourceSpec, ctx: FetchContext) -> Batch:
        result, batch = await fetch_changed(spec, ctx, ACCEPT)
        if batch.status != "ok":
            return batch
        try:
            kind, found = parse_sitemap(result.body or b"", source_key=spec.key, now=ctx.now, log=batch.entries)
        except ValueError as exc:
            return Batch.failed(str(exc), http_status=result.http_status)
        if kind == "urlset":
            batch.items = found
            return batch
        limit = int(spec.options.get("max_pages") or DEFAULT_MAX_SITEMAPS)
        newest_first = sorted(found, key=lambda c: c[0].timestamp() if c[0] else 0.0, reverse=True)
        problems: list[str] = []
        for _lastmod, loc in newest_first[:limit]:
            child = await ctx.get(loc, accept=ACCEPT)
            if child.status != "ok":
                problems.append(f"{loc}: {child.error}")
                continue
            try:
                kind, items = parse_sitemap(child.body or b"", source_key=spec.key, now=ctx.now, log=batch.entries)
            except ValueError as exc:
                problems.append(f"{loc}: {exc}")
                continue
            if kind == "urlset":  # one level only: an index inside an index is not followed
                batch.items.extend(items)
        if problems:
            batch.warning = f"{len(problems)} of the index's sitemaps failed: " + "; ".join(problems)[:500]
        if not batch.items and problems:
            return Batch.failed(batch.warning or "", http_status=result.http_status)
        return batch

"""Per-language feeds: RSS 2.0 and Atom (feedgen), JSON Feed 1.1; ETag, Last-Modified and 304.

The validators come from what the feed shows (each entry's id, version and update time, the format and filters),
so a conditional request is answered from one small query without rendering anything.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from feedgen.feed import FeedGenerator

from ..models import ArticleText
from ..publish.markdown import render_body
from . import queries as wq
from .deps import WebContext, ctx, require_read
from .errors import ApiError, ErrorBody
from .render import markdown_to_html

__all__ = ["FORMATS", "article_link", "router"]

FORMATS = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
_ERR = {"model": ErrorBody}

router = APIRouter(prefix="/feeds", tags=["feeds"])


def base_url(c: WebContext, request: Request) -> str:
    return (c.settings.web.public_url or str(request.base_url)).rstrip("/")


def article_link(c: WebContext, base: str, lang: str, slug: str) -> str:
    return c.settings.web.article_url.format(base=base, lang=lang, slug=slug)


def _absolute(base: str, url: str | None) -> str | None:
    if not url:
        return None
    if url.startswith(("http://", "https://")):
        return url
    return base + url if url.startswith("/") else None


def _etag(fmt: str, lang: str, category: str | None, tag: str | None, rows: list[wq.ArticleTriple]) -> str:
    h = hashlib.sha256(json.dumps([fmt, lang, category, tag]).encode())
    for a, _lead, _src in rows:
        h.update(f"{a.id}:{a.version}:{a.updated_at.isoformat()};".encode())
    return f'"{h.hexdigest()[:32]}"'


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= since
    return False


def _newest(rows: list[wq.ArticleTriple]) -> datetime | None:
    return max((a.updated_at for a, _l, _s in rows), default=None)


def _terms(a: Any) -> list[str]:
    """The category, then the tags, each once (the category is usually among the tags too)."""
    return list(dict.fromkeys([a.category, *a.tags]))


def _html(a: Any) -> str:
    return markdown_to_html(render_body(ArticleText.model_validate(a.text), a.lang))


def _xml_feed(c: WebContext, base: str, lang: str, fmt: str, rows: list[wq.ArticleTriple], self_url: str) -> bytes:
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(f"Newsroom ({lang})")
    fg.subtitle(f"Newsroom articles in {lang}")  # RSS <description>
    fg.link(href=self_url, rel="self")
    fg.link(href=base + "/", rel="alternate")  # last: feedgen makes the last link the RSS channel's <link>
    fg.language(lang)
    newest = _newest(rows)
    if newest is not None:  # an empty feed is as new as now (feedgen's default), never 1970
        fg.updated(newest)
        fg.lastBuildDate(newest)
    fg.generator("Newsroom")
    for a, _lead, src in rows:
        link = article_link(c, base, a.lang, a.slug)
        fe = fg.add_entry(order="append")
        fe.id(link)
        fe.guid(link, permalink=True)
        fe.title(a.title)
        fe.link(href=link)
        fe.summary(a.description)
        fe.description(a.description)
        fe.content(_html(a), type="CDATA" if fmt == "rss.xml" else "html")
        fe.published(a.published_at)
        fe.updated(a.updated_at)
        fe.author(name=src.name)
        if fmt == "rss.xml":
            fe.source(url=src.url, title=src.name)  # RSS <source>: the feed the item came from
        for tag in _terms(a):
            fe.category(term=tag)
    return fg.rss_str(pretty=True) if fmt == "rss.xml" else fg.atom_str(pretty=True)


def _json_feed(c: WebContext, base: str, lang: str, rows: list[wq.ArticleTriple], self_url: str) -> bytes:
    items = []
    for a, lead, src in rows:
        link = article_link(c, base, a.lang, a.slug)
        item: dict[str, Any] = {
            "id": link,
            "url": link,
            "external_url": lead.url,
            "title": a.title,
            "summary": a.description,
            "content_html": _html(a),
            "date_published": a.published_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "date_modified": a.updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "tags": _terms(a),
            "authors": [{"name": src.name}],
            "language": a.lang,
        }
        image = _absolute(base, (a.cover_image or {}).get("regular"))
        if image:
            item["image"] = image
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"Newsroom ({lang})",
        "home_page_url": base + "/",
        "feed_url": self_url,
        "language": lang,
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False).encode("utf-8")


_FEED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/rss+xml": {}, "application/atom+xml": {}, "application/feed+json": {}}},
    304: {"description": "not modified"},
    401: _ERR,
    404: _ERR,
    422: _ERR,
}


@router.get("/{lang}/{fmt}", response_class=Response, responses=_FEED_RESPONSES, dependencies=[Depends(require_read)])
def feed(
    request: Request,
    c: Annotated[WebContext, Depends(ctx)],
    lang: Annotated[str, Path(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,2}$", max_length=20)],
    fmt: Annotated[str, Path(pattern=r"^(rss\.xml|atom\.xml|feed\.json)$", description="rss.xml, atom.xml, feed.json")],
    category: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = None,
    tag: Annotated[str | None, Query(pattern=r"^[^\x00-\x1f\x7f]{1,40}$")] = None,
) -> Response:
    """The newest published articles of one language as RSS 2.0, Atom or JSON Feed, optionally by category/tag."""
    if lang not in c.settings.languages:
        raise ApiError(404, "not_found", f"no feed for language {lang!r}; languages: {c.settings.languages}")
    with c.store.session() as s:
        rows = wq.feed_articles(s, lang, category=category, tag=tag, limit=c.settings.web.feed_size)
        etag = _etag(fmt, lang, category, tag, rows)
        last_modified = _newest(rows)
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
        if last_modified is not None:  # an empty feed has no modification time to tell
            headers["Last-Modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
        if _not_modified(request, etag, last_modified):
            return Response(status_code=304, headers=headers)
        base = base_url(c, request)
        self_url = str(request.url)
        body = (
            _json_feed(c, base, lang, rows, self_url)
            if fmt == "feed.json"
            else _xml_feed(c, base, lang, fmt, rows, self_url)
        )
    return Response(content=body, media_type=FORMATS[fmt], headers=headers)

"""The CoinDesk Data news API (``type = "API"``): ``GET /news/v1/article/list``, paged backwards by time.

The configured ``url`` is the endpoint (``https://data-api.coindesk.com/news/v1/article/list``); the key comes from
the environment variable the config names (``api_key_env``) and is sent as ``Authorization: Apikey <key>``, never in
the URL. Filters: ``source_keys`` (``source_ids``), ``categories``, ``exclude_categories`` and the source's
``language`` (``lang``: EN, ES, PT…).

A response is ``{"Data": [article, …], "Err": {}}``; a failure is ``{"Data": …, "Err": {"type", "message", …}}``
(HTTP 401 for a missing, invalid or expired key, 429 when rate-limited, with Retry-After where sent). Each article
becomes one item: its ``ID`` the external id, ``SOURCE_DATA`` its publisher (one source row per publisher, so stories
and scores know who published it: ``{name: CoinDesk, key: coindesk, type: RSS}``), ``CATEGORY_DATA`` and the
``|``-separated ``KEYWORDS`` its categories, ``BODY`` its full text, ``SENTIMENT`` (with the votes and ``SCORE``) a
signal beside Newsroom's own classification.

Paging: the first page is the newest (``to_ts`` unset); each next page asks for ``to_ts`` = the oldest
``PUBLISHED_ON`` seen (inclusive, so items sharing that second are not lost; the ones already read are passed over),
until a page reaches the cursor (the newest item of the previous poll), comes back empty or short, ``max_pages``
pages were read (a warning: older items may be missing), or ``max_items_per_source`` items were collected. The first
poll of a source reads one page. A failure after the first page keeps what was read and leaves the cursor where it
was, so the next poll reads down to it again and fills the gap.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from ..models import FeedItem, SourceRef
from ..text import html_to_text
from ..urls import canonical_url
from .base import Batch, EntryLog, FetchContext, SourceSpec
from .feeds import FetchResult

PAGE_LIMIT = 100  # the API's largest page
DEFAULT_MAX_PAGES = 5
_KEY_CHARS = re.compile(r"[^a-z0-9_-]+")


def publisher_key(raw: str) -> str:
    """A source key (``KEY_RE``) from the API's SOURCE_KEY: lower-cased, other characters as ``-``, 64 at most."""
    key = _KEY_CHARS.sub("-", raw.strip().lower()).strip("-_")[:64]
    return key or "unknown"


def _error_message(body: bytes | None) -> str | None:
    """``Err.message`` (and ``Err.type``) of an API error envelope, if the body is one."""
    try:
        err = json.loads(body or b"").get("Err") or {}
    except (ValueError, AttributeError):
        return None
    if not isinstance(err, dict) or not err:
        return None
    message = str(err.get("message") or "").strip()[:300]
    kind = err.get("type")
    return f"{message} (Err.type {kind})" if kind is not None else message or None


def _failure(result: FetchResult, key_env: str) -> Batch:
    detail = _error_message(result.body)
    code = result.http_status
    if code in (401, 403):
        what = f"the API refused the key in ${key_env} (missing, invalid or expired)"
    elif code == 429:
        wait = f"; retry after {result.retry_after:g} s" if result.retry_after is not None else ""
        what = f"rate limited by the API{wait}"
    else:
        what = result.error or "request failed"
    message = f"{what}: {detail}" if detail else what
    return Batch.failed(message, http_status=code, retry_after=result.retry_after)


def _words(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [w for w in re.split(r"[|,]", str(value or "")) if w.strip()]


def _categories(article: dict[str, Any]) -> list[str]:
    """CATEGORY_DATA's categories, then the KEYWORDS; first spelling of each, case-insensitively."""
    names: list[str] = []
    for cat in article.get("CATEGORY_DATA") or []:
        if isinstance(cat, dict):
            names.append(str(cat.get("CATEGORY") or cat.get("NAME") or ""))
    names += _words(article.get("KEYWORDS"))
    seen: set[str] = set()
    out: list[str] = []
    for name in (html_to_text(n).strip() for n in names):
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def _publisher(article: dict[str, Any]) -> SourceRef | None:
    data = article.get("SOURCE_DATA")
    if not isinstance(data, dict):
        return None
    raw_key = str(data.get("SOURCE_KEY") or "")
    if not raw_key.strip():
        return None
    name = html_to_text(str(data.get("NAME") or raw_key))[:200] or raw_key
    kind = str(data.get("SOURCE_TYPE") or "RSS").strip().upper()[:16] or "RSS"
    return SourceRef(name=name, key=publisher_key(raw_key), type=kind)


def article_to_item(article: Any, *, relay_key: str, log: EntryLog) -> FeedItem | None:
    """One API article as an item (None, counted in ``log``, when it cannot be one)."""
    if not isinstance(article, dict):
        log.skip("invalid", f"not an object: {str(article)[:100]}")
        return None
    ident = str(article.get("ID") or "").strip()
    if not ident:
        log.skip("no-id", html_to_text(str(article.get("TITLE") or ""))[:100])
        return None
    status = str(article.get("STATUS") or "ACTIVE").upper()
    if status != "ACTIVE":
        log.skip("inactive", f"{ident}: STATUS {status}")
        return None
    try:
        published = datetime.fromtimestamp(int(article["PUBLISHED_ON"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        log.skip("no-date", ident)
        return None
    publisher = _publisher(article)
    signals = {
        k.lower(): article[k]
        for k in ("SENTIMENT", "UPVOTES", "DOWNVOTES", "SCORE")
        if isinstance(article.get(k), str | int | float) and not isinstance(article.get(k), bool)
    }
    if isinstance(signals.get("sentiment"), str):
        signals["sentiment"] = signals["sentiment"].strip().upper()[:16]
    return FeedItem(
        source_key=publisher.key if publisher else relay_key,
        external_id=ident,
        url=canonical_url(str(article.get("URL") or "")),
        title=html_to_text(str(article.get("TITLE") or "")),
        summary=html_to_text(str(article.get("SUBTITLE") or "")),
        content=html_to_text(str(article.get("BODY") or "")),
        categories=_categories(article),
        author=html_to_text(str(article.get("AUTHORS") or "")) or None,
        published_at=published,
        language=str(article.get("LANG") or "") or None,
        signals={"api": signals} if signals else {},
        publisher=publisher,
    )


def _cursor(value: str | None) -> tuple[int, str] | None:
    """The stored cursor ``"<PUBLISHED_ON>:<ID>"`` of the newest item of the previous poll."""
    if not value:
        return None
    ts, _, ident = value.partition(":")
    return (int(ts), ident) if ts.isdigit() else None


class CoinDeskAdapter:
    async def poll(self, spec: SourceSpec, ctx: FetchContext) -> Batch:
        opts = spec.options
        key_env = str(opts.get("api_key_env") or "COINDESK_API_KEY")
        api_key = os.environ.get(key_env, "").strip()
        if not api_key:
            return Batch.failed(f"no API key: set the environment variable {key_env} (api_key_env of {spec.key})")
        params: dict[str, str] = {"limit": str(min(PAGE_LIMIT, ctx.max_items))}
        if spec.language:
            params["lang"] = spec.language.split("-")[0].upper()
        for name, opt in (("source_ids", "source_keys"), ("categories", "categories")):
            if opts.get(opt):
                params[name] = ",".join(str(v) for v in opts[opt])
        if opts.get("exclude_categories"):
            params["exclude_categories"] = ",".join(str(v) for v in opts["exclude_categories"])
        max_pages = int(opts.get("max_pages") or DEFAULT_MAX_PAGES)
        cursor = _cursor(spec.cursor)
        headers = {"Authorization": f"Apikey {api_key}"}

        batch = Batch(status="ok")
        newest: tuple[int, str] | None = None
        to_ts: int | None = None
        earlier_pages: set[str] = set()
        for _page in range(max_pages if cursor else 1):
            page_params = {**params, **({"to_ts": str(to_ts)} if to_ts is not None else {})}
            url = str(httpx.URL(spec.url).copy_merge_params(page_params))
            result = await ctx.get(url, accept="application/json", headers=headers)
            if result.status != "ok":
                if batch.items:  # what the earlier pages gave is kept; the cursor stays, so the rest comes next time
                    batch.warning = f"stopped paging: {_failure(result, key_env).error}"
                    batch.cursor = None
                    return batch
                return _failure(result, key_env)
            batch.http_status = result.http_status
            try:
                doc = json.loads(result.body or b"")
            except ValueError as exc:
                return Batch.failed(f"the API answered with something that is not JSON: {exc}", http_status=200)
            data = doc.get("Data") if isinstance(doc, dict) else None
            if not isinstance(data, list) or (not data and _error_message(result.body)):
                detail = _error_message(result.body) or "no Data list in the response"
                return Batch.failed(f"the API answered with an error: {detail}", http_status=result.http_status)
            reached = False
            oldest: int | None = None
            for article in data:
                if isinstance(article, dict) and str(article.get("ID")) in earlier_pages:
                    continue  # the page boundary: to_ts is inclusive, so the last second's items come again
                item = article_to_item(article, relay_key=spec.key, log=batch.entries)
                if item is None:
                    continue
                ts = int(item.published_at.timestamp())
                oldest = ts if oldest is None else min(oldest, ts)
                if cursor and (ts < cursor[0] or (ts, item.external_id) == cursor):
                    reached = True
                    continue
                newest = max(newest, (ts, item.external_id)) if newest else (ts, item.external_id)
                batch.items.append(item)
            if reached or len(data) < int(params["limit"]) or oldest is None or len(batch.items) >= ctx.max_items:
                break
            to_ts = oldest
            earlier_pages = {i.external_id for i in batch.items}
        else:
            if cursor:
                batch.warning = (
                    f"read {max_pages} pages (max_pages) without reaching the item seen last; older items may be"
                    " missing: raise max_pages or poll more often"
                )
        if newest is not None:
            batch.cursor = f"{newest[0]}:{newest[1]}"
        return batch

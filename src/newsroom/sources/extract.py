"""Full text of an article page, for feed entries that carry only a teaser.

Fetching is as careful as polling: every request *and every redirect hop* passes the private-network guard
(:mod:`newsroom.netguard`, so a feed cannot point us at ``169.254.169.254`` or an intranet host, directly, through a
redirect, or through a DNS name that resolves there), an overall deadline, a size cap enforced while the body
streams in, an HTML content type, and robots.txt read with our own user agent (RFC 9309: a missing robots.txt allows
everything, an unreachable one disallows). Extraction is trafilatura's (precision-oriented settings); its output is
plain text, passed through the same HTML-to-text sanitiser as feed text.

Nothing here raises for network, HTTP, policy or parsing problems: the result says what went wrong and the caller
keeps the feed's own text.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from ..config import ExtractConfig, FetchConfig
from ..netguard import BlockedURL, check_url
from ..text import html_to_text
from .fetching import MAX_REDIRECTS, REDIRECT_CODES, TooLarge, read_capped

__all__ = [
    "ExtractedPage",
    "PageResult",
    "RobotsCache",
    "extract_article",
    "fetch_full_text",
    "fetch_page",
    "is_teaser",
    "unfetchable_host",
]

ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ROBOTS_MAX_BYTES = 512_000
MIN_TEXT_CHARS = 200
ROBOTS_TTL_SECONDS = 3600.0
# RFC 2606 / 6761 names that never resolve on the public internet: nothing to fetch (the demo and benches use them).
RESERVED_SUFFIXES = (".invalid", ".test", ".example", ".localhost", ".local")
_TEASER_ENDINGS = ("…", "...", "[…]", "[...]", "read more", "continue reading", "read the full story")

PageStatus = Literal["ok", "error", "blocked", "disallowed"]


@dataclass(frozen=True)
class PageResult:
    status: PageStatus
    body: bytes = b""
    final_url: str = ""
    content_type: str = ""
    error: str | None = None


@dataclass(frozen=True)
class ExtractedPage:
    text: str
    title: str = ""
    description: str = ""
    author: str = ""
    date: str = ""


def is_teaser(summary: str, content: str, min_chars: int) -> bool:
    """True when the feed gave no full body: its richest text is short, or the summary ends like a teaser."""
    text = content if len(content) > len(summary) else summary
    if len(text) < min_chars:
        return True
    if content and len(content) >= min_chars:
        return False
    tail = text.rstrip().casefold()
    return any(tail.endswith(e) for e in _TEASER_ENDINGS) and len(text) < 3 * min_chars


def unfetchable_host(url: str) -> bool:
    """True for URLs whose host can never be reached (reserved names): not worth a request."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return True
    return not host or host == "localhost.invalid" or host.endswith(RESERVED_SUFFIXES) or host in ("invalid", "test")


def extract_article(html: bytes | str, url: str | None = None) -> ExtractedPage | None:
    """The main text and metadata of an article page (trafilatura). ``None`` when no article text was found."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
        )
    except Exception:  # noqa: BLE001 - a hostile page must never crash the pipeline
        return None
    if doc is None:
        return None
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    raw_text = str(data.get("text") or "")
    # trafilatura separates paragraphs with single newlines; the rest of Newsroom uses blank lines.
    text = html_to_text("\n\n".join(line for line in raw_text.splitlines() if line.strip()).replace("<", "&lt;"))
    if len(text) < MIN_TEXT_CHARS:
        return None  # a menu, an error page or a paywall stub: not an article
    return ExtractedPage(
        text=text,
        title=html_to_text(str(data.get("title") or "")),
        description=html_to_text(str(data.get("description") or "")),
        author=html_to_text(str(data.get("author") or "")),
        date=str(data.get("date") or ""),
    )


async def fetch_page(
    client: httpx.AsyncClient,
    url: str,
    *,
    fetch: FetchConfig,
    timeout_seconds: float,
    max_bytes: int,
    accept: str = ACCEPT,
) -> PageResult:
    """GET ``url``, following redirects by hand so that every hop passes the private-network guard."""
    try:
        async with asyncio.timeout(timeout_seconds):
            return await _fetch(
                client, url, fetch=fetch, timeout_seconds=timeout_seconds, max_bytes=max_bytes, accept=accept
            )
    except TimeoutError:
        return PageResult("error", final_url=url, error=f"timed out after {timeout_seconds:g} s")


async def _fetch(
    client: httpx.AsyncClient, url: str, *, fetch: FetchConfig, timeout_seconds: float, max_bytes: int, accept: str
) -> PageResult:
    headers = {"User-Agent": fetch.user_agent, "Accept": accept}
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            await asyncio.to_thread(
                check_url, current, allow_private=fetch.allow_private_networks, allow_hosts=fetch.allow_hosts
            )
        except BlockedURL as exc:
            return PageResult("blocked", final_url=current, error=str(exc))
        try:
            request = client.build_request("GET", current, headers=headers, timeout=timeout_seconds)
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            return PageResult("error", final_url=current, error=f"network error: {type(exc).__name__}: {exc}")
        except (httpx.InvalidURL, UnicodeError) as exc:  # a malformed host (the link, or a redirect)
            return PageResult("error", final_url=current, error=f"invalid URL: {exc}")
        try:
            code = response.status_code
            if code in REDIRECT_CODES:
                location = response.headers.get("location")
                if not location:
                    return PageResult("error", final_url=current, error=f"HTTP {code} without a Location header")
                current = urljoin(current, location.strip())
                continue
            if not 200 <= code < 300:
                return PageResult("error", final_url=current, error=f"HTTP {code} from {current}")
            try:
                body = await read_capped(response, max_bytes)
            except TooLarge as exc:
                return PageResult("error", final_url=current, error=f"page too large: {current} {exc}")
            except httpx.HTTPError as exc:
                return PageResult("error", final_url=current, error=f"network error while reading: {exc}")
            return PageResult("ok", body=body, final_url=current, content_type=response.headers.get("content-type", ""))
        finally:
            await response.aclose()
    return PageResult("error", final_url=current, error=f"too many redirects (more than {MAX_REDIRECTS}) from {url}")


def _agent_token(user_agent: str) -> str:
    """The product token robots.txt groups match against: ``NewsroomBot`` of ``NewsroomBot/0.1 (+…)``."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


class RobotsCache:
    """robots.txt per origin (protego: RFC 9309, the longest matching rule wins), fetched through the same guarded
    path, kept for an hour."""

    def __init__(self) -> None:
        self._rules: dict[str, tuple[float, Protego | str | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def refusal(
        self, client: httpx.AsyncClient, url: str, *, fetch: FetchConfig, timeout_seconds: float
    ) -> str | None:
        """None when ``url`` may be fetched; otherwise why not (disallowed, or robots.txt unreachable)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._rules.get(origin)
            if cached is None or time.monotonic() - cached[0] > ROBOTS_TTL_SECONDS:
                cached = (time.monotonic(), await self._load(client, origin, fetch, timeout_seconds))
                self._rules[origin] = cached
        rules = cached[1]
        agent = _agent_token(fetch.user_agent)
        if isinstance(rules, str):
            return rules
        if rules is None or rules.can_fetch(url, agent):
            return None
        return f"robots.txt disallows {url} for {agent}"

    async def allowed(self, client: httpx.AsyncClient, url: str, *, fetch: FetchConfig, timeout_seconds: float) -> bool:
        return await self.refusal(client, url, fetch=fetch, timeout_seconds=timeout_seconds) is None

    @staticmethod
    async def _load(
        client: httpx.AsyncClient, origin: str, fetch: FetchConfig, timeout_seconds: float
    ) -> Protego | str | None:
        """The parsed rules; None (no robots.txt: everything allowed) or the reason nothing may be fetched."""
        page = await fetch_page(
            client,
            origin + "/robots.txt",
            fetch=fetch,
            timeout_seconds=timeout_seconds,
            max_bytes=ROBOTS_MAX_BYTES,
            accept="text/plain, */*;q=0.1",
        )
        if page.status == "ok":
            return Protego.parse(page.body.decode("utf-8", "replace"))
        # 4xx: no robots.txt, everything is allowed; unreachable or refused: RFC 9309 says assume complete disallow
        if page.status == "error" and page.error and page.error.startswith("HTTP 4"):
            return None
        return f"robots.txt of {origin} unreachable ({page.error or page.status}): not fetching its pages (RFC 9309)"


async def fetch_full_text(
    client: httpx.AsyncClient,
    url: str,
    *,
    fetch: FetchConfig,
    extract: ExtractConfig,
    robots: RobotsCache | None = None,
) -> tuple[ExtractedPage | None, str | None]:
    """Fetch and extract one article page: ``(page, None)`` or ``(None, why not)``."""
    if unfetchable_host(url):
        return None, f"reserved host name, not fetched: {url}"
    try:
        await asyncio.to_thread(
            check_url, url, allow_private=fetch.allow_private_networks, allow_hosts=fetch.allow_hosts
        )
    except BlockedURL as exc:
        return None, str(exc)
    if extract.respect_robots and robots is not None:
        refusal = await robots.refusal(client, url, fetch=fetch, timeout_seconds=extract.timeout_seconds)
        if refusal:
            return None, refusal
    page = await fetch_page(
        client, url, fetch=fetch, timeout_seconds=extract.timeout_seconds, max_bytes=extract.max_bytes
    )
    if page.status != "ok":
        return None, page.error
    kind = page.content_type.split(";", 1)[0].strip().lower()
    if kind and kind not in ("text/html", "application/xhtml+xml", "text/plain"):
        return None, f"not an HTML page ({kind}): {page.final_url}"
    extracted = await asyncio.to_thread(extract_article, page.body, page.final_url)
    if extracted is None:
        return None, f"no article text found in {page.final_url}"
    return extracted, None

"""Public Telegram channels (``type = "TELEGRAM"``) through the web preview, ``https://t.me/s/<channel>``.

The preview page lists the newest posts, each a ``div`` with ``data-post="<channel>/<number>"`` holding the text
(``tgme_widget_message_text``) and the time (``<time datetime=…>`` in ``tgme_widget_message_date``). Each post is an
item: ``<channel>/<number>`` its external id, ``https://t.me/<channel>/<number>`` its link, its first line (at most
120 characters) its title, the whole text its content, its hashtags its categories. Older posts are read with
``?before=<number>`` until the newest post of the previous poll (the cursor), at most ``max_pages`` pages. A post
without text (a photo alone) is skipped and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser

import httpx

from ..models import FeedItem
from .base import Batch, EntryLog, FetchContext, SourceSpec
from .normalise import cap, parse_date
from .rss import failed

ACCEPT = "text/html, */*;q=0.5"
DEFAULT_MAX_PAGES = 5
_HASHTAG = re.compile(r"(?<![\w#])#(\w{2,64})")
_BLOCK = frozenset({"br", "p", "div"})


def post_number(ident: str) -> int:
    """The number of a post id ``<channel>/<number>`` (0 when it has none)."""
    tail = ident.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


@dataclass
class Post:
    ident: str  # "<channel>/<number>"
    text_parts: list[str] = field(default_factory=list)
    time: str = ""


class _PreviewParser(HTMLParser):
    """Collects posts from a t.me/s page: the depth of the open post and of its text block are tracked by tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.posts: list[Post] = []
        self._post_depth: int | None = None
        self._text_depth: int | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("br", "img", "hr", "input", "meta", "link"):  # void elements never close
            if tag == "br" and self._text_depth is not None:
                self.posts[-1].text_parts.append("\n")
            return
        self._depth += 1
        classes = (a.get("class") or "").split()
        if a.get("data-post") and self._post_depth is None:
            self.posts.append(Post(ident=str(a["data-post"])))
            self._post_depth = self._depth
        elif self._post_depth is not None:
            if "tgme_widget_message_text" in classes and self._text_depth is None:
                self._text_depth = self._depth
            elif tag == "time" and a.get("datetime") and not self.posts[-1].time:
                self.posts[-1].time = str(a["datetime"])
            elif tag in _BLOCK and self._text_depth is not None:
                self.posts[-1].text_parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "hr", "input", "meta", "link"):
            return
        if self._text_depth is not None and self._depth == self._text_depth:
            self._text_depth = None
        if self._post_depth is not None and self._depth == self._post_depth:
            self._post_depth = None
        self._depth = max(0, self._depth - 1)

    def handle_data(self, data: str) -> None:
        if self._text_depth is not None:
            self.posts[-1].text_parts.append(data)


def parse_preview(html: str, *, source_key: str, now: datetime, log: EntryLog) -> tuple[list[FeedItem], int | None]:
    """(items, the lowest post number on the page) of a t.me/s page."""
    parser = _PreviewParser()
    parser.feed(html)
    parser.close()
    items: list[FeedItem] = []
    for post in parser.posts:
        text = re.sub(r"[ \t]+", " ", "".join(post.text_parts))
        text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
        if not text:
            log.skip("no-text", post.ident)
            continue
        first = text.split("\n", 1)[0]
        items.append(
            FeedItem(
                source_key=source_key,
                external_id=post.ident,
                url=f"https://t.me/{post.ident}",
                title=cap(first, 120),
                content=text,
                categories=list(dict.fromkeys(_HASHTAG.findall(text))),
                published_at=parse_date(post.time) or now,
            )
        )
    numbers = [post_number(p.ident) for p in parser.posts if post_number(p.ident)]
    return items, min(numbers) if numbers else None


class TelegramAdapter:
    async def poll(self, spec: SourceSpec, ctx: FetchContext) -> Batch:
        cursor = int(spec.cursor) if spec.cursor and spec.cursor.isdigit() else None
        max_pages = int(spec.options.get("max_pages") or DEFAULT_MAX_PAGES)
        batch = Batch(status="ok")
        before: int | None = None
        for _page in range(max_pages if cursor else 1):
            url = str(httpx.URL(spec.url).copy_merge_params({"before": str(before)})) if before else spec.url
            result = await ctx.get(url, accept=ACCEPT)
            if result.status != "ok":
                if batch.items:
                    batch.warning = f"stopped paging: {result.error}"
                    return batch
                return failed(result)
            batch.http_status = result.http_status
            html = (result.body or b"").decode("utf-8", errors="replace")
            items, lowest = parse_preview(html, source_key=spec.key, now=ctx.now, log=batch.entries)
            fresh = [i for i in items if cursor is None or post_number(i.external_id) > cursor]
            batch.items.extend(fresh)
            if not items and not batch.items and lowest is None:
                return Batch.failed(f"no posts on {url}: not a public channel's t.me/s/ preview?", http_status=200)
            if lowest is None or (cursor is not None and lowest <= cursor + 1) or lowest <= 1:
                break
            before = lowest
        newest = max((post_number(i.external_id) for i in batch.items), default=0)
        if newest:
            batch.cursor = str(newest)
        return batch

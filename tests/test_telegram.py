"""Public Telegram channels through the t.me/s/ web preview, served on loopback in the preview's markup, with the
real CoinDesk headlines and teasers of ../shared/corpus/feeds as the posts' text."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from newsroom.models import FeedItem
from newsroom.sources.feeds import parse_feed
from newsroom.stages.poll import poll_sources
from newsroom.store.db import Store
from source_support import NOW, http_server, serve, server, settings_for, source_row, stored

__all__ = ["http_server", "server"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def post_html(number: int, item: FeedItem | None) -> str:
    """One post as the preview renders it (a photo-only post when ``item`` is None)."""
    text = (
        f'<div class="tgme_widget_message_text js-message_text" dir="auto"><b>{escape(item.title)}</b><br/>'
        f'{escape(item.summary[:300])}<br/><br/><a href="{escape(item.url)}">Read more</a> #bitcoin #markets</div>'
        if item
        else '<a class="tgme_widget_message_photo_wrap" style="background-image:url(\'x.jpg\')"></a>'
    )
    when = item.published_at.isoformat() if item else NOW.isoformat()
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="cdnews/{number}">'
        '<div class="tgme_widget_message_user"><a href="https://t.me/cdnews"><i class="tgme_widget_message_user_photo">'
        '<img src="u.jpg"></i></a></div><div class="tgme_widget_message_bubble">'
        f'{text}<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info">'
        f'<span class="tgme_widget_message_views">1.2K</span><a class="tgme_widget_message_date" '
        f'href="https://t.me/cdnews/{number}"><time datetime="{when}" class="time">10:00</time></a></div></div>'
        "</div></div></div>"
    )


class Channel:
    """``/s/cdnews``: the newest 10 posts, older ones with ``?before=N``; post 105 is a photo without text."""

    def __init__(self, items: list[FeedItem]) -> None:
        self.posts = {100 + n: (None if n == 5 else item) for n, item in enumerate(items[:20], 1)}
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        before = int(request.args.get("before", 10**9))
        numbers = sorted((n for n in self.posts if n < before), reverse=True)[:10]
        body = "".join(post_html(n, self.posts[n]) for n in sorted(numbers))
        page = f'<html><head><meta charset="utf-8"></head><body><section class="tgme_channel_history">{body}</section>'
        return Response(page + "</body></html>", content_type="text/html; charset=utf-8")


async def test_a_public_channel(store: Store, server: HTTPServer, corpus: Path) -> None:
    items = parse_feed((corpus / "feeds" / "coindesk.rss").read_bytes(), source_key="x", now=NOW).items
    channel = Channel(items)
    url = serve(server, "/s/cdnews", channel)
    settings = settings_for({"key": "tg", "url": url, "type": "TELEGRAM", "language": "en", "max_pages": 5})
    newest = max(channel.posts)
    for n in range(newest - 4, newest + 1):  # the five newest posts appear later
        channel.posts.pop(n)
    (first,) = await poll_sources(store, settings, now=NOW)
    assert first.status == "ok" and first.new_items == 10 and len(channel.requests) == 1  # one page at first
    channel.posts.update({100 + n: items[n - 1] for n in range(16, 21)})
    channel.requests.clear()
    (second,) = await poll_sources(store, settings, now=NOW, force=True)
    assert second.new_items == 5 and len(channel.requests) == 1  # the newest page reaches the cursor
    assert source_row(store, "tg").cursor == "120"

    posts = {i.external_id: i for i in stored(store, "tg")}
    assert set(posts) == {f"cdnews/{n}" for n in range(106, 121)}
    post = posts["cdnews/106"]
    real = items[5]
    assert post.url == "https://t.me/cdnews/106" and post.title.startswith(real.title[:50])
    assert real.summary[:40] in post.content and "Read more" in post.content
    assert post.categories == ["bitcoin", "markets"] and post.published_at == real.published_at
    assert post.language == "en"


async def test_paging_back_and_photo_posts(store: Store, server: HTTPServer, corpus: Path) -> None:
    items = parse_feed((corpus / "feeds" / "coindesk.rss").read_bytes(), source_key="x", now=NOW).items
    channel = Channel(items)
    url = serve(server, "/s/cdnews", channel)
    settings = settings_for({"key": "tg", "url": url, "type": "TELEGRAM", "language": "en", "max_pages": 5})
    await poll_sources(store, settings, now=NOW)  # the first poll reads one page
    assert source_row(store, "tg").cursor == "120"
    # fifteen new posts: two pages back to the cursor
    channel.posts.update({120 + n: items[n - 1] for n in range(1, 16)})
    channel.requests.clear()
    (report,) = await poll_sources(store, settings, now=NOW, force=True)
    assert report.new_items == 15 and [r.args.get("before") for r in channel.requests] == [None, "126"]
    # a photo-only post is skipped and counted
    channel2 = Channel(items)
    url2 = serve(server, "/s/photos", channel2)
    (photos,) = await poll_sources(store, settings_for({"key": "ph", "url": url2, "type": "TELEGRAM"}), now=NOW)
    assert photos.skipped == {} and photos.new_items == 10  # post 105 is not on the newest page
    channel2.posts[121] = None
    (again,) = await poll_sources(
        store, settings_for({"key": "ph", "url": url2, "type": "TELEGRAM"}), now=NOW, force=True
    )
    assert again.skipped == {"no-text": 1} and again.new_items == 0


async def test_a_page_without_posts_is_an_error(store: Store, server: HTTPServer) -> None:
    url = serve(server, "/s/private", lambda r: Response("<html><body>nothing</body></html>", content_type="text/html"))
    (report,) = await poll_sources(store, settings_for({"key": "tg", "url": url, "type": "TELEGRAM"}), now=NOW)
    assert report.status == "error" and "no posts" in (report.error or "")

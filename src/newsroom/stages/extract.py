"""The extract stage: give teaser-only lead items their full text before the article is written.

For each story about to be written whose lead item is a teaser (:func:`newsroom.sources.extract.is_teaser`), the
article page is fetched and extracted; a longer text replaces the item's ``content`` in the store (and on the
in-memory row the writer is about to use). On any failure the feed's own text stays and the reason is logged: a
missing full text never stops a story.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx
from sqlalchemy import update

from ..config import Settings
from ..netguard import tls_context
from ..sources.extract import RobotsCache, fetch_full_text, is_teaser
from ..store.db import Store
from ..store.tables import ItemRow

log = logging.getLogger(__name__)


async def fill_full_text(
    store: Store,
    settings: Settings,
    leads: Sequence[ItemRow],
    client: httpx.AsyncClient | None = None,
    *,
    robots: RobotsCache | None = None,
) -> int:
    """Fetch full text for the teaser leads among ``leads``; return how many got a longer text."""
    cfg = settings.extract
    if not cfg.enabled:
        return 0
    todo = [it for it in leads if it.url and is_teaser(it.summary or "", it.content or "", cfg.min_chars)]
    if not todo:
        return 0
    own = client is None
    http = client or page_client(settings)
    robots = robots or RobotsCache()
    gate = asyncio.Semaphore(cfg.concurrency)

    async def one(item: ItemRow) -> bool:
        async with gate:
            page, why = await fetch_full_text(http, item.url, fetch=settings.fetch, extract=cfg, robots=robots)
        current = item.content if len(item.content or "") > len(item.summary or "") else item.summary or ""
        if page is None or len(page.text) <= len(current):
            log.debug("full text for item %s kept from the feed: %s", item.id, why or "extracted text was not longer")
            return False
        item.content = page.text
        await asyncio.to_thread(_store_content, store, item.id, page.text)
        return True

    try:
        results = await asyncio.gather(*(one(it) for it in todo))
    finally:
        if own:
            await http.aclose()
    return sum(results)


def page_client(settings: Settings) -> httpx.AsyncClient:
    """An HTTP client for article pages. Building one costs tens of milliseconds (it loads the CA bundle): share it."""
    return httpx.AsyncClient(
        timeout=settings.extract.timeout_seconds,
        headers={"User-Agent": settings.fetch.user_agent},
        follow_redirects=False,
        verify=tls_context(),
    )


def _store_content(store: Store, item_id: int, text: str) -> None:
    with store.session() as s:
        s.execute(update(ItemRow).where(ItemRow.id == item_id).values(content=text))

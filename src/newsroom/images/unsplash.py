"""Unsplash: search a photo by the article's image query; its ``urls`` object fills ``coverImage`` directly.

What the API guidelines require, and what this does:

* authenticate with ``Authorization: Client-ID <access key>``; the key comes from the environment variable the config
  names (``images.unsplash_access_key_env``), never from the file;
* use the returned hotlink URLs as they are (``urls.raw/full/regular/small/thumb/small_s3``);
* trigger a download event when a photo is used: ``GET`` its ``links.download_location`` with the same key;
* credit the photographer and Unsplash with links carrying ``utm_source=<app>&utm_medium=referral``
  (written as the additive ``coverImage.credit`` map: name, url, source, sourceUrl);
* respect the rate limit: ``X-Ratelimit-Remaining: 0``, HTTP 403 "Rate Limit Exceeded" or 429 pause the provider
  until the hourly window turns (the pipeline uses the card meanwhile).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from ..models import COVER_SIZES, CoverImage
from .base import CoverError, CoverRequest

log = logging.getLogger(__name__)
RATE_WINDOW_SECONDS = 3600.0


class UnsplashProvider:
    name = "unsplash"

    def __init__(
        self,
        *,
        api_url: str,
        key_env: str,
        app_name: str,
        timeout_seconds: float = 15,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.key_env = key_env
        self.app_name = app_name
        self.timeout = timeout_seconds
        self.client = client
        self.paused_until = 0.0
        self.remaining: int | None = None

    def _key(self) -> str:
        key = os.environ.get(self.key_env, "").strip()
        if not key:
            raise CoverError(f"no Unsplash access key: set the environment variable {self.key_env}")
        return key

    def _note_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip().isdigit():
            self.remaining = int(remaining)
            if self.remaining <= 0:
                self.paused_until = time.monotonic() + RATE_WINDOW_SECONDS
        if response.status_code == 429 or (response.status_code == 403 and "rate limit" in response.text.lower()):
            self.paused_until = time.monotonic() + RATE_WINDOW_SECONDS
            raise CoverError("Unsplash rate limit reached; using the fallback until the hourly window turns")

    async def _get(self, client: httpx.AsyncClient, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Client-ID {self._key()}", "Accept-Version": "v1"}
        try:
            response = await client.get(url, params=params, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise CoverError(f"Unsplash request failed: {type(exc).__name__}: {exc}") from None
        self._note_limits(response)
        if response.status_code != 200:
            raise CoverError(f"Unsplash answered HTTP {response.status_code} for {url}")
        return response

    def _ref(self, url: str) -> str:
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}{urlencode({'utm_source': self.app_name, 'utm_medium': 'referral'})}"

    async def cover(self, request: CoverRequest) -> CoverImage:
        if time.monotonic() < self.paused_until:
            raise CoverError("Unsplash paused after reaching its rate limit")
        query = request.image_query.strip() or " ".join(request.tags[:3])
        if not query:
            raise CoverError("no image query to search Unsplash with")
        own = self.client is None
        client = self.client or httpx.AsyncClient()
        try:
            response = await self._get(
                client,
                f"{self.api_url}/search/photos",
                {"query": query, "per_page": 1, "orientation": "landscape", "content_filter": "high"},
            )
            try:
                results = response.json().get("results") or []
                photo = results[0]
                urls = {size: str(photo["urls"][size]) for size in COVER_SIZES}
                user = photo["user"]
                download_location = str(photo["links"]["download_location"])
            except (ValueError, LookupError, TypeError, AttributeError):
                raise CoverError(f"no usable Unsplash photo for {query!r}") from None
            if not all(u.startswith("https://") for u in urls.values()):
                raise CoverError("Unsplash returned a non-https image URL")
            await self._get(client, download_location)  # the download event the API guidelines require
        finally:
            if own:
                await client.aclose()
        credit = {
            "name": str(user.get("name") or user.get("username") or "Unsplash photographer"),
            "url": self._ref(str((user.get("links") or {}).get("html") or "https://unsplash.com")),
            "source": "Unsplash",
            "sourceUrl": self._ref("https://unsplash.com"),
        }
        return CoverImage(**urls, credit=credit)

"""The source protocol: an adapter turns one configured source into normalised items.

An adapter is small: given a :class:`SourceSpec` (the source's config and its stored cursor/validators) and a
:class:`FetchContext` (the HTTP client, the fetch policy, the fetch time), it returns a :class:`Batch`: the items it
found, the entries it had to skip (each with a reason), the new validators or cursor, or an error. It never raises for
a network, HTTP or content problem, and makes its requests through ``ctx.get`` (the private-network guard,
``fetch.allow_hosts``, the size cap and the deadline on every hop). Everything every source needs afterwards
(hostile text stripped, links and titles bounded, implausible dates handled, duplicates and the per-poll limit
counted) happens once, in :func:`newsroom.sources.normalise.finalise`, whatever the adapter.

Adapters are found by source ``type`` through the ``newsroom.sources`` entry-point group, so an installed package
adds a source kind with one line of its ``pyproject.toml``::

    [project.entry-points."newsroom.sources"]
    MASTODON = "newsroom_mastodon:MastodonAdapter"

The entry point names a class (instantiated without arguments) or an adapter object. The built-in kinds are listed
in Newsroom's own ``pyproject.toml`` and also here, so a source checkout that is not installed still has them.
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ..models import FeedItem

if TYPE_CHECKING:  # config validates source types against this registry: no import cycle at run time
    import httpx

    from ..config import FetchConfig
    from .feeds import FetchResult

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "newsroom.sources"
BUILTIN_ADAPTERS = {
    "RSS": "newsroom.sources.rss:FeedAdapter",
    "ATOM": "newsroom.sources.rss:FeedAdapter",
    "API": "newsroom.sources.coindesk_api:CoinDeskAdapter",
    "SITEMAP": "newsroom.sources.sitemap:SitemapAdapter",
    "JSONFEED": "newsroom.sources.jsonfeed:JsonFeedAdapter",
    "TELEGRAM": "newsroom.sources.telegram:TelegramAdapter",
}
MAX_SKIP_SAMPLES = 20  # skipped entries whose reason is kept on the source row, per poll

BatchStatus = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True)
class SourceSpec:
    """A source as an adapter sees it: its config and the state the last poll left."""

    key: str
    type: str
    url: str
    name: str = ""
    language: str | None = None  # configured language of the source's text; None: per item, else detected
    options: Mapping[str, Any] = field(default_factory=dict)  # adapter-specific settings (SourceConfig extras)
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None  # an adapter's own resume point (the API: the newest item seen)


@dataclass
class FetchContext:
    client: httpx.AsyncClient
    fetch: FetchConfig
    now: datetime  # the fetch time: stands in for missing dates, bounds future ones
    max_items: int  # settings.max_items_per_source: an adapter that pages may stop there

    async def get(
        self,
        url: str,
        *,
        accept: str = "*/*",
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """GET ``url`` the way every source request goes: the private-network guard and ``fetch.allow_hosts`` on
        every redirect hop, the size cap, the deadline, conditional headers. Never raises (see feeds.fetch_feed)."""
        from .feeds import fetch_feed

        return await fetch_feed(
            self.client, url, etag=etag, last_modified=last_modified, fetch=self.fetch, accept=accept, headers=headers
        )


@dataclass
class EntryLog:
    """Entries an adapter (or normalisation) skipped or flagged, counted by reason, with a few samples."""

    skipped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, str]] = field(default_factory=list)

    def skip(self, reason: str, entry: str = "", n: int = 1) -> None:
        self.skipped[reason] += n
        self._sample("skipped", reason, entry)

    def flag(self, reason: str, entry: str = "") -> None:
        self.flagged[reason] += 1
        self._sample("flagged", reason, entry)

    def _sample(self, what: str, reason: str, entry: str) -> None:
        if len(self.samples) < MAX_SKIP_SAMPLES:
            self.samples.append({"what": what, "reason": reason, "entry": entry[:200]})


@dataclass
class Batch:
    """What one poll of one source produced."""

    status: BatchStatus
    items: list[FeedItem] = field(default_factory=list)
    entries: EntryLog = field(default_factory=EntryLog)
    warning: str | None = None  # the source answered but something was off (a malformed feed that still gave items)
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    http_status: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the source asked us to wait (HTTP 429 / Retry-After)

    @classmethod
    def failed(cls, error: str, *, http_status: int | None = None, retry_after: float | None = None) -> Batch:
        return cls(status="error", error=error, http_status=http_status, retry_after=retry_after)


@runtime_checkable
class SourceAdapter(Protocol):
    """One source kind. ``poll`` must not raise for network, HTTP or content problems: it returns an error Batch."""

    async def poll(self, spec: SourceSpec, ctx: FetchContext) -> Batch: ...


class UnknownSourceType(Exception):
    pass


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@cache
def _entry_points() -> dict[str, Any]:
    return {ep.name.upper(): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def source_kinds() -> list[str]:
    """Every source ``type`` an adapter is installed for (built-in or from the entry-point group)."""
    return sorted(set(BUILTIN_ADAPTERS) | set(_entry_points()))


def adapter_for(kind: str) -> SourceAdapter:
    """The adapter for a source ``type`` (any case); a built-in kind wins over an entry point of the same name."""
    return _adapter(kind.upper())


@cache
def _adapter(kind: str) -> SourceAdapter:
    if kind in BUILTIN_ADAPTERS:
        obj = _load(BUILTIN_ADAPTERS[kind])
    elif kind in _entry_points():
        obj = _entry_points()[kind].load()
    else:
        raise UnknownSourceType(f"no adapter for source type {kind}; installed: {', '.join(source_kinds())}")
    adapter = obj() if isinstance(obj, type) else obj
    if not isinstance(adapter, SourceAdapter):
        raise UnknownSourceType(f"the adapter for source type {kind} ({obj!r}) has no async poll(spec, ctx)")
    return adapter


def refresh_registry() -> None:
    """Forget loaded adapters and entry points (after installing a package at run time; tests)."""
    _entry_points.cache_clear()
    _adapter.cache_clear()

"""What a story is about, for the select stage: how on the crypto beat it is, and what kind of item it is. Pure.

- :func:`beat_terms` lists the crypto words a text names: the major assets of :mod:`newsroom.assets` (names, tickers,
  cashtags) and a vocabulary of the beat (blockchain, stablecoin, token, DeFi, the large exchanges, …), each counted
  once, whole words only, plus any terms a site adds.
- :func:`item_type` tells the kinds of item a site may choose not to write about, from the headline, the link, the
  feed's categories and the start of the text: ``price-prediction``, ``technical-analysis``, ``market-wrap``,
  ``live-blog``, ``newsletter``, ``sponsored`` (paid posts and wire press releases); ``None`` for ordinary news.
  Rules are phrases, not single words: "prediction markets" is news about a product, not a price prediction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from .assets import detect_assets

BEAT_VOCABULARY = (
    "crypto",
    "cryptocurrency",
    "cryptocurrencies",
    "blockchain",
    "blockchains",
    "stablecoin",
    "stablecoins",
    "altcoin",
    "altcoins",
    "memecoin",
    "memecoins",
    "token",
    "tokens",
    "tokenized",
    "tokenization",
    "tokenised",
    "tokenisation",
    "onchain",
    "on-chain",
    "defi",
    "nft",
    "nfts",
    "web3",
    "dao",
    "airdrop",
    "staking",
    "mainnet",
    "layer 2",
    "digital asset",
    "digital assets",
    "virtual asset",
    "virtual assets",
    "satoshi",
    "halving",
    "coinbase",
    "binance",
    "kraken",
    "bitfinex",
    "okx",
    "bybit",
    "upbit",
    "paxos",
    "bitgo",
    "microstrategy",
    "polymarket",
    "mica",
    "crypto wallet",
    "prediction market",
    "prediction markets",
)

_TYPE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "sponsored",
            r"\bsponsored\b|\bpartner content\b|\badvertorial\b|\bpaid (?:content|post)\b|\bpress release\b"
            r"|/PRNewswire/|\bPRNewswire\b|GLOBE NEWSWIRE|\bBusiness Wire\b|\bAccesswire\b",
        ),
        ("live-blog", r"\blive(?: blog| updates| coverage)\b|^live:|\bas it happened\b"),
        (
            "newsletter",
            r"\bnewsletter\b|\bdaybook\b|^the daily:|\bmorning minute\b|\bweek in review\b"
            r"|\bthis week in\b|\bmorning briefing\b|\bfirst mover\b",
        ),
        (
            "market-wrap",
            r"\bmarket (?:wrap|recap|update)\b|\bmarkets? today\b|\bwhat happened in crypto today\b"
            r"|\bdaily (?:crypto )?recap\b|\bweekly recap\b|\bperformance update\b",
        ),
        (
            "price-prediction",
            r"\bprice (?:prediction|forecast|outlook|target)s?\b"
            r"|\b(?:could|can|will|to) (?:hit|reach|top|retest|rally to|surge to|climb to|soar to|fall to|drop to)"
            r" \$\d|\bpredict(?:s|ed|ion)? (?:\w+ ){0,3}(?:price|rally|pump|crash|bottom|top)\b|\bpump or dump\b",
        ),
        (
            "technical-analysis",
            r"\btechnical analysis\b|\bprice analysis\b|\bcharts? (?:suggest|signal|show|point)"
            r"|\b(?:key )?(?:support|resistance) (?:level|zone|at)\b|\bbreaking key support\b|\bRSI\b|\bMACD\b"
            r"|\b(?:bull|bear) flag\b|\bhead and shoulders\b|\bfibonacci\b|\bmoving average\b",
        ),
    )
)
_URL_TYPES = (
    ("sponsored", ("/sponsored/", "/press-release", "/pr/")),
    ("live-blog", ("/live/", "/liveblog")),
    ("price-prediction", ("price-prediction",)),
    ("technical-analysis", ("price-analysis", "technical-analysis")),
    ("newsletter", ("/newsletters/", "/daybook")),
)


@lru_cache(maxsize=64)
def _terms_re(extra: tuple[str, ...]) -> re.Pattern[str]:
    terms = sorted({t.strip().lower() for t in (*BEAT_VOCABULARY, *extra) if t.strip()}, key=len, reverse=True)
    return re.compile(r"(?<![\w$])(?:" + "|".join(re.escape(t) for t in terms) + r")(?![\w])", re.IGNORECASE)


def beat_terms(text: str, extra: Iterable[str] = ()) -> list[str]:
    """The distinct crypto terms ``text`` names (assets by symbol, then vocabulary words), in a stable order."""
    assets = sorted(detect_assets(text))
    words = sorted({m.group(0).lower() for m in _terms_re(tuple(extra)).finditer(text)})
    return assets + [w for w in words if w.upper() not in assets]


def item_type(title: str, *, url: str = "", categories: Iterable[str] = (), text: str = "") -> str | None:
    """The kind of item (see the module docstring), or None for ordinary news."""
    cats = " | ".join(categories)
    head = f"{title}\n{cats}\n{text[:300]}"
    for name, rule in _TYPE_RULES:
        if rule.search(head):
            return name
    lowered = url.lower()
    for name, parts in _URL_TYPES:
        if any(p in lowered for p in parts):
            return name
    return None

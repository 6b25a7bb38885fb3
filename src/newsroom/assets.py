"""Which major crypto assets a text is about: names, tickers and cashtags against an allow-list. Pure functions.

Symbols collide with words and with each other (``ETH`` inside ``ETHENA``, ``SOL`` inside ``SOLUTION``, ``LINK``,
``NEAR`` and ``ONE`` as plain English), so the rules are:

- a ``$CASHTAG`` counts whenever its symbol is on the allow-list (``$eth`` too);
- a bare ticker counts only as a whole word in capitals (``ETH``, ``BTC/USD``), never inside a longer word, and never
  for symbols that are ordinary words (``LINK``, ``NEAR``, ``DOT``…: those need a cashtag or their name);
- a name counts as a whole word in any case (``bitcoin``, ``Ether``, ``Ethereum``), never inside a longer word
  (``Ethernet``), and a longer name wins over a shorter one it contains (``Ethena`` is ENA, not ETH).

The ticker list in the shared corpus (12,000 symbols, many colliding) is reference only; this allow-list is the
source of truth. ``weight`` is the asset's market weight used by scoring (BTC 1.0 down to 0.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Asset:
    symbol: str
    names: tuple[str, ...]
    weight: float
    bare_ticker: bool = True  # False: the symbol is an ordinary word, so only a cashtag or a name counts


MAJOR_ASSETS: tuple[Asset, ...] = (
    Asset("BTC", ("bitcoin", "bitcoins", "btc"), 1.0),
    Asset("ETH", ("ethereum", "ether"), 0.9),
    Asset("SOL", ("solana",), 0.75),
    Asset("XRP", ("xrp", "ripple"), 0.75),
    Asset("USDT", ("tether",), 0.7),
    Asset("USDC", ("usd coin",), 0.65),
    Asset("BNB", ("binance coin", "bnb chain"), 0.7),
    Asset("DOGE", ("dogecoin",), 0.65),
    Asset("ADA", ("cardano",), 0.6),
    Asset("TRX", ("tron",), 0.55),
    Asset("TON", ("toncoin",), 0.55, bare_ticker=False),
    Asset("AVAX", ("avalanche",), 0.55),
    Asset("LINK", ("chainlink",), 0.55, bare_ticker=False),
    Asset("DOT", ("polkadot",), 0.55, bare_ticker=False),
    Asset("LTC", ("litecoin",), 0.55),
    Asset("BCH", ("bitcoin cash",), 0.5),
    Asset("SHIB", ("shiba inu",), 0.5),
    Asset("XLM", ("stellar lumens",), 0.5),
    Asset("SUI", ("sui network",), 0.5),
    Asset("HBAR", ("hedera",), 0.5),
    Asset("NEAR", ("near protocol",), 0.5, bare_ticker=False),
    Asset("APT", ("aptos",), 0.5),
    Asset("ARB", ("arbitrum",), 0.5),
    Asset("OP", ("optimism",), 0.5, bare_ticker=False),
    Asset("POL", ("polygon",), 0.5, bare_ticker=False),
    Asset("UNI", ("uniswap",), 0.5, bare_ticker=False),
    Asset("AAVE", ("aave",), 0.5),
    Asset("ENA", ("ethena",), 0.5),
    Asset("XMR", ("monero",), 0.5),
    Asset("HYPE", ("hyperliquid",), 0.5, bare_ticker=False),
    Asset("PEPE", ("pepe",), 0.45),
    Asset("ATOM", ("cosmos",), 0.45, bare_ticker=False),
    Asset("FIL", ("filecoin",), 0.45),
    Asset("ICP", ("internet computer",), 0.45),
    Asset("ETC", ("ethereum classic",), 0.45, bare_ticker=False),
)

BY_SYMBOL: dict[str, Asset] = {a.symbol: a for a in MAJOR_ASSETS}
DEFAULT_ASSET_WEIGHT = 0.4


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
    name_to_symbol: dict[str, str] = {}
    for asset in MAJOR_ASSETS:
        for name in asset.names:
            name_to_symbol[name] = asset.symbol
    # longest names first so "bitcoin cash" beats "bitcoin" and "ethereum classic" beats "ethereum"
    names = sorted(name_to_symbol, key=len, reverse=True)
    name_re = re.compile(r"(?<![\w$])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.IGNORECASE)
    tickers = sorted((a.symbol for a in MAJOR_ASSETS if a.bare_ticker), key=len, reverse=True)
    ticker_re = re.compile(r"(?<![\w$])(?:\$)?(" + "|".join(tickers) + r")(?![\w])")
    return name_re, ticker_re, name_to_symbol


_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{1,9})(?![\w])")


def detect_assets(text: str) -> list[str]:
    """Symbols of the allow-listed assets the text mentions, in order of first mention, without repeats."""
    if not text:
        return []
    name_re, ticker_re, name_to_symbol = _patterns()
    found: list[tuple[int, str]] = []
    for m in _CASHTAG.finditer(text):
        symbol = m.group(1).upper()
        if symbol in BY_SYMBOL:
            found.append((m.start(), symbol))
    for m in ticker_re.finditer(text):
        found.append((m.start(), m.group(1)))
    for m in name_re.finditer(text):
        found.append((m.start(), name_to_symbol[m.group(1).lower()]))
    return list(dict.fromkeys(symbol for _, symbol in sorted(found)))


def asset_weight(symbols: list[str]) -> float:
    """The largest weight among the assets (0 when there are none)."""
    return max((BY_SYMBOL[s].weight if s in BY_SYMBOL else DEFAULT_ASSET_WEIGHT for s in symbols), default=0.0)

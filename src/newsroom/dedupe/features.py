"""What the clusterer compares: content words, named-entity keys and MinHash signatures. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from ..assets import MAJOR_ASSETS, detect_assets
from ..guards.numbers import Quantity, quantities
from .sketch import MinHash, signatures

NUM_PERM = 64
_WORD = re.compile(r"[\w$][\w'’.-]*[\w]|[\w]", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "by",
        "with",
        "at",
        "as",
        "from",
        "its",
        "it",
        "this",
        "that",
        "these",
        "those",
        "after",
        "before",
        "says",
        "say",
        "said",
        "over",
        "new",
        "will",
        "has",
        "have",
        "had",
        "not",
        "but",
        "into",
        "up",
        "out",
        "about",
        "more",
        "than",
        "amid",
        "via",
        "vs",
        "his",
        "her",
        "their",
        "they",
        "he",
        "she",
        "we",
        "you",
        "i",
        "our",
        "your",
        "who",
        "what",
        "why",
        "how",
        "when",
        "where",
        "which",
        "while",
        "than",
        "then",
        "also",
        "just",
        "now",
        "s",
        "can",
        "could",
        "would",
        "should",
        "may",
        "might",
        "first",
        "last",
        "week",
        "day",
        "year",
        "today",
        "report",
        "reports",
        "says",
    ]
)
# Capitalised words that open headlines or are too common to name an event on their own.
_ENTITY_STOP = frozenset(
    [
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "For",
        "To",
        "Of",
        "And",
        "Or",
        "But",
        "With",
        "As",
        "By",
        "From",
        "Is",
        "Are",
        "Was",
        "Why",
        "How",
        "What",
        "When",
        "Who",
        "Where",
        "Will",
        "Can",
        "Could",
        "After",
        "Before",
        "Here",
        "This",
        "That",
        "New",
        "Report",
        "Update",
        "Breaking",
        "Watch",
        "Live",
        "Exclusive",
        "Analysis",
        "Opinion",
        "US",
        "U.S.",
        "UK",
        "EU",
    ]
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("’", "'")


def content_words(text: str) -> list[str]:
    """Lower-case words of a text without stopwords and possessive endings."""
    out = []
    for w in _WORD.findall(_fold(text).lower()):
        w = w.removesuffix("'s").strip(".-'")
        if len(w) > 1 and w not in STOPWORDS:
            out.append(w)
    return out


@lru_cache(maxsize=8192)
def entity_keys(text: str) -> frozenset[str]:
    """Keys naming who/what a headline is about: allow-listed assets and capitalised words that are not
    sentence-openers (lower-cased). A crude named-entity signal: overlap raises a match, it never forces one."""
    keys = {f"${s}" for s in detect_assets(text)}
    for w in _WORD.findall(_fold(text)):
        w = w.removesuffix("'s")
        if len(w) >= 2 and w[0].isupper() and w not in _ENTITY_STOP:
            keys.add(w.lower())
    return frozenset(k for k in keys if k.strip("$") and k not in STOPWORDS)


# Asset names (the asset already has its "$" key) and words every crypto headline may carry.
DOMAIN_WORDS = frozenset(
    [a.symbol.lower() for a in MAJOR_ASSETS]
    + [name.lower() for a in MAJOR_ASSETS for name in a.names]
    + ["crypto", "cryptocurrency", "cryptocurrencies", "blockchain", "token", "tokens", "coin", "coins"]
)


@lru_cache(maxsize=1024)
def _quantities(text: str) -> tuple[Quantity, ...]:
    """The quantities of an English headline, parsed once for ``amount_keys`` and ``number_keys``."""
    return tuple(quantities(text, "en"))


DEAL_SIZE = 1e6  # money amounts from here up name a deal, a raise, a loss: prices and fees stay below


@lru_cache(maxsize=8192)
def amount_keys(text: str) -> frozenset[str]:
    """Keys for the deal-sized money amounts a headline names (``$793 million`` -> ``#USD:7.9e+08``), to two
    significant digits so that one site's rounding (``$790 million``) is the same key. Two reports of one funding
    round or one hack cite one amount; two rounds on one day rarely do. Percentages and prices move with the hour of
    the report and are left out."""
    keys = set()
    for q in _quantities(text):
        if q.unit is None or q.unit == "%":
            continue
        for value in q.values:
            if value >= DEAL_SIZE:
                keys.add(f"#{q.unit}:{value:.1e}")
    return frozenset(keys)


def shingles(text: str, n: int = 2) -> list[bytes]:
    """Word n-grams of the normalised text (single words when shorter than n)."""
    words = content_words(text)
    if len(words) < n:
        return [w.encode() for w in words]
    return [" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)]


_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1)


MINHASH_MEMO = 16384  # texts whose MinHash the process remembers: matching an item and indexing it both need it
_minhashes: dict[str, MinHash | None] = {}


def minhash(text: str) -> MinHash | None:
    """A MinHash of the text's word bigrams (None for a text with no content words). Remembered: matching an item
    and indexing it both need it; callers never change the object."""
    found = _minhashes.get(text, _TEMPLATE)  # the template is never a result: it marks "not remembered"
    return minhashes([text])[0] if found is _TEMPLATE else found


def minhashes(texts: Sequence[str]) -> list[MinHash | None]:
    """``minhash`` of each text, the ones not yet remembered computed together (``sketch.signatures``: one NumPy
    pass, the same values as datasketch's ``update_batch``); ``StoryIndex.assign`` asks for a whole batch first."""
    out = [_minhashes.get(t, _TEMPLATE) for t in texts]
    todo = list(dict.fromkeys(t for t, m in zip(texts, out, strict=True) if m is _TEMPLATE))
    if not todo:
        return out  # type: ignore[return-value]
    computed = dict(zip(todo, signatures([shingles(t) for t in todo], _TEMPLATE), strict=True))
    if len(_minhashes) + len(computed) > MINHASH_MEMO:
        _minhashes.clear()
    _minhashes.update(computed)
    return [computed[t] if m is _TEMPLATE else m for t, m in zip(texts, out, strict=True)]


# ---- what tells two events apart ---------------------------------------------------------------------------------

# Words that put a headline on the price of a crypto asset ("support" alone is also what a campaign gets)
_PLAIN_WORDS = frozenset(["cosmos", "optimism", "polygon", "avalanche"])  # asset names that are also English
_ASSET_WORDS = sorted(
    {
        re.escape(n)
        for a in MAJOR_ASSETS
        for n in (*a.names, *([a.symbol] if a.bare_ticker else []))
        if n not in _PLAIN_WORDS
    },
    key=len,
    reverse=True,
)
_ASSET_HINT = r"\b(?:" + "|".join(_ASSET_WORDS) + r")\b"
_ON_PRICE = rf"(?:\$\d|\bprice\b|\bcrypto\b|{_ASSET_HINT})"
_LEVEL = r"(?:support|resistance|breakout|breakdown)"  # chart words only where a price or an asset is named
_NOT_DEAL = r"(?![\d,.]*\s*(?:million|billion|trillion|[mb]n?\b))"  # "holds $88.6M stolen BTC" is no price level

# Headline shapes that are a genre, not an event: they never join a story on meaning (a copy still joins).
_ITEM_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "prediction",
        re.compile(
            r"\bprice (?:prediction|forecast|analysis|outlook)s?\b|\bprice predictions?\b|\btechnical analysis\b"
            r"|\b(?:can|could|will) \S+(?: price)? (?:hit|reach|rally to|surge to|climb to)\b|\bkey levels?\b"
            r"|\b(?:support|resistance) (?:level|zone)s?\b|\bchart pattern\b",
            re.I,
        ),
    ),
    (
        "wrap",
        re.compile(
            r"\bmarket (?:wrap|update|recap)\b|\b(?:daily|weekly|morning|evening) (?:recap|wrap|brief|briefing)\b"
            r"|\bthis week in\b|\bkey events\b|\bweek ahead\b|\bcrypto news today\b|\btop (?:\d+ )?crypto news\b",
            re.I,
        ),
    ),
    (
        "analysis",
        re.compile(
            r"\b(?:neckline|wedge|triangle|trendline|fibonacci|RSI|MACD"
            r"|head (?:and|&) shoulders|TD sequential|double (?:top|bottom)|triple (?:top|bottom))\b"
            rf"|\b{_LEVEL}\b(?=.*{_ON_PRICE})|{_ON_PRICE}.*\b{_LEVEL}\b"
            rf"|\btrades? (?:near|at|between|above|below) \$|\bholds? (?:above |below |near )?\$\d{_NOT_DEAL}"
            r"|\beyes \$\d",
            re.I,
        ),
    ),
    (
        "live",  # live pages led by the price; a live page on one talk or hearing reports that event
        re.compile(
            r"(?:^\s*live\b|\blive (?:updates?|blog|coverage)\b)"
            rf"(?=.*(?:\bprices?\b|\bmarkets?\b|\bstocks?\b|\bcrypto|\bdollar\b|{_ASSET_HINT}))",
            re.I,
        ),
    ),
    ("newsletter", re.compile(r"\bnewsletter\b|^\s*(?:morning minute|the daily|daily debrief)\b", re.I)),
    (
        "sponsored",
        re.compile(
            r"\bsponsored\b|\bpress release\b|\bcloud mining\b|\bpassive income\b|\bpresale\b|\bairdrop guide\b"
            r"|\bearn (?:up to )?\$[\d,.]+\s*(?:k\b)?\s*(?:daily|a day|per day|every day)",
            re.I,
        ),
    ),
)


@lru_cache(maxsize=16384)
def item_type(title: str) -> str:
    """The genre of a headline that is not one event ("prediction", "analysis", "wrap", "live", "newsletter",
    "sponsored"), or
    "" for news. A genre piece joins a story only as a copy (same link, text or near-copy)."""
    for name, pattern in _ITEM_TYPES:
        if pattern.search(title):
            return name
    return ""


# A headline that asks or explains rather than reports: a question before any clause mark ("How high will XRP go if
# …?", "XRP to rally 60,000%? Analyst says …"), or a "why" / "how high" clause. Such pieces on one topic read alike
# (two XRP speculations of one week) and, joined, one of them is lost (README, "Stories").
_OPINION = re.compile(r"^[^:–—|]*\?|(?:^|[:–—|]\s*)(?:why|how high|how far|how low)\b", re.I)


@lru_cache(maxsize=16384)
def opinion(title: str) -> bool:
    """Whether a headline asks or explains rather than reports (``_OPINION``): it joins a story on meaning only as a
    further report of a dense one (``cluster.ClusterParams.dense_members``), and no story joins it otherwise."""
    return bool(_OPINION.search(title))


# The act a headline reports, by word stem (regular expressions matched at a word start, case-insensitive). Two
# reports of one event name the same kind of act; a sale and a purchase by one company in one week are two events.
_ACTIONS: dict[str, str] = {
    "sell": r"sell|sold|dump|offload|unload",
    "buy": r"buy|bought|purchas|acquir|accumulat|scoop",
    "raise": r"rais(?:e|es|ed|ing)\b|funding|fundrais|seed round|series [a-d]\b",
    "hack": r"hack|exploit|drain|stole|steal|theft|attack|breach|scam|phish",
    "launch": r"launch|debut|unveil|rolls? out|introduc|releas|goes live|go live|ships\b",
    "legal": r"sue[sd]?\b|lawsuit|charge[sd]?\b|indict|court|judge|complaint|legal action|arrest",
    "rule": r"approv|reject|bans?\b|banned|denie|deny|licen[cs]|authori[sz]|greenlight",
    "list": r"list(?:s|ed|ing)?\b|delist",
    "partner": r"partner|teams? up|collaborat|integrat|join forces|tie-up|alliance",
    "invest": r"invest|stake in\b|backs\b",
    "upgrade": r"upgrade|hard ?fork|hotfix|mainnet|testnet",
    "flow": r"inflow|outflow|net ?flow|withdraw|deposit|mov(?:e|es|ed)\b|transfer",
    "result": r"profit|loss(?:es)?\b|revenue|earning|quarter|q[1-4]\b|results\b",
    "exit": r"exit|quit|leav|resign|steps? down|depart|shut|halt",
    "price": r"surg|soar|jump|rall(?:y|ies|ied)|climb|gain|fall|falls|drop|slide|plung|tumbl|crash|slump",
    "say": r"says?\b|warn|urge|claim|predict|calls?\b|argu|reveal|highlight|slam",
}
# One pass for all kinds: each match names its kind (``lastgroup``). No two kinds' stems match at one word start, and
# no stem's match holds another word start a stem could match, so this finds every kind one search per kind would
# (``tests/test_events.py`` checks it on the corpus headlines).
_ACTION_RE = re.compile(r"\b(?:" + "|".join(f"(?P<{name}>{stems})" for name, stems in _ACTIONS.items()) + ")", re.I)


@lru_cache(maxsize=65536)
def action_keys(title: str) -> frozenset[str]:
    """The kinds of act a headline names (``sell``, ``hack``, ``launch`` …); empty when it names none."""
    return frozenset(m.lastgroup for m in _ACTION_RE.finditer(_fold(title)))  # type: ignore[misc]


@lru_cache(maxsize=16384)
def number_keys(text: str) -> frozenset[str]:
    """Every quantity a headline names, to two significant digits with its unit when it has one (``1,638 BTC`` ->
    ``1.6e+03``, ``$105M`` -> ``USD:1.1e+08``, ``12%`` -> ``%:1.2e+01``). Years are left out: "2026" names no event.
    Two reports of one event tend to cite the same figure."""
    keys = set()
    for q in _quantities(text):
        for value in q.values:
            if q.unit is None and 1990 <= value <= 2100 and float(value).is_integer():
                continue
            keys.add(f"{value:.1e}")  # unit-free: "$105 million" and "105M in bitcoin" agree
    return frozenset(keys)

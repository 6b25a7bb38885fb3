"""Grounding of named entities: people, companies and assets named in the article appear in its source.

Without a tagger, a named entity is what the writing shows: a capitalised word inside a sentence (``according to
Goldman Sachs``), a run of capitalised words (``Goldman Sachs said``), an all-capitals token (``SEC``, ``BTC``), a
camel-case name (``CoinDesk``), or, in a Cyrillic-script article, any word in Latin script. Sentence-initial single
words and headline-style fields (title, headings) are left alone: capitals there say nothing.

Grounded means: the word occurs in the source (case-insensitive, possessive and plural endings ignored), or is a known
alias of a major asset (``Bitcoin`` / ``BTC`` / ``біткоїн``). A Cyrillic name in a translation is compared with the
pivot's words by a transliteration skeleton (``Даліо`` ~ ``Dalio``, ``Трампа`` ~ ``Trump``), which also absorbs
Ukrainian and Russian case endings. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from .base import Fields, Finding, GuardContext, is_headline_field

_TOKEN = re.compile(r"[^\W\d_][^\W_]*(?:['’.&-][^\W\d_][^\W_]*)*\.?", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?:;…»\"”)]\s*$")
# Generic capitalised or upper-case words that name no one.
GENERIC = frozenset(
    [
        "etf",
        "etfs",
        "ceo",
        "cfo",
        "cto",
        "coo",
        "us",
        "u.s.",
        "u.s",
        "uk",
        "eu",
        "un",
        "ai",
        "nft",
        "nfts",
        "defi",
        "dao",
        "daos",
        "api",
        "ipo",
        "gdp",
        "otc",
        "ath",
        "tvl",
        "kyc",
        "aml",
        "p2p",
        "usd",
        "eur",
        "gbp",
        "utc",
        "gmt",
        "q1",
        "q2",
        "q3",
        "q4",
        "h1",
        "h2",
        "am",
        "pm",
        "est",
        "et",
        "pst",
        "ok",
        "tv",
        "faq",
        "rwa",
        "rwas",
        "cex",
        "dex",
        "l1",
        "l2",
        "web3",
        "fed",
        "i",
        "ii",
        "iii",
    ]
)
ASSET_ALIASES: list[frozenset[str]] = [
    frozenset(s.split())
    for s in (
        "bitcoin btc біткоїн біткойн біткоін биткоин биткойн",
        "ethereum ether eth ефір ефіріум етеріум ефіру эфир эфириум",
        "solana sol солана",
        "xrp ripple ріпл рипл",
        "dogecoin doge дожкоїн",
        "cardano ada кардано",
        "tether usdt тезер",
        "binance bnb бінанс бинанс",
        "usd dollar dollars долар доларів доллар",
    )
]
_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ж": "zh", "з": "z",
        "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
        "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
        "ь": "", "ю": "iu", "я": "ia", "ы": "y", "э": "e", "ъ": "", "ё": "e",
    }
)  # fmt: skip
# Spelling differences between Latin names and their Cyrillic renderings (Libya/Лівія, Gaddafi/Каддафі,
# France/Франція) collapse onto one consonant class each.
_SKELETON_RULES = [("ph", "f"), ("th", "t"), ("kh", "k"), ("ck", "k"), ("x", "ks"), ("ts", "s"), ("ce", "se"),
                   ("ci", "si"), ("cy", "si"), ("c", "k"), ("q", "k"), ("w", "v"), ("b", "v"), ("g", "k"),
                   ("h", "k"), ("j", "i"), ("y", "i")]  # fmt: skip


def _is_cyrillic(word: str) -> bool:
    return any("CYRILLIC" in unicodedata.name(ch, "") for ch in word)


def _is_latin(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return bool(letters) and all("LATIN" in unicodedata.name(ch, "") for ch in letters)


def _fold(word: str) -> str:
    w = unicodedata.normalize("NFKC", word).casefold().strip(".").replace("’", "'")
    for suffix in ("'s", "'"):
        if w.endswith(suffix):
            w = w[: -len(suffix)]
    return w


def skeleton(word: str) -> str:
    """Consonant skeleton of a (transliterated) name: ``Dalio`` and ``Даліо`` both give ``dl``."""
    w = _fold(word).translate(_TRANSLIT)
    for a, b in _SKELETON_RULES:
        w = w.replace(a, b)
    w = re.sub(r"[^a-z]", "", w)
    w = re.sub(r"[aeiou]", "", w)
    return re.sub(r"(.)\1+", r"\1", w)


class SourceIndex:
    """The source's words, folded, with asset aliases and name skeletons, for fast grounding checks."""

    def __init__(self, text: str) -> None:
        self.words: set[str] = set()
        for tok in _TOKEN.findall(text):
            f = _fold(tok)
            self.words.add(f)
            self.words.update(p for p in re.split(r"[-.&']", f) if p)
        for group in ASSET_ALIASES:
            if group & self.words:
                self.words |= group
        self.skeletons = {skeleton(w) for w in self.words if len(skeleton(w)) >= 2}

    def has(self, word: str) -> bool:
        f = _fold(word)
        if f in self.words or f in GENERIC:
            return True
        candidates = {f, f.rstrip("s"), f[:-2] if f.endswith("es") else f}
        if candidates & self.words:
            return True
        parts = [p for p in re.split(r"[-.&']", f) if p]
        return len(parts) > 1 and all(p in self.words or p in GENERIC for p in parts)

    def has_name(self, word: str) -> bool:
        """A name written in another script (or inflected): compare transliteration skeletons."""
        if self.has(word):
            return True
        sk = skeleton(word)
        if len(sk) < 2:
            return True  # too short to tell anything
        if sk in self.skeletons:
            return True
        if any(len(s) >= 3 and sk.startswith(s) and len(sk) - len(s) <= 3 for s in self.skeletons):
            return True  # an inflected or adjectival form (Лівійської ~ Libya)
        return len(sk) >= 3 and any(
            s[:2] == sk[:2] and abs(len(s) - len(sk)) <= 1 and SequenceMatcher(None, sk, s).ratio() >= 0.75
            for s in self.skeletons
            if len(s) >= 3
        )


def _candidates(text: str, lang: str, headline: bool) -> list[str]:
    """Entity-looking words of one field."""
    out: list[str] = []
    cyrillic_lang = lang in ("uk", "ru")
    matches = list(_TOKEN.finditer(text))
    for i, m in enumerate(matches):
        word = m.group(0).rstrip(".")
        if len(word) < 2 and not word.isupper():
            continue
        upper = word.isupper() and sum(ch.isalpha() for ch in word) >= 2
        camel = bool(re.search(r"[a-zа-яіїєґ][A-ZА-ЯІЇЄҐ]", word))
        capital = word[:1].isupper()
        if cyrillic_lang and _is_latin(word):
            out.append(word)  # Latin script inside a Cyrillic text: a name, a ticker or a brand
            continue
        if upper or camel:
            if not (_is_cyrillic(word) and upper):  # Cyrillic acronyms (США, ЄС) cannot be compared
                out.append(word)
            continue
        if not capital or headline:
            continue
        before = text[: m.start()].rstrip().rstrip("«\"„“'([—–-").rstrip()
        sentence_start = i == 0 or not before or bool(_SENTENCE_END.search(before))
        if sentence_start:
            nxt = matches[i + 1].group(0) if i + 1 < len(matches) else ""
            between = text[m.end() : matches[i + 1].start()] if i + 1 < len(matches) else ""
            if not (nxt[:1].isupper() and between.strip() == ""):
                continue  # a single capitalised word opening a sentence
        out.append(word)
    return out


def check_entities(fields: Fields, ctx: GuardContext) -> list[Finding]:
    index = SourceIndex(ctx.source + "\n" + ctx.extra_grounding)
    out = []
    seen: set[str] = set()
    for name, text in fields:
        for word in _candidates(text, ctx.lang, is_headline_field(name)):
            key = _fold(word)
            if key in seen:
                continue
            ok = index.has_name(word) if _is_cyrillic(word) else index.has(word)
            if not ok:
                seen.add(key)
                out.append(Finding("ungrounded-entity", name, f"{word!r} does not appear in the source"))
    return out

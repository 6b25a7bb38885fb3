"""Classification that needs no model: tags and category. Pure functions.

Tags come from three origins, in this order: the assets detected in the source text (``assets.detect_assets``), the
model's proposals and the source's own categories. Each is normalised (UPPERCASE, single spaces, no ``#``/``$``),
junk is dropped (``models.valid_tag``: no digit runs, no sentences, no echo of the schema's words), synonyms are
merged onto one spelling (``BITCOIN``/``$btc`` → ``BTC``; ``ETHER``/``ETHEREUM`` → ``ETH``; the topic synonyms in
``TOPIC_SYNONYMS``), repeats are dropped and at most ``MAX_TAGS`` are kept. Spellings that are not synonyms stay as
the source gave them (``MARKET`` and ``MARKETS`` both survive).

The category rule (``pick_category``), first match wins:
1. one dominant asset (the only asset detected, or the first-mentioned one when it is mentioned at least twice as
   often as any other) whose symbol is in the taxonomy → that symbol (``BTC``);
2. the model's category when it is a topic (not an asset) in the taxonomy;
3. a dominant asset not in the taxonomy, or several assets → ``ALTCOINS`` when the taxonomy has it and BTC/ETH are not
   among them; else the first taxonomy topic (in ``TOPIC_ORDER``: DEFI, REGULATION, POLICY, SECURITY, NFT, AI,
   MARKETS, BUSINESS, …) that appears among the tags;
4. the configured default.

Score and sentiment live in ``score.py`` and ``sentiment.py``.
"""

from __future__ import annotations

import re
from collections import Counter

from .assets import BY_SYMBOL, detect_assets
from .models import valid_tag

MAX_TAGS = 12
MAX_TAG_CHARS = 40
_SPACES = re.compile(r"\s+")
_TAG_JUNK = re.compile(r"[^\w .&+/-]", re.UNICODE)


def normalise_tag(tag: str) -> str:
    """UPPERCASE, single spaces, no leading '#'/'$', nothing but word characters and a few joiners."""
    tag = _TAG_JUNK.sub("", tag.strip().lstrip("#$"))
    return _SPACES.sub(" ", tag).upper()[:MAX_TAG_CHARS].strip(" .-/")


# Spellings merged onto one tag. Asset names come from the asset allow-list; these are the topic synonyms.
TOPIC_SYNONYMS: dict[str, str] = {
    "DECENTRALIZED FINANCE": "DEFI",
    "DECENTRALISED FINANCE": "DEFI",
    "REGULATIONS": "REGULATION",
    "REGULATORY": "REGULATION",
    "POLICY & REGULATION": "REGULATION",
    "NFTS": "NFT",
    "NON-FUNGIBLE TOKENS": "NFT",
    "ARTIFICIAL INTELLIGENCE": "AI",
    "STABLECOIN": "STABLECOINS",
    "ETFS": "ETF",
    "SPOT ETF": "ETF",
    "HACK": "SECURITY",
    "HACKS": "SECURITY",
    "EXPLOIT": "SECURITY",
    "CYBERSECURITY": "SECURITY",
    "SEC": "SEC",
}
TOPIC_ORDER = ("DEFI", "REGULATION", "POLICY", "SECURITY", "NFT", "AI", "MARKETS", "BUSINESS", "TECHNOLOGY")
_ASSET_ALIASES: dict[str, str] = {
    alias: asset.symbol for asset in BY_SYMBOL.values() for alias in (asset.symbol, *(n.upper() for n in asset.names))
}


def canonical_tag(tag: str) -> str:
    """The normalised tag with synonyms merged: ``$btc`` → ``BTC``, ``Ethereum`` → ``ETH``, ``NFTs`` → ``NFT``."""
    norm = normalise_tag(tag)
    return _ASSET_ALIASES.get(norm) or TOPIC_SYNONYMS.get(norm) or norm


def merge_tags(*groups: list[str], limit: int = MAX_TAGS) -> list[str]:
    """Normalise, merge synonyms and de-duplicate tags from several origins, first-seen order, at most ``limit``."""
    out: dict[str, None] = {}
    for group in groups:
        for raw in group:
            tag = canonical_tag(raw)
            if tag and tag not in out and valid_tag(tag):
                out[tag] = None
    return list(out)[:limit]


def dominant_asset(text: str) -> str | None:
    """The asset a text is mainly about: the only one mentioned, or one mentioned twice as often as any other."""
    counts = Counter(detect_assets_all(text))
    if not counts:
        return None
    ranked = counts.most_common()
    if len(ranked) == 1 or ranked[0][1] >= 2 * ranked[1][1]:
        return ranked[0][0]
    return None


def detect_assets_all(text: str) -> list[str]:
    """Every asset mention (with repeats), sentence by sentence: the counts behind ``dominant_asset``."""
    return [sym for part in re.split(r"(?<=[.!?;:])\s+|\n+", text) for sym in detect_assets(part)]


def pick_category(
    *, headline: str, text: str, tags: list[str], proposed: str, taxonomy: list[str], default: str
) -> str:
    """The article's category by the rule in the module docstring (taxonomy codes are UPPERCASE)."""
    dominant = dominant_asset(headline) or dominant_asset(f"{headline}\n{text}")
    assets = detect_assets(f"{headline}\n{text}")
    if dominant and dominant in taxonomy:
        return dominant
    model = canonical_tag(proposed)
    topics = [t for t in TOPIC_ORDER if t in taxonomy] + [t for t in taxonomy if t not in TOPIC_ORDER]
    if model in topics and model not in BY_SYMBOL:
        return model
    if (dominant or len(assets) > 1) and "ALTCOINS" in taxonomy and not {"BTC", "ETH"} & set(assets):
        return "ALTCOINS"
    for topic in topics:
        if topic in tags and topic not in BY_SYMBOL:
            return topic
    return default


def article_tags(*, headline: str, text: str, model_tags: list[str], source_categories: list[str]) -> list[str]:
    """Tags of an article: detected assets first, then the model's tags, then the source's categories."""
    return merge_tags(detect_assets(f"{headline}\n{text}"), model_tags, source_categories)


def choose_category(proposed: str, taxonomy: list[str], default: str) -> str:
    """The model's category when it is in the taxonomy (case-insensitive), else the configured default."""
    code = normalise_tag(proposed)
    return code if code in taxonomy else default


def interim_score(importance: int) -> int:
    """Importance 0-100 as the model judged it, clamped. Replaced by the multi-signal score later."""
    return max(0, min(100, int(importance)))

"""URL slugs: ASCII, lowercase, words joined by hyphens; safe as a file name on every system.

Cyrillic is transliterated with Ukrainian or Russian rules (the letters that differ — и, г, е… — read differently in
the two languages), Latin diacritics are dropped via Unicode decomposition, and a few letters that do not decompose
(ß, æ, ø, ł…) have a table of their own. Scripts with no simple transliteration (Chinese, Japanese, Arabic…) drop out;
a title with nothing left falls back to ``article``. A story's slug carries a short hash of its stable id, so two
stories with the same headline never share a file, and every language of a story uses the same slug.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ["FALLBACK_SLUG", "slugify", "story_slug"]

FALLBACK_SLUG = "article"
HASH_LENGTH = 8

_COMMON_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "д": "d", "ж": "zh", "з": "z", "к": "k", "л": "l", "м": "m", "н": "n",
    "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "shch", "ь": "", "ъ": "", "ю": "yu", "я": "ya",
    # Belarusian, Serbian, Macedonian letters, so their titles keep their words too
    "ў": "u", "ђ": "dj", "ј": "j", "љ": "lj", "њ": "nj", "ћ": "c", "џ": "dz", "ѓ": "gj", "ќ": "kj", "ѕ": "dz",
}  # fmt: skip
# Ukraine's official romanisation (2010), in the word-initial forms for є ї й ю я, as slugs usually are.
_UK = {**_COMMON_CYRILLIC, "г": "h", "ґ": "g", "е": "e", "є": "ye", "и": "y", "і": "i", "ї": "yi", "й": "y"}
_RU = {**_COMMON_CYRILLIC, "г": "g", "е": "e", "ё": "yo", "и": "i", "й": "y", "ы": "y", "э": "e", "і": "i"}
_TABLES = {"uk": _UK, "ru": _RU, "be": _RU, "bg": _RU, "sr": _RU, "mk": _RU}
_UK_ONLY = frozenset("ґєії")
_RU_ONLY = frozenset("ёыэъ")

_LATIN_EXTRA = {
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "ı": "i", "ŋ": "ng",
    "ħ": "h", "ŧ": "t", "ſ": "s", "ĸ": "k",
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}  # fmt: skip
_APOSTROPHES = re.compile("['\u2019\u02bc\u2018`\u00b4]")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _table_for(text: str, lang: str | None) -> dict[str, str]:
    if lang and lang.split("-")[0].lower() in _TABLES:
        return _TABLES[lang.split("-")[0].lower()]
    letters = set(text)
    if letters & _UK_ONLY:
        return _UK
    if letters & _RU_ONLY:
        return _RU
    return _UK


def _transliterate(text: str, lang: str | None) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    table = _table_for(text, lang)
    out: list[str] = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif ch in table:
            out.append(table[ch])
        elif ch in _LATIN_EXTRA:
            out.append(_LATIN_EXTRA[ch])
        else:
            # é → e + combining accent → e (ά → α → a); without an ASCII base (CJK, Arabic…) it becomes a separator.
            base = [c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)]
            mapped = "".join(c if c.isascii() else table.get(c, _LATIN_EXTRA.get(c, "")) for c in base)
            out.append(mapped.lower() if mapped else " ")
    return "".join(out)


def slugify(title: str, *, max_length: int = 80, lang: str | None = None) -> str:
    """``Bitcoin’s $100K rally: what’s next?`` → ``bitcoins-100k-rally-whats-next``.

    At most ``max_length`` characters, cut at a word boundary where possible; never empty (``article``), never a
    path separator or ``..``. ``lang`` picks the Cyrillic rules (``uk`` or ``ru``); without it they are guessed from
    the letters (Ukrainian unless the title has a letter only Russian uses).
    """
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    ascii_text = _transliterate(_APOSTROPHES.sub("", title), lang)
    slug = _NOT_SLUG.sub("-", ascii_text).strip("-")
    if len(slug) > max_length:
        boundary = slug.rfind("-", 0, max_length + 1)
        # Cut at the last word boundary unless that would lose more than half; then cut inside the word.
        slug = slug[:boundary] if boundary >= max_length // 2 else slug[:max_length]
        slug = slug.strip("-")
    return slug or FALLBACK_SLUG[:max_length]


def story_slug(title: str, external_id: str, *, max_length: int = 80, lang: str | None = None) -> str:
    """The slug every language of one story shares: ``slugify(title)`` + ``-`` + 8 hex digits of ``external_id``.

    The hash makes two stories with the same headline distinct and keeps a story's slug stable across
    regenerations of its text as long as the title stays. The result is at most ``max_length`` characters.
    """
    if max_length < HASH_LENGTH + 2:
        raise ValueError(f"max_length must be at least {HASH_LENGTH + 2}, got {max_length}")
    digest = hashlib.sha256(external_id.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
    return f"{slugify(title, max_length=max_length - HASH_LENGTH - 1, lang=lang)}-{digest}"

"""Exonyms: the names a language gives to places, languages and currencies, mapped to the source language's names.

A translation writes a place as its own language does: ``Афины`` for Athens, ``Греция`` for Greece, ``Peking`` for
Beijing. A transliteration skeleton cannot ground those. CLDR, which Babel ships (``babel/locale-data``, no I/O
beyond reading the package), names the same things in every locale, keyed by code: territories (``GR``), languages
(``el``), currencies (``EUR``) and the exemplar cities of time zones (``Europe/Athens``; an English exemplar city
CLDR leaves out is the zone's own name, ``Europe/Athens`` → Athens, as Babel's ``get_timezone_location`` does). A
name in the translation is grounded when one of its exonyms' counterparts in the source language is in the source:
``Афинах`` → stem ``афин`` → ``Афины`` → ``Athens``.

The table maps each word of a target-language name, and its stems without Russian or Ukrainian case endings (the
same stemmer the entity guard uses), to the source-language names it may stand for. A word that CLDR uses in more
than ``MAX_SHARED`` distinct names (``Республика``, ``острова``, ``Südliche``) identifies none of them and is left
out (a territory and its capital's time zone often share one name, ``Сингапур``: that is one name).
Alternatives that CLDR writes in one name (``Мьянма (Бирма)``, ``Congo - Kinshasa``) are split. Built once per
language pair, on first use.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

# a word shared by more names than this names none of them (Республика Корея, Чешская Республика, …)
MAX_SHARED = 2
# words that a source-language name may leave out ("Bosnia & Herzegovina" is grounded by "Bosnia and Herzegovina")
_FILLERS = frozenset({"and", "&", "the", "of"})
_WORD = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*", re.UNICODE)
_ALTERNATIVES = re.compile(r"\s+-\s+|[()]")
# German (and other Latin-script) inflection of a name: Griechenlands, Athens (genitive), Vereinigten
_LATIN_ENDINGS = ("es", "en", "s", "n")

SourceName = tuple[str, ...]


def fold(word: str) -> str:
    """Case, accents, ``ё`` and apostrophes folded: ``São`` → ``sao``, ``Соединённые`` → ``соединенные``."""
    w = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", word).casefold())
    w = "".join(ch for ch in w if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", w).replace("’", "'").strip(".'")


def _alternatives(name: str) -> list[str]:
    return [part.strip() for part in _ALTERNATIVES.split(name) if part and part.strip()]


def _source_name(name: str) -> SourceName:
    return tuple(w for w in (fold(t) for t in _WORD.findall(name)) if w and w not in _FILLERS)


def _tz_city(data: Mapping[str, object]) -> str | None:
    """A time zone's exemplar city in one locale's data, if CLDR gives one."""
    city = data.get("city")
    return city if isinstance(city, str) else None


def _entries(lang: str, source_lang: str) -> list[tuple[list[str], list[SourceName]]]:
    """(the target language's names, the source language's names) for each CLDR code both locales name."""
    from babel import Locale, UnknownLocaleError

    try:
        target, source = Locale.parse(lang.replace("-", "_")), Locale.parse(source_lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return []
    pairs: list[tuple[str, str]] = []
    for table in ("territories", "languages", "currencies"):
        theirs: dict[str, str] = getattr(source, table)
        pairs += [(name, theirs[code]) for code, name in getattr(target, table).items() if code in theirs]
    source_zones = source.time_zones
    for zone, data in target.time_zones.items():
        city = _tz_city(data)
        if city is None or "/" not in zone or zone.startswith("Etc/"):
            continue
        theirs_city = _tz_city(source_zones.get(zone, {}))
        if theirs_city is None and source.language == "en":
            theirs_city = zone.rsplit("/", 1)[1].replace("_", " ")  # English: the zone's own name (Europe/Athens)
        if theirs_city:
            pairs.append((city, theirs_city))
    out = []
    for name, theirs_name in pairs:
        names = _alternatives(name)
        source_names = [n for n in (_source_name(a) for a in _alternatives(theirs_name)) if n]
        if names and source_names:
            out.append((names, source_names))
    return out


def variants(word: str, stems: Callable[[str], list[str]]) -> list[str]:
    """A word's forms to look up: folded, with Cyrillic case endings stripped or a Latin-script ending dropped."""
    w = fold(word)
    if not w:
        return []
    if any("CYRILLIC" in unicodedata.name(ch, "") for ch in w):
        return [fold(s) for s in stems(w)]
    out = [w]
    if w.isascii() or any("LATIN" in unicodedata.name(ch, "") for ch in w):
        out += [w[: -len(e)] for e in _LATIN_ENDINGS if w.endswith(e) and len(w) - len(e) >= 4]
    return out


@lru_cache(maxsize=32)
def table(lang: str, source_lang: str) -> dict[str, tuple[SourceName, ...]]:
    """Each word of a ``lang`` exonym (and its stems) → the ``source_lang`` names it may stand for."""
    from .entities import stems

    by_key: dict[str, set[SourceName]] = defaultdict(set)
    names_per_key: dict[str, set[str]] = defaultdict(set)  # the distinct names a key occurs in
    for names, source_names in _entries(lang, source_lang):
        for name in names:
            words = _WORD.findall(name)
            words += [p for w in words if "-" in w for p in w.split("-")]  # Нью-Йорк, and its parts
            for word in words:
                for key in variants(word, stems):
                    by_key[key].update(source_names)
                    names_per_key[key].add(fold(name))
    return {key: tuple(sorted(names)) for key, names in by_key.items() if len(names_per_key[key]) <= MAX_SHARED}


def counterparts(word: str, lang: str, source_lang: str) -> Iterable[SourceName]:
    """The source-language names that ``word``, in ``lang``, may be an exonym for (``Афинах`` → ``("athens",)``)."""
    if lang == source_lang:
        return ()
    from .entities import stems

    names = table(lang, source_lang)
    seen: set[SourceName] = set()
    for key in variants(word, stems):
        for name in names.get(key, ()):
            if name not in seen:
                seen.add(name)
                yield name

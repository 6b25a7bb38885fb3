"""Grounding of named entities: people, companies and assets named in the article appear in its source.

Without a tagger, a named entity is what the writing shows: a capitalised word inside a sentence (``according to
Goldman Sachs``), a run of capitalised words (``Goldman Sachs said``), an all-capitals token (``SEC``, ``BTC``), a
camel-case name (``CoinDesk``), or, in a Cyrillic-script article, any word in Latin script. Sentence-initial single
words and headline-style fields (title, headings) are left alone: capitals there say nothing.

Grounded means: the word occurs in the source (case-insensitive, possessive and plural endings ignored), or is a known
alias of a major asset (``Bitcoin`` / ``BTC`` / ``біткоїн``). A Cyrillic name in a translation is compared with the
pivot's capitalised words by sound (``guards.translit``: ``Даліо`` ~ ``Dalio``, ``Уайтхорс`` ~ ``Whitehorse``,
``Моравецкий`` ~ ``Morawiecki``), after stripping Ukrainian or Russian case and adjective endings (``Трампа`` ~
``Trump``, ``Лівійської`` ~ ``Libyan``, ``Африці`` ~ ``Africa``); hyphenated names match part by part
(``Нью-Йорку`` ~ ``New York``), and a short glossary, in Ukrainian and Russian, grounds the common words that both
translate inside names (``Південній Африці`` ~ ``South Africa``, ``Кубке чемпионов`` ~ ``Champions Cup``). A name
that the article's language spells its own way (``Афинах`` ~ ``Athens``) is grounded through CLDR's exonyms
(``guards.exonyms``) when the source has its own name for the same place, language or currency. In a
Cyrillic text the first capitalised word of a quotation is a sentence opener, and an opener that is a function word
(``Згодом``) or stands before an acronym or a Latin name (``Посол США``) is not part of a name; nor does a name run on
from an all-capitals word (a shouted line without its full stop) or a polite pronoun (``для Вас Сроки``). German
capitalises every noun: there a capitalised word is a name unless the German lexicon knows it or its compound parts
(a first part may be a verb's stem: ``Lieferadresse``). Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

from . import translit
from .base import Fields, Finding, GuardContext, is_headline_field

# English demonym endings: a translation may name the country where the source has its adjective (Libyan ~ Лівія)
_DEMONYM_SUFFIXES = ("ian", "an", "ese", "ish", "i")

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
        "id",
        "faq",
        "rwa",
        "rwas",
        "cex",
        "dex",
        "l1",
        "l2",
        "web3",
        "fed",
        # acronyms that translations localise (USA, UNO, GB, EZB for US, UN, UK, ECB)
        "usa",
        "uno",
        "gb",
        "ezb",
        "i",
        "ii",
        "iii",
        # German standard abbreviations that translate English words (MwSt. for VAT, USt. for sales tax)
        "mwst",
        "ust",
        # placeholder tokens of summarisation models: a gap, not a name
        "unk",
        "<unk>",
        "[unk]",
        # day and month names: dates, which the source gives in other words (its own date, "last week")
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)


# Ukrainian function words and sentence adverbs that open sentences before a name (Згодом Мандела …).
def _wordlist(text: str) -> list[str]:
    return text.split()


UK_COMMON = frozenset(
    _wordlist(
        """а але або адже бо в у від до для за з із зі і й як який яка яке які коли де чому тому тоді потім згодом
    спочатку нарешті також однак проте втім зокрема крім окрім щодо після перед через під над на по про при без
    цей ця це ці той та те ті він вона воно вони ми ви я ти його її їх їхній наш ваш мій свій тут там сьогодні
    вчора завтра раніше пізніше водночас натомість тепер зараз ще вже лише тільки навіть усі всі кожен кожна
    деякі багато більшість якщо хоча попри незважаючи згідно відтак отже тож ось саме"""
    )
)
_OPENING_QUOTES = ("«", "„", "“", '"')
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
# Cyrillic letter groups that stand for one Latin sound: Джеррі ~ Jerry, Уілльямс ~ Williams, Уорфілд ~ Warfield.
_CYRILLIC_GROUPS = [("дж", "j")]
_CYRILLIC_INITIALS = [("уі", "wi"), ("уо", "wo"), ("уе", "we"), ("уа", "wa")]  # only opening a name
# Spelling differences between Latin names and their Cyrillic renderings (Libya/Лівія, Gaddafi/Каддафі,
# France/Франція, Kubiš/Кубіша, Caesar/Цезар) collapse onto one consonant class each.
_SKELETON_RULES = [("dj", "j"), ("shch", "s"), ("ph", "f"), ("th", "t"), ("kh", "k"), ("ck", "k"), ("qu", "kv"),
                   ("x", "ks"), ("ts", "s"), ("sh", "s"), ("zh", "j"), ("cae", "se"), ("ce", "se"), ("ci", "si"),
                   ("cy", "si"), ("c", "k"), ("q", "k"), ("w", "v"), ("b", "v"), ("g", "k"), ("h", "k"), ("z", "s"),
                   ("y", "i")]  # fmt: skip
# Latin "dj" and soft "dg" are one sound, which Cyrillic writes дж (Djokovic/Джокович, Tadhg/Тадж): the first rule.
# Latin spellings that Ukrainian renders two ways: w as в or у (Warsaw/Варшава, Williams/Уілльямс), j as дж or й
# (Jerry/Джеррі, Jan/Ян), ch as ч or к (Chelsea/Челсі, Christopher/Крістофер).
# … and g as дж (Rogers/Роджерс), ch as ш (Charlotte/Шарлотта), dh as д (Dhabi/Даби).
_LATIN_VARIANTS = [("w", "u"), ("j", "y"), ("ch", "k"), ("g", "j"), ("ch", "sh"), ("dh", "d")]
# Ukrainian and Russian case and adjective endings, longest first; a declined name is compared by its stem (Саіфом ~
# Saif, Лівійської ~ Libyan, Кейптауні ~ Cape Town, Афинами ~ Афин). Stems keep at least three letters.
_ENDINGS = sorted(
    _wordlist(
        """ськими ського ському ською ській ських ськім ської ська ське ські ську ський ськ ійської ійська ійський
        ійськ ією ії ія ію ами ями ові еві єві ою ею єю ого ому ими их ій ої ом ем єм им ім ам ям ах ях ів їв
        а я у ю е є і ї и о
        ского ской ским ских ии ией ый ей ой ью
        ы ов ев ая яя ое ее ые ие ых ым ыми ую юю его ему ия ию иям иями иях"""
    ),
    key=len,
    reverse=True,
)
# Before -і, Ukrainian stems alternate к/ц, г/з, х/с: Африка, в Африці; Прага, у Празі.
_ALTERNATIONS = [("ці", "ка"), ("зі", "га"), ("сі", "ха"), ("щі", "ща")]
# Common words that Ukrainian capitalises inside names but translates rather than transliterates (Південна Африка,
# Сполучене Королівство, Національна партія), with the English words that ground them.
_GLOSSARY: dict[str, tuple[str, ...]] = {
    "південн": ("south", "southern"),
    "північн": ("north", "northern"),
    "східн": ("east", "eastern"),
    "західн": ("west", "western"),
    "центральн": ("central", "centre", "center"),
    "сполучен": ("united", "uk", "us", "usa"),
    "об'єднан": ("united", "joint"),
    "королівств": ("kingdom", "uk", "royal"),
    "королівськ": ("royal", "kingdom"),
    "великобритан": ("britain", "british", "uk", "kingdom"),
    "британ": ("britain", "british", "uk"),
    "англі": ("england", "english", "britain", "uk"),
    "національн": ("national", "nation"),
    "державн": ("state", "national", "federal"),
    "міжнародн": ("international", "global"),
    "світов": ("world", "global"),
    "європейськ": ("european", "europe", "eu"),
    "американськ": ("american", "america", "us", "usa"),
    "чорн": ("black",),
    "біл": ("white",),
    "червон": ("red",),
    "зелен": ("green",),
    "нов": ("new",),
    "велик": ("great", "big", "grand"),
    "збройн": ("armed", "military", "defense", "defence", "forces", "army"),
    "армі": ("army", "military", "forces"),
    "фонд": ("fund", "foundation", "funds"),
    "банк": ("bank", "banks", "banking"),
    "міністерств": ("ministry", "department"),
    "агентств": ("agency",),
    "служб": ("service", "agency"),
    "рад": ("council", "board", "soviet"),
    "союз": ("union", "alliance"),
    "федераці": ("federation", "federal"),
    "республік": ("republic",),
    "парті": ("party",),
    "суд": ("court", "tribunal", "justice"),
    "верховн": ("supreme", "high"),
    "правосудд": ("justice",),
    "угод": ("agreement", "deal", "accord", "treaty"),
    "політик": ("policy", "policies", "politics", "political"),
    "абатств": ("abbey",),
    "польщ": ("poland", "polish"),
    "польськ": ("poland", "polish"),
    "дані": ("denmark", "danish"),
    "данськ": ("denmark", "danish"),
    "німеччин": ("germany", "german"),
    "німецьк": ("germany", "german"),
    "угорщин": ("hungary", "hungarian"),
    "туреччин": ("turkey", "turkish", "türkiye"),
    "швеці": ("sweden", "swedish"),
    "швейцарі": ("switzerland", "swiss"),
    "китай": ("china", "chinese"),
    "китаю": ("china", "chinese"),
    "китайськ": ("china", "chinese"),
    "грузі": ("georgia", "georgian"),
    "білорус": ("belarus", "belarusian"),
    "вірмені": ("armenia", "armenian"),
    "чехі": ("czech", "czechia"),
    "словаччин": ("slovakia", "slovak"),
    "хорваті": ("croatia", "croatian"),
    "нідерланд": ("netherlands", "dutch", "holland"),
    "кубк": ("cup",),
    "кубок": ("cup",),
    "ліг": ("league",),
    "чемпіонат": ("championship", "league"),
}
# The same words in Russian (Южная Африка, Соединенное Королевство, Российская Федерация, Кубок чемпионов).
_GLOSSARY_RU: dict[str, tuple[str, ...]] = {
    "южн": _GLOSSARY["південн"],
    "северн": _GLOSSARY["північн"],
    "восточн": _GLOSSARY["східн"],
    "западн": _GLOSSARY["західн"],
    "центральн": _GLOSSARY["центральн"],
    "соединенн": _GLOSSARY["сполучен"],
    "объединенн": _GLOSSARY["об'єднан"],
    "королевств": _GLOSSARY["королівств"],
    "королевск": _GLOSSARY["королівськ"],
    "великобритан": _GLOSSARY["великобритан"],
    "британ": _GLOSSARY["британ"],
    "англи": _GLOSSARY["англі"],
    "национальн": _GLOSSARY["національн"],
    "государственн": _GLOSSARY["державн"],
    "международн": _GLOSSARY["міжнародн"],
    "миров": _GLOSSARY["світов"],
    "европейск": _GLOSSARY["європейськ"],
    "американск": _GLOSSARY["американськ"],
    "черн": _GLOSSARY["чорн"],
    "бел": _GLOSSARY["біл"],
    "красн": _GLOSSARY["червон"],
    "зелен": _GLOSSARY["зелен"],
    "нов": _GLOSSARY["нов"],
    "велик": _GLOSSARY["велик"],
    "вооруженн": _GLOSSARY["збройн"],
    "арми": _GLOSSARY["армі"],
    "фонд": _GLOSSARY["фонд"],
    "банк": _GLOSSARY["банк"],
    "министерств": _GLOSSARY["міністерств"],
    "агентств": _GLOSSARY["агентств"],
    "служб": _GLOSSARY["служб"],
    "совет": _GLOSSARY["рад"],
    "союз": _GLOSSARY["союз"],
    "федераци": _GLOSSARY["федераці"],
    "республик": _GLOSSARY["республік"],
    "парти": _GLOSSARY["парті"],
    "суд": _GLOSSARY["суд"],
    "верховн": _GLOSSARY["верховн"],
    "правосуди": _GLOSSARY["правосудд"],
    "соглашени": _GLOSSARY["угод"],
    "политик": _GLOSSARY["політик"],
    "аббатств": _GLOSSARY["абатств"],
    "польш": _GLOSSARY["польщ"],
    "польск": _GLOSSARY["польськ"],
    "дани": _GLOSSARY["дані"],
    "датск": _GLOSSARY["данськ"],
    "германи": _GLOSSARY["німеччин"],
    "немецк": _GLOSSARY["німецьк"],
    "венгри": _GLOSSARY["угорщин"],
    "турци": _GLOSSARY["туреччин"],
    "швеци": _GLOSSARY["швеці"],
    "швейцари": _GLOSSARY["швейцарі"],
    "кита": _GLOSSARY["китай"],
    "китай": _GLOSSARY["китай"],
    "китайск": _GLOSSARY["китайськ"],
    "грузи": _GLOSSARY["грузі"],
    "беларусь": _GLOSSARY["білорус"],
    "белорусск": _GLOSSARY["білорус"],
    "армени": _GLOSSARY["вірмені"],
    "чехи": _GLOSSARY["чехі"],
    "словаки": _GLOSSARY["словаччин"],
    "хорвати": _GLOSSARY["хорваті"],
    "нидерланд": _GLOSSARY["нідерланд"],
    "лиг": _GLOSSARY["ліг"],
    "чемпионат": _GLOSSARY["чемпіонат"],
}
_GLOSSARY |= _GLOSSARY_RU


_GLOSSARY_ENGLISH = frozenset(e for english in _GLOSSARY.values() for e in english if len(e) >= 4)


def _glossary_parts(word: str) -> tuple[str, ...]:
    """A closed English compound of two glossary words, split: ``southeast`` → ``south``, ``east``."""
    for i in range(4, len(word) - 3):
        if word[:i] in _GLOSSARY_ENGLISH and word[i:] in _GLOSSARY_ENGLISH:
            return (word[:i], word[i:])
    return ()


# Glossary words that name the kind of a named thing (Российская Федерация, Республика Польша): after a grounded
# name they are the translation's description of what the source names (the Russian state), not a new name.
_KIND_STEMS = frozenset(_wordlist("федераци республик республік королевств королівств союз"))


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


def _strip_accents(word: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))


def _consonants(w: str) -> str:
    for a, b in _SKELETON_RULES:
        w = w.replace(a, b)
    w = re.sub(r"[^a-z]", "", w)
    w = re.sub(r"[aeiou]", "", w)
    return re.sub(r"(.)\1+", r"\1", w)


@lru_cache(maxsize=1 << 16)  # every source word's skeletons are built per check: most words recur
def skeleton(word: str) -> str:
    """Consonant skeleton of a (transliterated) name: ``Dalio`` and ``Даліо`` both give ``dl``."""
    w = _fold(word)
    for a, b in _CYRILLIC_GROUPS:
        w = w.replace(a, b)
    for a, b in _CYRILLIC_INITIALS:
        if w.startswith(a):
            w = b + w[len(a) :]
    return _consonants(_strip_accents(w.translate(_TRANSLIT)))


def skeletons(word: str) -> set[str]:
    """Every skeleton a Latin name may have in Cyrillic: ``Williams`` gives ``vlms`` (в) and ``lms`` (у)."""
    w = _strip_accents(_fold(word))
    forms = {w}
    for a, b in _LATIN_VARIANTS:
        forms |= {f.replace(a, b) for f in forms}
    return {skeleton(f) for f in forms}


def stems(word: str) -> list[str]:
    """A Cyrillic word and its stems without a Ukrainian case or adjective ending (``Південній`` → ``Південн``)."""
    w = _fold(word)
    out = [w]
    for a, b in _ALTERNATIONS:
        if w.endswith(a) and len(w) > 4:
            out.append(w[: -len(a)] + b)
    for ending in _ENDINGS:
        if w.endswith(ending) and len(w) - len(ending) >= 3:
            out.append(w[: -len(ending)])
    return list(dict.fromkeys(out))


def _first_sound(word: str) -> str:
    return {"c": "k", "z": "s", "y": "j"}.get(word[:1], word[:1])


class SourceIndex:
    """The source's words, folded, with asset aliases and name skeletons, for fast grounding checks."""

    def __init__(self, text: str) -> None:
        self.words: set[str] = set()
        folded = []
        for tok in _TOKEN.findall(text):
            f = _fold(tok)
            folded.append(f)
            self.words.add(f)
            self.words.update(p for p in re.split(r"[-.&']", f) if p)
        for group in ASSET_ALIASES:
            if group & self.words:
                self.words |= group
        for w in list(self.words):  # English compounds of the glossary's words: Southeast ~ Південно-Східна
            self.words.update(_glossary_parts(w))
        self._folded = folded
        self._tokens = _TOKEN.findall(text)
        self._text = text

    @functools.cached_property
    def skeletons(self) -> set[str]:
        """Transliteration skeletons of the source's words: built on the first cross-script lookup only."""
        out: set[str] = set()
        for w in self.words:
            out |= {s for s in skeletons(w) if len(s) >= 2}
        for a, b in itertools.pairwise(self._folded):  # names written as one word in Cyrillic: Кейптаун
            if _is_latin(a) and _is_latin(b):
                out |= {s for s in skeletons(a + b) if len(s) >= 3}
        return out

    def has(self, word: str) -> bool:
        f = _fold(word)
        if f in self.words or f in GENERIC:
            return True
        candidates = {f, f.rstrip("s"), f[:-2] if f.endswith("es") else f}
        if candidates & self.words:
            return True
        parts = [p for p in re.split(r"[-.&']", f) if p]
        return len(parts) > 1 and all(p in self.words or p in GENERIC for p in parts)

    def has_cognate(self, word: str) -> bool:
        """A Latin word with a source word's consonant skeleton, or the skeleton of a source word one consonant longer
        (a demonym: Libyan), without the fuzzy match that names in other scripts need."""
        sk = skeleton(word)
        return len(sk) >= 2 and (
            sk in self.skeletons or any(s.startswith(sk) and len(s) - len(sk) == 1 for s in self.skeletons)
        )

    @functools.cached_property
    def shouts(self) -> bool:
        """The source writes a word of the language in capitals for emphasis (BEFORE), not only acronyms (SEC)."""
        import simplemma

        return any(t.isupper() and len(t) >= 4 and simplemma.is_known(t.lower(), lang="en") for t in self._tokens)

    def has_close_cognate(self, word: str) -> bool:
        """``has_cognate``, and for a short skeleton (three consonants or fewer) a source word that also looks like it:
        the same first sound (c ~ k: Krypto ~ crypto) and a length within two letters (Dosis ~ dose, Krim ~ Crimea),
        within one for two consonants (Huawei is not "have"; Bayer still is "buyer")."""
        sk = skeleton(word)
        if not self.has_cognate(word):
            return False
        if len(sk) > 3:
            return True
        f = _strip_accents(_fold(word))
        return any(
            _first_sound(w) == _first_sound(f) and abs(len(w) - len(f)) <= len(sk) - 1 and sk in skeletons(w)
            for w in self._plain
        )

    def _has_skeleton(self, sk: str) -> bool:
        if sk in self.skeletons:
            return True
        if len(sk) >= 2 and any(s.startswith(sk) and len(s) - len(sk) == 1 for s in self.skeletons):
            return True  # a country named by its demonym in the source (Лівії ~ Libyan)
        return len(sk) >= 3 and any(
            s[:2] == sk[:2] and abs(len(s) - len(sk)) <= 1 and SequenceMatcher(None, sk, s).ratio() >= 0.75
            for s in self.skeletons
            if len(s) >= 3
        )

    @functools.cached_property
    def _plain(self) -> set[str]:
        return {_strip_accents(w).replace("-", "") for w in self.words}

    def has_spelling(self, word: str) -> bool:
        """A Latin word as the source spells it, give or take case, accents, hyphens (``WiFi`` ~ ``Wi-Fi``), the
        source's plural (``DSR`` ~ ``DSRs``) or one slip of a letter in a longer word (``eBay`` ~ ``eBbay``)."""
        if self.has(word):
            return True
        f = _strip_accents(_fold(word)).replace("-", "")
        if f in self._plain or f + "s" in self._plain or f + "es" in self._plain:
            return True
        return len(f) >= 4 and any(
            abs(len(w) - len(f)) <= 1 and w[:1] == f[:1] and SequenceMatcher(None, f, w).ratio() >= 0.85
            for w in self._plain
        )

    def has_exonym(self, word: str, lang: str, source_lang: str) -> bool:
        """``word`` is what ``lang`` calls a place, language or currency that the source names in its own language
        (CLDR, ``guards.exonyms``): ``Афинах`` is grounded by ``Athens``, ``Griechenlands`` by ``Greece``."""
        from .exonyms import counterparts

        return any(
            all(self._has_plain(w.replace("-", "")) for w in name) for name in counterparts(word, lang, source_lang)
        )

    def _has_plain(self, word: str) -> bool:
        return word in self._plain or word + "s" in self._plain or word + "es" in self._plain

    def _has_translated(self, stem: str) -> bool:
        english = _GLOSSARY.get(stem.replace("ё", "е"))
        return bool(english) and any(e in self.words or e + "s" in self.words for e in english)

    def has_name(self, word: str) -> bool:
        """A name written in another script (or inflected): compare transliteration skeletons."""
        if self.has(word):
            return True
        parts = [p for p in re.split(r"[-’']", _fold(word)) if p]
        if len(parts) > 1 and "'" not in word and "’" not in word:
            return all(self.has_name(p) for p in parts)  # Нью-Йорк, Кристал-Маунтін: every part grounded
        variants = stems(word)
        if any(self._has_translated(v) for v in variants):
            return True
        if _is_cyrillic(word):
            # by sound, against the source's names (translit): vowels count, so Тесла is not "tools"; a key of
            # fewer than three sounds tells nothing (Ия), Тойота's six do (its old skeleton, "t", told nothing)
            if len(translit.cyrillic_key(variants[0])) < translit.MIN_SOUNDS:
                return True
            return any(self._sounds_like(v) for v in variants)
        sks = [skeleton(v) for v in variants]
        if len(sks[0]) < 2:
            return True  # too short to tell anything
        return any(self._has_skeleton(sk) for sk in sks if len(sk) >= 2)

    @functools.cached_property
    def _name_keys(self) -> tuple[str, ...]:
        """Phonetic keys (``translit``) of the source's capitalised Latin words, their parts, the runs of two
        written as one (Cape Town ~ Кейптаун), and demonyms without their ending (Libyan ~ Лівія)."""
        names: list[str] = []
        caps = [_fold(t) for t in self._tokens if t[:1].isupper() and _is_latin(t)]  # Town's: Town
        for tok in caps:
            parts = [p for p in re.split(r"[-.&'’]", tok) if p]
            names += parts if len(parts) > 1 else [tok]
            if len(parts) > 1:
                names.append("".join(parts))
        keys: dict[str, None] = {}
        for a, b in itertools.pairwise(self._tokens):
            if a[:1].isupper() and b[:1].isupper() and _is_latin(a) and _is_latin(b):
                keys.update(dict.fromkeys(translit.joined_keys(_fold(a), _fold(b))))
        for n in list(names):
            low = n.casefold()
            for suffix in _DEMONYM_SUFFIXES:
                if low.endswith(suffix) and len(low) - len(suffix) >= 3:
                    names.append(n[: -len(suffix)])
        for n in names:
            keys.update(dict.fromkeys(translit.latin_keys(n)))
        return tuple(keys)

    @functools.cached_property
    def _clipped_keys(self) -> tuple[str, ...]:
        """Keys of the capitalised Latin words inside sentences (names, not sentence openers such as Gold): a
        translation may give their full form (West Brom ~ Вест Бромвич)."""
        keys: dict[str, None] = {}
        for m in _TOKEN.finditer(self._text):
            tok = m.group(0)
            before = self._text[: m.start()].rstrip()
            if tok[:1].isupper() and _is_latin(tok) and before and not _SENTENCE_END.search(before):
                keys.update(dict.fromkeys(translit.latin_keys(_fold(tok))))
        return tuple(keys)

    def _sounds_like(self, stem: str) -> bool:
        key = translit.cyrillic_key(stem)
        return any(translit.keys_match(key, k) for k in self._name_keys) or any(
            translit.opens_with(key, k) for k in self._clipped_keys
        )


# Languages whose lexicon (simplemma's dictionaries, shipped in its wheel) tells a common word from a name: German
# capitalises every noun, and a Cyrillic sentence may open a quoted title or a line without punctuation.
LEXICON_LANGS = frozenset({"de", "ru", "uk", "es", "fr", "pt", "tr"})
CJK_LANGS = frozenset({"zh", "ja"})
_LATIN_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ɏ][A-Za-zÀ-ÖØ-öø-ɏ0-9]*(?:['’.&-][A-Za-zÀ-ÖØ-öø-ɏ0-9]+)*")
_ROMAN = re.compile(r"(?i)^(?=[mdclxvi])m*(?:c[md]|d?c{0,3})(?:x[cl]|l?x{0,3})(?:i[xv]|v?i{0,3})$")


def common_word(word: str, lang: str) -> bool:
    """``word`` is a common word of ``lang`` (its lexicon knows it): ``Regierung``, ``Пожалуйста``. German's lexicon
    also lists names (``Samsung``, ``Tesla``): there a capitalised word counts as the language's own only when it is
    an inflected form or the lexicon knows other forms of it (``Regierungen``, ``Häuser``); ``check_entities`` also
    excuses a listed word in a noun phrase (``die Angst``, ``in Armut``)."""
    if lang not in LEXICON_LANGS:
        return False

    w = word.strip(".")
    if w.isupper() and len(w) < 4:
        return False  # an acronym, not a shouted word
    if _known(w, lang) and (lang != "de" or _german_noun(w)):
        return True
    if lang == "de" and re.search(r"[a-zäöüß][A-ZÄÖÜ]", w):
        return False  # camel case (BlackRock) is a name, never a compound of German words
    if lang in ("ru", "uk") and len(w) >= 5 and w[-1] in "оеОЕ":
        # an adverb the lexicon lacks, made from an adjective it knows (Недавно from недавний)
        return any(_known(w[:-1] + e, lang) for e in (("ый", "ий", "ой") if lang == "ru" else ("ий", "ій")))
    # German: a compound of known words, or a first part with its linking s (Bewertungs-, Erstattungs-)
    return lang == "de" and (_compound(w, 2) or (w.endswith("s") and (_noun_part(w[:-1]) or _compound(w[:-1], 2))))


_UMLAUT = str.maketrans({"a": "ä", "o": "ö", "u": "ü"})


_DE_DETERMINERS = frozenset(
    _wordlist(
        """der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner keines
        mein meine meinen meinem meiner meines dein deine sein seine seinen seinem seiner seines ihr ihre ihren ihrem
        ihrer ihres unser unsere unseren unserem unserer unseres euer eure dieser diese diesen diesem dieses jeder
        jede jeden jedem jedes jener jene alle allen aller viel viele vielen wenig etwas mehr kein
        im am zum zur beim vom ins ans aufs fürs"""
    )
)
_DE_PREPOSITIONS = frozenset(
    _wordlist(
        """an auf aus bei bis durch für gegen hinter in mit nach neben ohne seit über um unter von vor während
        wegen zu zwischen trotz laut statt außer"""
    )
)


def _determined(text: str, word: str) -> bool:
    """``word`` follows a determiner, a preposition or an adjective somewhere in ``text`` (die Angst, vor Kürze,
    große Geduld): a noun phrase. Not after ``von``: there a name the lexicon lists is who did it (ein Sprecher von
    Samsung, die Aktie von Intel); the price is a mass noun after it (von Armut), flagged."""
    for m in re.finditer(r"(\S+)\s+" + re.escape(word) + r"\b", text):
        prev = m.group(1).strip("„“\"'(").lower()
        if prev in _DE_DETERMINERS or (prev in _DE_PREPOSITIONS and prev != "von"):
            return True
        if prev.isalpha() and prev.islower() and re.search(r"(?:e|en|em|er|es)$", prev) and not prev.endswith("te"):
            return True
    return False


def _german_noun(word: str) -> bool:
    """A word the German lexicon knows is the language's own when it is an inflected form or a function word (its
    lemma is another word: Tagen, Wenn) or when the lexicon knows other forms of it."""
    import simplemma

    if not word[:1].isupper():
        return True  # zu in Fade-zu-Schwarz: the question is only asked of capitalised words
    lemma = simplemma.lemmatize(word, lang="de")
    if lemma != word or simplemma.lemmatize(word.lower(), lang="de") != word:
        return True  # an inflected form, a function word, a nominalised adjective or verb (Besonderes, Verwandte)
    return _inflects(word)


@lru_cache(maxsize=1 << 14)
def _inflects(word: str) -> bool:
    """The German lexicon knows another form of ``word`` (a plural, a genitive, a dative -e): a noun of the
    language (Regierungen, Zeiten, Firmen, Häuser). A name the lexicon lists (Samsung, Goldman, Apple) has none."""
    import simplemma

    w = word
    forms = [w + e for e in ("en", "e", "n", "er", "es", "ern", "nen", "ns", "se")]  # Verständnisse
    forms += [w[:-k] + e for k in (1, 2) for e in ("en", "n") if len(w) - k >= 3]  # Firma/Firmen, Virus/Viren
    if w.endswith(("chen", "lein")):
        forms.append(w + "s")  # a diminutive's plural is the singular (Mädchen): its genitive is the other form
    i = max(w.lower().rfind(v) for v in "aou")
    if i >= 0:
        uml = (
            w[:i]
            + (w[i].lower().translate(_UMLAUT).upper() if w[i].isupper() else w[i].translate(_UMLAUT))
            + w[i + 1 :]
        )
        forms += [uml + e for e in ("", "e", "er", "en", "ern")]  # Haus/Häuser, Stadt/Städte, Mutter/Mütter
    # not the word itself (Goldma + n is Goldman)
    return any(f != w and simplemma.is_known(f, lang="de") and simplemma.lemmatize(f, lang="de") == w for f in forms)


def _known(word: str, lang: str) -> bool:
    """In the language's lexicon. German's lists the loanwords it uses (Community, Services, Wallet); the English
    lexicon is not consulted, since it lists the words that company names are made of (Citadel, Vanguard, Ledger)."""
    import simplemma

    return bool(simplemma.is_known(word, lang=lang) or simplemma.is_known(word.lower(), lang=lang))


def _inflected_german(word: str) -> bool:
    """The German lexicon knows ``word`` as a form of another word (Experten → Experte, Daten → Datum)."""
    import simplemma

    return _known(word, "de") and simplemma.lemmatize(word, lang="de") not in (word, word.lower())


def _german_in_slot(word: str, slot: str) -> bool:
    """A capitalised word in a name's place is German, not a name: after a verb of saying (Das teilte X mit) a bare
    plural (sagten Analysten) or a compound of nouns; after ``von``, a noun of the lexicon too, mass nouns standing
    there bare (von Öl, von Trockenheit). Not a compound whose last part is no German noun with forms of its own, of
    four letters at least (Walm-art, Barc-lays: Walmart, Barclays); a compound of German words that is also a name
    (Volks-wagen) still passes, and so does a name the lexicon knows as a noun after ``von`` (Alphabet, Kraken)."""
    if _inflected_german(word):
        return True
    if _known(word, "de") and _german_noun(word):
        return slot == AFTER_VON
    return _compound(word, 2, strict=True) or (word.endswith("s") and _compound(word[:-1], 2, strict=True))


def _german(word: str) -> bool:
    import simplemma

    return bool(simplemma.is_known(word, lang="de") or simplemma.is_known(word.capitalize(), lang="de"))


def _compound_head(head: str) -> bool:
    """The first part of a German compound: a word (Zustellungs-), with its linking s (Bewertungs-), or a verb's stem
    (Liefer- in Lieferadresse from liefern, Umschalt- in Umschalttechnologie from umschalten)."""
    import simplemma

    if _german(head) or (head.endswith("s") and _german(head[:-1])):
        return True
    verb = head.lower()
    return len(verb) >= 4 and any(simplemma.is_known(verb + e, lang="de") for e in ("en", "n"))


def _compound(word: str, depth: int, strict: bool = False) -> bool:
    """A German compound of known words, with or without a linking s (Zustellungszeitraum, Impfstoffversorgung).
    ``strict``: the last part is a German noun of four letters or more with forms of its own (``_strict_tail``)."""
    for i in range(3, len(word) - 2):
        head, tail = word[:i], word[i:].capitalize()
        if not _compound_head(head):  # Coinbase: no German compound
            continue
        if strict and not _strict_tail(tail) and not (depth > 1 and _compound(tail, depth - 1, True)):
            continue
        if _tail(tail) or (depth > 1 and _compound(tail, depth - 1, strict)):
            return True
    return False


def _strict_tail(word: str) -> bool:
    """The last part of a compound in a name's place: a word of four letters or more that the lexicon knows as a noun
    with other forms or as a form of another word (Entwurf, Bedenken; not Art in Walm-art, nor Clays)."""
    return len(word) >= 4 and _known(word, "de") and _german_noun(word)


@lru_cache(maxsize=1 << 14)
def _tail(word: str) -> bool:
    """``word`` (capitalised) can end a German compound: a noun of the lexicon, not a lower-case word capitalised (Oft
    in Microsoft, Soft, Man in Goldman); of three letters only when the lexicon knows it as an inflected form or knows
    its other forms (Art/Arten), not a stray short entry (Ota in Toyota, Ens in Siemens). The lexicon cannot tell a
    listed name of four letters or more from a loanword noun (Clay in Barclays beside Video, Hangar)."""
    import simplemma

    if not simplemma.is_known(word, lang="de"):
        return False
    lemma = simplemma.lemmatize(word, lang="de")
    return lemma != word.lower() and (len(word) >= 4 or lemma != word or _inflects(word))


@lru_cache(maxsize=1 << 14)
def _noun_part(word: str) -> bool:
    """``word`` (capitalised) is a German noun, as a compound's first part before a linking s must be (Bewertung in
    Bewertungs-): the lexicon has it with a capitalised lemma and knows it as an inflected form or knows other forms
    of it (Bewertungen). Not a name the lexicon lists (Barclay, which has no other form)."""
    import simplemma

    if not simplemma.is_known(word, lang="de"):
        return False
    lemma = simplemma.lemmatize(word, lang="de")
    return lemma[:1].isupper() and (lemma != word or _inflects(word))


def _candidates(text: str, lang: str, headline: bool) -> list[tuple[str, str | None]]:
    """Entity-looking words of one field, each with the capitalised word it follows in a run (else None)."""
    out: list[tuple[str, str | None]] = []
    # full-width ＨＢＯ is HBO; a trade mark sign is no part of the name (NFKC would make Oatinol™ OatinolTM)
    text = unicodedata.normalize("NFKC", re.sub("[™®℠]", "", text))
    if lang in CJK_LANGS:
        # no capitals in Chinese or Japanese: the Latin-script words (names, tickers, brands) are the candidates
        return [(m.group(0), None) for m in _LATIN_TOKEN.finditer(text) if len(m.group(0)) >= 2]
    cyrillic_lang = lang in ("uk", "ru")
    matches = list(_TOKEN.finditer(text))

    def in_run(i: int) -> str | None:
        """The capitalised word that token ``i`` follows with only spaces between them (Південній for Африці); for
        a word after a Cyrillic preposition (в Тесла), the preposition: a name follows it, never a sentence."""
        prev = matches[i - 1] if i > 0 else None
        if prev is None or text[prev.end() : matches[i].start()].strip():
            return None
        shouted_or_polite = prev.group(0).isupper() or _fold(prev.group(0)) in _POLITE
        if cyrillic_lang and _is_cyrillic(prev.group(0)) and shouted_or_polite:
            return None  # after a shouted line (… К НАМ Пожалуйста) or a polite pronoun (для Вас Сроки): no name run
        if prev.group(0)[:1].isupper() or (cyrillic_lang and prev.group(0) in _PREPOSITIONS):
            return prev.group(0).rstrip(".")
        return None

    for i, m in enumerate(matches):
        word = m.group(0).rstrip(".")
        if len(word) < 2 and not word.isupper():
            continue
        upper = word.isupper() and sum(ch.isalpha() for ch in word) >= 2
        camel = bool(re.search(r"[a-zа-яіїєґ][A-ZА-ЯІЇЄҐ]", word))
        capital = word[:1].isupper()
        if cyrillic_lang and _is_latin(word):
            out.append((word, None))  # Latin script inside a Cyrillic text: a name, a ticker or a brand
            continue
        if upper or camel:
            if not (_is_cyrillic(word) and upper):  # Cyrillic acronyms (США, ЄС) cannot be compared
                out.append((word, in_run(i)))
            continue
        if not capital or headline:
            continue
        raw_before = text[: m.start()].rstrip()
        before = raw_before.rstrip("«\"„“'([—–-").rstrip()
        sentence_start = i == 0 or not before or bool(_SENTENCE_END.search(before))
        if cyrillic_lang and raw_before.endswith(_OPENING_QUOTES):
            sentence_start = True  # a quoted title or label opens with a capital: «Скидання налаштувань»
        if sentence_start:
            nxt = matches[i + 1].group(0) if i + 1 < len(matches) else ""
            between = text[m.end() : matches[i + 1].start()] if i + 1 < len(matches) else ""
            run = nxt[:1].isupper() and between.strip() == ""
            if run and cyrillic_lang and _is_cyrillic(word):
                # Cyrillic word opening a sentence before an acronym or a Latin name (Посол США, Купуючи Norton),
                # or a common word (Згодом Мандела): not part of a name
                run = not (nxt.isupper() or _is_latin(nxt) or _fold(word) in UK_COMMON)
            if not run:
                continue  # a single capitalised word opening a sentence
        after = in_run(i)
        if after is None and cyrillic_lang and not sentence_start and i > 0 and _bare_cyrillic_noun(word, lang):
            prev = matches[i - 1].group(0)
            if _reporting_verb(prev, lang) and not text[matches[i - 1].end() : m.start()].strip():
                after = MID_SENTENCE  # заявил Мета: capitalised after a verb of saying, so a name
        if after is None and lang == "de" and not sentence_start and i > 0:
            prev = matches[i - 1].group(0)
            if not text[matches[i - 1].end() : m.start()].strip():
                if prev == "von":
                    after = AFTER_VON  # ein Sprecher von Walmart: a name's place, or a mass noun's (von Öl)
                elif _german_saying(prev):
                    after = MID_SENTENCE  # Das teilte Alphabet mit: who said it, a name
        out.append((word, after))
    return out


# ``after`` of a Cyrillic word capitalised right after a verb of saying (заявил Мета, сообщил Газпром): that is who
# said it, a name, so the lexicon does not excuse it (it lists brands as common words: газпром, тойота, мета). After
# other words the lexicon still excuses it: WMT paragraphs join segments without a full stop (… настройки Сообщите …),
# and a common noun may be capitalised as a name that translates the source's (назвала День труда, спонукало Захід).
MID_SENTENCE = "\x00mid-sentence"
AFTER_VON = "\x00after-von"
_REPORTING_LEMMAS = frozenset(
    _wordlist(
        """заявить сообщить сказать отметить написать добавить пояснить подчеркнуть уточнить рассказать объявить
        подтвердить опровергнуть признать ответить прокомментировать заявлять сообщать говорить отмечать писать
        добавлять пояснять подчеркивать уточнять рассказывать объявлять подтверждать опровергать признавать отвечать
        комментировать
        заявити повідомити сказати зазначити написати додати пояснити підкреслити уточнити розповісти оголосити
        підтвердити спростувати визнати відповісти прокоментувати заявляти повідомляти говорити зазначати писати
        додавати пояснювати підкреслювати уточнювати розповідати оголошувати підтверджувати спростовувати визнавати
        відповідати коментувати"""
    )
)


def _bare_cyrillic_noun(word: str, lang: str) -> bool:
    """A capitalised Cyrillic word in its dictionary form, as a brand after a verb is (Газпром, Мета): not an inflected
    form (дало Осам, a segment ending in a verb before the next one), not an acronym's compound (ПЦР-тест)."""
    import simplemma

    if not _is_cyrillic(word[:1]) or word.split("-")[0].isupper():
        return False
    low = word.lower()
    return not simplemma.is_known(low, lang=lang) or simplemma.lemmatize(low, lang=lang).lower() == low


# German verbs of saying (teilte … mit, sagte, erklärte): the capitalised word right after one of them, like the one
# right after ``von`` without an article, is where a name stands (Das teilte Alphabet mit, ein Sprecher von Walmart).
_GERMAN_SAYING = frozenset(
    _wordlist(
        """sagen teilen mitteilen erklären melden berichten bestätigen kündigen ankündigen betonen schreiben warnen
        antworten kommentieren dementieren verkünden ergänzen erläutern äußern unterstreichen"""
    )
)


@lru_cache(maxsize=1 << 14)
def _german_saying(word: str) -> bool:
    """A lower-case finite form of a German verb of saying (teilte → teilen, sagte → sagen), not its infinitive."""
    import simplemma

    if not (word.islower() and word.isalpha() and len(word) >= 3):
        return False
    lemma = simplemma.lemmatize(word, lang="de")
    return lemma != word and lemma in _GERMAN_SAYING


@lru_cache(maxsize=1 << 14)
def _reporting_verb(word: str, lang: str) -> bool:
    """A lower-case form of a Russian or Ukrainian verb of saying (заявил → заявить, повідомили → повідомити)."""
    import simplemma

    if not (word.islower() and _is_cyrillic(word) and len(word) >= 3):
        return False
    return simplemma.lemmatize(word, lang=lang).replace("ё", "е") in _REPORTING_LEMMAS


_PREPOSITIONS = frozenset(
    _wordlist(
        """
        в у на з із зі до від для про за по при над під між через из от к с о об со во
        """
    )
)
# Pronouns that Russian and Ukrainian capitalise out of politeness (Желаю Вам, Дякуємо Вам): never names.
# The possessive's whole paradigm in both languages (вашем, вашими, вашім), not a list of the forms seen.
_POLITE = frozenset(
    _wordlist("вы вас вам вами ви")
    + ["ваш" + e for e in ("", *_wordlist("а е и і у его ей ему ем им их ими ого ої ому ій ім ою ою ої"))]
)


def _grounded(
    word: str, index: SourceIndex, lang: str, source_lang: str, in_run: bool = False, slot: str | None = None
) -> bool:
    """A candidate name is in the source (by transliteration skeleton across languages and scripts), or is a common
    word of the article's language. In German a hyphenated word may be grounded part by part (FedEx-Platz,
    Krypto-Community). In a Cyrillic text a word after another capitalised word (Африці in Південній Африці), a
    hyphenated word or a word in Latin script is a name, never a common word: the lexicon only excuses the first
    capitalised word of a run (a sentence opener)."""
    if lang in CJK_LANGS and not _is_cyrillic(word):
        # a Latin word in a Chinese or Japanese text is written as the source writes it: transliteration skeletons,
        # made for other scripts, would let a two-consonant name (Huawei: kv) match some source word
        return index.has_spelling(word)
    if lang == "de" and source_lang != "de" and not _is_cyrillic(word):
        # a German article spells a name as its source does (one slipped letter: Beharra ~ Belharra) or writes a
        # cognate with the same consonants (Dosis ~ dose, Krypto ~ crypto); the fuzzy skeletons let invented names
        # through (Nvidia ~ "invited")
        if index.has(word) or index.has_spelling(word) or index.has_close_cognate(word):
            return True
        if word.isupper() and word.lower() in _DE_PREPOSITIONS | _DE_DETERMINERS and index.shouts:
            return True  # a shouted preposition where the source shouts (VOR der Zahlung ~ BEFORE payment)
    elif index.has_name(word) if (_is_cyrillic(word) or lang != source_lang) else index.has(word):
        return True
    if lang in ("ru", "uk") and _is_latin(word) and index.has_spelling(word):
        return True  # a Latin name copied into a Cyrillic text, give or take one slipped letter (Health ~ Heath)
    if lang != source_lang and index.has_exonym(word, lang, source_lang):
        return True  # Афины ~ Athens, Griechenland ~ Greece: the language's own name for a place the source names
    cyrillic = lang in ("ru", "uk")
    if cyrillic and ((in_run and _fold(word) not in _POLITE) or _is_latin(word)):
        return False
    parts = [p for p in re.split(r"[-’']", word) if p]
    if len(parts) > 1:  # ПЦР-тест, Krypto-Community; in Cyrillic a capitalised part must be grounded (Нью-Йорку)
        return all(
            p.isupper() or _grounded(p, index, lang, source_lang, in_run=cyrillic and i > 0 and p[:1].isupper())
            for i, p in enumerate(parts)
        )
    if lang == "de" and slot:
        return _german_in_slot(word, slot)
    return common_word(word, lang)


# Russian and Ukrainian adjective endings: an adjective after a preposition opens a name (в Південній Африці) or
# is a capitalised common phrase (с Новым годом); the words after it are checked as the name.
_ADJECTIVE = re.compile(r"(?:ий|ій|ой|ая|яя|ое|ее|ые|ие|ых|их|ым|им|ого|его|ому|ему|ую|юю|ою|ею|ої|ей|ими|ыми|ім)$")


def _opens_run(text: str, word: str) -> bool:
    return re.search(re.escape(word) + r"\s+[A-ZА-ЯІЇЄҐЁ]", text) is not None


def _proper_only(word: str, lang: str) -> bool:
    """The lexicon knows ``word`` only as a proper noun: its lower-case form is no common word (Яндекс, not Інтернет,
    whose lower case the lexicon knows as інтернет)."""
    import simplemma

    low = word.lower()
    return not (simplemma.is_known(low, lang=lang) and simplemma.lemmatize(low, lang=lang)[:1].islower())


def _proper_lemma(word: str, lang: str, inflected: bool = False) -> bool:
    """The lexicon knows ``word`` as a proper noun (its lemma is capitalised: Парижі → Париж), not as a common word
    (Тесла → тесло). ``inflected``: and ``word`` is not that lemma itself where the lexicon knows it only as a name
    (Парижі, not в Яндекс: a name left in its dictionary form after a preposition is a label, and must be grounded by
    sound or as an exonym)."""
    if lang not in LEXICON_LANGS:
        return False
    import simplemma

    lemma = simplemma.lemmatize(word, lang=lang)
    if inflected and lemma.casefold() == word.casefold() and _proper_only(word, lang):
        return False
    return lemma[:1].isupper() and simplemma.is_known(word, lang=lang)


def _kind_of(word: str, after: str, index: SourceIndex, ctx: GuardContext) -> bool:
    """``word`` names the kind of the grounded name before it: Российской Федерацией for the Russian state."""
    if ctx.lang not in ("ru", "uk") or not any(v.replace("ё", "е") in _KIND_STEMS for v in stems(word)):
        return False
    return _named(after, index, ctx)


def _named(word: str, index: SourceIndex, ctx: GuardContext) -> bool:
    """``word`` is a name the source has (by sound or exonym), not a word the glossary translates (Соединенных, which
    opens a name of its own: Соединенных Штатах must be grounded whole) nor one the lexicon knows."""
    if any(v.replace("ё", "е") in _GLOSSARY for v in stems(word)):
        return False
    return _grounded(word, index, ctx.lang, ctx.source_lang, in_run=True)


@lru_cache(maxsize=64)
def source_index(text: str) -> SourceIndex:
    """The index of ``text``, shared by the checks of one source: a story's translations are all checked against
    its pivot (two languages: one index instead of two). Read-only once built."""
    return SourceIndex(text)


def check_entities(fields: Fields, ctx: GuardContext) -> list[Finding]:
    index = source_index(ctx.source + "\n" + ctx.extra_grounding)
    out = []
    seen: set[str] = set()
    opened = ""
    for name, text in fields:
        for word, after in _candidates(text, ctx.lang, is_headline_field(name)):
            key = _fold(word)
            if key in seen or _ROMAN.match(key):
                continue
            # a word after an ungrounded capitalised word continues a name (Південній Африці); after a grounded
            # one (eBay Пожалуйста) it may open a new sentence
            # a word after a preposition's name continues it (у Великій Британії, в Стародавніх Афінах) unless that
            # name is grounded as a name, not only by the lexicon (в Бирмингеме Семья: a headline, then a sentence)
            in_run = after is not None and (
                after == MID_SENTENCE
                or after in _PREPOSITIONS
                or not _grounded(after, index, ctx.lang, ctx.source_lang)
                or (after == opened and not _named(after, index, ctx))
            )
            slot = after if ctx.lang == "de" and after in (MID_SENTENCE, AFTER_VON) else None
            if ctx.lang == "de":
                in_run = False  # German names' runs are grounded word by word, as before
            elif in_run and after in _PREPOSITIONS and _proper_lemma(word, ctx.lang, inflected=after != "на"):
                # в Парижі: a place the lexicon knows, declined as a word of the language; на Різдво: a feast's name
                # in a time phrase; not в Яндекс, a name the lexicon knows left as a label
                in_run = False
            elif (
                in_run
                and after in _PREPOSITIONS
                and _fold(word) not in _POLITE
                and (_opens_run(text, word) or _ADJECTIVE.search(word))
            ):
                in_run, opened = False, word  # у Великій Британії: the rest of the name must be in the source
            if not _grounded(word, index, ctx.lang, ctx.source_lang, in_run, slot):
                if (
                    after
                    and after not in (MID_SENTENCE, AFTER_VON)
                    and after not in _PREPOSITIONS
                    and _kind_of(word, after, index, ctx)
                ):
                    continue
                if ctx.lang == "de" and _known(word, "de") and _determined(text, word):
                    continue  # die Angst, mit Geduld: a German noun in a noun phrase, not a name
                seen.add(key)
                out.append(Finding("ungrounded-entity", name, f"{word!r} does not appear in the source"))
    return out

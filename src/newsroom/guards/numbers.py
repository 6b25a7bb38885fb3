"""Grounding of numbers: every amount, percentage, date, price and count in the article appears in its source.

Numbers are compared as *quantities*, not strings: ``$1.2 billion``, ``1,200 million dollars``, ``US$1.2bn`` and the
Ukrainian ``1,2 млрд доларів`` are the same quantity. A quantity is a value (digits × scale word), a unit (percent,
a currency, a crypto ticker, or none) and a precision (half a unit of its last digit, times the scale): an article may
round a source's ``1,234 million`` to ``1.2 billion``, but not make ``1.2 billion`` into ``1,234 million``.

Localised formats: ``1,234.5`` (en), ``1 234,5`` / ``1.234,5`` (uk, ru, de, fr, es, pt, tr), scale words in each
supported language (``млн``, ``млрд``, ``Mio.``, ``Mrd.``, ``milliard``, ``mil millones``, ``万``, ``亿`` …).
A token that reads two ways (``1,234``: a thousand or a decimal) carries both readings; it is grounded if either is.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .base import Fields, Finding, GuardContext

_SEP_SPACES = "\u00a0\u202f\u2009"
# digits, with optional thousands groups (comma, dot, no-break spaces; plain space only where the language allows)
_CORE_TIGHT = re.compile(r"(?<![\w.,])(\d{1,3}(?:[,.\u00a0\u202f\u2009]\d{3})+|\d+)(?:[.,]\d+)?(?![\d])")
_CORE_SPACED = re.compile(r"(?<![\w.,])(\d{1,3}(?:[,. \u00a0\u202f\u2009]\d{3})+|\d+)(?:[.,]\d+)?(?![\d])")
COMMA_DECIMAL = frozenset({"uk", "ru", "de", "fr", "es", "pt", "tr"})

_E3, _E4, _E6, _E8, _E9, _E12 = 1e3, 1e4, 1e6, 1e8, 1e9, 1e12
# (regex, factor); tried in order, longest forms first. Language-specific: "billion" is 1e9 in English, 1e12 in
# German and French; "bilhão" is 1e9 (Brazilian usage).
_SCALES_COMMON: list[tuple[str, float]] = [
    (r"тис(?:яч[аіиі]?|\.)?", _E3),
    (r"тыс(?:яч[аи]?|\.)?", _E3),
    (r"млн\.?|мільйон\w*|миллион\w*", _E6),
    (r"млрд\.?|мільярд\w*|миллиард\w*", _E9),
    (r"трлн\.?|трильйон\w*|триллион\w*", _E12),
]
_SCALES: dict[str, list[tuple[str, float]]] = {
    "en": [
        (r"thousand", _E3),
        (r"million|mln|mn", _E6),
        (r"billion|bln|bn", _E9),
        (r"trillion|tn", _E12),
        (r"k|K", _E3),
        (r"m|M", _E6),
        (r"b|B", _E9),
        (r"t|T", _E12),
    ],
    "de": [(r"Tsd\.?|Tausend", _E3), (r"Mio\.?|Millionen|Million", _E6), (r"Mrd\.?|Milliarden|Milliarde", _E9),
           (r"Billionen|Billion|Bio\.?", _E12)],
    "fr": [(r"mille", _E3), (r"millions?|M", _E6), (r"milliards?|Md|Mds", _E9), (r"billions?", _E12)],
    "es": [(r"mil millones", _E9), (r"millones|millón|mill\.?", _E6), (r"billones|billón", _E12), (r"mil", _E3)],
    "pt": [(r"mil milhões", _E9), (r"milhões|milhão", _E6), (r"bilhões|bilhão|bi", _E9), (r"trilhões|trilhão", _E12),
           (r"mil", _E3)],
    "tr": [(r"bin", _E3), (r"milyon", _E6), (r"milyar", _E9), (r"trilyon", _E12)],
    "zh": [(r"千", _E3), (r"万", _E4), (r"亿", _E8), (r"兆", _E12)],
    "ja": [(r"千", _E3), (r"万", _E4), (r"億", _E8), (r"兆", _E12)],
}  # fmt: skip

_PERCENT = re.compile(
    r"[\s-]?(?:%|percentage points?|per ?cent\b|pct\b|відсотк\w*|відсот\w*|процент\w*|п\.\s?п\.|Prozent\w*|"
    r"pour ?cent|por ?ciento|por ?cento|puan)",
    re.I,
)
_CURRENCY_WORDS: list[tuple[str, str]] = [
    (r"USD|US dollars?|dollars?|долар\w*|дол\.|доллар\w*|Dollar\w*|dólar\w*|dolar\w*|美元|ドル", "USD"),
    (r"EUR|euros?|євро|евро|Euro", "EUR"),
    (r"GBP|pounds?|фунт\w*", "GBP"),
    (r"UAH|грн\.?|гривень|гривн\w*|гривня", "UAH"),
]
_PREFIX_CURRENCY = {"US$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "₴": "UAH", "¥": "JPY"}
_TICKER = re.compile(r"\s?([A-Z]{2,6})\b")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_NO_SPACES = frozenset({"zh", "ja"})
_CJK_BEFORE_DIGIT = re.compile(r"(?<=[\u3040-\u30ff\u3400-\u9fff\u3000-\u303f\uff00-\uffef])(?=\d)")
_OKU_MAN = re.compile(r"(?<![\d.,])(\d{1,4})\s?[億亿]\s?(\d{1,4}|\d,\d{3})\s?万")
_CENTURY = re.compile(r"\.?\s?(?:世纪|世紀|年代|Jahrhundert|век|столітт|siècle|siglo|século|yüzyıl)", re.I)


@dataclass(frozen=True)
class Quantity:
    text: str
    values: frozenset[float]
    unit: str | None  # "%", "USD", "EUR", …, a ticker ("BTC"), or None
    tolerance: float  # half a unit of the last written digit, times the scale


def _scales(lang: str) -> list[tuple[re.Pattern[str], float]]:
    table = _SCALES.get(lang, []) + ([] if lang == "en" else _SCALES["en"][:4]) + _SCALES_COMMON
    # single-letter scales (5k, $1.2B) only attach directly: "14 K" is fourteen carats, not 14,000
    end = "" if lang in ("zh", "ja") else r"(?![^\W\d_])"  # no spaces between CJK words: 7500 万英镑
    return [(re.compile((r"(?:" if pat in _LETTER_SCALES else r"[\s-]?(?:") + pat + ")" + end), f) for pat, f in table]


_LETTER_SCALES = frozenset({"k|K", "m|M", "b|B", "t|T"})
_SCALE_CACHE: dict[str, list[tuple[re.Pattern[str], float]]] = {}


def _readings(token: str, lang: str) -> list[tuple[float, float]]:
    """Every (value, half-unit of the last digit) the digits can mean."""
    t = token
    for sp in _SEP_SPACES + " ":
        t = t.replace(sp, "\u2009")
    if "\u2009" in t:
        t = t.replace("\u2009", "")  # spaces only ever group thousands
    seps = [c for c in t if c in ",."]
    out: list[str] = []
    if not seps:
        out = [t]
    elif "," in t and "." in t:
        dec = t[max(t.rfind(","), t.rfind("."))]
        other = "." if dec == "," else ","
        out = [t.replace(other, "").replace(dec, ".")]
    else:
        sep = seps[0]
        groups = t.split(sep)
        thousands = all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3
        if len(groups) > 2:
            out = [t.replace(sep, "")] if thousands else []
        elif thousands and lang not in COMMA_DECIMAL:
            out = [t.replace(sep, "")] if sep == "," else [t]  # en: 1,234 is a thousand, 1.234 a decimal
        elif thousands:
            out = [t.replace(sep, ""), t.replace(sep, ".")]  # uk 1,234 / 1.234: both readings
        else:
            out = [t.replace(sep, ".")]
    readings = []
    for s in out:
        try:
            value = float(s)
        except ValueError:
            continue
        decimals = len(s.split(".", 1)[1]) if "." in s else 0
        readings.append((value, 0.5 * 10**-decimals))
    return readings


def quantities(text: str, lang: str, *, attached: bool = False) -> list[Quantity]:
    """Every number in ``text`` as a Quantity (scale words and units applied). Numbers glued to lower-case letters
    (1st, 3x, 0.3mm, 1880s) are left out unless ``attached``: the source side takes them, so that an article writing
    "0.3 mm" or "the 1880s" is grounded, while an article's own "3x" is never compared."""
    scales = _SCALE_CACHE.get(lang)
    if scales is None:
        scales = _SCALE_CACHE[lang] = _scales(lang)
    core = _CORE_SPACED if lang in COMMA_DECIMAL else _CORE_TIGHT
    text = unicodedata.normalize("NFKC", text)  # full-width digits and separators: ２４, １，０００
    if lang in _NO_SPACES:
        # 通常11営業日: a number glued to the word before it is still a number; 2億8,600万 is 28,600万
        text = _CJK_BEFORE_DIGIT.sub(" ", text)
        text = _OKU_MAN.sub(lambda m: f"{int(m.group(1)) * 10_000 + int(m.group(2).replace(',', ''))}万", text)
    out: list[Quantity] = []
    for m in core.finditer(text):
        start, end = m.span()
        after = text[end:]
        readings = _readings(m.group(0), lang)
        if not readings:
            continue
        factor = 1.0
        for pat, f in scales:
            sm = pat.match(after)
            if sm:
                factor, after = f, after[sm.end() :]
                break
        else:
            if after[:1].isalpha() and not after[:1].isupper() and not attached and not _CJK.match(after):
                continue  # 1st, 3x, 10-fold written as 10fold: not a quantity we compare
            if _CENTURY.match(after):
                continue  # 19 世纪 (the 1800s), 80 年代 (the eighties): periods, written as 1880s in English
        unit: str | None = None
        before = text[max(0, start - 4) : start].rstrip()
        for sym, code in _PREFIX_CURRENCY.items():
            if before.endswith(sym):
                unit = code
                break
        if before.endswith("%"):
            unit = "%"
        if unit is None:
            if _PERCENT.match(after):
                unit = "%"
            else:
                for pat, code in _CURRENCY_WORDS:
                    if re.match(r"\s?(?:" + pat + r")(?![^\W\d_])", after):
                        unit = code
                        break
                else:
                    tm = _TICKER.match(after)
                    if tm and tm.group(1) not in ("UTC", "GMT", "CEO", "AM", "PM", "ET", "EST"):
                        unit = tm.group(1)
        values = frozenset(v * factor for v, _ in readings)
        tolerance = max(h for _, h in readings) * factor
        out.append(Quantity(m.group(0).strip(), values, unit, tolerance))
    return out


def _compatible(a: str | None, b: str | None) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return "%" not in (a, b)
    return False


def grounded(q: Quantity, source: list[Quantity]) -> bool:
    for s in source:
        if not _compatible(q.unit, s.unit):
            continue
        for a in q.values:
            for v in s.values:
                if abs(a - v) <= max(q.tolerance, 1e-9 * max(abs(a), 1.0)):
                    return True
    return False


_CLOCK_12H = re.compile(r"(?<![\w.,:$€£])(\d{1,2})(?:[:.](\d{2}))?\s?([ap])\.?m\b\.?", re.I)
_CLOCK_24H = re.compile(r"(?<![\w.,:$€£])(\d{1,2}):(\d{2})(?![\d:]|\s?[ap]\.?m\b)", re.I)


def clock_quantities(text: str) -> list[Quantity]:
    """A source's clock times in the other 12/24-hour spelling: "5.30pm" grounds "17:30" and "17:30" grounds
    "5:30 pm" (hours and minutes are compared as separate numbers, like the article's own)."""
    out: list[Quantity] = []
    for m in _CLOCK_12H.finditer(text):
        hour, minute, half = int(m.group(1)), m.group(2), m.group(3).lower()
        if 1 <= hour <= 12 and (minute is None or int(minute) < 60):
            out.append(_clock(hour % 12 + (12 if half == "p" else 0), minute))
    for m in _CLOCK_24H.finditer(text):
        hour, minute = int(m.group(1)), m.group(2)
        if 13 <= hour <= 23 and int(minute) < 60:
            out.append(_clock(hour - 12, minute))
        elif hour == 0 and int(minute) < 60:
            out.append(_clock(12, minute))
    return out


def _split_words(text: str) -> list[str]:
    return text.split()


_NUMBER_WORDS = {
    w: float(i)
    for i, w in enumerate(
        _split_words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
            "seventeen eighteen nineteen twenty"
        )
    )
} | {"thirty": 30.0, "forty": 40.0, "fifty": 50.0, "sixty": 60.0, "seventy": 70.0, "eighty": 80.0, "ninety": 90.0,
     "hundred": 100.0, "thousand": 1000.0, "dozen": 12.0, "half": 0.5, "quarter": 0.25, "once": 1.0,
     "twice": 2.0}  # fmt: skip
_MONTHS = {
    m: float(i % 12 + 1)
    for i, m in enumerate(
        _split_words(
            "january february march april may june july august september october november december "
            "jan feb mar apr may jun jul aug sep oct nov dec"
        )
    )
}
_ENGLISH_WORD = re.compile(r"[a-z]+")


# Words that a translation may write as digits (Japanese 3つ目 for "third", 10年 for "a decade", 2週間 for "a
# fortnight", 1年 for "a year"): read only when the article is in another language than its source.
_TRANSLATED_WORDS = {
    w: float(i + 1)
    for i, w in enumerate(
        _split_words("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth")
    )
} | {"a": 1.0, "an": 1.0, "single": 1.0, "decade": 10.0, "decades": 10.0, "fortnight": 14.0, "century": 100.0}
_FORTNIGHT_WEEKS = 2.0
_DECADES = re.compile(r"\b(\d+|[a-z]+)[\s-]+decades?\b")


def word_quantities(text: str, translation: bool = False) -> list[Quantity]:
    """An English source's number words and month names as numbers: a translation writes "3" for "three" and "12月"
    for "December"; with ``translation``, also ordinals, "a", "decade" ("6 decades" is 60) and "fortnight" (2 weeks)."""
    folded = text.casefold()
    words = set(_ENGLISH_WORD.findall(folded))
    table = _NUMBER_WORDS | _MONTHS | (_TRANSLATED_WORDS if translation else {})
    values = {v for w, v in table.items() if w in words}
    if translation:
        values |= {_FORTNIGHT_WEEKS} if "fortnight" in words else set()
        for m in _DECADES.finditer(folded):
            n = float(m.group(1)) if m.group(1).isdigit() else _NUMBER_WORDS.get(m.group(1))
            if n is not None:
                values.add(n * 10)
    return [Quantity(str(v), frozenset({v}), None, 0.0) for v in sorted(values)]


_LIST_MARKER = re.compile(r"(?m)^\s*\d{1,2}[.)](?=\s)")  # "1." opening a line numbers a list; it states nothing
_HH_MM = re.compile(r"([01]?\d|2[0-3])[.:]([0-5]\d)")


def _clock_grounded(q: Quantity, source: list[Quantity]) -> bool:
    """``17.30`` (a German or French clock time) is grounded when the source has its hour and its minutes."""
    m = _HH_MM.fullmatch(q.text)
    if m is None or q.unit is not None:
        return False
    return all(grounded(Quantity(p, frozenset({float(p)}), None, 0.5), source) for p in m.groups())


def _clock(hour: int, minute: str | None) -> Quantity:
    return Quantity(f"{hour}:{minute or '00'}", frozenset({float(hour), float(minute or 0)}), None, 0.5)


def dotted_clocks(source: list[Quantity]) -> list[Quantity]:
    """A source's ``12.00`` (an English clock time, read as the number 12.0) also grounds the article's ``12:00``:
    its hour and its minutes, when it has no unit or scale (``$12.50`` and ``1.25 million`` are not times)."""
    out = []
    for q in source:
        m = _HH_MM.fullmatch(q.text)
        if m and q.unit is None and float(f"{m.group(1)}.{m.group(2)}") in q.values:
            out.append(_clock(int(m.group(1)), m.group(2)))
    return out


def check_numbers(fields: Fields, ctx: GuardContext) -> list[Finding]:
    from_source = quantities(ctx.source, ctx.source_lang, attached=True)
    source = (
        from_source
        + dotted_clocks(from_source)
        + clock_quantities(ctx.source)
        + (word_quantities(ctx.source, translation=ctx.lang != ctx.source_lang) if ctx.source_lang == "en" else [])
        + quantities(ctx.extra_grounding, "en")
    )
    out = []
    for name, text in fields:
        for q in quantities(_LIST_MARKER.sub(" ", text), ctx.lang):
            if not grounded(q, source) and not _clock_grounded(q, source):
                unit = f" ({q.unit})" if q.unit else ""
                out.append(Finding("ungrounded-number", name, f"{q.text}{unit} is not in the source"))
    return out

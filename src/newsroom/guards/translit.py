"""Cyrillic and Latin names compared by sound: ``Уайтхорс`` ~ ``Whitehorse``, ``Кюрасао`` ~ ``Curaçao``.

Both spellings are written in one phonetic key, then compared by a weighted edit distance.

- A Cyrillic word is romanised letter by letter into the key (the letters of the romanisation systems agree on what
  each Cyrillic letter sounds like: GOST 7.79, BGN/PCGN, scholarly and the Ukrainian national system differ in how
  they spell ``х``, ``ц``, ``ч``, ``ш``, ``щ``, ``ж``, ``й``, ``ю``, ``я``, not in the sound; the key writes the sound
  once: ``x c C S SC Z j ju ja``). Russian ``г`` and Ukrainian ``г`` (a voiced h) both become ``g``; ``дж`` is ``J``;
  soft and hard signs are silent.
- A Latin word is read the way Russian and Ukrainian translators render English (and, for ``j``, Spanish) names:
  ``sh ch tch zh kh th ph gh wh ck qu x tz ts dg dj`` are one sound each, ``c`` before ``e i y`` is ``s`` and ``k``
  elsewhere, ``w`` is ``v`` (or ``у``), a ``y`` before a vowel is a glide, double letters are one, digraph vowels
  (``ee oo ou ea ai ay ei ey au aw ow oa ie ue``) are one sound, and a final silent ``e`` is dropped. Where a
  spelling has two readings (``ch`` in Charles/Chris/Charlotte, ``j`` in Jack/José, ``g`` in George/Gary, ``w`` in
  Warsaw/William, ``ou``, a final ``e``) each reading gives a key.
- The distance charges a full unit for a different consonant, less for what renderings differ in: a vowel for another
  or a vowel dropped or added (0.4), a sound for its voiced or near twin (``b/p d/t g/k/x/h s/z/c C/S/Z/J v/f/u``:
  0.5), a glide ``j`` or an ``h`` dropped or added (0.4). Two names match when the distance is within a quarter of the
  longer key (at least 1), their first consonants are the same or twins, and the key has at least three sounds.

Pure functions, no I/O; keys and distances are cached (names recur).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

VOWELS = frozenset("aeiou")

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "je", "ё": "o", "ж": "Z", "з": "z",
    "и": "i", "і": "i", "ї": "ji", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ц": "c", "ч": "C", "ш": "S", "щ": "SC", "ъ": "", "ы": "i",
    "ь": "", "э": "e", "ю": "ju", "я": "ja",
}  # fmt: skip

# Latin letter groups, longest first, each with its readings (the first is the usual one).
_LATIN: list[tuple[str, tuple[str, ...]]] = [
    ("sch", ("S", "sk")), ("tch", ("C",)), ("shch", ("SC",)),
    ("sh", ("S",)), ("ch", ("C", "k", "S")), ("zh", ("Z",)), ("kh", ("x",)), ("th", ("t",)), ("ph", ("f",)),
    ("gh", ("", "g")), ("wh", ("u", "v")), ("ck", ("k", "ck")), ("qu", ("kv",)), ("tz", ("c",)), ("ts", ("c",)),
    ("sz", ("S", "s")), ("cz", ("C",)), ("rz", ("Z", "rz")),
    ("dg", ("J",)), ("dj", ("J",)), ("ee", ("i",)), ("oo", ("u",)), ("ou", ("u", "au")), ("ea", ("i", "e")),
    ("ai", ("ej", "aj", "e")), ("ay", ("ej", "aj")), ("ei", ("ej", "i")), ("ey", ("ej", "i")), ("au", ("o", "au")),
    ("aw", ("o", "av")), ("ow", ("ou", "o")), ("oa", ("o",)), ("ie", ("i", "e", "je")), ("ue", ("u",)),
    ("x", ("ks",)), ("j", ("J", "j", "x")), ("w", ("v", "u")), ("q", ("k",)), ("y", ("i",)), ("h", ("x", "")),
]  # fmt: skip
_SOFT = frozenset("eiy")
# Central European letters, written as the English digraphs they sound like (Kubiš, Łada, Dvořák); Polish and Czech
# digraphs (sz, cz, rz) and Polish ie are Latin groups above: Mateusz Morawiecki ~ Матеуш Моравецкий.
_CENTRAL = str.maketrans({"č": "ch", "š": "sh", "ž": "zh", "ł": "l", "ř": "rzh", "ć": "ch", "ś": "sh", "ż": "zh"})
# Sounds that renderings of one name trade for each other: voiced and voiceless twins, the h/g/kh family, s/z/ts,
# the hushing sounds, v/f/w(u), and the glide with i.
_TWINS = [set("bp"), set("dt"), set("gkxh"), set("szc"), set("CSZJ"), set("vfu"), set("ji"), set("gJ")]
_NEAR = {(a, b) for group in _TWINS for a in group for b in group if a != b}
MIN_SOUNDS = 3
# a short key may differ in vowels and twins, never by a whole consonant (Ном is not Now)
SHORT_SLACK = 0.9
TRANSPOSE = 0.6
# a source's clipped name (West Brom) grounds the translation's full one (Вест Бромвич): at least this many sounds
MIN_CLIPPED = 4
MAX_KEYS = 32


def _fold(word: str) -> str:
    w = unicodedata.normalize("NFKC", word).casefold().replace("ç", "s")
    # accents off Latin letters (São, Juárez), never off Cyrillic ones (й, ё, ї are letters of their own)
    w = "".join(ch if ch in _CYRILLIC else _strip(ch) for ch in w)
    return re.sub(r"[^a-zа-яёіїєґ]", "", w)


def _strip(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))


def _collapse(key: str) -> str:
    return re.sub(r"(.)\1+", r"\1", key)


@lru_cache(maxsize=1 << 15)
def cyrillic_key(word: str) -> str:
    """The phonetic key of a Cyrillic word: ``Уайтхорс`` → ``uajtxors``."""
    # a soft or hard sign before an iotated vowel is the glide: Ренье (renje), Мар'яна
    w = re.sub(r"[ьъ'’ʼ](?=[еёюяиіїє])", "й", unicodedata.normalize("NFKC", word).casefold())
    w = _fold(w).replace("дж", "\x00")
    return _collapse("".join("J" if ch == "\x00" else _CYRILLIC.get(ch, ch) for ch in w))


# English "magic e": a vowel, one consonant, a silent e (Dales, Blake, White, Stone) says its name: ей, ай, оу
_MAGIC_E = re.compile(r"([aio])([b-df-hj-np-tv-z])e(?=s?$|[b-df-hj-np-tv-z])")
_MAGIC_SOUND = {"a": "ay", "i": "ai", "o": "o"}


@lru_cache(maxsize=1 << 15)
def latin_keys(word: str) -> tuple[str, ...]:
    """The phonetic keys a Latin name may have in Russian or Ukrainian: ``Whitehorse`` → ``uitxors``, ``vitors``, …"""
    w = _fold(word.casefold().translate(_CENTRAL))
    if not w.isascii():
        return ()
    magic = _MAGIC_E.sub(lambda m: _MAGIC_SOUND[m.group(1)] + m.group(2), w)
    if magic != w:
        return tuple(dict.fromkeys(_latin_keys(w) + _latin_keys(magic)))
    return _latin_keys(w)


def _latin_keys(w: str) -> tuple[str, ...]:
    if w.startswith("mc"):
        w = "mak" + w[2:]  # McMurdo, Мак-Мердо
    w = w.replace("dh", "d")  # Tadhg, Dhabi: the h is silent
    if w.startswith("kn"):
        w = w[1:]  # a silent k: Knox
    if len(w) >= 4 and w.endswith("e") and w[-2] not in VOWELS:
        w = w[:-1]  # a final silent e: Whitehorse, Claire
    keys = [""]
    i = 0
    ending = ""
    if len(w) > 5 and w.endswith("ier"):
        w, ending = w[:-3], "\x01"  # French -ier: Rainier, Ренье; Garnier, Гарньє
    while i < len(w):
        for group, readings in _LATIN:
            if w.startswith(group, i):
                if group == "y" and i + 1 < len(w) and w[i + 1] in VOWELS:
                    readings = ("j",)  # a glide before a vowel: Yale, Pyongyang
                if group == "h" and i == len(w) - 1:
                    readings = ("",)  # a final h is silent: Sarah, Utah
                elif group == "h" and i > 0 and w[i - 1] in VOWELS and w[i + 1 : i + 2] not in VOWELS:
                    readings = ("", "x")  # before a consonant, silent (Utah's) or not (Ahmad)
                i += len(group)
                break
        else:
            ch = w[i]
            nxt = w[i + 1 : i + 2]
            if ch == "c":
                readings = ("s", "c") if nxt in _SOFT else ("k", "c")  # c is ц in Slavic names: Podgorica
            elif ch == "g":
                readings = ("g", "J") if nxt in _SOFT else ("g",)
            else:
                readings = (ch,)
            i += 1
        keys = [k + r for k in keys for r in readings][:MAX_KEYS]
    if ending:
        keys = [k + r for k in keys for r in ("ir", "je")][:MAX_KEYS]
    return tuple(dict.fromkeys(_collapse(k) for k in keys))


def joined_keys(first: str, second: str) -> tuple[str, ...]:
    """Keys of two Latin words that a translation writes as one (Cape Town ~ Кейптаун)."""
    return tuple(dict.fromkeys(_collapse(a + b) for a in latin_keys(first) for b in latin_keys(second)))[:MAX_KEYS]


def _sub(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if a in VOWELS and b in VOWELS:
        return 0.4
    return 0.5 if (a, b) in _NEAR else 1.0


def _indel(a: str) -> float:
    return 0.4 if a in VOWELS or a in "jh" else 1.0


@lru_cache(maxsize=1 << 16)
def distance(a: str, b: str) -> float:
    """Weighted edit distance between two keys."""
    prev = [0.0]
    for ch in b:
        prev.append(prev[-1] + _indel(ch))
    before = prev
    for i, ca in enumerate(a):
        cur = [prev[0] + _indel(ca)]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + _indel(ca), cur[j - 1] + _indel(cb), prev[j - 1] + _sub(ca, cb)))
            if i > 0 and j > 1 and ca == b[j - 2] and a[i - 1] == cb and ca != cb:
                cur[j] = min(cur[j], before[j - 2] + TRANSPOSE)  # two letters swapped: a typo (Эскпо ~ Expo)
        before, prev = prev, cur
    return prev[-1]


def _consonants(key: str) -> str:
    return "".join(ch for ch in key if ch not in VOWELS and ch not in "jh")


def _sounds(key: str) -> int:
    return len(key)


@lru_cache(maxsize=1 << 16)
def keys_match(cyr: str, lat: str) -> bool:
    """Two keys are renderings of one name."""
    if min(_sounds(cyr), _sounds(lat)) < MIN_SOUNDS:
        return False
    ca, cb = _consonants(cyr), _consonants(lat)
    fa, fb = ca[:1], cb[:1]
    if fa != fb and (fa, fb) not in _NEAR and set(ca[:2]) != set(cb[:2]):  # the first two swapped: Эскпо ~ Expo
        return False
    return distance(cyr, lat) <= max(SHORT_SLACK, 0.25 * max(len(cyr), len(lat)) - 0.1)


@lru_cache(maxsize=1 << 16)
def opens_with(cyr: str, lat: str) -> bool:
    """The source clips a name that the translation gives in full (West Brom ~ Вест Бромвич): the Latin key, of at
    least ``MIN_CLIPPED`` sounds, opens the Cyrillic one, give or take a vowel."""
    return len(lat) >= MIN_CLIPPED and len(cyr) >= len(lat) + 2 and distance(cyr[: len(lat)], lat) <= 0.4


def sounds_alike(cyrillic: str, latin: str) -> bool:
    """A Cyrillic word is a rendering of a Latin one: ``Кюрасао`` ~ ``Curaçao``, ``Уайтхорс`` ~ ``Whitehorse``."""
    ck = cyrillic_key(cyrillic)
    return any(keys_match(ck, lk) for lk in latin_keys(latin))

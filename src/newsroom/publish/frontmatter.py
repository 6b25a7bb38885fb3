"""The YAML frontmatter of an article file, in exactly the seed's shape and style.

The seed (``../shared/seed/000_b284967437b5278f.md``) was written by js-yaml 3.x with line folding off. Sites that
already read such files expect that shape, so this module reproduces it byte for byte instead of relying on a general
YAML library's defaults: a small dedicated emitter is shorter and more predictable than bending PyYAML's emitter
(PyYAML folds long lines, escapes non-ASCII unless told otherwise and picks quotes by its own rules).

Scalar style, as js-yaml 3 chooses it:

* **plain** when that is safe and unambiguous: the first character is no YAML indicator, the last is no space, no
  ``, : # [ ] { }`` anywhere, every character printable, and the string would not resolve to another type
  (numbers such as ``'55880200'``, booleans, null, timestamps, ``<<``) under YAML 1.1 or 1.2;
* **single-quoted** otherwise (``'`` doubled inside);
* **double-quoted** with escapes only when a string holds a line break or a non-printable character. (js-yaml 3
  would pick a literal block there; a quoted scalar keeps every value on one line and round-trips exactly.)

Unicode is kept as is; lines are never wrapped. Everything here is pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import yaml.nodes
import yaml.resolver

from ..models import COVER_SIZES, ArticleDoc

__all__ = ["SEED_KEYS", "dump_frontmatter", "frontmatter_data", "iso_ms"]

# The seed's top-level keys, in the seed's order. Additive keys (slug, sourceUrl, translationKey) only follow these.
SEED_KEYS = (
    "title",
    "description",
    "publishedAt",
    "updatedAt",
    "lang",
    "externalId",
    "source",
    "category",
    "tags",
    "stickyWeight",
    "sentiment",
    "score",
    "draft",
    "coverImage",
    "ai",
)

INDENT = "  "


def iso_ms(dt: datetime) -> str:
    """``2025-12-16T15:34:37.000Z``: UTC, milliseconds, as JavaScript's ``Date.toISOString`` writes it.

    A naive datetime is refused: guessing its zone would silently shift every timestamp on the site.
    """
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt.isoformat()!r}: give a timezone-aware datetime (UTC)")
    u = dt.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def frontmatter_data(doc: ArticleDoc) -> dict[str, Any]:
    """The ordered frontmatter mapping of one article: the seed's keys in the seed's order, then the additive ones.

    Optional parts appear only when they carry a value: ``coverImage.credit``, ``ai.model``, and the additive
    top-level keys ``slug``, ``sourceUrl``, ``translationKey`` (the slug, which all languages of a story share)
    and ``sources`` (the story's other sources: a list of name and url); empty means absent, so a file of the
    seed's exact shape can still be produced. The keys are described by
    :class:`newsroom.publish.schema.Frontmatter`.
    """
    cover: dict[str, Any] = {size: getattr(doc.cover_image, size) for size in COVER_SIZES}
    if doc.cover_image.credit:
        cover["credit"] = dict(doc.cover_image.credit)
    ai: dict[str, Any] = {"translatedFrom": doc.translated_from, "version": doc.version}
    if doc.model:
        ai["model"] = doc.model
    data: dict[str, Any] = {
        "title": doc.title,
        "description": doc.description,
        "publishedAt": iso_ms(doc.published_at),
        "updatedAt": iso_ms(doc.updated_at),
        "lang": doc.lang,
        "externalId": doc.external_id,
        "source": {"name": doc.source.name, "key": doc.source.key, "type": doc.source.type},
        "category": doc.category,
        "tags": list(doc.tags),
        "stickyWeight": doc.sticky_weight,
        "sentiment": str(doc.sentiment.value if isinstance(doc.sentiment, Enum) else doc.sentiment),
        "score": doc.score,
        "draft": doc.draft,
        "coverImage": cover,
        "ai": ai,
    }
    if doc.slug:
        data["slug"] = doc.slug
    if doc.source_url:
        data["sourceUrl"] = doc.source_url
    if doc.slug:
        data["translationKey"] = doc.slug  # the same in every language of the story (Hugo links translations by it)
    if doc.sources:
        data["sources"] = [{"name": x.name, "url": x.url} for x in doc.sources]
    return data


def dump_frontmatter(data: Mapping[str, Any]) -> str:
    """The YAML text of a frontmatter mapping (without the ``---`` fences), ending with one newline.

    Values may be str, int, float, bool, None, datetime (written with :func:`iso_ms`), date, a mapping or a sequence
    of those. Anything else is refused with a TypeError rather than written in a shape no reader expects.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"frontmatter must be a mapping, not {type(data).__name__}")
    if not data:
        return "{}\n"
    return "".join(line + "\n" for line in _mapping_lines(data, 0))


# ---- the emitter -------------------------------------------------------------------------------------------------


def _is_collection(value: Any) -> bool:
    return isinstance(value, Mapping) or (isinstance(value, Sequence) and not isinstance(value, str | bytes))


def _mapping_lines(data: Mapping[str, Any], level: int) -> list[str]:
    pad = INDENT * level
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"frontmatter keys must be strings, not {type(key).__name__} ({key!r})")
        head = f"{pad}{scalar(key)}:"
        if _is_collection(value) and value:
            lines.append(head)
            lines.extend(_collection_lines(value, level + 1))
        else:
            lines.append(f"{head} {_inline(value)}")
    return lines


def _sequence_lines(items: Sequence[Any], level: int) -> list[str]:
    pad = INDENT * level
    lines: list[str] = []
    for item in items:
        if _is_collection(item) and item:
            # js-yaml's compact form: the first line of a nested collection shares the "- " line.
            sub = _collection_lines(item, level + 1)
            lines.append(f"{pad}- {sub[0].lstrip(' ')}")
            lines.extend(sub[1:])
        else:
            lines.append(f"{pad}- {_inline(item)}")
    return lines


def _collection_lines(value: Any, level: int) -> list[str]:
    return _mapping_lines(value, level) if isinstance(value, Mapping) else _sequence_lines(value, level)


def _inline(value: Any) -> str:
    """A value that fits on its key's line: a scalar or an empty collection."""
    if isinstance(value, Mapping):
        return "{}"
    if _is_collection(value):
        return "[]"
    return scalar(value)


def scalar(value: Any) -> str:
    """One scalar in js-yaml 3's style (see the module docstring)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, datetime):
        return _string(iso_ms(value))
    if isinstance(value, date):
        return _string(value.isoformat())
    if isinstance(value, Enum):
        return scalar(value.value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write a {type(value).__name__} into frontmatter ({value!r}); convert it to a str first")


# ---- strings -----------------------------------------------------------------------------------------------------

# Characters that may not start a plain scalar: whitespace and YAML's c-indicators.
_NOT_FIRST = frozenset(" \t-?:,[]{}#&*!|>'\"%@`")
# Characters that may not appear anywhere in a plain scalar (js-yaml 3: flow indicators, ':' and '#').
_NOT_INSIDE_RE = re.compile(r"[,\[\]{}:#]")
# Any character outside js-yaml's printable set (see _printable), found in one regex pass instead of per character.
_NON_PRINTABLE_RE = re.compile("[^\x20-\x7e\xa1-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")

_ESCAPES = {
    0x00: "\\0",
    0x07: "\\a",
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0B: "\\v",
    0x0C: "\\f",
    0x0D: "\\r",
    0x1B: "\\e",
    0x22: '\\"',
    0x5C: "\\\\",
    0x85: "\\N",
    0xA0: "\\_",
    0x2028: "\\L",
    0x2029: "\\P",
}

# Strings that some YAML reader (1.1 like PyYAML and js-yaml 3, or 1.2 core) would read as another type.
_AMBIGUOUS = re.compile(
    r"""
    ~ | null | Null | NULL
    | true | True | TRUE | false | False | FALSE
    | y | Y | yes | Yes | YES | n | N | no | No | NO | on | On | ON | off | Off | OFF
    | [-+]? [0-9] [0-9_]*                                   # decimal int (1.2 allows leading zeros)
    | [-+]? 0b [0-1_]+ | [-+]? 0o [0-7_]+ | [-+]? 0x [0-9a-fA-F_]+
    | [-+]? [0-9] [0-9_]* (?: : [0-5]? [0-9])+ (?: \. [0-9_]*)?   # sexagesimal
    | [-+]? (?: [0-9] [0-9_]*)? \. [0-9_]* (?: [eE] [-+]? [0-9]+)?
    | [-+]? [0-9] [0-9_]* [eE] [-+]? [0-9]+
    | [-+]? \. (?: inf | Inf | INF ) | \. (?: nan | NaN | NAN )
    | [0-9]{4} - [0-9]{1,2} - [0-9]{1,2} (?: (?: [Tt] | [ \t]+ ) .* )?   # timestamps
    | << | =
    """,
    re.VERBOSE,
)
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _printable(code: int) -> bool:
    """js-yaml's printable set (which leaves out tab, NEL, NBSP, the line/paragraph separators and the BOM)."""
    return (
        0x20 <= code <= 0x7E
        or (0xA1 <= code <= 0xD7FF and code not in (0x2028, 0x2029))
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    )


def _ambiguous(s: str) -> bool:
    if _AMBIGUOUS.fullmatch(s):
        return True
    # The reader the tests use must agree: whatever PyYAML would resolve as non-str is quoted too.
    return _RESOLVER.resolve(yaml.nodes.ScalarNode, s, (True, False)) != _STR_TAG


def _string(s: str) -> str:
    if not s:
        return "''"
    if _NON_PRINTABLE_RE.search(s):
        return '"' + "".join(_escape(c) for c in s) + '"'
    plain = s[0] not in _NOT_FIRST and s[-1] not in " \t" and not _NOT_INSIDE_RE.search(s)
    if plain and not _ambiguous(s):
        return s
    return "'" + s.replace("'", "''") + "'"


def _escape(c: str) -> str:
    code = ord(c)
    if code in _ESCAPES:
        return _ESCAPES[code]
    if _printable(code):
        return c
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"

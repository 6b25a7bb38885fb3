"""JSON schemas a model can be held to, their llama.cpp grammars, and a tolerant reader for model replies.

Why this module exists: a pydantic schema is a *validation* contract; what a model endpoint (or a llama.cpp grammar)
needs is a *generation* contract: everything inline, no extra keys, and every string and array bounded. Unbounded
schemas let a small model loop until ``max_tokens``; a string ``maxLength`` of 1,500 or more makes llama.cpp reject
the grammar and segfault (DESIGN §4), so strings are capped here, never later.

Pure functions except ``grammar_for``, which borrows llama-cpp-python's own JSON-schema converter (imported lazily so
users of the ``openai`` provider never load llama.cpp).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

# llama.cpp rejects (and crashes on) string repetitions of 1,500 or more; DESIGN §4 says bound at <= 1,000.
HARD_MAX_STRING_CHARS = 1000
DEFAULT_MAX_ITEMS = 16

# Keys that only describe a schema; they cost prompt tokens and some endpoints (OpenAI strict mode) refuse "default".
_NOISE_KEYS = ("title", "default", "examples")


class SchemaError(ValueError):
    """A pydantic model that cannot become a bounded generation schema (e.g. a recursive model)."""


class ReplyError(ValueError):
    """A model reply that is not a valid instance of the requested schema.

    ``reason`` is one short human sentence, meant to be sent back to the model in a repair prompt.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---- schema ----------------------------------------------------------------------------------------------------------


def json_schema_for(
    model: type[BaseModel],
    *,
    max_string_chars: int = HARD_MAX_STRING_CHARS,
    overrides: dict[str, Any] | None = None,
    default_max_items: int = DEFAULT_MAX_ITEMS,
) -> dict[str, Any]:
    """The generation schema for ``model``: refs inlined, closed objects, bounded strings and arrays.

    - every ``$ref`` is inlined and ``$defs`` dropped (grammar converters and some endpoints handle refs poorly);
    - every object gets ``additionalProperties: false`` and lists all its properties as required (OpenAI strict mode
      demands both; a field with a default is still a field we want the model to fill);
    - every string without an enum gets ``maxLength = min(its own, max_string_chars)`` (and at most 1,000);
    - every array gets a ``maxItems`` (its own, else ``default_max_items``);
    - ``overrides`` are deep-merged into the inlined schema before the bounds are applied, so an override can
      narrow (``{"properties": {"category": {"enum": [...]}}}``) but never unbound a field.
    """
    if max_string_chars < 1:
        raise ValueError("max_string_chars must be at least 1")
    cap = min(max_string_chars, HARD_MAX_STRING_CHARS)
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    schema = _inline(raw, defs, ())
    if overrides:
        schema = deep_merge(schema, overrides)
    return _bound(schema, cap, max(1, default_max_items))


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` merged in: dicts merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(n, defs, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/$defs/") or name not in defs:
            raise SchemaError(f"unsupported reference {ref!r} in the schema")
        if name in seen:
            raise SchemaError(f"recursive model {name!r}: a generation schema must be finite")
        target = _inline(defs[name], defs, (*seen, name))
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_inline(rest, defs, seen)}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _inline(sub, defs, seen) for name, sub in value.items()}
        else:
            out[key] = _inline(value, defs, seen)
    # pydantic wraps a described $ref as allOf: [{$ref}]; a one-element allOf is just its element
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
        del out["allOf"]
        out = {**all_of[0], **out}
    return out


def _bound(node: Any, cap: int, max_items: int) -> Any:
    if isinstance(node, list):
        return [_bound(n, cap, max_items) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NOISE_KEYS and not isinstance(value, dict):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _bound(sub, cap, max_items) for name, sub in value.items()}
        else:
            out[key] = _bound(value, cap, max_items)
    types = out.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types or "properties" in out:
        out.setdefault("properties", {})
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    if "string" in types and "enum" not in out and "const" not in out:
        own = out.get("maxLength")
        out["maxLength"] = min(own, cap) if isinstance(own, int) and own >= 0 else cap
        if isinstance(out.get("minLength"), int):
            out["minLength"] = min(out["minLength"], out["maxLength"])
    if "array" in types or "items" in out:
        own = out.get("maxItems")
        out["maxItems"] = own if isinstance(own, int) and own >= 0 else max_items
        if isinstance(out.get("minItems"), int):
            out["minItems"] = min(out["minItems"], out["maxItems"])
    return out


# ---- grammar ---------------------------------------------------------------------------------------------------------

# llama-cpp-python's string character rule accepts any byte but '"' and '\', so a raw newline or NUL can be
# generated inside a string and json.loads then refuses the reply. JSON forbids U+0000-U+001F unescaped.
_CHAR_RULE_UNSAFE = '[^"\\\\]'
_CHAR_RULE_SAFE = '[^"\\\\\\x00-\\x1F]'
_DOT_RULE_UNSAFE = "[^\\x0A\\x0D]"
_DOT_RULE_SAFE = '[^"\\\\\\x00-\\x1F]'
_RULE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9-]+) ::= (?P<body>.*)$")


def grammar_for(schema: dict[str, Any]) -> str:
    """GBNF for ``schema`` from llama.cpp's own converter, patched so strings can never hold raw control characters.

    Raises ``SchemaError`` if the converter's output no longer has the shape the patch expects (a newer
    llama-cpp-python): an unpatched grammar would silently produce replies that fail to parse.
    """
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    text = json_schema_to_gbnf(json.dumps(_small_int_ranges_as_enums(schema)))
    lines = text.splitlines()
    patched_char = False
    for i, line in enumerate(lines):
        m = _RULE_LINE.match(line)
        if not m:
            continue
        name, body = m["name"], m["body"]
        if name == "char":
            if not body.startswith(_CHAR_RULE_UNSAFE + " "):
                raise SchemaError(f"unexpected llama.cpp char rule {body!r}; cannot forbid control characters")
            lines[i] = f"char ::= {_CHAR_RULE_SAFE}{body[len(_CHAR_RULE_UNSAFE) :]}"
            patched_char = True
        elif name == "dot":
            lines[i] = f"dot ::= {body.replace(_DOT_RULE_UNSAFE, _DOT_RULE_SAFE)}"
    if not patched_char and _uses_strings(schema):
        raise SchemaError("llama.cpp's grammar has no char rule to patch; cannot forbid control characters")
    return "\n".join(lines) + "\n"


_MAX_INT_ENUM = 1000


def _small_int_ranges_as_enums(node: Any) -> Any:
    """llama-cpp-python's converter ignores integer minimum/maximum; a small closed range becomes an enum instead,
    so ``importance: 0..100`` can never come out as 999 and cost a repair call."""
    if isinstance(node, list):
        return [_small_int_ranges_as_enums(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: (_small_int_ranges_as_enums(v) if k != "enum" else v) for k, v in node.items()}
    if out.get("type") == "integer" and "enum" not in out:
        lo, hi = out.get("minimum"), out.get("maximum")
        if isinstance(out.get("exclusiveMinimum"), int | float):
            lo = math.floor(out["exclusiveMinimum"]) + 1
        if isinstance(out.get("exclusiveMaximum"), int | float):
            hi = math.ceil(out["exclusiveMaximum"]) - 1
        if isinstance(lo, int | float) and isinstance(hi, int | float) and math.isfinite(lo) and math.isfinite(hi):
            lo_i, hi_i = math.ceil(lo), math.floor(hi)
            if 0 <= hi_i - lo_i < _MAX_INT_ENUM:
                out["enum"] = list(range(lo_i, hi_i + 1))
    return out


# ---- budget ----------------------------------------------------------------------------------------------------------

_MIN_FIT_CHARS = 8


def worst_case_chars(schema: dict[str, Any]) -> int:
    """The longest JSON text (in characters, escapes counted once) an instance of ``schema`` can take.

    Used to fit a schema into a token budget: a grammar-constrained model that rambles to every maxLength must still
    close the object before ``max_tokens``.
    """
    return _chars(schema, None)


def fit_to_budget(schema: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """A copy of ``schema`` whose worst case fits ``max_chars``: the longest string caps are lowered first
    ("water-filling"), down to each field's minLength (never below 8 characters). Item counts are kept: they are
    the contract (3–6 bullets), the lengths are not. Returns the schema unchanged when it already fits."""
    if worst_case_chars(schema) <= max_chars:
        return schema
    caps = sorted({c for c in _string_caps(schema) if c > _MIN_FIT_CHARS})
    lo, hi = _MIN_FIT_CHARS, max(caps, default=_MIN_FIT_CHARS)
    best = lo
    while lo <= hi:  # the largest level whose worst case fits
        mid = (lo + hi) // 2
        if _chars(schema, mid) <= max_chars:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return _apply_level(schema, best)


def min_completion_chars(schema: dict[str, Any]) -> int:
    """The shortest JSON text an instance of ``schema`` can take: every key, the smallest values, no spaces.

    The local provider keeps that many tokens (and a margin) in reserve to close the object in time."""
    return _min_chars(schema)


def _min_chars(node: Any) -> int:
    if not isinstance(node, dict):
        return 4
    if "enum" in node:
        return min((len(json.dumps(v, ensure_ascii=False)) for v in node["enum"]), default=4)
    if "const" in node:
        return len(json.dumps(node["const"], ensure_ascii=False))
    if "anyOf" in node or "oneOf" in node:
        return min((_min_chars(n) for n in node.get("anyOf") or node.get("oneOf") or []), default=4)
    kind = node.get("type")
    if kind == "string":
        return int(node.get("minLength", 0)) + 2
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return 2 + sum(len(json.dumps(name)) + 2 + _min_chars(sub) for name, sub in props.items())
    if kind == "array" or "items" in node:
        return 2 + int(node.get("minItems", 0)) * (_min_chars(node.get("items", {})) + 1)
    return 1 if kind in ("integer", "number") else 4


def _chars(node: Any, level: int | None) -> int:
    if not isinstance(node, dict):
        return 0
    if "enum" in node:
        return max((len(json.dumps(v, ensure_ascii=False)) for v in node["enum"]), default=4)
    if "const" in node:
        return len(json.dumps(node["const"], ensure_ascii=False))
    if "anyOf" in node or "oneOf" in node:
        return max((_chars(n, level) for n in node.get("anyOf") or node.get("oneOf") or []), default=4)
    kind = node.get("type")
    if kind == "string":
        cap = int(node.get("maxLength", HARD_MAX_STRING_CHARS))
        if level is not None:
            cap = max(min(cap, level), int(node.get("minLength", 0)))
        return cap + 3  # quotes and a separating space
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return 2 + sum(len(name) + 5 + _chars(sub, level) for name, sub in props.items())
    if kind == "array" or "items" in node:
        n = int(node.get("maxItems", DEFAULT_MAX_ITEMS))
        return 2 + n * (_chars(node.get("items", {}), level) + 2)
    if kind in ("integer", "number"):
        return 18
    return 6  # boolean, null


def _string_caps(node: Any) -> list[int]:
    if isinstance(node, list):
        return [c for n in node for c in _string_caps(n)]
    if not isinstance(node, dict):
        return []
    own = [int(node["maxLength"])] if node.get("type") == "string" and "maxLength" in node else []
    return own + [c for v in node.values() for c in _string_caps(v)]


def _apply_level(node: Any, level: int) -> Any:
    if isinstance(node, list):
        return [_apply_level(n, level) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: (_apply_level(v, level) if k not in ("enum", "const") else v) for k, v in node.items()}
    if out.get("type") == "string" and "maxLength" in out:
        out["maxLength"] = max(min(out["maxLength"], level), int(out.get("minLength", 0)))
    return out


def _uses_strings(node: Any) -> bool:
    if isinstance(node, list):
        return any(_uses_strings(n) for n in node)
    if not isinstance(node, dict):
        return False
    if node.get("type") == "string" and "enum" not in node and "const" not in node:
        return True
    return any(_uses_strings(v) for v in node.values())


# ---- replies ---------------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?")
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_CANDIDATES = 32


def parse_reply(text: str, model: type[T]) -> T:
    """Read a model's reply as an instance of ``model``.

    Tolerant of form: code fences, prose before or after, raw newlines or tabs inside strings. Strict on content:
    the first JSON object that parses must validate against ``model``. Raises ``ReplyError`` with a short reason.
    """
    if not isinstance(text, str) or not text.strip():
        raise ReplyError("the reply was empty; answer with one JSON object")
    cleaned = _FENCE.sub("", text)
    data: Any = None
    first_problem: str | None = None
    stripped = cleaned.strip()
    candidates = _object_candidates(cleaned)
    if stripped.startswith("{") and stripped.endswith("}"):  # the usual case: skip the character scan
        candidates = itertools.chain([stripped], candidates)
    for obj_text in candidates:
        try:
            data = json.loads(obj_text, strict=False)
        except json.JSONDecodeError as exc:
            first_problem = first_problem or f"the reply is not valid JSON ({exc.msg} at character {exc.pos})"
            continue
        break
    else:
        if first_problem:
            raise ReplyError(first_problem)
        if "{" in cleaned:
            raise ReplyError("the JSON object is never closed (the reply was cut off: keep every field shorter)")
        raise ReplyError("the reply holds no JSON object; answer with one JSON object only")
    bad = _find_control_char(data, "")
    if bad is not None:
        raise ReplyError(f"field {bad or '(top level)'} contains a raw control character; remove it")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ReplyError(_validation_reason(exc)) from None


def _object_candidates(text: str):  # type: ignore[no-untyped-def]
    """Yield balanced ``{...}`` spans in order of their opening brace (strings and escapes respected)."""
    start = text.find("{")
    tried = 0
    while start != -1 and tried < _MAX_CANDIDATES:
        end = _balanced_end(text, start)
        if end is not None:
            tried += 1
            yield text[start : end + 1]
        start = text.find("{", start + 1)


def _balanced_end(text: str, start: int) -> int | None:
    depth = 0
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i if ch == "}" else None
            if depth < 0:
                return None
    return None


def _find_control_char(node: Any, path: str) -> str | None:
    if isinstance(node, str):
        return path if _BAD_CONTROL.search(node) else None
    if isinstance(node, dict):
        for key, value in node.items():
            found = _find_control_char(value, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _find_control_char(value, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


def _validation_reason(exc: ValidationError, limit: int = 4) -> str:
    parts = []
    errors = exc.errors(include_url=False)
    for err in errors[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "the JSON does not match the schema: " + "; ".join(parts) + more

"""Opaque keyset cursors: base64url JSON of the last row's sort key. Tampered or foreign cursors are refused."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

__all__ = ["CursorError", "decode_cursor", "encode_cursor"]


class CursorError(ValueError):
    pass


def encode_cursor(kind: str, key: list[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(kind: str, cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The sort key in ``cursor``, checked against ``kind`` and the element ``types``; CursorError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("the cursor is not one this API gave out") from exc
    if not isinstance(data, list) or len(data) != len(types) + 1 or data[0] != kind:
        raise CursorError("the cursor is not one this API gave out")
    key = data[1:]
    for value, t in zip(key, types, strict=True):
        if not isinstance(value, t) or isinstance(value, bool):
            raise CursorError("the cursor is not one this API gave out")
    return key

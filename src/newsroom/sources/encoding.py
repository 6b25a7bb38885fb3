"""Character encodings of fetched documents: verified against the bytes, repaired where the declaration lies.

A feed declares its encoding (XML declaration, HTTP charset) and is sometimes wrong: a windows-1251 feed declared
UTF-8, or a UTF-8 feed declared windows-1251. Trusting it stores mojibake with status "ok". The rules:

1. a byte-order mark decides;
2. bytes that are valid UTF-8 and not plain ASCII are UTF-8, whatever the declaration says (text in another
   encoding is almost never valid UTF-8 by chance);
3. bytes that are not valid UTF-8 but declared UTF-8 (or undeclared) are sniffed (charset-normalizer);
4. otherwise the declared encoding is used, and sniffed when it does not decode.

The result is UTF-8 bytes whose XML declaration says so, plus a note when the declaration was overruled.
"""

from __future__ import annotations

import codecs
import re

_XML_DECL = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])([A-Za-z0-9._:-]+)\2", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _sniff(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return _codec(best.encoding) if best is not None else None


def declared_encoding(data: bytes) -> str | None:
    m = _XML_DECL.match(data[:512])
    return m.group(3).decode("ascii") if m else None


def decode_document(data: bytes, http_charset: str | None = None) -> tuple[str, str | None]:
    """(the text, a note when the declared encoding was wrong or unknown). Never raises."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace"), None
    declared_name = declared_encoding(data) or http_charset
    declared = _codec(declared_name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        if declared not in (None, "utf-8") and not text.isascii():
            return text, f"declared {declared_name} but the bytes are UTF-8; read as UTF-8"
        return text, None
    if declared in (None, "utf-8"):
        sniffed = _sniff(data) or "windows-1252"
        what = f"declared {declared_name}" if declared_name else "no declared encoding"
        return data.decode(sniffed, errors="replace"), f"{what} but the bytes are not UTF-8; read as {sniffed}"
    try:
        return data.decode(declared), None
    except UnicodeDecodeError:
        sniffed = _sniff(data) or declared
        return data.decode(sniffed, errors="replace"), f"the bytes are not {declared_name}; read as {sniffed}"


def to_utf8_xml(data: bytes, http_charset: str | None = None) -> tuple[bytes, str | None]:
    """``data`` as UTF-8 bytes with an XML declaration that says so, and the note of :func:`decode_document`."""
    text, note = decode_document(data, http_charset)
    out = text.encode("utf-8", errors="replace")
    out = _XML_DECL.sub(lambda m: m.group(1) + m.group(2) + b"utf-8" + m.group(2), out, count=1)
    return out, note

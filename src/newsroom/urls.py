"""Canonical URLs: one spelling per article, so the same link from two feeds (or two polls) is recognised as one.

Pure string work, no I/O. The rules are deliberately conservative: only what never changes which page a server
returns is normalised (scheme/host case, default ports, fragments, tracking parameters). Other query parameters keep
their order and their exact encoding, because some sites route on them.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Parameters that only tell the publisher where a click came from. Matched case-insensitively.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "vero_conv",
        "vero_id",
        "wickedid",
        "ncid",
        "sr_share",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "cmpid",
        "_ga",
        "_gl",
        "spm",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
DEFAULT_PORTS = {"http": "80", "https": "443"}

_CDATA_OPEN = "<![CDATA["
_CDATA_CLOSE = "]]>"


def _strip_wrappers(url: str) -> str:
    """Remove surrounding whitespace, CDATA markers and angle brackets left over by sloppy feeds."""
    prev = None
    while prev != url:
        prev = url
        url = url.strip()
        if url.startswith(_CDATA_OPEN):
            url = url[len(_CDATA_OPEN) :]
        if url.endswith(_CDATA_CLOSE):
            url = url[: -len(_CDATA_CLOSE)]
        if url.startswith("<") and url.endswith(">"):
            url = url[1:-1]
    return url


def is_tracking_param(name: str) -> bool:
    key = name.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _clean_query(query: str) -> str:
    kept = []
    for part in query.split("&"):
        if not part:
            continue
        name = unquote_plus(part.split("=", 1)[0])
        if not is_tracking_param(name):
            kept.append(part)
    return "&".join(kept)


_PORT_RE = re.compile(r"^(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>[^:]*))?$")


def _clean_netloc(scheme: str, netloc: str) -> str:
    userinfo, sep, hostport = netloc.rpartition("@")
    m = _PORT_RE.match(hostport)
    if not m:  # something odd (several colons outside brackets): only lowercase it
        return f"{userinfo}{sep}{hostport.lower()}"
    host = m.group("host").lower().rstrip(".")
    port = m.group("port")
    if port is not None and (port == "" or port.lstrip("0") == DEFAULT_PORTS.get(scheme, "-").lstrip("0")):
        port = None
    return f"{userinfo}{sep}{host}" + (f":{port}" if port is not None else "")


def canonical_url(url: str) -> str:
    """The canonical spelling of ``url``. Never raises: input that is not a parsable URL comes back stripped.

    Idempotent: ``canonical_url(canonical_url(x)) == canonical_url(x)``.
    """
    url = _strip_wrappers(url)
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        # Not a web link we understand (mailto:, tag:, relative path): only drop the fragment (and whatever
        # whitespace that leaves at the end, as in "0\x85#", so a second call changes nothing).
        return (
            _strip_wrappers(urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")))
            if "#" in url
            else url
        )
    netloc = _clean_netloc(scheme, parts.netloc)
    path = parts.path or "/"
    query = _clean_query(parts.query)
    out = urlunsplit((scheme, netloc, path, query, ""))
    # urlunsplit can produce a string that splits differently (e.g. odd netlocs); keep the result only if stable.
    try:
        again = urlsplit(out)
    except ValueError:
        return out
    if (again.netloc, again.path, again.query) != (netloc, path, query):
        return url
    return out

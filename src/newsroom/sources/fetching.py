"""What every fetch of an untrusted URL shares (feeds, article pages): the redirect policy and the byte cap."""

from __future__ import annotations

import httpx

MAX_REDIRECTS = 5  # followed by hand, each hop checked by netguard
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class TooLarge(Exception):
    """The body is (or says it is) larger than the cap; the message says which."""


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body of a streamed response, refused past ``max_bytes`` (declared or sent)."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"declares {int(declared)} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():  # decoded: the cap also stops compression bombs
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(f"sent more than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

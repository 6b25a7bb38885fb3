"""Who may write: one admin token (``web.admin_token`` or ``NEWSROOM_ADMIN_TOKEN``).

* The JSON API takes it as ``Authorization: Bearer <token>``.
* The UI signs in with it once and then carries a signed, expiring session cookie (HttpOnly, SameSite=Strict,
  Secure unless configured off). The cookie is ``nonce.expiry.signature`` with an HMAC key derived from the token,
  so changing the token signs every session out; signing out records the nonce in the store until the expiry
  (``deps.sign_out``), so a copy of the cookie is refused too.
* Every UI form carries a CSRF token bound to the session (HMAC of the session nonce); htmx sends it as a header.

Without a configured token nothing can be written and the UI stays closed. Tokens are compared in constant time and
never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from ..config import Settings

__all__ = ["ADMIN_TOKEN_ENV", "COOKIE_NAME", "CSRF_FIELD", "CSRF_HEADER", "Auth", "admin_token"]

ADMIN_TOKEN_ENV = "NEWSROOM_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret
COOKIE_NAME = "newsroom_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MIN_TOKEN_CHARS = 16


def admin_token(settings: Settings) -> str | None:
    """The configured token: the config's, else the environment's; None when neither is set."""
    token = settings.web.admin_token or os.environ.get(ADMIN_TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the admin token must have at least {MIN_TOKEN_CHARS} characters")
    return token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Session:
    nonce: str
    expires: int


class Auth:
    def __init__(self, token: str | None, *, session_seconds: float, cookie_secure: bool) -> None:
        self._token = token.encode("utf-8") if token else None
        self._key = hmac.new(b"newsroom-web-session", self._token, hashlib.sha256).digest() if self._token else None
        self.session_seconds = int(session_seconds)
        self.cookie_secure = cookie_secure

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def check_token(self, given: str | None) -> bool:
        if self._token is None or not given:
            return False
        return hmac.compare_digest(given.strip().encode("utf-8", "replace"), self._token)

    def check_bearer(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.check_token(value)

    def _sign(self, payload: str) -> str:
        assert self._key is not None
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def new_session(self) -> str:
        """A fresh session cookie value (only after a correct token)."""
        payload = f"{secrets.token_urlsafe(18)}.{int(time.time()) + self.session_seconds}"
        return f"{payload}.{self._sign(payload)}"

    def session(self, cookie: str | None) -> Session | None:
        """The session a cookie proves, or None (missing, forged, expired, or signed with an older token)."""
        if self._key is None or not cookie or len(cookie) > 200:
            return None
        try:
            nonce, expires, sig = cookie.split(".")
            exp = int(expires)
            expected = self._sign(f"{nonce}.{expires}")
        except (ValueError, UnicodeEncodeError):
            return None
        if not hmac.compare_digest(sig.encode("ascii", "replace"), expected.encode("ascii")) or exp < time.time():
            return None
        return Session(nonce, exp)

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf.{session.nonce}")

    def check_csrf(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(
            str(given).encode("utf-8", "replace"), self.csrf_token(session).encode("ascii")
        )

"""The web app's shared state and the FastAPI dependencies that check access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete

from ..config import Settings
from ..editorial import Editor
from ..store.db import Store
from ..store.tables import RevokedSessionRow
from .auth import COOKIE_NAME, Auth, Session
from .errors import ApiError

BEARER = {"WWW-Authenticate": 'Bearer realm="newsroom"'}


@dataclass
class WebContext:
    settings: Settings
    store: Store
    auth: Auth
    editor: Editor


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def current_session(request: Request) -> Session | None:
    """The UI session the request's cookie proves, unless it was signed out."""
    c = ctx(request)
    session = c.auth.session(request.cookies.get(COOKIE_NAME))
    if session is None:
        return None
    with c.store.session() as db:
        revoked = db.get(RevokedSessionRow, session.nonce) is not None
    return None if revoked else session


def sign_out(c: WebContext, session: Session) -> None:
    """Refuse ``session`` from now on, copies of its cookie included; forget sessions that expired anyway."""
    now = datetime.now(UTC)
    with c.store.session() as db:
        db.execute(delete(RevokedSessionRow).where(RevokedSessionRow.expires_at < now))
        if db.get(RevokedSessionRow, session.nonce) is None:
            db.add(RevokedSessionRow(nonce=session.nonce, expires_at=datetime.fromtimestamp(session.expires, tz=UTC)))


def is_admin(request: Request) -> bool:
    """A valid bearer token, or a valid UI session cookie (reads only: writes through the cookie need CSRF)."""
    c = ctx(request)
    return c.auth.check_bearer(request.headers.get("authorization")) or current_session(request) is not None


# Declared for OpenAPI (securitySchemes, and per operation which one it takes); the checks below read the request.
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearerAuth", description="the admin token")
cookie_scheme = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    scheme_name="sessionCookie",
    description="the editor UI's session (reads only; the UI signs in with the admin token)",
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
Cookie = Annotated[str | None, Depends(cookie_scheme)]


def require_admin(request: Request, _bearer: Bearer = None) -> None:
    """Writes through the API: ``Authorization: Bearer <admin token>``, else 401 before anything is touched."""
    c = ctx(request)
    if not c.auth.enabled:
        raise ApiError(401, "unauthorized", "no admin token is configured (web.admin_token or NEWSROOM_ADMIN_TOKEN)")
    if not c.auth.check_bearer(request.headers.get("authorization")):
        raise ApiError(401, "unauthorized", "a valid admin token is required (Authorization: Bearer …)", BEARER)


def require_read(request: Request, _bearer: Bearer = None, _cookie: Cookie = None) -> None:
    """Reads are open unless ``web.public_read`` is false; then the token (or a UI session) is needed."""
    c = ctx(request)
    if not c.settings.web.public_read and not is_admin(request):
        raise ApiError(401, "unauthorized", "this server's API and feeds need the admin token", BEARER)

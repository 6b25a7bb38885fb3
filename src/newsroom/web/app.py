"""The FastAPI application: JSON API (/api/v1), feeds (/feeds), editorial UI (/ui), OpenAPI (/openapi.json, /docs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..config import Settings
from ..editorial import Editor, ProviderFactory
from ..metrics import make_registry
from ..store.db import Store
from . import api, feeds, ops, ui
from .auth import Auth, admin_token
from .deps import WebContext
from .errors import install_error_handlers

STATIC = Path(__file__).parent / "static"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# The UI loads only its own script and styles; /docs (Swagger UI from a CDN) keeps FastAPI's defaults.
_UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)


def default_provider_factory(settings: Settings) -> ProviderFactory:
    def make(calls):  # type: ignore[no-untyped-def]
        from ..llm import make_provider

        return make_provider(settings.llm, calls)

    return make


def _check_article_url(template: str) -> None:
    try:
        template.format(base="https://x", lang="en", slug="s")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"web.article_url {template!r}: use the placeholders {{base}} {{lang}} {{slug}} ({exc})"
        ) from None


def covers_mount(settings: Settings) -> str | None:
    """The URL path the cover files are served at (``/covers``), or None when covers live on another host."""
    base = settings.cover_url_base()
    parts = urlsplit(base)
    own = settings.web.public_url and urlsplit(settings.web.public_url).netloc == parts.netloc
    if parts.netloc and not own:
        return None
    path = parts.path.rstrip("/")
    return path if path.startswith("/") and path not in ("/", "/api", "/feeds", "/ui", "/static") else None


def _public_reads_in_openapi(app: FastAPI, settings: Settings) -> None:
    """Reads take the token or the session cookie (web/deps.py declares both); while ``web.public_read`` is on they
    need neither, which OpenAPI says with an empty security requirement."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        schema = make()
        if settings.web.public_read:
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    security = operation.get("security") if isinstance(operation, dict) else None
                    if security and {"sessionCookie": []} in security and {} not in security:
                        security.append({})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings, store: Store | None = None, *, provider_factory: ProviderFactory | None = None
) -> FastAPI:
    """The app over ``store`` (opened from ``settings.database_url`` when not given)."""
    _check_article_url(settings.web.article_url)
    store = store or Store(settings.database_url)
    auth = Auth(
        admin_token(settings),
        session_seconds=settings.web.session_hours * 3600,
        cookie_secure=settings.web.cookie_secure,
    )
    editor = Editor(settings, store, provider_factory or default_provider_factory(settings))
    app = FastAPI(
        title="Newsroom",
        version="1",
        description=(
            "Articles, stories, sources and feeds of a Newsroom. Reads are public unless the server says otherwise; "
            'writes need `Authorization: Bearer <admin token>`. Errors are JSON: `{"error": {status, code, message}}`.'
        ),
    )
    app.state.ctx = WebContext(settings=settings, store=store, auth=auth, editor=editor)
    app.state.metrics = make_registry(store, settings)
    install_error_handlers(app, ui.html_error_page)
    app.include_router(api.router)
    app.include_router(feeds.router)
    app.include_router(ui.router)
    app.include_router(ops.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    covers_path = covers_mount(settings)
    if covers_path:  # the cover files, at the URLs the articles, the API and the JSON Feed give
        app.mount(covers_path, StaticFiles(directory=settings.publish.covers_folder(), check_dir=False), name="covers")

    _public_reads_in_openapi(app, settings)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for k, v in _SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.path.startswith(("/ui", "/static")):
            response.headers.setdefault("Content-Security-Policy", _UI_CSP)
            response.headers.setdefault(
                "Cache-Control", "no-store" if request.url.path.startswith("/ui") else "public, max-age=3600"
            )
        return response

    return app

"""One error shape for every endpoint: ``{"error": {"status", "code", "message", "details"}}``, never a 500 page."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..editorial import EditorialError

log = logging.getLogger(__name__)

__all__ = ["ApiError", "ErrorBody", "ErrorDetail", "error_response", "install_error_handlers"]


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(status=status, code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _safe_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without echoing the (possibly huge or binary) input back."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:300]} for e in exc.errors()]


def install_error_handlers(app: FastAPI, html_handler: Any = None) -> None:
    """JSON errors everywhere; ``html_handler(request, status, message)`` may answer browser pages of the UI."""

    def respond(request: Request, status: int, code: str, message: str, **kw: Any) -> Any:
        if html_handler is not None:
            page = html_handler(request, status, message)
            if page is not None:
                return page
        return error_response(status, code, message, **kw)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Any:
        return respond(request, exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(EditorialError)
    async def _editorial(request: Request, exc: EditorialError) -> Any:
        return respond(request, exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        return respond(request, 422, "invalid", "the request is not valid", details=_safe_details(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        code = _CODES.get(exc.status_code, "error")
        return respond(request, exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; the server log has the details")

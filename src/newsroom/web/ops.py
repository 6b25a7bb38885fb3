"""Operations endpoints: ``/healthz`` (the process answers), ``/readyz`` (the database answers and its schema is at
the newest migration) and ``/metrics`` (Prometheus text format; the store's series, see newsroom.metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from ..store.db import schema_problem
from .deps import ctx, require_read

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    try:
        problem = schema_problem(ctx(request).store.engine)
    except SQLAlchemyError as exc:
        problem = f"the database does not answer: {type(exc).__name__}"
    if problem is not None:
        return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", dependencies=[Depends(require_read)])
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)

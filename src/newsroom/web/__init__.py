"""Serving: the public JSON API, per-language feeds and the editorial web UI (FastAPI). See :func:`create_app`."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]

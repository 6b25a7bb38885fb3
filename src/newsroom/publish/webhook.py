"""Publish target: a webhook (a site's build hook, or any receiver), one signed JSON POST per batch.

The body lists what changed (``write`` with the article's frontmatter and, unless ``include_files`` is off, its
Markdown file; ``delete`` with the path it had). Headers: ``X-Newsroom-Event: publish``, ``X-Newsroom-Delivery`` (the
same id on every retry of one batch, so a receiver can drop repeats) and, when ``secret_env`` names a secret,
``X-Newsroom-Signature: sha256=<hex HMAC-SHA256 of the raw body>``. Connection errors, timeouts, 429 and 5xx are
retried with exponential backoff (``Retry-After`` is honoured up to a minute); any other answer fails the batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ..config import WebhookTargetConfig
from .filesystem import FilesystemTarget
from .frontmatter import frontmatter_data
from .markdown import render_article
from .targets import Change, TargetError

__all__ = ["SIGNATURE_HEADER", "WebhookTarget", "sign", "verify"]

SIGNATURE_HEADER = "X-Newsroom-Signature"
MAX_RETRY_AFTER = 60.0


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: compare in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookTarget:
    def __init__(
        self,
        cfg: WebhookTargetConfig,
        path_template: str = "{lang}/{slug}.md",
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.paths = FilesystemTarget(Path("."), path_template)  # only for the paths, never written
        self.sleep = sleep

    def payload(self, changes: Sequence[Change]) -> tuple[dict[str, Any], dict[int, str]]:
        paths: dict[int, str] = {}
        articles = []
        for c in changes:
            entry: dict[str, Any] = {"id": c.article_id, "lang": c.lang, "slug": c.slug, "version": c.version}
            if c.doc is None:
                entry.update(action="delete", path=c.previous_path)
            else:
                path = self.paths.relative_path(c.doc)
                paths[c.article_id] = path
                entry.update(action="write", path=path, frontmatter=frontmatter_data(c.doc))
                if self.cfg.include_files:
                    entry["markdown"] = render_article(c.doc)
            articles.append(entry)
        sent_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return {"event": "publish", "target": self.name, "sentAt": sent_at, "articles": articles}, paths

    def deliver(self, changes: Sequence[Change]) -> dict[int, str]:
        body_obj, paths = self.payload(changes)
        body = json.dumps(body_obj, ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Newsroom-Webhook/1",
            "X-Newsroom-Event": "publish",
            "X-Newsroom-Delivery": str(uuid.uuid4()),
        }
        if self.cfg.secret_env:
            secret = os.environ.get(self.cfg.secret_env)
            if not secret:
                raise TargetError(f"webhook {self.name}: environment variable {self.cfg.secret_env} is not set")
            headers[SIGNATURE_HEADER] = sign(secret, body)
        problem = ""
        with httpx.Client(timeout=self.cfg.timeout_seconds, follow_redirects=False) as client:
            for attempt in range(self.cfg.max_retries + 1):
                delay = self.cfg.backoff_seconds * 2**attempt
                try:
                    r = client.post(self.cfg.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                else:
                    if r.is_success:
                        return paths
                    problem = f"HTTP {r.status_code}: {r.text[:200]}"
                    if r.status_code != 429 and r.status_code < 500:
                        raise TargetError(f"webhook {self.name}: {problem} (not retried)")
                    delay = max(delay, _retry_after(r.headers.get("retry-after")))
                if attempt < self.cfg.max_retries:
                    self.sleep(delay)
        raise TargetError(f"webhook {self.name}: {problem} after {self.cfg.max_retries + 1} attempts")


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 0), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0

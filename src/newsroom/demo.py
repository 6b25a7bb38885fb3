"""The offline demo: the bundled three-story feed served from 127.0.0.1, so the real polling path runs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from .config import FetchConfig, LLMConfig, PublishConfig, Settings, SourceConfig

DEMO_SOURCE_KEY = "demo-wire"


def demo_feed_bytes(stories: int | None = None) -> bytes:
    """The bundled demo feed; with ``stories``, only its first that many items (a quicker demo)."""
    data = resources.files("newsroom.data").joinpath("demo_feed.xml").read_bytes()
    if stories is None:
        return data
    head, *items = data.split(b"<item>")
    kept = [b"<item>" + item.split(b"</item>")[0] + b"</item>\n    " for item in items[:stories]]
    return head + b"".join(kept) + b"</channel>\n</rss>\n"


class _FeedHandler(BaseHTTPRequestHandler):
    body = b""
    etag = ""

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/feed.xml":
            self.send_error(404)
            return
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.send_header("ETag", self.etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("ETag", self.etag)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serve_demo_feed(body: bytes | None = None) -> Iterator[str]:
    """Serve the demo feed on a free loopback port for the duration of the block; yields its URL."""
    data = body if body is not None else demo_feed_bytes()
    etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
    handler = type("DemoFeedHandler", (_FeedHandler,), {"body": data, "etag": etag})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-feed", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    finally:
        server.shutdown()
        server.server_close()


def demo_settings(out_dir: Path, feed_url: str, **llm_overrides: object) -> Settings:
    """Settings for the demo: everything under ``out_dir``, the embedded model sized to finish in minutes."""
    return Settings(
        database_url=f"sqlite:///{out_dir / 'newsroom.db'}",
        languages=["en", "uk"],
        pivot_language="en",
        sources=[SourceConfig(key=DEMO_SOURCE_KEY, name="Demo Wire", url=feed_url, type="RSS", interval_minutes=5)],
        fetch=FetchConfig(allow_private_networks=True, timeout_seconds=10),
        llm=LLMConfig(provider="local", concurrency=1, **llm_overrides),  # type: ignore[arg-type]
        publish=PublishConfig(content_dir=out_dir / "content"),
    )

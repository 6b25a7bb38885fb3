"""Logging for the command line: rich text for people (default) or one JSON object per line for log shippers.

Below WARNING, only newsroom's (and uvicorn's) own lines are shown; the libraries' INFO and DEBUG lines (httpx and
httpx2 log every request, the openai SDK every call, alembic every migration) only with ``--verbose``: a run
logs what happened to sources and stories, not every call. With JSON, whatever the CLI prints to stderr (progress,
errors, notes) becomes log lines too, so the stream stays one JSON object per line.
"""

from __future__ import annotations

import io
import json
import logging
import os
from datetime import UTC, datetime
from typing import Literal

from rich.console import Console
from rich.logging import RichHandler

LogFormat = Literal["text", "json"]
OWN = ("newsroom", "uvicorn", "root", "__main__")  # loggers whose INFO lines a run shows
_RECORD_KEYS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}``, plus ``exception`` and any ``extra={...}`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        obj.update({k: v for k, v in record.__dict__.items() if k not in _RECORD_KEYS and not k.startswith("_")})
        if record.exc_info:
            obj["exception"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False, default=str)


class LogLines(io.TextIOBase):
    """A text stream whose every line becomes a log record (a rich Console's output, in JSON mode)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if line.strip():
                self.logger.log(_level(line), line.rstrip())
        return len(text)


def _level(line: str) -> int:
    head = line.lstrip().lower()
    if head.startswith(("error", "failed")):
        return logging.ERROR
    if head.startswith(("paused", "warning")):
        return logging.WARNING
    return logging.INFO


def setup_logging(fmt: LogFormat, verbose: bool, console: Console) -> Console:
    """Configure the root logger; returns the console the CLI should print its stderr notes to."""
    if fmt == "json":
        # the model libraries' own progress bars (tqdm, straight to stderr) would break the one-object-per-line rule
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")
        handler: logging.Handler = logging.StreamHandler(console.file)
        handler.setFormatter(JsonFormatter())
        console = Console(file=LogLines(logging.getLogger("newsroom.cli")), soft_wrap=True, width=200)
    else:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=verbose)
        handler.setFormatter(logging.Formatter("%(message)s"))
    if not verbose:
        handler.addFilter(_own_or_warning)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    return console


def _own_or_warning(record: logging.LogRecord) -> bool:
    """Without -v: the libraries' INFO lines (httpx/httpx2 per request, openai, alembic, …) are not shown."""
    return record.levelno >= logging.WARNING or record.name.split(".", 1)[0] in OWN

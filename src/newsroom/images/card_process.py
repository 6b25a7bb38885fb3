"""Cover cards drawn in child processes, off this process's interpreter lock (``images.card_processes``).

Drawing a card (FreeType, Pillow's drawing, zlib) holds the interpreter lock for a good part of its CPU, so in a
thread it slows the event loop, the guards and the SQL of every story in flight. A card process is a fresh
interpreter (``python -m newsroom.images.card_process``: nothing forked, so no torch state) that imports only Pillow
and ``images.draw``; it is started by the first card, not at startup, reads pickled requests on its stdin and
answers each once its four files are on disk.

Nothing is lost when a card process dies (killed, out of memory, a crash in native code): the card it was drawing
is drawn in this process instead, the process is started again for the next card, and after ``MAX_FAILURES``
failures the cards are drawn in this process for good, with a warning that says so. A card that cannot be drawn
(a folder that cannot be written) raises here as it would in this process, and the card process goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import select
import signal
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import IO, Any

from .draw import write_card

log = logging.getLogger(__name__)

MAX_FAILURES = 3
REPLY_TIMEOUT_S = 120.0  # one card takes tens of milliseconds; a card process this slow is stuck


class CardProcessError(Exception):
    """The card process died, could not start or did not answer: the card is drawn in this process instead."""


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])  # the folder that holds the `newsroom` package


def _close(proc: subprocess.Popen[bytes]) -> None:
    """End a card process: EOF on its stdin (it exits at once), SIGKILL if it does not within 5 s."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


class CardProcess:
    """One card process, started on first use; ``draw`` is called by one thread at a time (``CardPool``)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self.failures = 0

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "newsroom.images.card_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                close_fds=True,
            )
        except OSError as exc:
            raise CardProcessError(f"could not start {sys.executable}: {exc}") from exc
        self._proc = proc
        self._finalizer = weakref.finalize(self, _close, proc)  # on garbage collection or at exit
        return proc

    def ask(self, message: tuple[Any, ...]) -> Any:
        """Send ``message`` and return the reply (an exception the card raised is returned, not raised)."""
        proc = self._proc or self._start()  # one that died meanwhile fails the write below, and is counted
        assert proc.stdin is not None and proc.stdout is not None
        try:
            pickle.dump(message, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], REPLY_TIMEOUT_S)
            if not ready:
                raise CardProcessError(f"no answer in {REPLY_TIMEOUT_S:.0f} s")
            return pickle.load(proc.stdout)  # noqa: S301  (our own child, over its own pipe)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self.close()
            raise CardProcessError(f"ended with exit status {proc.returncode} ({type(exc).__name__})") from exc
        except CardProcessError:
            self.close()
            raise

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # runs _close once
        self._proc = self._finalizer = None


class CardPool:
    """``size`` card processes; ``draw`` takes a free one (as many threads may call it as there are processes)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: queue.SimpleQueue[CardProcess] = queue.SimpleQueue()
        for _ in range(size):
            self._free.put(CardProcess())
        self._lock = threading.Lock()
        self._members: list[CardProcess] = []
        self.in_process = False  # True once the card processes failed MAX_FAILURES times

    def pids(self) -> list[int]:
        with self._lock:
            return [m.pid for m in self._members if m.pid is not None]

    def draw(self, title: str, brand: str, key: str, folder: Path) -> None:
        """The card's four files in ``folder``, drawn by a card process (in this process if none can)."""
        if self.in_process:
            write_card(title, brand, key, folder)
            return
        member = self._free.get()
        with self._lock:
            if member not in self._members:
                self._members.append(member)
        try:
            reply = member.ask(("card", title, brand, key, str(folder)))
        except CardProcessError as exc:
            self._failed(member, exc)
            write_card(title, brand, key, folder)  # this card in this process: nothing lost
            return
        finally:
            self._free.put(member)
        if isinstance(reply, BaseException):
            raise reply

    def _failed(self, member: CardProcess, exc: CardProcessError) -> None:
        member.failures += 1
        with self._lock:
            failures = sum(m.failures for m in self._members)
            if failures >= MAX_FAILURES:
                self.in_process = True
        if self.in_process:
            log.error(
                "the cover card process failed %d times (last: %s); cards are drawn in this process from now on "
                "(set images.card_processes = 0 to do so from the start)",
                failures,
                exc,
            )
        else:
            log.warning("the cover card process %s; this card is drawn in this process, the next starts it again", exc)

    def modules(self) -> list[str]:
        """The modules a card process has imported (starting one if none runs)."""
        member = self._free.get()
        try:
            with self._lock:
                if member not in self._members:
                    self._members.append(member)
            return list(member.ask(("modules",)))
        finally:
            self._free.put(member)

    def close(self) -> None:
        """End the card processes (a later ``draw`` starts them again)."""
        with self._lock:
            members = list(self._members)
        for m in members:
            m.close()


# ---- the card process ----------------------------------------------------------------------------------------------


def _answer(message: tuple[Any, ...]) -> Any:
    op, *args = message
    if op == "card":
        title, brand, key, folder = args
        write_card(title, brand, key, Path(folder))
        return None
    if op == "modules":
        return sorted(sys.modules)
    raise ValueError(f"unknown request {op!r}")


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """Answer requests from ``inp`` until it ends: ``None`` once a card is on disk, or the exception it raised."""
    while True:
        try:
            message = pickle.load(inp)  # noqa: S301  (from the parent that started this process)
        except EOFError:
            return
        try:
            reply = _answer(message)
        except Exception as exc:  # noqa: BLE001  (whatever the card raised is the reply; the parent raises it)
            reply = exc
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001  (an exception that cannot be pickled: its repr instead)
            data = pickle.dumps(RuntimeError(repr(reply)), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(data)
        out.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides, EOF ends us
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the replies
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()

"""Whether a process on this host still runs: what a claim's or a temporary file's owner is checked by."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True for this process and any running one (another user's included); False once it has exited."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True

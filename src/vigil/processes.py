"""Whether a process still runs (to tell stale leftovers of dead writers from live work)."""

from __future__ import annotations

import os

__all__ = ["process_alive"]


def process_alive(pid: int) -> bool:
    """True if *pid* runs (or exists under another user), False if there is no such process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

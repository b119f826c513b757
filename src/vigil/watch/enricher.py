"""`vigil watch` enriches what it captures: a `vigil enrich` child process, one at a time.

Enrichment (OCR, keyframes) can take minutes; run inline it would delay the next polls,
so the watch starts ``python -m vigil enrich`` in the background after a poll stored
something, and again after it ends if more was stored meanwhile. The runner is
resumable and only does what is not done, so a child stopped with the watch loses at
most the batch it was computing.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

__all__ = ["BackgroundEnrich"]

logger = logging.getLogger(__name__)
STOP_GRACE = 10.0  # seconds a child gets to finish its batch when the watch stops


class BackgroundEnrich:
    def __init__(self, archive_root: Path, *, enabled: bool = True) -> None:
        self.archive_root = archive_root
        self.enabled = enabled
        self.pending = False  # something was captured that no child has seen yet
        self.child: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def captured(self) -> None:
        """A poll stored items: enrich them (now, or when the running child ends)."""
        if self.enabled:
            self.pending = True
            self.poll()

    def poll(self) -> None:
        """Reap a finished child; start one if something is waiting."""
        if self.child is not None and self.child.poll() is not None:
            if self.child.returncode != 0:
                logger.warning("vigil enrich exited with %d", self.child.returncode)
            self.child = None
        if self.pending and self.child is None:
            command = [sys.executable, "-m", "vigil", "--archive", str(self.archive_root),
                       "enrich", "--json"]  # fmt: skip
            self.child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            self.pending = False
            self.runs += 1

    def stop(self, *, finish: bool) -> None:
        """End with the watch: let the work finish (*finish*), or stop it after its batch."""
        if finish:
            while self.pending or self.child is not None:
                if self.child is not None:
                    self.child.wait()
                self.poll()
            return
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        self.child = None

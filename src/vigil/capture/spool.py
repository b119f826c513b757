"""Scratch space for a capture's bytes: memory first, an anonymous file past a limit.

A capture writes its WARC, and buffers each HTTP exchange it records
(`vigil.capture.wire`), before they are stored as blobs. Most of these are small (a
page and its images: tens of kB); a temporary file for each would be a file created
and removed per page and per medium, and a scratch file left behind when a capture
is killed. Past `SPOOL` bytes (video), the bytes go to an unnamed file (O_TMPFILE):
memory stays flat. (`tempfile.SpooledTemporaryFile` would do, but its ``fileno()``
moves everything to disk, and the blob store asks for it to copy files in the kernel.)
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["SPOOL", "Spool"]

SPOOL = 16 << 20
"""Bytes a scratch buffer keeps in memory before it moves to a file."""


class Spool(io.RawIOBase):
    """A writable scratch buffer: in memory up to *limit* bytes, then in an unnamed file
    in *folder* (gone when closed). `reader` rewinds it for reading what was written."""

    def __init__(self, folder: Path | None = None, limit: int = SPOOL) -> None:
        super().__init__()
        self._folder = folder
        self._limit = limit
        self._memory = io.BytesIO()
        self._buffer: BinaryIO = self._memory
        self._in_memory = True

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._in_memory and self._buffer.tell() + len(data) > self._limit:
            spilled = tempfile.TemporaryFile(dir=self._folder)  # noqa: SIM115  (kept open)
            spilled.write(self._memory.getbuffer())
            spilled.seek(self._memory.tell())  # where the next bytes go, as in memory
            self._buffer, self._in_memory = spilled, False
            self._memory = io.BytesIO()
        return self._buffer.write(data)

    def read(self, size: int | None = -1) -> bytes:
        return self._buffer.read(-1 if size is None else size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._buffer.readline(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        data = self._buffer.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._buffer.seek(offset, whence)

    def tell(self) -> int:
        return self._buffer.tell()

    def flush(self) -> None:
        self._buffer.flush()

    def fileno(self) -> int:
        """The file's descriptor once spilled (so blob stores copy it in the kernel)."""
        if self._in_memory:
            raise io.UnsupportedOperation("in memory")
        self._buffer.flush()
        return self._buffer.fileno()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._buffer.close()

    def reader(self) -> BinaryIO:
        """This buffer from its first byte, for reading."""
        self._buffer.flush()
        self._buffer.seek(0)
        return self._buffer

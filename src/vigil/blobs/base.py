"""The `BlobStore` protocol every blob backend implements.

A blob is immutable bytes addressed by the lowercase hex SHA-256 of those bytes.
`put` streams from a file-like object (memory stays flat whatever the size),
hashes while it writes, and returns only once the bytes are durable. Storing the
same content twice keeps one copy; an existing blob is never rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

ByteProgress = Callable[[int], None]
"""Called with a count of bytes just stored (the counts add up to the blob's size)."""

__all__ = ["CHUNK_SIZE", "HEAD_SIZE", "BlobStore", "ByteProgress", "StoredBlob", "check_sha256"]

CHUNK_SIZE = 1 << 20
"""Bytes read and written per step when streaming."""

HEAD_SIZE = 1 << 16
"""How many leading bytes `put` keeps for media-type sniffing."""

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def check_sha256(sha256: str) -> str:
    """Return *sha256* if it is 64 lowercase hex digits, else raise ValueError."""
    if not _SHA256_RE.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


@dataclass(frozen=True)
class StoredBlob:
    """What `put` reports: the blob's name, its size, whether it was new, and its first bytes."""

    sha256: str
    size: int
    created: bool
    head: bytes


class BlobStore(Protocol):
    """Immutable content-addressed storage."""

    def put(self, stream: BinaryIO, progress: ByteProgress | None = None) -> StoredBlob:
        """Store everything read from *stream*; return once it is durable.

        *progress*, if given, is called with each number of bytes stored so far.
        """
        ...

    def open(self, sha256: str) -> BinaryIO:
        """Open the blob for reading; `BlobNotFound` if it is not stored."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether a blob with this SHA-256 is stored."""
        ...

    def size(self, sha256: str) -> int:
        """The stored blob's size in bytes; `BlobNotFound` if it is not stored."""
        ...

    def __iter__(self) -> Iterator[str]:
        """Every stored blob's SHA-256, in no particular order."""
        ...

"""An in-memory `BlobStore` for tests and examples (nothing is durable)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from vigil.blobs.base import CHUNK_SIZE, HEAD_SIZE, ByteProgress, StoredBlob, check_sha256
from vigil.errors import BlobNotFound

__all__ = ["MemoryBlobStore"]


class MemoryBlobStore:
    """Blobs held in a dict; same contract as the filesystem store."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, stream: BinaryIO, progress: ByteProgress | None = None) -> StoredBlob:
        buffer = io.BytesIO()
        digest = hashlib.sha256()
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
            buffer.write(chunk)
            if progress is not None:
                progress(len(chunk))
        data = buffer.getvalue()
        sha256 = digest.hexdigest()
        created = sha256 not in self._blobs
        if created:
            self._blobs[sha256] = data
        return StoredBlob(sha256, len(data), created, data[:HEAD_SIZE])

    def open(self, sha256: str) -> BinaryIO:
        try:
            return io.BytesIO(self._blobs[check_sha256(sha256)])
        except KeyError:
            raise BlobNotFound(f"no blob {sha256}") from None

    def exists(self, sha256: str) -> bool:
        return sha256 in self._blobs

    def size(self, sha256: str) -> int:
        try:
            return len(self._blobs[sha256])
        except KeyError:
            raise BlobNotFound(f"no blob {sha256}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._blobs))

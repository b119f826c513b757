"""Content-addressed blob storage: immutable bytes named by their SHA-256."""

from vigil.blobs.base import BlobStore, StoredBlob
from vigil.blobs.fs import FilesystemBlobStore
from vigil.blobs.memory import MemoryBlobStore

__all__ = ["BlobStore", "FilesystemBlobStore", "MemoryBlobStore", "StoredBlob"]

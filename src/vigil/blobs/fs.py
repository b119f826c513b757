"""The filesystem `BlobStore`: ``blobs/ab/cd/<sha256>``.

Writing a blob:

1. copy the input into ``blobs/tmp/<pid>-<random>`` and hash it: a regular
   file is copied by the kernel (copy_file_range) and the copy is hashed; any
   other stream is hashed while it is written (reading and hashing on the
   caller's thread, writing on a second thread; at most ``_QUEUE_DEPTH`` chunks
   in flight). Memory is flat for any size either way;
2. fsync the temporary file and make it read-only;
   (with `deferred_sync`, steps 2-4 run on a background thread, and `sync` waits for
   them: the caller overlaps them with reading the next input; blobs under
   ``SMALL_BLOB`` are instead flushed together by one syncfs(2) in `sync`, linked,
   and their names flushed by a second: two journal commits per batch);
3. hard-link it to its final name: ``link`` fails if the name exists, so an
   existing blob is never rewritten, even by a concurrent writer;
4. fsync the directories that changed, then remove the temporary name.

A process killed at any moment leaves either no final name or a complete,
durable blob; stray temporary files are removed by `remove_stale_temporaries`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import itertools
import os
import queue
import secrets
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from vigil.blobs.base import CHUNK_SIZE, HEAD_SIZE, ByteProgress, StoredBlob, check_sha256
from vigil.errors import BlobError, BlobNotFound
from vigil.processes import process_alive

__all__ = ["FilesystemBlobStore", "fsync_dir"]

_QUEUE_DEPTH = 16
_KERNEL_STEP = 64 << 20  # bytes per copy_file_range call (progress granularity)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Writer(threading.Thread):
    """Writes queued chunks to a file descriptor; remembers the first error."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.chunks: queue.Queue[bytes | None] = queue.Queue(_QUEUE_DEPTH)
        self.error: OSError | None = None

    def run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            if self.error is not None:
                continue  # keep draining so the producer never blocks
            try:
                _write_all(self.fd, chunk)
            except OSError as exc:
                self.error = exc


class FilesystemBlobStore:
    """Blobs as read-only files under *root*, fanned out by the first two hex pairs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self._syncer: ThreadPoolExecutor | None = None
        self._pending: dict[str, Future[bool]] = {}
        self._small: dict[str, Path] = {}  # sha256 -> written, not yet synced nor linked
        self._pending_lock = threading.Lock()

    def create(self) -> None:
        """Create the folder layout (idempotent)."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        fsync_dir(self.root)
        fsync_dir(self.root.parent)

    def path(self, sha256: str) -> Path:
        """Where the blob named *sha256* lives (whether or not it exists)."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: BinaryIO, progress: ByteProgress | None = None) -> StoredBlob:
        tmp_path = self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(tmp_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if _copy_in_kernel(stream, fd, progress):
                sha256, size, head = _hash_fd(fd)
            else:
                sha256, size, head = self._stream_into(stream, fd, progress)
        except BaseException:
            os.close(fd)
            tmp_path.unlink(missing_ok=True)
            raise
        if self._syncer is None:
            return StoredBlob(sha256, size, self._finish(fd, tmp_path, sha256), head)
        # Deferred: large blobs are made durable on the syncer thread while the caller
        # reads on; small ones wait for `sync`, which flushes them all with syncfs(2).
        with self._pending_lock:
            held = sha256 in self._pending or sha256 in self._small or self.exists(sha256)
            if not held and size < SMALL_BLOB and _syncfs_available():
                os.fchmod(fd, 0o444)
                self._small[sha256] = tmp_path
            elif not held:
                self._pending[sha256] = self._syncer.submit(self._finish, fd, tmp_path, sha256)
        if held or sha256 in self._small:
            os.close(fd)
        if held:
            tmp_path.unlink(missing_ok=True)
        return StoredBlob(sha256, size, not held, head)

    def _finish(self, fd: int, tmp_path: Path, sha256: str) -> bool:
        """fsync, make read-only, link into place, fsync directories; True if new."""
        try:
            os.fsync(fd)
            os.fchmod(fd, 0o444)
        finally:
            os.close(fd)
        try:
            return self._link(tmp_path, sha256)
        finally:
            tmp_path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def deferred_sync(self) -> Iterator[FilesystemBlobStore]:
        """Within this block `put` returns before the blob is durable; call `sync` to wait.

        fsync, link and directory fsync then overlap with reading the next input.
        Nothing may be reported stored before `sync` has returned it as durable.
        On leaving the block every pending blob is made durable.
        """
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-sync")
        try:
            yield self
        finally:
            self.sync()
            self._syncer.shutdown()
            self._syncer = None

    def sync(self) -> dict[str, BlobError]:
        """Wait until every deferred blob is durable; return those that failed, by SHA-256."""
        failed: dict[str, BlobError] = {}
        with self._pending_lock:
            pending, self._pending = self._pending, {}
            small, self._small = self._small, {}
        if small:
            failed.update(self._sync_small(small))
        for sha256, future in pending.items():
            try:
                future.result()
            except OSError as exc:
                failed[sha256] = BlobError(f"cannot store blob {sha256}: {exc}")
        return failed

    def _stream_into(
        self, stream: BinaryIO, fd: int, progress: ByteProgress | None
    ) -> tuple[str, int, bytes]:
        first = stream.read(CHUNK_SIZE)
        if len(first) < CHUNK_SIZE and not (rest := stream.read(CHUNK_SIZE)):
            # One short chunk (most posts, texts, thumbnails): no writer thread needed.
            _write_all(fd, first)
            if progress is not None and first:
                progress(len(first))
            return hashlib.sha256(first).hexdigest(), len(first), first[:HEAD_SIZE]
        digest = hashlib.sha256()
        writer = _Writer(fd)
        writer.start()
        size = 0
        head = b""
        chunks = itertools.chain(
            [first, rest] if len(first) < CHUNK_SIZE else [first],
            iter(lambda: stream.read(CHUNK_SIZE), b""),
        )
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                digest.update(chunk)
                if size < HEAD_SIZE:
                    head += chunk[: HEAD_SIZE - size]
                size += len(chunk)
                writer.chunks.put(chunk)
                if progress is not None:
                    progress(len(chunk))
                if writer.error is not None:
                    break
        finally:
            writer.chunks.put(None)
            writer.join()
        if writer.error is not None:
            raise BlobError(f"cannot write blob: {writer.error}") from writer.error
        return digest.hexdigest(), size, head

    def _sync_small(self, small: dict[str, Path]) -> dict[str, BlobError]:
        """One syncfs makes every small blob's bytes durable, links name them, a second
        syncfs makes the names durable: two journal commits for the lot, not three each."""
        try:
            _syncfs(self.root)
            for sha256, tmp_path in small.items():
                try:
                    self._link(tmp_path, sha256, sync_dirs=False)
                finally:
                    tmp_path.unlink(missing_ok=True)
            _syncfs(self.root)
        except OSError as exc:
            for tmp_path in small.values():
                tmp_path.unlink(missing_ok=True)
            return {sha: BlobError(f"cannot store blob {sha}: {exc}") for sha in small}
        return {}

    def _link(self, tmp_path: Path, sha256: str, *, sync_dirs: bool = True) -> bool:
        final = self.path(sha256)
        created_dirs = []
        for folder in (final.parent.parent, final.parent):
            if not folder.exists():
                with contextlib.suppress(FileExistsError):
                    folder.mkdir()
                    created_dirs.append(folder)
        try:
            os.link(tmp_path, final)
        except FileExistsError:
            return False
        if sync_dirs:
            fsync_dir(final.parent)
            for folder in reversed(created_dirs):
                fsync_dir(folder.parent)
        return True

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256} in {self.root}") from None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256} in {self.root}") from None

    def __iter__(self) -> Iterator[str]:
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                for blob in sorted(second.iterdir()):
                    yield blob.name

    def stray_files(self) -> Iterator[Path]:
        """Files under the blob folder that are not named like a blob in its right place."""
        for path in sorted(self.root.rglob("*")):
            if path.parent == self.tmp or path == self.tmp or path.is_dir():
                continue
            rel = path.relative_to(self.root).parts
            ok = (
                len(rel) == 3
                and len(path.name) == 64
                and path.name.startswith(rel[0] + rel[1])
                and stat.S_ISREG(path.lstat().st_mode)
            )
            if not ok:
                yield path

    def remove_stale_temporaries(self) -> int:
        """Remove temporary files left by writers that are no longer running."""
        removed = 0
        for path in self.tmp.glob("*-*"):
            pid_text = path.name.split("-", 1)[0]
            if pid_text.isdigit() and not process_alive(int(pid_text)):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


SMALL_BLOB = 256 << 10
"""Below this size, deferred blobs are made durable together by syncfs(2) at `sync`."""

_LIBC = ctypes.CDLL(None, use_errno=True)


def _syncfs_available() -> bool:
    return hasattr(_LIBC, "syncfs")


def _syncfs(folder: Path) -> None:
    """syncfs(2) on the file system holding *folder*: every dirty page and inode of it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _LIBC.syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    finally:
        os.close(fd)


def _copy_in_kernel(stream: BinaryIO, fd: int, progress: ByteProgress | None) -> bool:
    """Copy a regular file into *fd* with copy_file_range(2); False if that is not possible.

    The kernel copies page cache to page cache, without a trip through Python. The
    caller then hashes the *copy*, so the blob's name always matches the bytes kept,
    even if the source changes meanwhile.
    """
    try:
        source = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not stat.S_ISREG(os.fstat(source).st_mode) or not hasattr(os, "copy_file_range"):
        return False
    start = os.lseek(source, 0, os.SEEK_CUR)
    try:
        while copied := os.copy_file_range(source, fd, _KERNEL_STEP):
            if progress is not None:
                progress(copied)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.lseek(source, start, os.SEEK_SET)  # not supported here: stream instead
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        return False
    return True


def _hash_fd(fd: int) -> tuple[str, int, bytes]:
    """SHA-256, size and first bytes of what *fd* holds, read from the start."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, CHUNK_SIZE):
        digest.update(chunk)
        if size < HEAD_SIZE:
            head += chunk[: HEAD_SIZE - size]
        size += len(chunk)
    return digest.hexdigest(), size, head

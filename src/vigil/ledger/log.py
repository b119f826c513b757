"""The append-only log on disk: entries, checkpoints, and rebuildable hash caches.

Layout under ``ledger/``::

    entries.jsonl            THE LOG: one canonical-JSON event per line; line i is leaf i
    checkpoints/<size>.note  signed C2SP checkpoints, one file per tree size (20-digit name)
    cache/offsets            8-byte big-endian end offset of every entry   (derived)
    cache/level-NN           32-byte hash of every complete aligned subtree of 2**NN
                             leaves, in order; level-00 holds the leaf hashes  (derived)
    lock                     flock(2) held by the one process appending

``entries.jsonl`` and ``checkpoints/`` are the evidence; everything in ``cache/``
is recomputed from ``entries.jsonl`` whenever it is short, long or missing, so a
crash at any moment is repaired by the next writer (`LogWriter.__enter__`).

An append writes the entries, fsyncs them, then extends the caches; only after
that does `append` return, so a returned index is durable (design invariant 2).
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from vigil.blobs.fs import fsync_dir
from vigil.errors import LedgerCorrupt, LedgerError
from vigil.ledger import merkle

__all__ = ["Log", "LogWriter"]

logger = logging.getLogger(__name__)

_OFFSET = struct.Struct(">Q")
_H = merkle.HASH_SIZE


def _read_offset(f: BinaryIO, index: int) -> int:
    """End offset of entry *index* from an open offsets cache (0 for index -1)."""
    if index < 0:
        return 0
    f.seek(index * _OFFSET.size)
    raw = f.read(_OFFSET.size)
    if len(raw) != _OFFSET.size:
        raise LedgerError(f"entry {index} is beyond the end of the log")
    value: int = _OFFSET.unpack(raw)[0]
    return value


class Log:
    """Read access to a ledger folder; `writer()` for appending."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries_path = folder / "entries.jsonl"
        self.checkpoints_dir = folder / "checkpoints"
        self.cache_dir = folder / "cache"
        self.lock_path = folder / "lock"

    # -- creation -----------------------------------------------------------------

    def create(self) -> None:
        """Create an empty ledger (idempotent for an empty folder)."""
        for folder in (self.folder, self.checkpoints_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for path in (self.entries_path, self.cache_dir / "offsets", self.lock_path):
            path.touch(exist_ok=True)
        fsync_dir(self.folder)
        fsync_dir(self.folder.parent)

    # -- reading ------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of entries the caches cover (all durable entries once a writer has run)."""
        try:
            return (self.cache_dir / "offsets").stat().st_size // _OFFSET.size
        except FileNotFoundError:
            raise LedgerError(f"no ledger at {self.folder}") from None

    def indexed_end(self) -> int:
        """Byte offset in ``entries.jsonl`` up to which the caches cover the entries."""
        with (self.cache_dir / "offsets").open("rb") as offsets:
            return _read_offset(offsets, self.size - 1)

    def in_step(self) -> bool:
        """Whether the caches cover exactly the entries on disk (no repair needed)."""
        return self.indexed_end() == self.entries_path.stat().st_size

    def entry(self, index: int) -> bytes:
        """The exact bytes of entry *index* (without its newline)."""
        with (self.cache_dir / "offsets").open("rb") as offsets:
            start = _read_offset(offsets, index - 1)
            end = _read_offset(offsets, index)
        with self.entries_path.open("rb") as f:
            f.seek(start)
            data = f.read(end - start)
        if len(data) != end - start or not data.endswith(b"\n"):
            raise LedgerCorrupt(f"entry {index}: stored bytes do not match the offsets cache")
        return data[:-1]

    def iter_entries(self) -> Iterator[tuple[int, bytes]]:
        """Every complete line of ``entries.jsonl`` in order, straight from the file.

        Reads the log itself, not the caches, so it is what verification uses. A
        trailing partial line (an append cut short) is not yielded.
        """
        with self.entries_path.open("rb") as f:
            for index, line in enumerate(f):
                if not line.endswith(b"\n"):
                    return
                yield index, line[:-1]

    def node(self, level: int, index: int) -> bytes:
        """Cached hash of the complete subtree of 2**level leaves starting at index * 2**level."""
        path = self.cache_dir / f"level-{level:02d}"
        with path.open("rb") as f:
            f.seek(index * _H)
            value = f.read(_H)
        if len(value) != _H:
            raise LedgerError(f"no cached node at level {level} index {index}")
        return value

    def leaf_hash(self, index: int) -> bytes:
        """Cached leaf hash of entry *index*."""
        return self.node(0, index)

    def _subtree(self, start: int, end: int) -> bytes:
        return merkle.subtree_hash(start, end, self.node)

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the first *size* entries (default: all)."""
        size = self.size if size is None else size
        return merkle.EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry *index* in the tree of *size* entries."""
        return merkle.inclusion_proof(index, size, self._subtree)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between tree sizes *size1* and *size2*."""
        return merkle.consistency_proof(size1, size2, self._subtree)

    # -- checkpoints --------------------------------------------------------------

    def checkpoint_path(self, size: int) -> Path:
        return self.checkpoints_dir / f"{size:020d}.note"

    def checkpoint_sizes(self) -> list[int]:
        """Tree sizes that have a stored checkpoint, ascending."""
        sizes = []
        for path in self.checkpoints_dir.glob("*.note"):
            if path.stem.isdigit() and len(path.stem) == 20:
                sizes.append(int(path.stem))
        return sorted(sizes)

    def read_checkpoint(self, size: int) -> bytes:
        return self.checkpoint_path(size).read_bytes()

    def write_checkpoint(self, size: int, note: str) -> Path:
        """Store a signed checkpoint atomically; an existing one is left as it is."""
        final = self.checkpoint_path(size)
        if final.exists():
            return final
        tmp = final.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as f:
            f.write(note.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, final)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        fsync_dir(self.checkpoints_dir)
        return final

    # -- writing ------------------------------------------------------------------

    def writer(self) -> LogWriter:
        """An exclusive appender: ``with log.writer() as w: w.append([...])``."""
        return LogWriter(self)


class LogWriter:
    """Holds the ledger lock; repairs the caches on entry; appends entries durably."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self._lock_fd = -1
        self._edge: list[bytes] = []  # the last node at each level
        self.size = 0
        self.repaired = 0

    def __enter__(self) -> LogWriter:
        self._lock_fd = os.open(self.log.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self._recover()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = -1

    # -- recovery -----------------------------------------------------------------

    def _recover(self) -> None:
        """Bring ``cache/`` in line with ``entries.jsonl``; drop a torn last line."""
        log = self.log
        entries_size = log.entries_path.stat().st_size
        log.cache_dir.mkdir(exist_ok=True)
        (log.cache_dir / "offsets").touch(exist_ok=True)
        with (log.cache_dir / "offsets").open("r+b") as offsets:
            count = os.fstat(offsets.fileno()).st_size // _OFFSET.size
            # Offsets past the end of the entries were never acknowledged: drop them.
            while count and _read_offset(offsets, count - 1) > entries_size:
                count -= 1
            indexed_end = _read_offset(offsets, count - 1)
            new_ends, torn_at = self._scan_tail(indexed_end, entries_size)
            if torn_at is not None:
                logger.warning(
                    "%s: dropped an incomplete last entry (%d bytes) left by an interrupted "
                    "append; it was never acknowledged",
                    log.entries_path,
                    entries_size - torn_at,
                )
                with log.entries_path.open("r+b") as entries:
                    entries.truncate(torn_at)
                    os.fsync(entries.fileno())
            offsets.truncate(count * _OFFSET.size)
            offsets.seek(count * _OFFSET.size)
            offsets.write(b"".join(_OFFSET.pack(e) for e in new_ends))
            offsets.flush()
            os.fsync(offsets.fileno())
            self.size = count + len(new_ends)
        self._repair_levels()
        if new_ends or self.repaired:
            logger.info(
                "%s: caches brought up to date (%d entries indexed, %d hashes computed)",
                log.folder,
                len(new_ends),
                self.repaired,
            )

    def _scan_tail(self, start: int, end: int) -> tuple[list[int], int | None]:
        """End offsets of complete lines in [start, end) and where a torn line starts."""
        if start == end:
            return [], None
        new_ends: list[int] = []
        with self.log.entries_path.open("rb") as f:
            f.seek(start)
            position = start
            for line in f:
                if not line.endswith(b"\n"):
                    return new_ends, position
                position += len(line)
                new_ends.append(position)
        return new_ends, None

    def _repair_levels(self) -> None:
        """Make each level file hold exactly floor(size / 2**level) hashes; compute missing ones."""
        self._edge = []
        level = 0
        while (want := self.size >> level) or level == 0:
            path = self.log.cache_dir / f"level-{level:02d}"
            path.touch(exist_ok=True)
            with path.open("r+b") as f:
                have = min(path.stat().st_size // _H, want)
                f.truncate(have * _H)
                if have < want:
                    self.repaired += want - have
                    f.seek(have * _H)
                    f.write(b"".join(self._missing_nodes(level, have, want)))
                    f.flush()
                    os.fsync(f.fileno())
                if want:
                    f.seek((want - 1) * _H)
                    self._edge.append(f.read(_H))
            if not want:
                break
            level += 1
        while (stale := self.log.cache_dir / f"level-{level:02d}").exists() and level:
            stale.unlink()
            level += 1

    def _missing_nodes(self, level: int, have: int, want: int) -> Iterator[bytes]:
        """Hashes of nodes have..want-1 at *level*, from the entries or the level below."""
        if level == 0:
            with (self.log.cache_dir / "offsets").open("rb") as offsets:
                start = _read_offset(offsets, have - 1)
            with self.log.entries_path.open("rb") as f:
                f.seek(start)
                for _ in range(have, want):
                    yield merkle.leaf_hash(f.readline()[:-1])
            return
        with (self.log.cache_dir / f"level-{level - 1:02d}").open("rb") as f:
            f.seek(2 * have * _H)
            below = f.read(2 * (want - have) * _H)
        for i in range(0, len(below), 2 * _H):
            yield merkle.node_hash(below[i : i + _H], below[i + _H : i + 2 * _H])

    # -- appending ----------------------------------------------------------------

    def append(self, entries: Sequence[bytes]) -> int:
        """Append *entries* durably; return the index of the first one."""
        if self._lock_fd < 0:
            raise LedgerError("append outside of `with log.writer()`")
        for entry in entries:
            if b"\n" in entry:
                raise LedgerError("a ledger entry cannot contain a newline")
        first = self.size
        if not entries:
            return first
        with self.log.entries_path.open("ab") as f:
            f.write(b"".join(e + b"\n" for e in entries))
            f.flush()
            os.fsync(f.fileno())
        self._extend_caches(entries)
        return first

    def _extend_caches(self, entries: Sequence[bytes]) -> None:
        log = self.log
        with (log.cache_dir / "offsets").open("ab") as f:
            end = log.indexed_end()
            packed = []
            for entry in entries:
                end += len(entry) + 1
                packed.append(_OFFSET.pack(end))
            f.write(b"".join(packed))
            f.flush()
            os.fsync(f.fileno())
        # Each new leaf completes a subtree at every level where its index is odd;
        # `_edge[level]` is the last node at that level, i.e. the left sibling.
        pending: dict[int, list[bytes]] = {}
        for entry in entries:
            node = merkle.leaf_hash(entry)
            index, level = self.size, 0
            while True:
                if len(self._edge) == level:
                    self._edge.append(b"")
                left = self._edge[level]
                pending.setdefault(level, []).append(node)
                self._edge[level] = node
                if index % 2 == 0:
                    break
                node = merkle.node_hash(left, node)
                index, level = index // 2, level + 1
            self.size += 1
        for level, nodes in pending.items():
            with (log.cache_dir / f"level-{level:02d}").open("ab") as f:
                f.write(b"".join(nodes))
                f.flush()
                os.fsync(f.fileno())

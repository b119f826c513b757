"""The archive: blobs + ledger + index + keys in one folder. The library's front door.

::

    archive/
      vigil.toml            format, origin (log and key name), database URL if not embedded
      blobs/ab/cd/<sha256>  the originals, byte for byte                  (evidence)
      ledger/               entries.jsonl + checkpoints/ (evidence), cache/ (derived)
      keys/signing.key      Ed25519 signer, C2SP skey format, mode 0600   (secret)
      keys/verifier.vkey    the public verifier key, C2SP vkey format     (publish it)
      vigil.db              SQLite index (WAL), unless the index is in PostgreSQL

Order of every write (design invariant 2): blob durable → ledger entry durable →
index committed → reported. A crash between any two steps loses nothing that was
reported; `Archive.open` repairs the ledger caches and lets the index catch up.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import magic

from vigil.blobs.fs import FilesystemBlobStore, fsync_dir
from vigil.capture.files import (
    FileCandidate,
    Skipped,
    claimed_file_metadata,
    describe_path,
    open_regular,
    walk,
)
from vigil.db.engine import make_engine, sqlite_url
from vigil.db.index import Index, ItemRow
from vigil.errors import (
    ArchiveExists,
    ArchiveNotFound,
    DatabaseError,
    ForeignFolder,
    InputError,
)
from vigil.events import ITEM_ADDED, Actor, Event, decode_event, encode_event, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.ledger import merkle
from vigil.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from vigil.ledger.log import Log, LogWriter
from vigil.ledger.note import Signer, Verifier
from vigil.ledger.tlogproof import TlogProof

__all__ = ["ARCHIVE_FORMAT", "AddResult", "Archive", "Item"]

ARCHIVE_FORMAT = 1
CONFIG_NAME = "vigil.toml"
Item = ItemRow
Status = Literal["stored", "exists", "skipped", "error"]
_STORE_THREADS = 2  # files stored at once by `add`
_STORE_WINDOW = 8  # files found ahead of the one whose result is taken next


@dataclass(frozen=True)
class AddResult:
    """What happened to one path given to `add_paths`."""

    path: str
    status: Status
    message: str = ""
    item: ItemRow | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.message:
            out["message"] = self.message
        if self.item is not None:
            out.update(id=self.item.id, sha256=self.item.sha256, size=self.item.size)
            out["media_type"] = self.item.media_type
        return out


@dataclass
class _Pending:
    candidate: FileCandidate
    event: dict[str, Any]
    message: str = ""


@dataclass
class _Batch:
    pending: list[_Pending] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def _write_private(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _toml_config(origin: str, database_url: str | None) -> str:
    lines = ["[archive]", f"format = {ARCHIVE_FORMAT}", f"origin = {json.dumps(origin)}"]
    if database_url:
        lines.append(f"database_url = {json.dumps(database_url)}")
    return "\n".join(lines) + "\n"


class Archive:
    """An open archive. Create with `Archive.init`, open with `Archive.open`."""

    def __init__(
        self, root: Path, origin: str, index: Index, signer: Signer, verifier: Verifier
    ) -> None:
        self.root = root
        self.origin = origin
        self.index = index
        self.signer = signer
        self.verifier = verifier
        self.blobs = FilesystemBlobStore(root / "blobs")
        self.log = Log(root / "ledger")
        self._local = threading.local()

    # -- creating and opening -------------------------------------------------------

    @classmethod
    def init(
        cls, path: Path, *, database_url: str | None = None, name: str | None = None
    ) -> Archive:
        """Create a new archive at *path* (which must not exist or be an empty folder)."""
        path = Path(os.path.abspath(path))
        if (path / CONFIG_NAME).exists():
            raise ArchiveExists(f"{path} already holds a Vigil archive")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ForeignFolder(f"{path} exists and is not empty: choose a new or empty folder")
        origin = name or f"vigil/{secrets.token_hex(8)}"
        signer = Signer.generate(origin)  # rejects names a C2SP key cannot have
        path.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename into place: a half-made archive never
        # appears under the name the user asked for.
        staging = path.parent / f".{path.name}.init-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            (staging / "keys").mkdir(mode=0o700)
            _write_private(staging / "keys" / "signing.key", signer.skey + "\n", 0o600)
            _write_private(staging / "keys" / "verifier.vkey", signer.verifier.vkey + "\n", 0o644)
            FilesystemBlobStore(staging / "blobs").create()
            Log(staging / "ledger").create()
            _write_private(staging / CONFIG_NAME, _toml_config(origin, database_url), 0o644)
            # Prepare and claim the index before the archive appears: a database that
            # belongs to another archive must fail the init, not leave a half archive.
            index = Index(make_engine(database_url or sqlite_url(staging / "vigil.db")))
            try:
                index.migrate()
                index.bind(origin)
            finally:
                index.engine.dispose()
            fsync_dir(staging / "keys")
            fsync_dir(staging)
            if path.exists():
                path.rmdir()
            staging.rename(path)
            fsync_dir(path.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        archive = cls.open(path, database_url=database_url)
        archive.checkpoint()
        return archive

    @classmethod
    def open(cls, path: Path, *, database_url: str | None = None) -> Archive:
        """Open the archive at *path*; *database_url* overrides the one it was created with."""
        path = Path(os.path.abspath(path))
        config_path = path / CONFIG_NAME
        if not config_path.is_file():
            if path.is_dir() and any(path.iterdir()):
                raise ForeignFolder(f"{path} is not a Vigil archive (no {CONFIG_NAME})")
            raise ArchiveNotFound(
                f"no Vigil archive at {path}; create one with: vigil init --archive {path}"
            )
        config = _read_config(config_path)
        origin = str(config["origin"])
        try:
            signer = Signer.from_skey((path / "keys" / "signing.key").read_text().strip())
            verifier = Verifier.from_vkey((path / "keys" / "verifier.vkey").read_text().strip())
        except OSError as exc:
            raise ForeignFolder(f"{path}: cannot read the archive keys ({exc})") from None
        url = database_url or config.get("database_url") or sqlite_url(path / "vigil.db")
        index = Index(make_engine(str(url)))
        index.migrate()
        index.bind(origin)
        archive = cls(path, origin, index, signer, verifier)
        archive._catch_up_if_needed()
        return archive

    def close(self) -> None:
        self.index.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- keeping the index in step with the ledger ---------------------------------

    def _catch_up_if_needed(self) -> None:
        entries_size = self.log.entries_path.stat().st_size
        end = 0 if self.log.size == 0 else self._end_offset()
        if self.index.ledger_size() != self.log.size or end != entries_size:
            with self.log.writer() as writer:
                self._catch_up(writer)

    def _end_offset(self) -> int:
        with (self.log.cache_dir / "offsets").open("rb") as f:
            f.seek(-8, os.SEEK_END)
            return int.from_bytes(f.read(8), "big")

    def _catch_up(self, writer: LogWriter, chunk: int = 5000) -> None:
        """Apply ledger entries the index has not seen (after a crash, or a rebuild)."""
        start = self.index.ledger_size()
        if start > writer.size:
            raise DatabaseError(
                f"the index has {start} entries but the ledger only {writer.size}: "
                "run `vigil reindex`"
            )
        for first in range(start, writer.size, chunk):
            last = min(first + chunk, writer.size)
            batch = [decode_event(i, self.log.entry(i)) for i in range(first, last)]
            with self.index.engine.begin() as conn:
                self.index.apply(conn, batch)
        for size in self.log.checkpoint_sizes():
            if size <= writer.size:
                self._index_checkpoint(size)

    def _index_checkpoint(self, size: int) -> None:
        note = self.log.read_checkpoint(size).decode("utf-8")
        checkpoint, _ = open_checkpoint(note, [self.verifier], origin=self.origin)
        with self.index.engine.begin() as conn:
            self.index.add_checkpoint(conn, checkpoint, note)

    def append_events(self, datas: Sequence[dict[str, Any]]) -> list[Event]:
        """Log events durably and index them; returns them with their ledger indexes."""
        with self.log.writer() as writer:
            self._catch_up(writer)
            return self._append(writer, datas)

    def _append(self, writer: LogWriter, datas: Sequence[dict[str, Any]]) -> list[Event]:
        raws = [encode_event(d) for d in datas]
        first = writer.append(raws)
        logged = [
            Event(first + i, d, raw) for i, (d, raw) in enumerate(zip(datas, raws, strict=True))
        ]
        with self.index.engine.begin() as conn:
            self.index.apply(conn, logged)
        return logged

    # -- adding files ----------------------------------------------------------------

    def add_paths(
        self,
        paths: Iterable[Path],
        *,
        follow_symlinks: bool = False,
        report: Callable[[AddResult], None] | None = None,
        on_bytes: Callable[[int], None] | None = None,
        batch_size: int = 256,
        batch_seconds: float = 1.0,
    ) -> list[AddResult]:
        """Store every file under *paths*; log one ``item.added`` event per new item.

        Results are passed to *report* as soon as they are durable (in batches),
        then returned. A signed checkpoint covering them is written at the end.
        """
        results: list[AddResult] = []
        actor = Actor.current().as_json()

        def emit(result: AddResult) -> None:
            results.append(result)
            if report is not None:
                report(result)

        with self.blobs.deferred_sync():
            self._add_found(
                paths, follow_symlinks, actor, emit, on_bytes, batch_size, batch_seconds
            )
        self.checkpoint()
        return results

    def _add_found(
        self,
        paths: Iterable[Path],
        follow_symlinks: bool,
        actor: dict[str, str],
        emit: Callable[[AddResult], None],
        on_bytes: Callable[[int], None] | None,
        batch_size: int,
        batch_seconds: float,
    ) -> None:
        # Files are stored by a few threads at once (copying, hashing and fsync all run
        # outside the GIL), and their results are taken in the order they were found.
        batch = _Batch()
        in_flight: deque[Skipped | tuple[FileCandidate, Future[_Pending]]] = deque()

        def take_oldest() -> None:
            nonlocal batch
            oldest = in_flight.popleft()
            if isinstance(oldest, Skipped):
                emit(AddResult(oldest.path, "error" if oldest.error else "skipped", oldest.reason))
                return
            found, future = oldest
            try:
                pending = future.result()
            except InputError as exc:
                emit(AddResult(describe_path(found.path)["path"], "error", str(exc)))
                return
            if on_bytes is not None:
                on_bytes(int(pending.event["size"]))
            batch.pending.append(pending)
            if len(batch.pending) >= batch_size or time.monotonic() - batch.started > batch_seconds:
                self._commit_batch(batch.pending, emit)
                batch = _Batch()

        with ThreadPoolExecutor(_STORE_THREADS, thread_name_prefix="vigil-store") as pool:
            for found in walk(paths, follow_symlinks=follow_symlinks, exclude=self.root):
                if isinstance(found, Skipped):
                    in_flight.append(found)
                else:
                    in_flight.append((found, pool.submit(self._store_file, found, actor)))
                while len(in_flight) > _STORE_WINDOW:
                    take_oldest()
            while in_flight:
                take_oldest()
        self._commit_batch(batch.pending, emit)

    def _store_file(self, candidate: FileCandidate, actor: dict[str, str]) -> _Pending:
        stream, st = open_regular(candidate)
        try:
            with stream:
                stored = self.blobs.put(stream)
        except OSError as exc:
            raise InputError(
                f"{describe_path(candidate.path)['path']}: cannot read: {exc}"
            ) from exc
        names = describe_path(candidate.path)
        event: dict[str, Any] = {
            "v": 1,
            "type": ITEM_ADDED,
            "at": rfc3339(utc_now()),
            "item": new_item_id(),
            "sha256": stored.sha256,
            "size": stored.size,
            "media_type": self._sniff(stored.head),
            **names,
            "claimed": claimed_file_metadata(st, candidate.link_target),
            "actor": actor,
        }
        return _Pending(candidate, event, "empty file" if stored.size == 0 else "")

    def _sniff(self, head: bytes) -> str:
        """Media type from the first bytes (libmagic; one instance per thread, as it requires)."""
        if not head:
            return "application/x-empty"
        if not hasattr(self._local, "magic"):
            self._local.magic = magic.Magic(mime=True)
        media_type: str = self._local.magic.from_buffer(head)
        return media_type

    def _commit_batch(self, pending: list[_Pending], emit: Callable[[AddResult], None]) -> None:
        if not pending:
            return
        failed = self.blobs.sync()  # every blob durable before its entry is logged
        if failed:
            for p in pending:
                if p.event["sha256"] in failed:
                    emit(AddResult(p.event["path"], "error", str(failed[p.event["sha256"]])))
            pending = [p for p in pending if p.event["sha256"] not in failed]
        with self.log.writer() as writer:
            self._catch_up(writer)
            fresh: list[_Pending] = []
            seen: dict[tuple[str, str], str] = {}
            with self.index.engine.connect() as conn:
                for p in pending:
                    key = (p.event["sha256"], p.event["path"])
                    existing = seen.get(key) or self.index.find_by_content(conn, *key)
                    if existing is not None:
                        emit(AddResult(key[1], "exists", f"already held as item {existing}"))
                        continue
                    seen[key] = p.event["item"]
                    fresh.append(p)
            logged = self._append(writer, [p.event for p in fresh])
        for p, ev in zip(fresh, logged, strict=True):
            emit(AddResult(p.event["path"], "stored", p.message, ItemRow.from_event(ev)))

    # -- reading ----------------------------------------------------------------------

    def item(self, ref: str) -> ItemRow:
        """An item by id or unique SHA-256 prefix (`ItemNotFound`, `AmbiguousItem`)."""
        return self.index.item(ref)

    def items(self, limit: int | None = None, offset: int = 0) -> list[ItemRow]:
        return self.index.items(limit, offset)

    def custody(self, ref: str) -> list[Event]:
        """Every ledger event naming the item, oldest first."""
        item = self.item(ref)
        return [
            decode_event(idx, entry.encode("utf-8"))
            for idx, entry in self.index.item_events(item.id)
        ]

    def covering_checkpoint(self, index: int) -> int | None:
        """The smallest checkpointed tree size that includes entry *index*, if any."""
        for size in self.log.checkpoint_sizes():
            if size > index:
                return size
        return None

    def open_blob(self, sha256: str) -> Any:
        return self.blobs.open(sha256)

    # -- checkpoints and proofs -----------------------------------------------------

    def checkpoint(self) -> tuple[Checkpoint, str]:
        """Sign (if new) and store a checkpoint of the whole log; return it and its note."""
        with self.log.writer() as writer:
            self._catch_up(writer)
            size = writer.size
            path = self.log.checkpoint_path(size)
            if not path.exists():
                root = self.log.root(size)
                note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)
                self.log.write_checkpoint(size, note)
            self._index_checkpoint(size)
        note = path.read_text(encoding="utf-8")
        checkpoint, _ = open_checkpoint(note, [self.verifier], origin=self.origin)
        return checkpoint, note

    def latest_checkpoint(self) -> tuple[Checkpoint, str]:
        sizes = self.log.checkpoint_sizes()
        if not sizes:
            return self.checkpoint()
        note = self.log.read_checkpoint(sizes[-1]).decode("utf-8")
        checkpoint, _ = open_checkpoint(note, [self.verifier], origin=self.origin)
        return checkpoint, note

    def proof(self, index: int) -> tuple[bytes, TlogProof]:
        """Entry *index*'s exact bytes and a tlog-proof against the latest checkpoint."""
        checkpoint, note = self.latest_checkpoint()
        if index >= checkpoint.size:
            checkpoint, note = self.checkpoint()
        entry = self.log.entry(index)
        hashes = self.log.inclusion_proof(index, checkpoint.size)
        merkle.verify_inclusion(
            merkle.leaf_hash(entry), index, checkpoint.size, hashes, checkpoint.root
        )
        return entry, TlogProof(index=index, hashes=tuple(hashes), checkpoint=note)

    def write_proofs(self, ref: str, out: Path) -> list[Path]:
        """For each event of the item: ``<n>.json`` (leaf bytes) and ``<n>.tlog-proof``."""
        item = self.item(ref)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for index in self.index.item_event_indexes(item.id):
            entry, proof = self.proof(index)
            for path, data in (
                (out / f"{index}.json", entry),
                (out / f"{index}.tlog-proof", proof.format().encode("utf-8")),
            ):
                tmp = path.with_suffix(path.suffix + ".tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
                written.append(path)
        return written

    # -- maintenance ------------------------------------------------------------------

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the ledger caches and the index from the ledger files; return entries."""
        with contextlib.ExitStack() as stack:
            for cache in self.log.cache_dir.iterdir():
                if cache.name.startswith("level-"):
                    cache.unlink()
            (self.log.cache_dir / "offsets").write_bytes(b"")
            writer = stack.enter_context(self.log.writer())
            with self.index.engine.begin() as conn:
                self.index.clear(conn)
            self._catch_up(writer)
            if progress is not None:
                progress(writer.size, writer.size)
            self.blobs.remove_stale_temporaries()
            return writer.size

    def verify(self, **kwargs: Any) -> Any:
        """Check every blob, entry and checkpoint; see `vigil.verify.verify_archive`."""
        from vigil.verify import verify_archive

        return verify_archive(self.root, **kwargs)


def _read_config(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ForeignFolder(f"{path}: unreadable archive configuration ({exc})") from None
    section = data.get("archive")
    if not isinstance(section, dict) or section.get("format") != ARCHIVE_FORMAT:
        raise ForeignFolder(f"{path}: not a Vigil archive configuration of format {ARCHIVE_FORMAT}")
    if not isinstance(section.get("origin"), str):
        raise ForeignFolder(f"{path}: the archive configuration names no origin")
    return section


def iter_events(log: Log) -> Iterator[Event]:
    """Decode every entry of a ledger in order (raises `LedgerCorrupt` on a bad one)."""
    for index, raw in log.iter_entries():
        yield decode_event(index, raw)

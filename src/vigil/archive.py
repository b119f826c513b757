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
import io
import json
import logging
import os
import secrets
import shutil
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.blobs.fs import FilesystemBlobStore, fsync_dir
from vigil.capture.adding import AddResult, FileAdder
from vigil.db.engine import make_engine, sqlite_url
from vigil.db.index import Index, ItemRow
from vigil.errors import (
    ArchiveExists,
    ArchiveNotFound,
    DatabaseError,
    ForeignFolder,
)
from vigil.events import (
    ITEM_ADDED,
    Actor,
    Event,
    canonical_json,
    decode_event,
    encode_event,
    rfc3339,
    utc_now,
)
from vigil.ids import new_item_id
from vigil.ledger import merkle
from vigil.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from vigil.ledger.log import Log, LogWriter
from vigil.ledger.note import Signer, Verifier
from vigil.ledger.tlogproof import TlogProof

if TYPE_CHECKING:
    from vigil.verify import Progress, VerifyReport

__all__ = ["ARCHIVE_FORMAT", "AddResult", "Archive", "Item"]

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = 1
CONFIG_NAME = "vigil.toml"
Item = ItemRow


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
        if self.index.ledger_size() != self.log.size or not self.log.in_step():
            with self.log.writer() as writer:
                self._catch_up(writer)

    def _catch_up(
        self,
        writer: LogWriter,
        chunk: int = 5000,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
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
            if progress is not None:
                progress(last, writer.size)
        if writer.size > start:
            logger.info("index: applied %d ledger entries", writer.size - start)
        indexed = set(self.index.checkpoint_sizes())  # verify and index only new ones
        for size in self.log.checkpoint_sizes():
            if size <= writer.size and size not in indexed:
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

    @contextlib.contextmanager
    def writing(self) -> Iterator[Callable[[Sequence[dict[str, Any]]], list[Event]]]:
        """Hold the ledger lock (index caught up) and yield a function that appends events.

        For writers that must decide what to log while no one else can append, such as
        `add`, which skips content already held from the same path.
        """
        with self.log.writer() as writer:
            self._catch_up(writer)
            yield lambda datas: self._append(writer, datas)

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
        """Store every file under *paths* as an item; see `vigil.capture.adding`."""
        adder = FileAdder(
            self,
            follow_symlinks=follow_symlinks,
            report=report,
            on_bytes=on_bytes,
            batch_size=batch_size,
            batch_seconds=batch_seconds,
        )
        return adder.run(paths)

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

    def add_record(self, kind: str, name: str, record: dict[str, Any], **fields: Any) -> ItemRow:
        """Store *record* (a claim, an incident, an estimate: something Vigil's users state
        or compute) as an item of *kind*: its blob is the record as canonical JSON, so it
        has a SHA-256, a ledger entry and a custody like any evidence; *fields* go into
        the event. Logged and signed at once."""
        blob = self.blobs.put(io.BytesIO(canonical_json(record)))
        [logged] = self.append_events([{
            "v": 1, "type": ITEM_ADDED, "kind": kind, "at": rfc3339(utc_now()),
            "item": new_item_id(), "sha256": blob.sha256, "size": blob.size,
            "media_type": "application/json", "name": name, **fields,
            "actor": Actor.current().as_json(),
        }])  # fmt: skip
        self.checkpoint()
        return ItemRow.from_event(logged)

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
            self._catch_up(writer, progress=progress)
            removed = self.blobs.remove_stale_temporaries()
            if removed:
                logger.info("blobs: removed %d temporary files of interrupted writers", removed)
            return writer.size

    def verify(
        self, *, trusted_key: Verifier | None = None, progress: Progress | None = None
    ) -> VerifyReport:
        """Check every blob, entry and checkpoint from the files alone (`vigil.verify`)."""
        from vigil.verify import verify_archive  # (with its X.509 code) only when used

        return verify_archive(self.root, trusted_key=trusted_key, progress=progress)


def _read_config(path: Path) -> dict[str, Any]:
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

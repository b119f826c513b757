"""`vigil add`: local files and folders stored as items, in durable batches.

For each file found by `vigil.capture.files.walk`: copy it into the blob store
and hash the copy, sniff its media type, and build an ``item.added`` event. Two
threads store files at once (copying, hashing and fsync run outside the GIL);
results are taken in the order the files were found. Every ``batch_size`` files
(or ``batch_seconds``), a barrier makes the batch's blobs durable, the events are
appended under the ledger lock (skipping content already held from the same
path), the index is committed, and only then is each file reported stored.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from vigil.capture.files import (
    FileCandidate,
    Skipped,
    claimed_file_metadata,
    describe_path,
    open_regular,
    walk,
)
from vigil.db.index import ItemRow
from vigil.errors import InputError
from vigil.events import ITEM_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.sniff import sniff_media_type

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["AddResult", "FileAdder", "Status"]

Status = Literal["stored", "exists", "skipped", "error"]
_STORE_THREADS = 2  # files stored at once
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


class FileAdder:
    """One run of `add` on an archive."""

    def __init__(
        self,
        archive: Archive,
        *,
        follow_symlinks: bool = False,
        report: Callable[[AddResult], None] | None = None,
        on_bytes: Callable[[int], None] | None = None,  # called from store threads
        batch_size: int = 256,
        batch_seconds: float = 1.0,
    ) -> None:
        self.archive = archive
        self.follow_symlinks = follow_symlinks
        self.report = report
        self.on_bytes = on_bytes
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.results: list[AddResult] = []
        self.actor = Actor.current().as_json()

    def run(self, paths: Iterable[Path]) -> list[AddResult]:
        """Store every file under *paths*; a signed checkpoint covering them ends the run."""
        with self.archive.blobs.deferred_sync():
            self._add_found(paths)
        self.archive.checkpoint()
        return self.results

    def _emit(self, result: AddResult) -> None:
        self.results.append(result)
        if self.report is not None:
            self.report(result)

    def _add_found(self, paths: Iterable[Path]) -> None:
        # Files are stored by a few threads at once (copying, hashing and fsync all run
        # outside the GIL), and their results are taken in the order they were found.
        batch = _Batch()
        in_flight: deque[Skipped | tuple[FileCandidate, Future[_Pending]]] = deque()

        def take_oldest() -> None:
            nonlocal batch
            oldest = in_flight.popleft()
            if isinstance(oldest, Skipped):
                status: Status = "error" if oldest.error else "skipped"
                self._emit(AddResult(oldest.path, status, oldest.reason))
                return
            found, future = oldest
            try:
                pending = future.result()
            except InputError as exc:
                self._emit(AddResult(describe_path(found.path)["path"], "error", str(exc)))
                return
            batch.pending.append(pending)
            full = len(batch.pending) >= self.batch_size
            if full or time.monotonic() - batch.started > self.batch_seconds:
                self._commit_batch(batch.pending)
                batch = _Batch()

        with ThreadPoolExecutor(_STORE_THREADS, thread_name_prefix="vigil-store") as pool:
            found_files = walk(
                paths, follow_symlinks=self.follow_symlinks, exclude=self.archive.root
            )
            for found in found_files:
                if isinstance(found, Skipped):
                    in_flight.append(found)
                else:
                    in_flight.append((found, pool.submit(self._store_file, found)))
                while len(in_flight) > _STORE_WINDOW:
                    take_oldest()
            while in_flight:
                take_oldest()
        self._commit_batch(batch.pending)

    def _store_file(self, candidate: FileCandidate) -> _Pending:
        stream, st = open_regular(candidate)
        try:
            with stream:
                stored = self.archive.blobs.put(stream, self.on_bytes)
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
            "media_type": sniff_media_type(stored.head),
            **names,
            "claimed": claimed_file_metadata(st, candidate.link_target),
            "actor": self.actor,
        }
        return _Pending(candidate, event, "empty file" if stored.size == 0 else "")

    def _commit_batch(self, pending: list[_Pending]) -> None:
        if not pending:
            return
        failed = self.archive.blobs.sync()  # every blob durable before its entry is logged
        if failed:
            for p in pending:
                if p.event["sha256"] in failed:
                    self._emit(AddResult(p.event["path"], "error", str(failed[p.event["sha256"]])))
            pending = [p for p in pending if p.event["sha256"] not in failed]
        index = self.archive.index
        with self.archive.writing() as append:
            fresh: list[_Pending] = []
            seen: dict[tuple[str, str], str] = {}
            repeats: list[tuple[str, str]] = []  # (path, item id) given twice in this batch
            with index.engine.connect() as conn:
                for p in pending:
                    key = (p.event["sha256"], p.event["path"])
                    if key in seen:  # (a file and its folder both given: logged once)
                        repeats.append((key[1], seen[key]))
                        continue
                    existing = index.find_by_content(conn, *key)
                    if existing is not None:
                        held = index.item(existing)
                        self._emit(
                            AddResult(key[1], "exists", f"already held as item {existing}", held)
                        )
                        continue
                    seen[key] = p.event["item"]
                    fresh.append(p)
            logged = append([p.event for p in fresh])
        rows = {}
        for p, ev in zip(fresh, logged, strict=True):
            rows[p.event["item"]] = row = ItemRow.from_event(ev)
            self._emit(AddResult(p.event["path"], "stored", p.message, row))
        for path, item_id in repeats:
            self._emit(AddResult(path, "exists", f"already held as item {item_id}", rows[item_id]))

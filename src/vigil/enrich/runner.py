"""`vigil enrich`: a resumable, idempotent queue of derivations over every item.

A derivation (`Derivation`) says which items it applies to and computes, from an
item's bytes alone, a JSON result (and the tool and version that made it). The
runner works out what is still to do **from the ledger's index**: an item with a
``derivative.added`` of that kind and the current tool version is done; one with a
``derivation.failed`` for that version is skipped (the failure is the record);
``redo`` recomputes a derivation for every item. Work runs in a process pool on all
cores; results are stored as blobs and logged in batches by this process (one
writer), so a killed run loses at most the batch in flight and a rerun continues.

Every result is a derivative (never a change to the original): its blob is the
canonical JSON result, its event names the item (``of``), the tool and version,
and carries the result (so indexes can be rebuilt from the ledger alone).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, select

from vigil.db.index import ItemRow
from vigil.db.schema import events, items
from vigil.enrich.keyframes import FRAME_FILES, FRAME_RESULT, frame_name
from vigil.errors import InputError
from vigil.events import DERIVATIVE_ADDED, Actor, canonical_json, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.redact import REDACTED

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = [
    "DERIVATIONS",
    "DERIVATION_FAILED",
    "Derivation",
    "EnrichReport",
    "Runner",
    "derivatives_of",
    "pdq_results",
]

DERIVATION_FAILED = "derivation.failed"
logger = logging.getLogger(__name__)


class Derivation(Protocol):
    name: str  # the derivative's kind

    def tool(self) -> str: ...

    def applies(self, item: ItemRow) -> bool: ...

    def derive(self, path: Path) -> dict[str, Any]: ...


class PdqDerivation:
    """PDQ hash, quality and the eight dihedral variants of every image."""

    name = "pdq"

    def tool(self) -> str:
        from vigil.enrich.pdq import tool_version

        return tool_version()

    def applies(self, item: ItemRow) -> bool:  # keyframes are hashed with their video
        return item.media_type.startswith("image/") and item.kind not in ("screenshot", "keyframe")

    def derive(self, path: Path) -> dict[str, Any]:
        from vigil.enrich.pdq import pdq_dihedral

        variants = pdq_dihedral(path)
        original = variants["ORIGINAL"]
        return {
            "pdq": original.hex,
            "quality": original.quality,
            "dihedral": {name: h.hex for name, h in variants.items() if name != "ORIGINAL"},
        }


def _derivations() -> dict[str, Derivation]:
    from vigil.enrich.c2pa import C2paDerivation
    from vigil.enrich.keyframes import KeyframesDerivation
    from vigil.enrich.metadata import MetadataDerivation
    from vigil.enrich.ocr import OcrDerivation

    return {
        "pdq": PdqDerivation(),
        "keyframes": KeyframesDerivation(),
        "metadata": MetadataDerivation(),
        "c2pa": C2paDerivation(),
        "ocr": OcrDerivation(),
    }


DERIVATIONS: dict[str, Derivation] = _derivations()


@dataclass
class EnrichReport:
    done: dict[str, int] = field(default_factory=dict)  # derivation -> items derived now
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: int = 0  # already done (or failed) with this tool version
    unavailable: dict[str, str] = field(default_factory=dict)  # derivation -> why (no tool)

    def as_json(self) -> dict[str, Any]:
        return {"done": self.done, "failed": self.failed, "skipped": self.skipped,
                "unavailable": self.unavailable}  # fmt: skip


def _run_one(derivation: Derivation, path: str) -> dict[str, Any]:
    """In a worker process: compute one result (exceptions travel back to the runner)."""
    return derivation.derive(Path(path))


class Runner:
    def __init__(
        self, archive: Archive, names: list[str] | None = None, *, c2pa_trust: str | None = None
    ) -> None:
        """*c2pa_trust*: the text of a c2pa settings JSON with a trust list, if any."""
        from vigil.enrich.c2pa import C2paDerivation

        unknown = set(names or []) - set(DERIVATIONS)
        if unknown:
            known = ", ".join(sorted(DERIVATIONS))
            raise InputError(f"unknown derivation {', '.join(sorted(unknown))}: known: {known}")
        self.archive = archive
        chosen = {**DERIVATIONS, "c2pa": C2paDerivation(c2pa_trust)}
        self.derivations = [chosen[n] for n in (names or sorted(DERIVATIONS))]
        self.actor = Actor.current().as_json()
        self.unavailable: dict[str, str] = {}

    def _finished(self, derivation: Derivation, tool: str) -> set[str]:
        """Items that have this derivation by this tool version, or failed it with it."""
        done = {
            of
            for of, entry in derivatives_of(self.archive, derivation.name)
            if entry["tool"] == tool
        }
        with self.archive.index.engine.connect() as conn:
            failed = conn.execute(
                select(events.c.item_id, events.c.entry).where(events.c.type == DERIVATION_FAILED)
            ).all()
        for item, raw in failed:
            data = json.loads(raw)
            if data["derivation"] == derivation.name and data["tool"] == tool:
                done.add(str(item))
        return done

    def todo(self, redo: set[str] | None = None) -> Iterator[tuple[Derivation, str, ItemRow]]:
        for derivation in self.derivations:
            try:
                tool = derivation.tool()
            except InputError as exc:  # its program is not installed: say so, do the rest
                self.unavailable[derivation.name] = str(exc)
                continue
            finished = (
                set() if derivation.name in (redo or set()) else self._finished(derivation, tool)
            )
            for item in self.archive.items():  # redacted copies: made to be shown, not studied
                if item.kind == REDACTED:
                    continue
                if item.id not in finished and derivation.applies(item):
                    yield derivation, tool, item

    def run(
        self,
        *,
        redo: set[str] | None = None,
        workers: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        batch: int = 64,
    ) -> EnrichReport:
        report = EnrichReport()
        work = list(self.todo(redo))
        report.unavailable = dict(self.unavailable)
        total = len(work)
        pending: list[dict[str, Any]] = []
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            futures: list[tuple[Derivation, str, ItemRow, Future[dict[str, Any]]]] = [
                (d, tool, item, pool.submit(_run_one, d, str(self.archive.blobs.path(item.sha256))))
                for d, tool, item in work
            ]
            for n, (derivation, tool, item, future) in enumerate(futures, 1):
                try:
                    result = future.result()
                except Exception as exc:  # recorded per item; the run goes on
                    message = f"{type(exc).__name__}: {exc}"[:500]
                    report.failed.append({"item": item.id, "derivation": derivation.name,
                                          "error": message})  # fmt: skip
                    pending.append(self._failed_event(derivation, tool, item, message))
                else:
                    if FRAME_FILES in result:
                        pending += self._frame_events(tool, item, result)
                    pending.append(self._derived_event(derivation, tool, item, result))
                    report.done[derivation.name] = report.done.get(derivation.name, 0) + 1
                if len(pending) >= batch or n == total:
                    self._log(pending)
                    pending = []
                if progress is not None:
                    progress(n, total)
        self._log(pending)
        if report.done.get("pdq") or report.done.get("keyframes"):
            from vigil.search.clusterstore import catch_up

            catch_up(self.archive)  # near-duplicate clusters follow the new hashes
        return report

    def _log(self, pending: list[dict[str, Any]]) -> None:
        if not pending:
            return
        failed = self.archive.blobs.sync()
        if failed:
            raise next(iter(failed.values()))
        self.archive.append_events(pending)
        self.archive.checkpoint()

    def _derived_event(
        self, derivation: Derivation, tool: str, item: ItemRow, result: dict[str, Any]
    ) -> dict[str, Any]:
        data = canonical_json(result)
        blob = self.archive.blobs.put(io.BytesIO(data))
        return {
            "v": 1,
            "type": DERIVATIVE_ADDED,
            "kind": derivation.name,
            "at": rfc3339(utc_now()),
            "item": new_item_id(),
            "of": item.id,
            "sha256": blob.sha256,
            "size": blob.size,
            "media_type": "application/json",
            "name": f"{derivation.name}.json",
            "tool": tool,
            "result": result,
            "actor": self.actor,
        }

    def _frame_events(
        self, tool: str, item: ItemRow, result: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Store each frame a derivation wrote as a ``keyframe`` derivative of *item*."""
        folder = Path(result.pop(FRAME_FILES))
        out = []
        try:
            for frame in result["frames"]:
                with Path(frame.pop("path")).open("rb") as f:
                    blob = self.archive.blobs.put(f)
                frame["sha256"] = blob.sha256
                frame["item"] = new_item_id()
                out.append({
                    "v": 1, "type": DERIVATIVE_ADDED, "kind": "keyframe",
                    "at": rfc3339(utc_now()), "item": frame["item"], "of": item.id,
                    "sha256": blob.sha256, "size": blob.size, "media_type": "image/jpeg",
                    "name": frame_name(frame), "tool": tool,
                    "result": {k: frame[k] for k in FRAME_RESULT}, "actor": self.actor,
                })  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return out

    def _failed_event(
        self, derivation: Derivation, tool: str, item: ItemRow, message: str
    ) -> dict[str, Any]:
        return {
            "v": 1,
            "type": DERIVATION_FAILED,
            "at": rfc3339(utc_now()),
            "item": item.id,
            "sha256": item.sha256,
            "derivation": derivation.name,
            "tool": tool,
            "error": message,
            "actor": self.actor,
        }


def derivatives_of(archive: Archive, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(item it was derived from, event) of every derivative of *kind*, oldest first."""
    query = (
        select(events.c.entry)
        .join(items, items.c.id == events.c.item_id)
        .where(and_(items.c.kind == kind, events.c.type == DERIVATIVE_ADDED))
        .order_by(events.c.idx)
    )
    with archive.index.engine.connect() as conn:
        for (raw,) in conn.execute(query):
            data = json.loads(raw)
            yield str(data["of"]), data


def pdq_results(archive: Archive) -> dict[str, dict[str, Any]]:
    """Item id -> its latest PDQ result (hash, quality, dihedral variants)."""
    return {of: event["result"] for of, event in derivatives_of(archive, "pdq")}

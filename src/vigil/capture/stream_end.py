"""The end of a live recording: ``stream.ended``, then one remuxed file per variant kept."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.capture.assemble import assemble
from vigil.db.index import ItemRow
from vigil.errors import CaptureError
from vigil.events import DERIVATIVE_ADDED, STREAM_ENDED, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.processes import process_alive

if TYPE_CHECKING:
    from vigil.capture.record import RecordingResult, StreamRecorder

__all__ = ["finish"]


def finish(rec: StreamRecorder, result: RecordingResult) -> None:
    """Log ``stream.ended``, assemble the file(s), sign a checkpoint."""
    rec.set_state("assembling")
    children = rec.archive.index.children(result.recording.id)
    segments = [c for c in children if c.kind == "segment"]
    rec.log(
        {
            "v": 1,
            "type": STREAM_ENDED,
            "at": rfc3339(utc_now()),
            "item": result.recording.id,
            "sha256": result.recording.sha256,
            "reason": result.reason,
            "abnormal": result.abnormal,
            "detail": result.detail,
            "segments": len(segments),
            "bytes": sum(s.size for s in segments),
            "duration": round(sum(float(s.claimed.get("duration") or 0) for s in segments), 3),
            "missing": result.missing,
            "problems": result.problems,
            "actor": rec.actor,
        }
    )
    if rec.options.assemble and segments:
        _assemble_all(rec, result, children, segments)
    rec.archive.checkpoint()


def _scratch(root: Path) -> Path:
    """``run/assemble`` in the archive (not under blobs/), cleared of dead processes' work."""
    folder = root / "run" / "assemble"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        pid = stale.name.split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return folder


def _assemble_all(
    rec: StreamRecorder, result: RecordingResult, children: list[ItemRow], segments: list[ItemRow]
) -> None:
    keys = {c.url: c for c in children if c.kind == "key" and c.url}
    inits = {c.url: c for c in children if c.kind == "init" and c.url}
    by_playlist: dict[str, list[ItemRow]] = {}
    for seg in segments:
        by_playlist.setdefault(str(seg.claimed.get("playlist")), []).append(seg)
    # One file per variant recorded with --all-variants; otherwise one file, across
    # any variant switch (marked as a discontinuity).
    groups = list(by_playlist.values()) if rec.options.all_variants else [segments]
    scratch = _scratch(rec.archive.root)
    for group in groups:
        group.sort(key=lambda s: s.added_index)
        try:
            made = assemble(group, keys, inits, rec.archive.blobs.path, scratch)
        except CaptureError as exc:
            rec.problem(str(exc))
            continue
        try:
            with made.path.open("rb") as f:
                blob = rec.archive.blobs.put(f)
        finally:
            made.cleanup()
        rec.log(
            {
                "v": 1,
                "type": DERIVATIVE_ADDED,
                "kind": "remux",
                "at": rfc3339(utc_now()),
                "item": new_item_id(),
                "of": result.recording.id,
                "sha256": blob.sha256,
                "size": blob.size,
                "media_type": made.media_type,
                "name": f"{result.recording.id}.{made.path.suffix.lstrip('.')}",
                "url": rec.url,
                "tool": made.tool,
                "command": made.command,
                "made_from": made.made_from,
                "playlist": group[0].claimed.get("playlist"),
                "note": "remuxed without re-encoding; the segments are the evidence",
                "actor": rec.actor,
            }
        )

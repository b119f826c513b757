"""Public copies: what a public package holds in place of each original (invariant 6).

* texts (posts, pages, JSON, plain text) are public as they are;
* images, videos and audio are replaced by their latest **redacted copy**
  (`vigil.redact`: faces blurred, metadata stripped), a ``redacted`` derivative of the
  original made by ``vigil redact ITEM`` (where a reviewer can add boxes) or, if there is
  none yet, made and logged automatically when the public package is written;
* a WARC is rewritten (also a ``redacted`` derivative): every image or video response
  payload is replaced by its redacted copy, with its digests recomputed, the HTTP
  headers' length and type adjusted and the original record's id kept in
  ``WARC-Vigil-Redacted-From``; every other record is copied;
* anything else (PDF, office files, archives: their metadata and contents may name
  people, and Vigil cannot clean them) is left out, and the package says why.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.errors import InputError
from vigil.events import DERIVATIVE_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.redact import Box, redact_file, redactable, tool_version

if TYPE_CHECKING:
    from vigil.archive import Archive
    from vigil.db.index import ItemRow

__all__ = ["REDACTED", "public_copy", "redact_item", "redaction_of"]

REDACTED = "redacted"  # the kind of a redacted copy
TEXTS = ("text/", "application/json", "application/ld+json", "application/xml",
         "application/xhtml+xml", "application/rss+xml", "application/atom+xml")  # fmt: skip
_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4",
           "audio/x-matroska": "mka", "application/warc": "warc.gz"}  # fmt: skip


def redaction_of(archive: Archive, item_id: str) -> ItemRow | None:
    """The latest redacted copy of an item, if any."""
    copies = [c for c in archive.index.children(item_id) if c.kind == REDACTED]
    return copies[-1] if copies else None


def _copy_out(archive: Archive, sha256: str, target: Path) -> None:
    with archive.blobs.open(sha256) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def redact_item(
    archive: Archive,
    ref: str,
    boxes: list[Box] | None = None,
    *,
    detect: bool = True,
    reason: str | None = None,
    is_warc: bool = False,
) -> ItemRow:
    """Make, store and log a redacted copy of the item *ref*; returns the copy's row."""
    row = archive.item(ref)
    if row.kind == REDACTED:
        raise InputError(f"{row.id}: this is already a redacted copy (redact its original)")
    if not (is_warc or redactable(row.media_type)):
        raise InputError(f"{row.id}: no redacted copy can be made of {row.media_type}")
    with tempfile.TemporaryDirectory(prefix="vigil-redact-") as scratch:
        src, dst = Path(scratch) / "original", Path(scratch) / "redacted"
        _copy_out(archive, row.sha256, src)
        if is_warc:
            from vigil.export.warcredact import redact_warc

            result = redact_warc(src, dst, detect=detect)
        else:
            result = redact_file(src, dst, row.media_type, list(boxes or []), detect=detect)
        with dst.open("rb") as f:
            blob = archive.blobs.put(f)
    failed = archive.blobs.sync()
    if failed:
        raise next(iter(failed.values()))
    media_type = str(result.pop("media_type"))
    stem = row.name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or row.id
    event: dict[str, Any] = {
        "v": 1, "type": DERIVATIVE_ADDED, "kind": REDACTED, "at": rfc3339(utc_now()),
        "item": new_item_id(), "of": row.id, "sha256": blob.sha256, "size": blob.size,
        "media_type": media_type, "name": f"{stem}.redacted.{_SUFFIX.get(media_type, 'bin')}",
        "tool": tool_version(), "result": result, "actor": Actor.current().as_json(),
    }  # fmt: skip
    if reason:
        event["reason"] = reason
    archive.append_events([event])
    archive.checkpoint()
    return archive.item(event["item"])


def public_copy(archive: Archive, row: ItemRow, is_warc: bool) -> tuple[ItemRow | None, str]:
    """What a public package holds for *row* (itself, or its redacted copy), or None and
    why it is left out."""
    if row.media_type.startswith(TEXTS) and not is_warc:
        return row, ""
    if not (is_warc or redactable(row.media_type)):
        return None, f"no public copy of {row.media_type} (its contents may identify people)"
    found = redaction_of(archive, row.id)
    if found is not None:
        return found, ""
    try:
        return redact_item(archive, row.id, reason="public package", is_warc=is_warc), ""
    except InputError as exc:
        return None, f"no public copy could be made: {exc}"

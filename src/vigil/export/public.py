"""Public copies: what a public package holds in place of each original (invariant 6).

* texts that are content (files, posts, pages, their extracted text, media such as
  subtitles, incidents) are public as they are, unless they embed media as ``data:``
  URIs (a photo inside a page's HTML) or name the capturer's address in a platform's
  signed URL: then by their redacted copy, the text with each such image or video
  redacted, anything else embedded removed and the address masked
  (`vigil.export.datauris`, `vigil.export.clientip`); texts that describe an original
  (its metadata with GPS, C2PA, OCR, hashes, WARC indexes) or hold lists of people
  (casualty lists, linkage, estimates) are left out;
* images, videos and audio are replaced by their latest **redacted copy**
  (`vigil.redact`: faces blurred, metadata stripped), a ``redacted`` derivative of the
  original made by ``vigil redact ITEM`` (where a reviewer adds boxes; boxes add up
  from one copy to the next) or, if there is none yet, made and logged automatically
  when the public package is written;
* a WARC is rewritten (also a ``redacted`` derivative, `vigil.export.warcredact`);
* anything else (PDF, office files, archives: their metadata and contents may name
  people, and Vigil cannot clean them) is left out, and the package says why.

Sealed items are never redacted (they are never public).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.errors import InputError
from vigil.events import DERIVATIVE_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.redact import REDACTED, Box, redact_file, redactable, tool_version

if TYPE_CHECKING:
    from vigil.archive import Archive
    from vigil.db.index import ItemRow

__all__ = [
    "REDACTED", "copy_event", "is_warc", "public_copy", "redact_item", "redaction_of"
]  # fmt: skip

TEXTS = ("text/", "application/json", "application/ld+json", "application/xml",
         "application/xhtml+xml", "application/rss+xml", "application/atom+xml")  # fmt: skip
PUBLIC_TEXTS = {"file", "post", "page", "text", "media", "incident"}  # what texts may be public
_SUFFIX = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4",
           "audio/x-matroska": "mka", "application/warc": "warc.gz", "text/html": "html",
           "text/plain": "txt", "text/css": "css", "application/json": "json",
           "application/xhtml+xml": "xhtml", "application/xml": "xml"}  # fmt: skip


def is_warc(archive: Archive, row: ItemRow) -> bool:
    """Whether the item is a WARC (by kind, or by its first record)."""
    if row.kind == "warc":
        return True
    with archive.blobs.open(row.sha256) as f:
        head = f.read(4096)
    if head[:2] == b"\x1f\x8b":  # a .warc.gz: the first record's start, inflated
        with contextlib.suppress(zlib.error):
            head = zlib.decompressobj(wbits=31).decompress(head, 16)
    return head.startswith(b"WARC/")


def _needs_copy(archive: Archive, row: ItemRow) -> bool:
    """Whether a text item embeds media or names the capturer's address (read whole:
    texts are small enough)."""
    from vigil.export.datauris import needs_public_copy

    with archive.blobs.open(row.sha256) as f:
        return needs_public_copy(f.read())


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
) -> ItemRow:
    """Make, store and log a redacted copy of the item *ref*; returns the copy's row.

    The boxes of the item's previous copy are blurred again (a reviewer's boxes add up);
    the event records them all. Sealed items are refused: they are never public."""
    from vigil.access import sealed_ids

    row = archive.item(ref)
    warc = is_warc(archive, row)
    given = list(boxes or [])
    if row.kind == REDACTED:
        raise InputError(f"{row.id}: this is already a redacted copy (redact its original)")
    text = row.media_type.startswith(TEXTS) and not warc
    if not (warc or text or redactable(row.media_type)):
        raise InputError(f"{row.id}: no redacted copy can be made of {row.media_type}")
    if text and given:
        raise InputError(f"{row.id}: a text's embedded images are redacted by detection; "
                         "boxes need an image or a video")  # fmt: skip
    if row.id in sealed_ids(archive):
        raise InputError(f"{row.id}: sealed items are never public (unseal it first)")
    if warc and given:
        raise InputError(f"{row.id}: a WARC's images are redacted by detection; boxes need an "
                         "image or a video (redact the captured media item)")  # fmt: skip
    if not detect and not given:  # (a WARC's or a text's images would keep their faces)
        raise InputError(f"{row.id}: --no-detect needs at least one --box (else nothing is "
                         "blurred)")  # fmt: skip
    earlier = redaction_of(archive, row.id)
    if earlier is not None:  # keep what a reviewer covered before
        for box in earlier_boxes(archive, earlier):
            if box not in given:
                given.append(box)
    tool = tool_version()
    with tempfile.TemporaryDirectory(prefix="vigil-redact-") as scratch:
        src, dst = Path(scratch) / "original", Path(scratch) / "redacted"
        _copy_out(archive, row.sha256, src)
        if warc:
            from vigil.export.warcredact import redact_warc

            result = redact_warc(src, dst, detect=detect)
        elif text:
            from vigil.export.datauris import redact_text_file

            result = redact_text_file(src, dst, row.media_type, detect=detect)
        else:
            result = redact_file(src, dst, row.media_type, given, detect=detect)
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
        "tool": tool, "result": result, "actor": Actor.current().as_json(),
    }  # fmt: skip
    if reason:
        event["reason"] = reason
    archive.append_events([event])
    archive.checkpoint()
    return archive.item(event["item"])


def copy_event(archive: Archive, copy: ItemRow) -> dict[str, Any]:
    """The ``derivative.added`` event that made a redacted copy (tool, result, reason)."""
    [(_, added)] = archive.index.item_events(copy.id)[:1]
    event: dict[str, Any] = json.loads(added)
    return event


def earlier_boxes(archive: Archive, copy: ItemRow) -> list[Box]:
    """The boxes a redacted copy was made with (given, not detected)."""
    return [Box(*b) for b in copy_event(archive, copy).get("result", {}).get("boxes", [])]


def public_copy(archive: Archive, row: ItemRow, is_warc: bool) -> tuple[ItemRow | None, str]:
    """What a public package holds for *row* (itself, or its redacted copy), or None and
    why it is left out."""
    if row.media_type.startswith(TEXTS) and not is_warc:
        if row.kind not in PUBLIC_TEXTS:
            return None, (f"a {row.kind} is not public: it describes the original (metadata, "
                          "places, hashes) or names people")  # fmt: skip
        if not _needs_copy(archive, row):
            return row, ""
    elif not (is_warc or redactable(row.media_type)):
        return None, f"no public copy of {row.media_type} (its contents may identify people)"
    found = redaction_of(archive, row.id)
    if found is not None:
        return found, ""
    try:
        return redact_item(archive, row.id, reason="public package"), ""
    except (InputError, OSError, subprocess.SubprocessError) as exc:  # this item only
        return None, f"no public copy could be made: {exc}"

"""A WARC with every image and video response redacted (`vigil.redact`), for the public.

Records are read with warcio. A response (or resource) whose payload is neither text
(HTML, JSON, XML, plain text) nor an image or video, or has no type, is left out: a
PDF or an office file may name people and cannot be cleaned here (design invariant 6).
Every other record (requests, metadata, warcinfo, text responses) is copied byte for
byte (its gzip member as stored; a record of an uncompressed WARC is compressed on its
own). An image or video response gets a new record: the payload decoded (chunking and
content encoding undone) and redacted; the HTTP headers keep their status and fields
but say the new type and length; the WARC headers keep the URI, date and IP, with
digests recomputed and the original's ``WARC-Record-ID`` in
``WARC-Vigil-Redacted-From``. A payload that cannot be redacted is left out too. What
was left out, and why, is in the result.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from vigil.errors import InputError
from vigil.export.public import TEXTS
from vigil.redact import redact_file

__all__ = ["redact_warc"]

MEDIA = ("image/", "video/")  # redacted; texts are copied; any other payload is left out
_DROP_HTTP = {"content-length", "content-encoding", "transfer-encoding", "content-type"}
_DROP_WARC = {"warc-record-id", "warc-block-digest", "warc-payload-digest", "content-length",
              "content-type", "warc-type", "warc-target-uri"}  # fmt: skip


def _payload_type(record: Any) -> str | None:
    """The media type of a response's payload; None for records that carry none."""
    if record.rec_type not in ("response", "resource"):
        return None
    if record.http_headers is not None:
        value = record.http_headers.get_header("Content-Type") or ""
    else:
        value = record.rec_headers.get_header("Content-Type") or ""
    return str(value).split(";", 1)[0].strip().lower()


def _redacted_record(
    writer: WARCWriter, record: Any, media_type: str, scratch: Path, detect: bool
) -> tuple[bytes, dict[str, Any]]:
    """The new record (gzip member) for one image or video response, and what was found."""
    src, dst = scratch / "payload", scratch / "redacted"
    src.write_bytes(record.content_stream().read())
    done = redact_file(src, dst, media_type, [], detect=detect)
    body = dst.read_bytes()
    old = record.http_headers
    fields = [(k, v) for k, v in old.headers if k.lower() not in _DROP_HTTP]
    fields += [("Content-Type", done["media_type"]), ("Content-Length", str(len(body)))]
    http_headers = StatusAndHeaders(old.statusline, fields, protocol=old.protocol)
    warc_fields = {k: v for k, v in record.rec_headers.headers if k.lower() not in _DROP_WARC}
    warc_fields["WARC-Vigil-Redacted-From"] = record.rec_headers.get_header("WARC-Record-ID")
    uri = record.rec_headers.get_header("WARC-Target-URI")
    new = writer.create_warc_record(
        uri, "response", payload=io.BytesIO(body), length=len(body),
        warc_headers_dict=warc_fields, http_headers=http_headers,
    )  # fmt: skip
    out = io.BytesIO()
    WARCWriter(out, gzip=True, warc_version="1.1").write_record(new)
    faces = len(done.get("faces", [])) + done.get("frames_with_faces", 0)
    return out.getvalue(), {"uri": uri, "media_type": media_type, "faces": faces}


def redact_warc(src: Path, dst: Path, *, detect: bool = True) -> dict[str, Any]:
    """Write *src* (a WARC, gzipped or not) to *dst* (gzipped) with media redacted."""
    raw = src.read_bytes()
    gzipped = raw[:2] == b"\x1f\x8b"
    redacted: list[dict[str, Any]] = []
    left_out: list[dict[str, str]] = []
    pieces: list[bytes] = []
    writer = WARCWriter(io.BytesIO(), gzip=True, warc_version="1.1")
    with tempfile.TemporaryDirectory(prefix="vigil-warc-") as tmp, io.BytesIO(raw) as stream:
        records = ArchiveIterator(stream, check_digests=False)
        try:
            for record in records:  # (offsets are only known once a record is read)
                media_type = _payload_type(record)
                uri = record.rec_headers.get_header("WARC-Target-URI") or "?"
                if media_type is not None and not media_type.startswith(TEXTS + MEDIA):
                    records.read_to_end(record)  # a PDF, an archive: cannot be cleaned
                    left_out.append({"uri": uri, "why": f"no public copy of {media_type or '?'}"})
                    continue
                if media_type is not None and media_type.startswith(MEDIA):
                    if record.http_headers is None:  # a resource record: no headers to keep
                        left_out.append({"uri": uri, "why": "media outside an HTTP response"})
                        records.read_to_end(record)
                        continue
                    try:
                        piece, note = _redacted_record(
                            writer, record, media_type, Path(tmp), detect
                        )
                    except InputError as exc:
                        left_out.append({"uri": uri, "why": str(exc)})
                        records.read_to_end(record)
                        continue
                    records.read_to_end(record)
                    pieces.append(piece)
                    redacted.append(note)
                    continue
                records.read_to_end(record)
                offset = records.get_record_offset()
                member = raw[offset : offset + records.get_record_length()]
                pieces.append(member if gzipped else gzip.compress(member, mtime=0))
        except ArchiveLoadFailed as exc:
            raise InputError(f"{src.name}: not a readable WARC ({exc})") from None
    dst.write_bytes(b"".join(pieces))
    return {"media_type": "application/warc", "redacted": redacted, "left_out": left_out}

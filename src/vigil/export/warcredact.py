"""A WARC with every image and video response redacted (`vigil.redact`), for the public.

Records are read with warcio; what the public copy holds:

* a new ``warcinfo`` record naming it a public copy (the original's, which may name the
  crawl's operator and host, is left out);
* ``response`` and ``resource`` records by what their payload **is** (libmagic on the
  bytes) as well as what it was labelled: an image or a video by either is redacted
  (the payload decoded, chunking and content encoding undone; a new record with the
  status, the date and the new type and length as its only HTTP headers, so no file
  name or ETag of the original survives; the WARC headers keep the URI, date and IP,
  digests recomputed, the original's ``WARC-Record-ID`` in ``WARC-Vigil-Redacted-From``);
  text by both label and bytes, and empty payloads, are copied byte for byte (its gzip
  member as stored; a record of an uncompressed WARC is compressed on its own), unless
  it embeds media as ``data:`` URIs: then it is rebuilt the same way with those URIs
  scrubbed (`vigil.export.datauris`: images and videos redacted, the rest removed);
  anything else (PDF, office files, archives, audio, untyped) is left out;
* ``revisit`` records (no payload) are copied; ``request`` (cookies, credentials),
  ``metadata``, ``conversion``, ``continuation`` and other records are left out.

What was redacted, scrubbed, left out and dropped is in the result.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from vigil import __version__
from vigil.blobs.base import HEAD_SIZE
from vigil.errors import InputError
from vigil.export.clientip import mask_client_ips, mask_in
from vigil.export.datauris import needs_public_copy, public_text
from vigil.export.public import TEXTS
from vigil.redact import redact_file
from vigil.sniff import sniff_media_type

__all__ = ["redact_warc"]

MEDIA = ("image/", "video/")  # redacted; texts are copied; any other payload is left out
PAYLOADS = ("response", "resource")
KEPT = ("revisit",)  # no payload: copied; requests, metadata, warcinfo and the rest: left out
_KEEP_HTTP = {"date"}  # a redacted response keeps its status, date, and says its type/length
# WARC headers a rebuilt record drops: its digests and length change, and what it was
# concurrent to, cut from or segmented with is no longer what it holds
_DROP_WARC = {"warc-record-id", "warc-block-digest", "warc-payload-digest", "content-length",
              "content-type", "warc-type", "warc-target-uri", "warc-truncated",
              "warc-concurrent-to", "warc-warcinfo-id", "warc-segment-number",
              "warc-segment-origin-id", "warc-segment-total-length",
              "warc-identified-payload-type"}  # fmt: skip
_TEXTS_SNIFFED = ("text/", "application/json", "application/xml", "application/javascript",
                  "application/x-empty", "image/svg+xml")  # fmt: skip


def _declared(record: Any) -> str:
    headers = record.http_headers if record.http_headers is not None else record.rec_headers
    value = headers.get_header("Content-Type") or ""
    return str(value).split(";", 1)[0].strip().lower()


def _decision(declared: str, sniffed: str) -> str:
    """``redact`` (an image or video by its bytes or its label), ``copy`` (text by both,
    or empty), or ``leave`` (anything else, whatever its label says)."""
    if sniffed == "application/x-empty":
        return "copy"
    if sniffed.startswith(MEDIA) or declared.startswith(MEDIA):
        return "redact"
    if sniffed.startswith(_TEXTS_SNIFFED) and declared.startswith(TEXTS):
        return "copy"
    return "leave"


def _rebuilt(
    writer: WARCWriter, record: Any, body: BinaryIO, length: int, content_type: str,
    out: BinaryIO,
) -> None:  # fmt: skip
    """Write to *out* a new record (gzip member) in place of *record*, holding *body*
    (decoded, *length* bytes) of *content_type*: of its HTTP headers only the status
    and date are kept; its WARC headers keep the URI, date and IP, the digests are new,
    and the original's id is in ``WARC-Vigil-Redacted-From``."""
    warc_fields = {k: v for k, v in record.rec_headers.headers if k.lower() not in _DROP_WARC}
    warc_fields["WARC-Vigil-Redacted-From"] = record.rec_headers.get_header("WARC-Record-ID")
    uri = mask_in(record.rec_headers.get_header("WARC-Target-URI"))  # (the capturer's address)
    old = record.http_headers
    if old is None:  # a resource record: the body alone
        new = writer.create_warc_record(
            uri, "resource", payload=body, length=length,
            warc_headers_dict=warc_fields, warc_content_type=content_type,
        )  # fmt: skip
    else:
        fields = [(k, v) for k, v in old.headers if k.lower() in _KEEP_HTTP]
        fields += [("Content-Type", content_type), ("Content-Length", str(length))]
        http_headers = StatusAndHeaders(old.statusline, fields, protocol=old.protocol)
        new = writer.create_warc_record(
            uri, "response", payload=body, length=length,
            warc_headers_dict=warc_fields, http_headers=http_headers,
        )  # fmt: skip
    WARCWriter(out, gzip=True, warc_version="1.1").write_record(new)


def _redacted_record(
    writer: WARCWriter, record: Any, payload: Path, media_type: str, scratch: Path,
    detect: bool, out: BinaryIO,
) -> dict[str, Any]:  # fmt: skip
    """Write the new record for one image or video response; what was found."""
    dst = scratch / "redacted"
    done = redact_file(payload, dst, media_type, [], detect=detect)
    with dst.open("rb") as body:
        _rebuilt(writer, record, body, dst.stat().st_size, done["media_type"], out)
    faces = len(done.get("faces", [])) + done.get("frames_with_faces", 0)
    uri = mask_in(record.rec_headers.get_header("WARC-Target-URI"))
    return {"uri": uri, "media_type": media_type, "faces": faces}


def _scrubbed_record(
    writer: WARCWriter, record: Any, payload: bytes, detect: bool, out: BinaryIO
) -> dict[str, Any]:
    """Write the new record for a text that embeds media or names the capturer's address
    (in it or in its URI); what was done. `InputError` if its media cannot all be
    rewritten (`vigil.export.datauris`)."""
    text, done = public_text(payload, detect=detect)
    headers = record.http_headers if record.http_headers is not None else record.rec_headers
    content_type = headers.get_header("Content-Type") or "text/plain"  # (its charset kept)
    _rebuilt(writer, record, io.BytesIO(text), len(text), content_type, out)
    uri = mask_in(record.rec_headers.get_header("WARC-Target-URI"))
    return {"uri": uri, **done}


def _warcinfo(writer: WARCWriter, name: str) -> bytes:
    info = {"software": f"Vigil {__version__}", "format": "WARC File Format 1.1",
            "description": "a public copy: images and videos redacted, "
                           "other records left out"}  # fmt: skip
    out = io.BytesIO()
    WARCWriter(out, gzip=True, warc_version="1.1").write_record(
        writer.create_warcinfo_record(name, info)
    )
    return out.getvalue()


def redact_warc(src: Path, dst: Path, *, detect: bool = True) -> dict[str, Any]:
    """Write *src* (a WARC, gzipped or not) to *dst* (gzipped) with media redacted.

    Streams: records are copied from *src* by offset, and a payload to redact goes
    through a scratch file, so memory stays flat for WARCs of any size (a text that
    is copied is read whole, to look for ``data:`` URIs)."""
    with src.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    result: dict[str, Any] = {"media_type": "application/warc", "redacted": [], "scrubbed": [],
                              "left_out": [], "records_dropped": {}}  # fmt: skip
    writer = WARCWriter(io.BytesIO(), gzip=True, warc_version="1.1")
    with (
        tempfile.TemporaryDirectory(prefix="vigil-warc-") as tmp,
        src.open("rb") as stream,
        src.open("rb") as members,
        dst.open("wb") as out,
    ):
        out.write(_warcinfo(writer, dst.name))
        records = ArchiveIterator(stream, check_digests=False)
        try:
            for record in records:  # (offsets are only known once a record is read)
                copy = _public_record(writer, record, Path(tmp), detect, result, out)
                records.read_to_end(record)
                if not copy:
                    continue
                offset, length = records.get_record_offset(), records.get_record_length()
                if offset < 0 or length < 1:  # (warcio cannot place records in one gzip stream)
                    raise InputError(f"{src.name}: its records cannot be located (gzipped as "
                                     "a whole, not record by record)")  # fmt: skip
                members.seek(offset)
                member = members.read(length)
                out.write(member if gzipped else gzip.compress(member, mtime=0))
        except ArchiveLoadFailed as exc:
            raise InputError(f"{src.name}: not a readable WARC ({exc})") from None
    return result


def _public_record(
    writer: WARCWriter, record: Any, scratch: Path, detect: bool, result: dict[str, Any],
    out: BinaryIO,
) -> bool:  # fmt: skip
    """Write to *out* what the public copy holds for *record* (a new record, or nothing;
    what and why go into *result*); True if the record is to be copied as it is."""
    if record.rec_type not in PAYLOADS + KEPT:
        dropped = result["records_dropped"]
        dropped[record.rec_type] = dropped.get(record.rec_type, 0) + 1
        return False
    uri = record.rec_headers.get_header("WARC-Target-URI") or "?"
    if record.rec_type in KEPT:
        if mask_client_ips(uri.encode())[1]:  # (a revisit is not rebuilt: left out)
            result["left_out"].append({"uri": mask_in(uri), "why": "its URI names the "
                                       "capturer's address"})  # fmt: skip
            return False
        return True
    body = record.content_stream()  # (decoded: warcio reads an undecodable body as sent)
    head = _read_up_to(body, HEAD_SIZE)
    sniffed = sniff_media_type(head)
    action = _decision(_declared(record), sniffed)
    if action == "redact" and record.http_headers is None:
        action = "leave"  # a resource record: no HTTP exchange to rebuild
    if action == "leave":  # a PDF, an archive, audio, untyped: cannot be cleaned
        what = sniffed or _declared(record) or "?"
        result["left_out"].append({"uri": mask_in(uri), "why": f"no public copy of {what}"})
        return False
    try:
        if action == "copy":
            text = head + body.read()
            if not needs_public_copy(text) and not mask_client_ips(uri.encode())[1]:
                return True
            result["scrubbed"].append(_scrubbed_record(writer, record, text, detect, out))
            return False
        payload = scratch / "payload"
        with payload.open("wb") as f:
            f.write(head)
            shutil.copyfileobj(body, f, 1 << 20)
        kind = sniffed if sniffed.startswith(MEDIA) else _declared(record)
        result["redacted"].append(_redacted_record(writer, record, payload, kind, scratch,
                                                   detect, out))  # fmt: skip
    except InputError as exc:  # this record cannot be made public: it is left out
        result["left_out"].append({"uri": mask_in(uri), "why": str(exc)})
    return False


def _read_up_to(stream: Any, size: int) -> bytes:
    """*size* bytes of *stream*, fewer only at its end (warcio's reads may stop short)."""
    chunks, got = [], 0
    while got < size and (chunk := stream.read(size - got)):
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)

"""WARC, ARC and WACZ files made elsewhere (`vigil import warc PATH`).

Each file is first read whole. A file warcio cannot read to the end is refused,
naming it, and nothing of it is stored; the other files go on. So is a file cut
short, as an interrupted download is: a record that ends before the bytes its
``Content-Length`` declares (or that lost its headers' end), a last gzip member
without its end, or a partial record after the last whole one. Then it is kept
as it is, and every ``response``, ``resource`` and ``revisit`` record with a body
becomes an item: its decoded payload as the blob, the record's offset, length,
id, type, target URI and HTTP status, and the result of checking its digests
(``WARC-Block-Digest``, ``WARC-Payload-Digest``). A mismatch is reported and
kept on the item, not hidden; so is a digest the record states but that could
not be checked (``digest_ok`` null, the reason in ``digest_problems``). Dates
inside an imported WARC are its maker's claims, so they are recorded under
``claimed``.

A WACZ is read in place (never extracted): the hashes its ``datapackage.json``
declares are checked, and each WARC in ``archive/`` is imported as above.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import warcio
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataException
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from vigil.db.index import ItemRow
from vigil.errors import InputError
from vigil.events import DERIVATIVE_ADDED, ITEM_ADDED, Actor, canonical_json, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.sniff import sniff_media_type

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["WarcImportResult", "import_warcs"]

_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wacz")
_BODY_TYPES = ("response", "resource", "revisit")
MAX_MEMBER = 64 << 30  # refuse a WACZ member that claims or inflates beyond this
# what warcio raises on input it cannot parse
_UNREADABLE = (
    ArchiveLoadFailed,
    StatusAndHeadersParserException,
    ChunkedDataException,
    ValueError,
    OSError,
    EOFError,
)
# what reading a zip member can raise: bad CRC or header, deflate error, an
# encrypted member (RuntimeError), an unsupported compression method
_BAD_ZIP = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError)


@dataclass
class WarcImportResult:
    files: list[ItemRow] = field(default_factory=list)
    records: list[ItemRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "files": [{"id": f.id, "sha256": f.sha256, "name": f.name} for f in self.files],
            "records": len(self.records),
            "problems": self.problems,
            "refused": self.refused,
        }


def _warc_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
    raise InputError(f"{path}: no such file or folder")


def _digest_ok(record: Any) -> bool | None:
    """True/False per warcio's digest check of the record; None when none was checked."""
    problems = getattr(record, "digest_checker", None)
    if problems is None:
        return None
    status = problems.passed
    return None if status is None else bool(status)


def _digest_problems(record: Any) -> list[str]:
    """warcio's digest problems, plus a stated digest that went unchecked.

    warcio leaves ``passed`` at None both when a record states no digest and when
    it states one it never compared (an empty block, say), so a null alone would
    read as "nothing to check". A revisit's payload digest names the payload of
    the record it revisits, so warcio rightly skips it and so do we.
    """
    checker = getattr(record, "digest_checker", None)
    found = list(checker.problems) if checker is not None else []
    if _digest_ok(record) is not None or record.rec_type == "revisit":
        return found
    headers = record.rec_headers
    stated = [h for h in ("WARC-Block-Digest", "WARC-Payload-Digest") if headers.get_header(h)]
    if stated:
        found.append(f"{' and '.join(stated)} stated but could not be checked")
    return found


def _truncation(iterator: ArchiveIterator, record: Any, number: int, offset: int) -> str | None:
    """Why the record is cut short, or None if all its declared bytes were there.

    warcio reads a record through a reader limited to its ``Content-Length`` and
    stops quietly at the end of the file (or of the gzip member), so a cut file
    looks whole: the limit left unread after the record was read to its end is
    the sign. A file cut inside a record's headers yields a record without its
    (mandatory) ``Content-Length``, or with an empty one.
    """
    stated = record.rec_headers.get_header("Content-Length")
    if not (isinstance(stated, str) and stated.strip().isdigit()):
        return (
            f"truncated or malformed: record {number} ({record.rec_type} at offset {offset}) "
            f"has no valid Content-Length ({stated!r})"
        )
    declared = record.length
    left = getattr(record.raw_stream, "limit", 0)
    if not isinstance(declared, int) or not isinstance(left, int) or left <= 0:
        return None
    where = f"record {number} ({record.rec_type} at offset {offset})"
    read = f"ends after {declared - left} of {declared} bytes"
    if iterator.reader.rem_length() > 0 or iterator.reader.stream.read(1):
        return f"{where} {read}, where its gzip member ends (a record split across members)"
    return f"truncated: {where} {read}"


class _CountingReader:
    """Reads through to *stream*, counting the bytes and keeping the last few.

    warcio stops without a word at a partial record or gzip member at the end of
    a file; comparing what was read with where the last whole record ended is
    how such a tail is found.
    """

    KEEP = 64

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.count = 0
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        self.tail = (self.tail + data[-self.KEEP :])[-self.KEEP :]
        return data

    def tell(self) -> int:
        return self.count

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _leftover(reader: _CountingReader, end: int) -> str | None:
    """Why the bytes after the last whole record (ending at *end*) are a problem, if they are.

    Only the blank lines that separate uncompressed records may follow it.
    """
    reader.drain()
    extra = reader.count - end
    if extra <= 0 or (extra <= len(reader.tail) and not reader.tail[-extra:].strip()):
        return None
    return f"truncated: {extra} bytes after the last whole record (offset {end}) form no record"


def _index_entry(iterator: ArchiveIterator, record: Any, number: int) -> dict[str, Any]:
    """Read *record* to its end and describe it; `InputError` (without the file) if cut."""
    digest = hashlib.sha256()
    payload = record.content_stream()
    while chunk := payload.read(1 << 20):
        digest.update(chunk)
    offset = iterator.get_record_offset()  # reads the rest of the raw record
    cut = _truncation(iterator, record, number, offset)
    if cut is not None:
        raise InputError(cut)
    headers = record.rec_headers
    return {
        "offset": offset,
        "length": iterator.get_record_length(),
        "type": record.rec_type,
        "uri": headers.get_header("WARC-Target-URI"),
        "date": headers.get_header("WARC-Date"),
        "record_id": headers.get_header("WARC-Record-ID"),
        "payload_sha256": digest.hexdigest(),
        "digest_ok": _digest_ok(record),
        "digest_problems": _digest_problems(record),
    }


def _member_open(iterator: ArchiveIterator) -> bool:
    """True if the current gzip member's end (deflate end, CRC, size) has not come.

    Asked right after a record was read to its end, when its member must be
    complete: warcio stops quietly at a member cut short (or corrupt).
    """
    decompressor = iterator.reader.decompressor
    return decompressor is not None and not getattr(decompressor, "eof", True)


def _index_records(stream: IO[bytes], name: str) -> list[dict[str, Any]]:
    """The first pass: read every record to its end, checking every digest, and index it.

    `InputError` naming the file if warcio cannot read it to the end, or if it is
    cut short: a record ends before its declared length, the last gzip member
    lacks its end, or a partial record follows the last whole one.
    """
    index: list[dict[str, Any]] = []
    reader = _CountingReader(stream)
    iterator = ArchiveIterator(reader, arc2warc=True, check_digests=True)
    member_open = False
    try:
        for number, record in enumerate(iterator, start=1):
            index.append(_index_entry(iterator, record, number))
            member_open = _member_open(iterator)
        if not index:
            raise InputError("holds no WARC/ARC records")
        last = index[-1]
        if member_open:
            raise InputError(
                f"truncated: record {len(index)} ({last['type']} at offset "
                f"{last['offset']}): its gzip member ends early or is corrupt"
            )
        cut = _leftover(reader, last["offset"] + last["length"])
        if cut is not None:
            raise InputError(cut)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None
    except AttributeError:  # warcio 1.8, on a request/response without WARC-Target-URI
        raise InputError(
            f"{name}: truncated or malformed: record {len(index) + 1} has no WARC-Target-URI"
        ) from None
    except _UNREADABLE as exc:
        raise InputError(
            f"{name}: not a readable WARC/ARC ({' '.join(str(exc).split())[:200]})"
        ) from None
    return index


def _resources(zf: zipfile.ZipFile, wacz: Path) -> list[dict[str, Any]]:
    """The ``resources`` that *wacz*'s ``datapackage.json`` lists (`InputError` if malformed)."""
    try:
        package = json.loads(zf.read("datapackage.json"))
    except (ValueError, *_BAD_ZIP) as exc:
        raise InputError(f"{wacz}: datapackage.json unreadable ({exc})") from None
    if not isinstance(package, dict):
        raise InputError(f"{wacz}: datapackage.json is not a JSON object")
    resources = package.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise InputError(f"{wacz}: datapackage.json 'resources' is not a list of objects")
    return resources


def _open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, wacz: Path) -> IO[bytes]:
    if info.file_size > MAX_MEMBER:
        raise InputError(
            f"{wacz}: member {info.filename!r} declares {info.file_size} bytes: refused"
        )
    return zf.open(info)


class _Importer:
    def __init__(self, archive: Archive, result: WarcImportResult) -> None:
        self.archive = archive
        self.result = result
        self.actor = Actor.current().as_json()

    def import_file(self, path: Path) -> None:
        label = str(path)
        is_wacz = path.name.endswith(".wacz")
        indexes: dict[str, list[dict[str, Any]]] = {}
        try:
            if is_wacz:
                members = self._check_wacz(path, indexes)
            else:
                with path.open("rb") as f:
                    indexes[label] = _index_records(f, label)
                members = []
        except InputError as exc:
            self.result.refused.append(str(exc))
            return
        except _BAD_ZIP as exc:  # a damaged, encrypted or oddly compressed member
            self.result.refused.append(f"{label}: not a readable WACZ ({exc})")
            return
        (added,) = self.archive.add_paths([path])
        if added.item is None:
            self.result.refused.append(f"{label}: could not be stored ({added.message})")
            return
        if added.status == "exists":
            self.result.problems.append(f"{label}: already imported as item {added.item.id}")
            return
        self.result.files.append(added.item)
        self._store_indexes(indexes, added.item)
        try:
            if not is_wacz:
                with path.open("rb") as f:
                    self._records(f, label, added.item)
                return
            with zipfile.ZipFile(path) as zf:
                for info in members:
                    with _open_member(zf, info, path) as f:
                        self._records(f, f"{label}!{info.filename}", added.item)
        except (*_UNREADABLE, *_BAD_ZIP, AttributeError) as exc:
            # read whole once already; a failure now means the file changed meanwhile
            self.result.problems.append(f"{label}: reading stopped: {exc}")

    def _store_indexes(self, indexes: dict[str, list[dict[str, Any]]], parent: ItemRow) -> None:
        """Each WARC's record index (JSON lines) as a derivative; digest mismatches reported."""
        events = []
        for label, index in indexes.items():
            for entry in index:
                if entry["digest_ok"] is False or entry["digest_problems"]:
                    problems = "; ".join(entry["digest_problems"]) or "digest does not match"
                    self.result.problems.append(
                        f"{label}: {entry['type']} record at offset {entry['offset']} "
                        f"({entry['uri']}): {problems}"
                    )
            lines = b"".join(canonical_json(entry) + b"\n" for entry in index)
            blob = self.archive.blobs.put(io.BytesIO(lines))
            events.append(
                {
                    "v": 1,
                    "type": DERIVATIVE_ADDED,
                    "kind": "warc-index",
                    "at": rfc3339(utc_now()),
                    "item": new_item_id(),
                    "of": parent.id,
                    "sha256": blob.sha256,
                    "size": blob.size,
                    "media_type": "application/jsonl",
                    "name": f"{Path(label.split('!')[-1]).name}.index.jsonl",
                    "tool": f"warcio {getattr(warcio, '__version__', '?')}",
                    "records": len(index),
                    "actor": self.actor,
                }
            )
        self.archive.append_events(events)

    def _check_wacz(
        self, path: Path, indexes: dict[str, list[dict[str, Any]]]
    ) -> list[zipfile.ZipInfo]:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"{path}: not a WACZ (zip) file ({exc})") from None
        with zf:
            names = {i.filename: i for i in zf.infolist()}
            if len(names) != len(zf.infolist()):
                raise InputError(f"{path}: duplicate member names: refused")
            if "datapackage.json" not in names:
                raise InputError(f"{path}: no datapackage.json: not a WACZ")
            for resource in _resources(zf, path):
                self._check_resource(zf, names, resource, path)
            members = [
                i for n, i in names.items() if n.startswith("archive/") and n.endswith(_SUFFIXES)
            ]
            if not members:
                raise InputError(f"{path}: no WARC files under archive/: not a WACZ")
            for info in members:
                label = f"{path}!{info.filename}"
                with _open_member(zf, info, path) as f:
                    indexes[label] = _index_records(f, label)
            return members

    def _check_resource(
        self,
        zf: zipfile.ZipFile,
        names: dict[str, zipfile.ZipInfo],
        resource: dict[str, Any],
        path: Path,
    ) -> None:
        name = str(resource.get("path", ""))
        declared = str(resource.get("hash", ""))
        if name not in names:
            self.result.problems.append(
                f"{path}: datapackage.json lists {name!r}, which is missing"
            )
            return
        if not declared.startswith("sha256:"):
            return
        digest = hashlib.sha256()
        with _open_member(zf, names[name], path) as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != declared.removeprefix("sha256:"):
            self.result.problems.append(f"{path}: {name}: SHA-256 differs from datapackage.json")

    def _records(self, stream: IO[bytes], label: str, parent: ItemRow) -> None:
        events: list[dict[str, Any]] = []
        iterator = ArchiveIterator(stream, arc2warc=True, check_digests=True)
        for record in iterator:
            if record.rec_type not in _BODY_TYPES:
                continue
            event = self._event(record, parent)
            blob = self.archive.blobs.put(record.content_stream())
            # only now: asking for the offset first would read the record past its payload
            offset, length = iterator.get_record_offset(), iterator.get_record_length()
            if blob.size == 0 and record.rec_type == "revisit":
                continue
            event["warc"].update(offset=offset, length=length, digest_ok=_digest_ok(record))
            if problems := _digest_problems(record):
                event["warc"]["digest_problems"] = problems
            event.update(
                sha256=blob.sha256,
                size=blob.size,
                media_type=sniff_media_type(blob.head),
                kind="page" if "html" in sniff_media_type(blob.head) else "media",
            )
            events.append(event)
        self.result.records += [ItemRow.from_event(e) for e in self.archive.append_events(events)]

    def _event(self, record: Any, parent: ItemRow) -> dict[str, Any]:
        headers = record.rec_headers
        url = headers.get_header("WARC-Target-URI") or ""
        status = record.http_headers.get_statuscode() if record.http_headers else None
        return {
            "v": 1,
            "type": ITEM_ADDED,
            "at": rfc3339(utc_now()),
            "item": new_item_id(),
            "parent": parent.id,
            "name": url.rstrip("/").rsplit("/", 1)[-1] or url or "record",
            "url": url,
            "warc": {
                "record_id": headers.get_header("WARC-Record-ID"),
                "type": record.rec_type,
                "http_status": status,
                "content_type": record.http_headers.get_header("Content-Type")
                if record.http_headers
                else headers.get_header("Content-Type"),
            },
            "claimed": {
                "warc_date": headers.get_header("WARC-Date") or headers.get_header("ARC-Date")
            },
            "actor": self.actor,
        }


def import_warcs(archive: Archive, path: Path) -> WarcImportResult:
    """Import every WARC/ARC/WACZ at *path*; refused files are listed, the rest go on."""
    result = WarcImportResult()
    importer = _Importer(archive, result)
    for file in _warc_files(path):
        importer.import_file(file)
    archive.checkpoint()
    return result

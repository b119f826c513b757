"""WARC 1.1 files whose records hold exactly the bytes given (ISO 28500:2017).

Vigil writes the WARCs of its captures itself: warcio's writer re-serialises the
HTTP headers of every request and response it writes (it trims spaces, unfolds
continuation lines, drops lines without a colon, percent-encodes what is not
ASCII), where a record here is the exchange as it crossed the wire
(`vigil.capture.wire`). warcio still reads them (imports, truncated bodies, tests).

* Each record is its own gzip member, so a reader can start at any record.
* Digests are SHA-1 in base 32, as warcio and wget write them, for the tools that
  read WARCs (deduplication, replay); what proves the record is the SHA-256 of the
  whole WARC in the ledger: ``WARC-Block-Digest`` of the whole block and, for
  requests, responses and metadata, ``WARC-Payload-Digest`` of what follows the HTTP
  header section, as it came (transfer and content encodings included), the section
  ending where warcio, which checks these digests, ends it (`header_section`).
* A response is written before its request, which names it (``WARC-Concurrent-To``);
  both carry the time the request began (``WARC-Date``) and the peer's address.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import threading
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vigil.capture.spool import Spool
from vigil.capture.wire import Exchange

__all__ = ["ResponseRecord", "WarcWriter", "header_section", "warc_date"]

_CHUNK = 1 << 20
_LEVEL = 6  # zlib's default: about warcio's size (it uses 9) for much less CPU on text


@dataclass(frozen=True)
class ResponseRecord:
    """A response record written, and what a capture needs to name it."""

    id: str
    date: str
    uri: str
    ip: str | None
    certificate: bytes | None
    headers_complete: bool  # False: the response ended before its header section did


def warc_date(moment: dt.datetime | None = None) -> str:
    """A WARC 1.1 date (UTC, microseconds) of an aware datetime (default: now)."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def header_section(reader: BinaryIO) -> tuple[int, bool]:
    """Where the HTTP header section at the start of *reader* ends, as warcio reads it,
    and whether a blank line ended it (False: the bytes ended first).

    warcio reads lines (to LF), each decoded as UTF-8, else Latin-1; after the status
    line the section ends with the first line that ``str.rstrip()`` leaves empty (so a
    line of spaces ends it too, where an HTTP parser reads a continuation; and a blank
    status line ends it at once). Lines are read in pieces (memory stays flat whatever
    follows)."""
    blank = True
    while piece := reader.readline(_CHUNK):
        blank = blank and not _decoded(piece).rstrip()
        if piece.endswith(b"\n"):
            if blank:
                return reader.tell(), True
            blank = True
    return reader.tell(), False


def _decoded(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("iso-8859-1")


def _digest(hashed: hashlib._Hash) -> str:
    return "sha1:" + base64.b32encode(hashed.digest()).decode("ascii")


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


class WarcWriter:
    """Writes a WARC to *out*, starting with its ``warcinfo`` record (named *filename*,
    with *fields*); a `vigil.capture.wire.Recorder` of the exchanges it is given.
    `responses` lists the response records written, in order. Thread-safe. Exchanges
    are kept in *scratch* past what memory holds (None: the system's temporary folder)."""

    def __init__(
        self, out: BinaryIO, filename: str, fields: dict[str, str], scratch: Path | None = None
    ) -> None:
        self.out = out
        self.scratch = scratch
        self.responses: list[ResponseRecord] = []
        self._lock = threading.Lock()
        block = "".join(f"{name}: {value}\r\n" for name, value in fields.items()).encode()
        self._write(
            [("WARC-Type", "warcinfo"), ("WARC-Record-ID", _record_id()),
             ("WARC-Filename", filename), ("WARC-Date", warc_date()),
             ("Content-Type", "application/warc-fields")],
            [block], payload_at=None,
        )  # fmt: skip

    def exchange(self, exchange: Exchange) -> None:
        """Write *exchange* as a response record and its request record."""
        uri, date = exchange.target_uri, warc_date(exchange.started)
        about = [("WARC-Target-URI", uri), ("WARC-Date", date)]
        if exchange.ip:
            about.append(("WARC-IP-Address", exchange.ip))
        if exchange.proxy:
            about.append(("WARC-Proxy-Host", exchange.proxy))
        response_id = _record_id()
        response_at, complete = header_section(exchange.response.reader())
        request = bytes(exchange.request)
        request_at, _ = header_section(io.BytesIO(request))
        with self._lock:
            self._write(
                [("WARC-Type", "response"), ("WARC-Record-ID", response_id), *about,
                 ("Content-Type", "application/http; msgtype=response")],
                _SpoolChunks(exchange.response), payload_at=response_at,
            )  # fmt: skip
            self._write(
                [("WARC-Type", "request"), ("WARC-Record-ID", _record_id()), *about,
                 ("WARC-Concurrent-To", response_id),
                 ("Content-Type", "application/http; msgtype=request")],
                [request], payload_at=request_at,
            )  # fmt: skip
            self.responses.append(ResponseRecord(
                response_id, date, uri, exchange.ip, exchange.certificate, complete
            ))  # fmt: skip

    def metadata(self, uri: str, payload: bytes, content_type: str) -> str:
        """Write a ``metadata`` record about *uri*; its record id."""
        record_id = _record_id()
        with self._lock:
            self._write(
                [("WARC-Type", "metadata"), ("WARC-Record-ID", record_id),
                 ("WARC-Target-URI", uri), ("WARC-Date", warc_date()),
                 ("Content-Type", content_type)],
                [payload], payload_at=0,
            )  # fmt: skip
        return record_id

    def _write(
        self, fields: list[tuple[str, str]], block: Iterable[bytes], *, payload_at: int | None
    ) -> None:
        """One record: *fields*, digests, length, then *block* (iterated twice: to
        digest it, then to write it). *payload_at*: where in the block the payload starts
        (None: no payload digest)."""
        block_digest = hashlib.sha1(usedforsecurity=False)  # (WARC's custom: see above)
        payload_digest, length = hashlib.sha1(usedforsecurity=False), 0
        for chunk in block:
            block_digest.update(chunk)
            if payload_at is not None and length + len(chunk) > payload_at:
                payload_digest.update(memoryview(chunk)[max(0, payload_at - length) :])
            length += len(chunk)
        head = [f"{name}: {value}" for name, value in fields]
        if payload_at is not None:
            head.append(f"WARC-Payload-Digest: {_digest(payload_digest)}")
        head += [f"WARC-Block-Digest: {_digest(block_digest)}", f"Content-Length: {length}"]
        packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, 31)
        self.out.write(packer.compress(("WARC/1.1\r\n" + "\r\n".join(head) + "\r\n\r\n").encode()))
        for chunk in block:  # (written as it is compressed: a big block is never held)
            self.out.write(packer.compress(chunk))
        self.out.write(packer.compress(b"\r\n\r\n") + packer.flush())


class _SpoolChunks:
    """The bytes of a `Spool`, in chunks, from its start, each time it is iterated."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool

    def __iter__(self) -> Iterator[bytes]:
        reader = self._spool.reader()
        return iter(lambda: reader.read(_CHUNK), b"")

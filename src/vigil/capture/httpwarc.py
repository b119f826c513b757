"""Fetching over HTTP with every exchange recorded, byte for byte, as WARC 1.1.

`WarcSession` fetches through urllib3, and `vigil.capture.wire` records what crosses
each socket into the capture's WARC (`vigil.capture.warcwriter`): each request and
response exactly as sent and received, the server's IP address
(``WARC-IP-Address``), one record pair per redirect hop and per retried attempt.
For HTTPS the certificate (DER) of the connection each hop came over is added as a
``metadata`` record about that hop's URL.

* Redirects are followed here, each hop recorded, cookies set by a hop sent on the
  next ones of the same capture (never on another capture's), up to
  ``max_redirects``; connection failures and 502/503/504 are retried by urllib3
  (``retries`` times, backing off, honouring Retry-After), every attempt recorded.
* A body is read in chunks up to ``max_bytes``; a larger response is cut there and
  reported as truncated (the WARC holds what was received). Each body is stored as
  a blob while it is read (decoded: without transfer and content encodings, the
  bytes a browser would use), and `Fetched` names the WARC record it came from. A
  body not read whole (cut, dropped, undecodable, or a response that ended inside
  its headers) is marked ``truncated``: its item is then made from its WARC record
  instead (`vigil.capture.web`).
* The connections (kept open from one capture to the next), proxies and TLS trust
  are the fetching thread's `vigil.capture.connections.HttpClient`.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import importlib.metadata
import io
import logging
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.util import parse_url
from urllib3.util.request import ACCEPT_ENCODING

from vigil import __version__
from vigil.capture.connections import HttpClient
from vigil.capture.fetch import HOST_GATE, Fetched, FetchOptions, reason
from vigil.capture.warcwriter import WarcWriter
from vigil.capture.wire import installed, recording
from vigil.errors import CaptureError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vigil.blobs.base import BlobStore

__all__ = ["URLLIB3_VERSION", "WarcSession", "check_recording", "new_warc"]

logger = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SECRET_HEADERS = {"cookie", "authorization", "proxy-authorization"}  # (kept in the WARC only)
_ENCODINGS = ", ".join(ACCEPT_ENCODING.split(","))  # what urllib3 can decode here
URLLIB3_VERSION = importlib.metadata.version("urllib3")


def check_recording() -> None:
    """`CaptureError` unless http.client records (`vigil.capture.wire`), rather than
    capture without recording (if something replaced its methods since)."""
    if not installed():
        raise CaptureError(
            "HTTP recording is unavailable: http.client's HTTPConnection was changed "
            "after Vigil's recorder wrapped it"
        )


def new_warc(
    out: BinaryIO | io.RawIOBase, name: str, client: str, scratch: Path | None = None, **info: str
) -> WarcWriter:
    """A WARC 1.1 writer on *out*, its ``warcinfo`` written: Vigil recording the HTTP
    exchanges of *client* (what made the requests), big ones kept in *scratch*."""
    about = {"software": f"Vigil {__version__} (recording {client})",
             "format": "WARC File Format 1.1", **info}  # fmt: skip
    return WarcWriter(cast("BinaryIO", out), name, about, scratch)


class _CookieHeaders:
    """A response's headers, as http.cookiejar asks for them."""

    def __init__(self, headers: Any) -> None:
        self._headers = headers

    def info(self) -> _CookieHeaders:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        return self._headers.getlist(name) or default


class WarcSession:
    """``with WarcSession(out, name, options, blobs) as s: s.get(url)``: the WARC (named
    *name* in its warcinfo) is written to *out* and complete on exit, and every body and
    TLS certificate read is in *blobs*. *client* may be shared by the sessions of one
    thread, one after the other (its connections are kept); cookies are this
    session's own."""

    def __init__(
        self,
        out: BinaryIO | io.RawIOBase,
        name: str,
        options: FetchOptions,
        blobs: BlobStore,
        client: HttpClient | None = None,
    ) -> None:
        self.out = out
        self.name = name
        self.options = options
        self.blobs = blobs
        self.client = client or HttpClient(options)
        self.certificates: list[dict[str, str]] = []  # url and sha256 of each one stored
        self._cookies = http.cookiejar.CookieJar()
        self._writer: WarcWriter | None = None
        self._recording: Any = None
        self._written: set[tuple[str, bytes]] = set()

    def __enter__(self) -> WarcSession:
        check_recording()
        self._writer = new_warc(
            self.out, self.name, f"urllib3 {URLLIB3_VERSION}", getattr(self.blobs, "tmp", None),
            **{"http-header-user-agent": self.options.user_agent},
        )  # fmt: skip
        self._recording = recording(self._writer)
        self._recording.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._recording.__exit__(exc_type, exc, tb)
        self.out.flush()

    def get(self, url: str, *, keep_body: bool = False) -> Fetched:
        """Fetch *url* (following redirects); `CaptureError` if no response came at all."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("WarcSession is used outside its `with` block")
        first = len(writer.responses)
        hops: list[dict[str, Any]] = []
        target = _normalised(url)
        try:
            while True:
                response, sent = self._send(url, target)
                location = response.headers.get("Location")
                if response.status not in _REDIRECTS or not location:
                    break
                _read_all(response, self.options.max_bytes)  # (recorded as it is read)
                hops.append({"url": target, "status": response.status, "location": location})
                if len(hops) > self.options.max_redirects:
                    return Fetched(url, url, None, hops=hops,
                                   problem=f"too many redirects ({len(hops)})")  # fmt: skip
                target = _normalised(_redirect_target(target, location))
            content_type = response.headers.get("Content-Type", "")
            body = _Body(response, self.options.max_bytes,
                         keep=keep_body and "html" in content_type.lower())  # fmt: skip
            try:
                blob = self.blobs.put(cast("BinaryIO", body))
            finally:
                _finish(response, whole=body.whole)
        finally:
            self._write_certificates(writer, first)
        # The response is closed: its record is written (the last of this get; any before
        # it were redirect hops and retried attempts).
        record = writer.responses[-1] if len(writer.responses) > first else None
        cut = body.cut
        if record is not None and not record.headers_complete:
            cut = "the connection closed inside the response's headers"
        fetched = Fetched(
            url=url,
            final_url=target,
            status=response.status,
            content_type=content_type,
            hops=hops,
            truncated=bool(cut),
            body=body.kept.getvalue() if body.kept is not None else b"",
            blob=blob,
            record={
                "id": record.id if record else None,
                "date": record.date if record else None,
                "ip": record.ip if record else None,
            },
            request_headers={k: v for k, v in sent.items() if k.lower() not in _SECRET_HEADERS},
        )
        if cut:
            logger.warning("%s: %s", target, cut)
            fetched.problem = cut
        return fetched

    def _send(self, url: str, target: str) -> tuple[Any, dict[str, str]]:
        """One request (urllib3 retrying it as `HttpClient` says); the response, its body
        unread, and the headers sent."""
        options = self.options
        headers = {"User-Agent": options.user_agent, "Accept-Encoding": _ENCODINGS,
                   "Accept": "*/*", "Connection": "keep-alive"}  # fmt: skip
        asked = urllib.request.Request(target)  # noqa: S310  (for the cookie jar: never opened)
        self._cookies.add_cookie_header(asked)
        if cookie := asked.get_header("Cookie"):
            headers["Cookie"] = cookie
        for attempt in (1, 2):
            HOST_GATE.wait(urlsplit(target).hostname or "", options.host_gap)
            try:
                response = self.client.manager(target).urlopen(
                    "GET", target, headers=headers, redirect=False, retries=self.client.retries,
                    preload_content=False, decode_content=True, timeout=self.client.timeout,
                )  # fmt: skip
                break
            except (urllib3.exceptions.HTTPError, ValueError) as exc:
                if attempt == 1 and _closed_unanswered(exc):
                    continue  # (RFC 9112 §9.3.1: a kept-alive connection the server was closing)
                raise CaptureError(f"{url}: cannot fetch: {reason(exc)}") from None
        self._cookies.extract_cookies(cast("Any", _CookieHeaders(response.headers)), asked)
        return response, headers

    def _write_certificates(self, writer: WarcWriter, first: int) -> None:
        """The TLS certificate of each hop of the last get, as a WARC metadata record about
        its URL (once per URL and certificate in this WARC), and as a blob."""
        for record in writer.responses[first:]:
            if record.certificate is None or (record.uri, record.certificate) in self._written:
                continue
            self._written.add((record.uri, record.certificate))
            writer.metadata(record.uri, record.certificate, "application/pkix-cert")
            blob = self.blobs.put(io.BytesIO(record.certificate))
            self.certificates.append({"url": record.uri, "sha256": blob.sha256})


def _closed_unanswered(exc: BaseException) -> bool:
    """Whether the connection closed before any byte of a response came (so a GET may be
    sent again, on a new connection), as a kept-alive one does when the server closes
    it just as the request arrives."""
    cause = getattr(exc, "reason", None) or exc  # (urllib3's MaxRetryError)
    inner = cause.args[-1] if isinstance(cause, urllib3.exceptions.ProtocolError) else None
    return isinstance(inner, http.client.RemoteDisconnected | BrokenPipeError)


def _normalised(url: str) -> str:
    """*url* as it is requested: host in IDNA, path and query percent-encoded where they
    must be (urllib3's reading, as requests' was); as given if it does not parse (the
    request then fails, saying why)."""
    try:
        return str(parse_url(url).url)
    except (ValueError, urllib3.exceptions.HTTPError):
        return url


def _redirect_target(current: str, location: str) -> str:
    """Where a redirect sends to, as requests resolves it: a UTF-8 Location that
    http.client read as Latin-1 is read again, relative ones are joined to *current*."""
    with contextlib.suppress(UnicodeError):
        location = location.encode("latin-1").decode("utf-8")
    return urljoin(current, location).split("#", 1)[0]


def _finish(response: Any, *, whole: bool) -> None:
    """Give the connection back: to be reused if the body was read to its clean end
    (`vigil.capture.connections` checks the rest), else closed (what is left of a
    response must never be read as the next one)."""
    if not whole:
        response.close()
    response.release_conn()


def _read_all(response: Any, limit: int) -> None:
    """Read a body (a redirect's) to its end, up to *limit*: it is recorded as it is read."""
    body = _Body(response, limit, keep=False)
    try:
        while body.read(1 << 16):
            pass
    finally:
        _finish(response, whole=body.whole)


class _Body(io.RawIOBase):
    """A response's decoded body as a stream, cut after *limit* bytes; a connection that
    fails on the way, or a body that will not decode, ends it early; `cut` says why.
    With *keep*, the bytes read are also kept (HTML, for its media and text)."""

    def __init__(self, response: Any, limit: int, *, keep: bool) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] = response.stream(1 << 16, decode_content=True)
        self._limit = self._left = limit
        self._pending = b""
        self._ended = False
        self.cut = ""  # why the body read is not the whole decoded body, if it is not
        self.whole = False  # read to its clean end
        self.kept: io.BytesIO | None = io.BytesIO() if keep else None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Up to *size* bytes (the rest of a chunk at most); everything left for -1."""
        if size is None or size < 0:
            rest = [self._pending, *iter(self._next, b"")]
            self._pending = b""
            return b"".join(rest)
        if not self._pending:
            self._pending = self._next()
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _next(self) -> bytes:
        if self._ended:
            return b""
        try:
            chunk = next(self._chunks, b"")
        except urllib3.exceptions.DecodeError as exc:
            self.cut = f"its Content-Encoding could not be decoded ({reason(exc)})"
            chunk = b""
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self.cut = f"body cut short ({reason(exc)})"
            chunk = b""
        if len(chunk) > self._left:  # (also one byte past a body of exactly the limit)
            chunk = chunk[: self._left]
            self.cut = f"response larger than {self._limit} bytes: cut there"
        self._left -= len(chunk)
        self._ended = bool(self.cut) or not chunk
        self.whole = self._ended and not self.cut
        if self.kept is not None:
            self.kept.write(chunk)
        return chunk

"""Fetching over HTTP with every exchange recorded, byte for byte, as WARC 1.1.

`WarcSession` wraps a `requests.Session` inside warcio's recorder (through
`vigil.capture.spool.recording`, as warcio's `capture_http` does), which records
what crosses the socket: each request and response with headers and body
exactly as sent and received, the server's IP address (``WARC-IP-Address``), one
record pair per redirect hop. For HTTPS the server's certificate (DER) of each hop
is added as a ``metadata`` record about that hop's URL.

Bodies are read in chunks up to ``max_bytes``; a larger response is cut there and
reported as truncated (the WARC holds what was received). Each response body is
stored as a blob while it is read (decoded: without transfer and content encodings,
the bytes a browser would use), and `Fetched` names the WARC record it came from,
so a complete response needs no reading back. A body that was not read whole (cut,
dropped, undecodable) is marked ``truncated``: its item is then made from its WARC
record instead (see `vigil.capture.web`), as for any WARC tool.
"""

from __future__ import annotations

import io
import logging
import os
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlsplit

import requests
import urllib3.connection
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from warcio.capture_http import RecordingHTTPConnection
from warcio.warcwriter import WARCWriter

from vigil import __version__
from vigil.capture.spool import recording
from vigil.errors import CaptureError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from warcio.recordloader import ArcWarcRecord
    from warcio.statusandheaders import StatusAndHeaders

    from vigil.blobs.base import BlobStore, StoredBlob

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchOptions",
    "Fetched",
    "WarcSession",
    "check_recording",
    "new_warc",
    "polite_session",
]

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36"
)
"""A common browser's: archivers that announce themselves get blocked by those they document."""


@dataclass(frozen=True)
class FetchOptions:
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 1 << 30
    max_redirects: int = 20
    verify_tls: bool | str = True  # True, False, or a CA bundle path
    retries: int = 2  # for connection failures and 502/503/504
    host_gap: float = 0.0  # seconds between two requests to one host (in this process)


@dataclass
class Fetched:
    """What one `get` observed (the exchange itself is in the WARC)."""

    url: str
    final_url: str
    status: int | None
    content_type: str = ""
    hops: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False  # the body read is not the whole decoded body (`problem` says why)
    problem: str = ""
    body: bytes = b""  # kept only for HTML when asked (to find media and text)
    blob: StoredBlob | None = None  # the body as read, stored
    record: dict[str, str | None] = field(default_factory=dict)  # its WARC response record
    request_headers: dict[str, str] = field(default_factory=dict)  # sent for the last hop


_SECRET_HEADERS = {"cookie", "authorization", "proxy-authorization"}  # (kept in the WARC only)


def polite_session(options: FetchOptions) -> requests.Session:
    """A session that retries connection failures and 502/503/504 a few times, backing off.

    Every attempt of a capture is recorded in the WARC (the exchanges happened).
    """
    retry = Retry(
        total=options.retries,
        connect=options.retries,
        read=0,  # never re-read a response that started arriving: it is recorded as it came
        status=options.retries,
        backoff_factor=0.5,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    session.trust_env = _environment_matters()
    session.mount("http://", _PoliteAdapter(options.host_gap, max_retries=retry))
    session.mount("https://", _PoliteAdapter(options.host_gap, max_retries=retry))
    session.headers["User-Agent"] = options.user_agent
    return session


class _HostGate:
    """When the next request to each host may go: every session of this process (all
    the fetching threads, the watch's polls and captures) waits its turn here."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, gap: float) -> None:
        if gap <= 0:
            return
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next.get(host, now))
            self._next[host] = turn + gap
        if turn > now:
            time.sleep(turn - now)


_GATE = _HostGate()


class _PoliteAdapter(HTTPAdapter):
    """requests' adapter, spacing the requests to one host *gap* seconds apart (each
    redirect hop and medium counts; urllib3's own retries wait their backoff)."""

    def __init__(self, gap: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gap = gap

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        _GATE.wait(urlsplit(request.url or "").hostname or "", self.gap)
        return super().send(request, *args, **kwargs)


def _environment_matters() -> bool:
    """Whether requests must read the environment for every request: proxies, ~/.netrc
    (or NETRC). Without them, skipping it changes nothing but the proxy lookups requests
    repeats for every request (about 1.5 ms a page); a CA bundle named by the
    environment is then applied by `ca_bundle` instead."""
    if urllib.request.getproxies() or "NETRC" in os.environ:  # (and macOS system proxies)
        return True
    try:
        home = Path.home()
    except RuntimeError:  # no HOME, no passwd entry: no ~/.netrc either
        return False
    return (home / ".netrc").exists() or (home / "_netrc").exists()


def ca_bundle(verify: bool | str) -> bool | str:
    """What requests verifies against: as it does, REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE
    stand in for the default (True)."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


def check_recording() -> None:
    """`CaptureError` unless warcio's recorder sits under urllib3 (it must be imported
    first: `vigil.warcio_setup`), rather than capture without recording."""
    if not issubclass(urllib3.connection.HTTPConnection, RecordingHTTPConnection):
        raise CaptureError(
            "HTTP recording is unavailable: urllib3 was imported before warcio's "
            "recorder; import vigil before requests or urllib3"
        )


def new_warc(out: BinaryIO | io.RawIOBase, name: str, client: str, **info: str) -> WARCWriter:
    """A WARC 1.1 writer on *out* (a gzip member per record), its ``warcinfo`` written:
    Vigil and warcio recording for *client* (what made the HTTP requests)."""
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    about = {"software": f"Vigil {__version__} (warcio, {client})",
             "format": "WARC File Format 1.1", **info}  # fmt: skip
    writer.write_record(writer.create_warcinfo_record(name, about))
    return writer


class WarcSession:
    """``with WarcSession(out, name, options, blobs) as s: s.get(url)``: the WARC (named
    *name* in its warcinfo) is written to *out* and complete on exit, and every body and
    TLS certificate read is in *blobs*."""

    def __init__(
        self,
        out: BinaryIO | io.RawIOBase,
        name: str,
        options: FetchOptions,
        blobs: BlobStore,
        session: requests.Session | None = None,
    ) -> None:
        self.out = out
        self.name = name
        self.options = options
        self.blobs = blobs
        self.certificates: list[dict[str, str]] = []  # url and sha256 of each one stored
        self._writer: WARCWriter | None = None
        self._capture: Any = None
        self._responses: list[StatusAndHeaders] = []  # WARC headers of each response written
        # A *session* may be reused from one recording to the next (one thread's, made by
        # `polite_session`): its cookies are dropped here and its connections on exit,
        # so no recording sends another's cookies or reads through another's recorder.
        self.session = session or polite_session(options)
        self.session.max_redirects = options.max_redirects
        self.session.cookies.clear()

    def __enter__(self) -> WarcSession:
        check_recording()
        self._writer = new_warc(
            self.out, self.name, f"requests {requests.__version__}",
            **{"http-header-user-agent": self.options.user_agent},
        )  # fmt: skip
        self._capture = recording(self._writer, filter_func=self._noted)
        self._capture.__enter__()
        return self

    def _noted(
        self, request: ArcWarcRecord, response: ArcWarcRecord, _recorder: Any
    ) -> tuple[ArcWarcRecord, ArcWarcRecord]:
        """warcio's hook before it writes a request/response pair: remember the response's
        record headers (its id, date, IP), on the thread that reads the response."""
        self._responses.append(response.rec_headers)
        return request, response

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._capture.__exit__(exc_type, exc, tb)
        self.session.close()  # (its connections record into this WARC: never reused)
        self.out.flush()

    def get(self, url: str, *, keep_body: bool = False) -> Fetched:
        """Fetch *url* (following redirects); `CaptureError` if no response came at all."""
        options = self.options
        written = len(self._responses)
        certificates: list[tuple[str, bytes]] = []  # (url, DER) of each hop over TLS

        def note_certificate(response: requests.Response, *_: Any, **__: Any) -> None:
            """requests' hook, called for each hop while its connection is still open."""
            der = _peer_certificate(response)
            if der is not None and (response.url, der) not in certificates:
                certificates.append((response.url, der))

        try:
            response = self.session.get(
                url,
                stream=True,
                timeout=(options.connect_timeout, options.read_timeout),
                verify=ca_bundle(options.verify_tls),
                hooks={"response": note_certificate},
            )
        except requests.TooManyRedirects as exc:
            for hop_url, der in certificates:
                self._write_certificate(hop_url, der)
            hops = [_hop(r) for r in getattr(exc.response, "history", [])]
            return Fetched(url, url, None, hops=hops, problem=f"too many redirects ({len(hops)})")
        except requests.RequestException as exc:
            raise CaptureError(f"{url}: cannot fetch: {_reason(exc)}") from None
        with response:
            is_html = "html" in response.headers.get("Content-Type", "").lower()
            body = _Body(response, options.max_bytes, keep=keep_body and is_html)
            blob = self.blobs.put(cast("BinaryIO", body))
        # The response is closed: warcio has written its record (the last one of this
        # get; any before it were redirect hops and retried attempts).
        record = self._responses[-1] if len(self._responses) > written else None
        fetched = Fetched(
            url=url,
            final_url=response.url,
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            hops=[_hop(r) for r in response.history],
            truncated=bool(body.cut),
            body=body.kept.getvalue() if body.kept is not None else b"",
            blob=blob,
            record={
                "id": record.get_header("WARC-Record-ID") if record else None,
                "date": record.get_header("WARC-Date") if record else None,
                "ip": record.get_header("WARC-IP-Address") if record else None,
            },
            request_headers={
                k: str(v)
                for k, v in response.request.headers.items()
                if k.lower() not in _SECRET_HEADERS
            },
        )
        if body.cut:
            logger.warning("%s: %s", response.url, body.cut)
            fetched.problem = body.cut
        for hop_url, der in certificates:
            self._write_certificate(hop_url, der)
        return fetched

    def _write_certificate(self, url: str, der: bytes) -> None:
        """The server's TLS certificate, as a WARC metadata record about *url*."""
        if self._writer is None:
            raise RuntimeError("WarcSession is used outside its `with` block")
        record = self._writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(der), warc_content_type="application/pkix-cert"
        )
        self._writer.write_record(record)
        self.certificates.append({"url": url, "sha256": self.blobs.put(io.BytesIO(der)).sha256})


class _Body(io.RawIOBase):
    """A response's decoded body as a stream, cut after *limit* bytes; a connection that
    fails on the way, or a body that will not decode, ends it early; `cut` says why.
    With *keep*, the bytes read are also kept (HTML, for its media and text)."""

    def __init__(self, response: requests.Response, limit: int, *, keep: bool) -> None:
        super().__init__()
        self._response = response
        self._chunks: Iterator[bytes] = response.iter_content(1 << 16)
        self._limit = self._left = limit
        self._pending = b""
        self._ended = False
        self.cut = ""  # why the body read is not the whole decoded body, if it is not
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
        except requests.exceptions.ContentDecodingError as exc:
            self.cut = f"its Content-Encoding could not be decoded ({_reason(exc)})"
            chunk = b""
        except requests.RequestException as exc:
            self.cut = f"body cut short ({_reason(exc)})"
            chunk = b""
        if len(chunk) > self._left:  # (also one byte past a body of exactly the limit)
            chunk = chunk[: self._left]
            self.cut = f"response larger than {self._limit} bytes: cut there"
        self._left -= len(chunk)
        self._ended = bool(self.cut) or not chunk
        if self.kept is not None:
            self.kept.write(chunk)
        return chunk


def _hop(response: requests.Response) -> dict[str, Any]:
    return {
        "url": response.url,
        "status": response.status_code,
        "location": response.headers.get("Location"),
    }


def _reason(exc: BaseException) -> str:
    """The innermost cause, on one line (requests nests urllib3 errors deeply)."""
    while exc.__context__ is not None and not str(exc):
        exc = exc.__context__
    text = str(exc.args[0]) if exc.args else str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return " ".join(text.split())[:300]


def _peer_certificate(response: requests.Response) -> bytes | None:
    """The server certificate (DER) of an HTTPS response, while its connection is open."""
    connection = getattr(response.raw, "connection", None)  # urllib3's, while open
    sock = getattr(connection, "sock", None)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    return sock.getpeercert(binary_form=True)

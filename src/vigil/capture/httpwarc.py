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
* Connections stay open from one capture to the next (`HttpClient`, one per
  fetching thread): recording is per exchange, so a kept-alive connection records
  each capture's exchanges into that capture's WARC only, and a server is spared a
  new connection (and TLS handshake) per page.
* Bodies are read in chunks up to ``max_bytes``; a larger response is cut there and
  reported as truncated (the WARC holds what was received). Each body is stored as
  a blob while it is read (decoded: without transfer and content encodings, the
  bytes a browser would use), and `Fetched` names the WARC record it came from. A
  body not read whole (cut, dropped, undecodable) is marked ``truncated``: its item
  is then made from its WARC record instead (`vigil.capture.web`).
* Proxies named by the environment (``http_proxy``, ``https_proxy``, ``no_proxy``)
  are used; ``~/.netrc`` is not read (a capture never sends the operator's
  credentials to the site it documents).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import importlib.metadata
import io
import logging
import os
import time
import urllib.request
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.util.request import ACCEPT_ENCODING
from urllib3.util.retry import Retry

from vigil import __version__
from vigil.capture.fetch import HOST_GATE, Fetched, FetchOptions, ca_bundle, reason
from vigil.capture.warcwriter import WarcWriter
from vigil.capture.wire import installed, recording
from vigil.errors import CaptureError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vigil.blobs.base import BlobStore

__all__ = ["URLLIB3_VERSION", "HttpClient", "WarcSession", "check_recording", "new_warc"]

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


def new_warc(out: BinaryIO | io.RawIOBase, name: str, client: str, **info: str) -> WarcWriter:
    """A WARC 1.1 writer on *out*, its ``warcinfo`` written: Vigil recording the HTTP
    exchanges of *client* (what made the requests)."""
    about = {"software": f"Vigil {__version__} (recording {client})",
             "format": "WARC File Format 1.1", **info}  # fmt: skip
    return WarcWriter(cast("BinaryIO", out), name, about)


_IDLE = 4.0
"""Seconds a connection may stay unused and still be reused: under the shortest
keep-alive timeouts servers commonly use (5 s: Apache's, Node's), so a server does not
close a connection just as a request goes out on it (the request would fail, not be
retried: see ``read``). A connection the server has closed already is never reused."""


class HttpClient:
    """One fetching thread's connections: urllib3 pools, kept open from one capture to
    the next while they are in use (`_IDLE`), through the proxies the environment names
    (read once; ``all_proxy`` for any scheme without its own)."""

    def __init__(self, options: FetchOptions) -> None:
        self.options = options
        self.retries = Retry(
            total=options.retries,
            connect=options.retries,
            read=0,  # never re-read a response that started arriving: it is recorded as it came
            status=options.retries,
            redirect=False,  # (followed by `WarcSession.get`, hop by hop)
            backoff_factor=0.5,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        self.timeout = urllib3.Timeout(connect=options.connect_timeout, read=options.read_timeout)
        self._tls = _tls_settings(options.verify_tls)
        self._proxies = {k: v for k, v in urllib.request.getproxies().items() if k != "no"}
        self._managers: dict[str, urllib3.PoolManager] = {}
        self._used = time.monotonic()

    def manager(self, url: str) -> urllib3.PoolManager:
        """The pool manager for *url*: direct, or through its scheme's proxy."""
        if time.monotonic() - self._used > _IDLE:
            self.close()  # (connections idle too long: the server may be closing them)
        scheme = urlsplit(url).scheme
        proxy = self._proxies.get(scheme) or self._proxies.get("all", "")
        if proxy and urllib.request.proxy_bypass(urlsplit(url).hostname or ""):
            proxy = ""
        manager = self._managers.get(proxy)
        if manager is None:
            settings: dict[str, Any] = {"num_pools": 32, "maxsize": 1, **self._tls}
            manager = (
                urllib3.ProxyManager(proxy, **settings)
                if proxy
                else urllib3.PoolManager(**settings)
            )
            self._managers[proxy] = manager
        return manager

    def used(self) -> None:
        """Note that the connections were just used (a response was read)."""
        self._used = time.monotonic()

    def close(self) -> None:
        for manager in self._managers.values():
            manager.clear()
        self._managers.clear()


def _tls_settings(verify: bool | str) -> dict[str, Any]:
    """urllib3's TLS settings for *verify* (True, False or a CA bundle file or folder),
    trusting by default what requests trusts (certifi, or the bundle the environment
    names)."""
    chosen = ca_bundle(verify)
    if chosen is False:
        return {"cert_reqs": "CERT_NONE", "assert_hostname": False}
    bundle = certifi.where() if chosen is True else str(chosen)
    where = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
    return {"cert_reqs": "CERT_REQUIRED", where: bundle}


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
            self.out, self.name, f"urllib3 {URLLIB3_VERSION}",
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
        target = url
        try:
            while True:
                response, sent = self._send(url, target)
                location = response.headers.get("Location")
                if response.status not in _REDIRECTS or not location:
                    break
                _read_and_finish(response, self.options.max_bytes)  # (recorded as it is read)
                self.client.used()
                hops.append({"url": target, "status": response.status, "location": location})
                if len(hops) > self.options.max_redirects:
                    return Fetched(url, url, None, hops=hops,
                                   problem=f"too many redirects ({len(hops)})")  # fmt: skip
                target = _redirect_target(target, location)
            content_type = response.headers.get("Content-Type", "")
            body = _Body(response, self.options.max_bytes,
                         keep=keep_body and "html" in content_type.lower())  # fmt: skip
            try:
                blob = self.blobs.put(cast("BinaryIO", body))
            finally:
                _finish(response, whole=not body.cut)
        finally:
            self.client.used()
            self._write_certificates(writer, first)
        # The response is closed: its record is written (the last of this get; any before
        # it were redirect hops and retried attempts).
        record = writer.responses[-1] if len(writer.responses) > first else None
        fetched = Fetched(
            url=url,
            final_url=target,
            status=response.status,
            content_type=content_type,
            hops=hops,
            truncated=bool(body.cut),
            body=body.kept.getvalue() if body.kept is not None else b"",
            blob=blob,
            record={
                "id": record.id if record else None,
                "date": record.date if record else None,
                "ip": record.ip if record else None,
            },
            request_headers={k: v for k, v in sent.items() if k.lower() not in _SECRET_HEADERS},
        )
        if body.cut:
            logger.warning("%s: %s", target, body.cut)
            fetched.problem = body.cut
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
        HOST_GATE.wait(urlsplit(target).hostname or "", options.host_gap)
        try:
            response = self.client.manager(target).urlopen(
                "GET", target, headers=headers, redirect=False, retries=self.client.retries,
                preload_content=False, decode_content=True, timeout=self.client.timeout,
            )  # fmt: skip
        except (urllib3.exceptions.HTTPError, ValueError) as exc:
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


def _redirect_target(current: str, location: str) -> str:
    """Where a redirect sends to, as requests resolves it: a UTF-8 Location that
    http.client read as Latin-1 is read again, relative ones are joined to *current*."""
    with contextlib.suppress(UnicodeError):
        location = location.encode("latin-1").decode("utf-8")
    return urljoin(current, location).split("#", 1)[0]


def _finish(response: Any, *, whole: bool) -> None:
    """Give the connection back: kept open if the body was read to its end, else closed
    (what is left of the response must never be read as the next one)."""
    if not whole:
        response.close()
    response.release_conn()


def _read_and_finish(response: Any, limit: int) -> None:
    body = _Body(response, limit, keep=False)
    try:
        while body.read(1 << 16):
            pass
    finally:
        _finish(response, whole=not body.cut)


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
        if self.kept is not None:
            self.kept.write(chunk)
        return chunk

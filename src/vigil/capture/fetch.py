"""Fetching over HTTP with every exchange recorded, byte for byte, as WARC 1.1.

`WarcSession` wraps a `requests.Session` inside warcio's `capture_http`, which
records what crosses the socket: each request and response with headers and body
exactly as sent and received, the server's IP address (``WARC-IP-Address``), one
record pair per redirect hop. For HTTPS the server's certificate (DER) is added
as a ``metadata`` record concurrent to the response.

Bodies are read in chunks up to ``max_bytes``; a larger response is cut there and
reported as truncated (the WARC holds what was received).
"""

from __future__ import annotations

import io
import logging
import os
import ssl
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import requests
import urllib3.connection
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from warcio.capture_http import RecordingHTTPConnection, capture_http
from warcio.warcwriter import WARCWriter

from vigil import __version__
from vigil.errors import CaptureError

__all__ = ["DEFAULT_USER_AGENT", "FetchOptions", "Fetched", "WarcSession", "polite_session"]

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


@dataclass
class Fetched:
    """What one `get` observed (the exchange itself is in the WARC)."""

    url: str
    final_url: str
    status: int | None
    content_type: str = ""
    hops: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    problem: str = ""
    body: bytes = b""  # kept only for HTML when asked (to find media and text)


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
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = options.user_agent
    return session


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


class WarcSession:
    """``with WarcSession(path, options) as s: s.get(url)``; the WARC is complete on exit."""

    def __init__(self, path: Path, options: FetchOptions) -> None:
        self.path = path
        self.options = options
        self._file: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._capture: Any = None
        self.session = polite_session(options)
        self.session.max_redirects = options.max_redirects

    def __enter__(self) -> WarcSession:
        if not issubclass(urllib3.connection.HTTPConnection, RecordingHTTPConnection):
            raise CaptureError(
                "HTTP recording is unavailable: urllib3 was imported before warcio's "
                "recorder; import vigil.capture before requests or urllib3"
            )
        self._file = self.path.open("xb")
        self._writer = WARCWriter(self._file, gzip=True, warc_version="1.1")
        info = {
            "software": f"Vigil {__version__} (warcio, requests {requests.__version__})",
            "format": "WARC File Format 1.1",
            "http-header-user-agent": self.options.user_agent,
        }
        self._writer.write_record(self._writer.create_warcinfo_record(self.path.name, info))
        self._capture = capture_http(self._writer)
        self._capture.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._capture.__exit__(exc_type, exc, tb)
        self.session.close()
        if self._file is not None:
            self._file.flush()
            self._file.close()

    def get(self, url: str, *, keep_body: bool = False) -> Fetched:
        """Fetch *url* (following redirects); `CaptureError` if no response came at all."""
        options = self.options
        try:
            response = self.session.get(
                url,
                stream=True,
                timeout=(options.connect_timeout, options.read_timeout),
                verify=ca_bundle(options.verify_tls),
            )
        except requests.TooManyRedirects as exc:
            hops = [_hop(r) for r in getattr(exc.response, "history", [])]
            return Fetched(url, url, None, hops=hops, problem=f"too many redirects ({len(hops)})")
        except requests.RequestException as exc:
            raise CaptureError(f"{url}: cannot fetch: {_reason(exc)}") from None
        with response:
            certificate = _peer_certificate(response)
            is_html = "html" in response.headers.get("Content-Type", "").lower()
            body, truncated = self._read(response, keep_body and is_html)
        fetched = Fetched(
            url=url,
            final_url=response.url,
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            hops=[_hop(r) for r in response.history],
            truncated=truncated,
            body=body,
        )
        if truncated:
            fetched.problem = f"response larger than {options.max_bytes} bytes: cut there"
        if certificate is not None:
            self._write_certificate(response.url, certificate)
        return fetched

    def _read(self, response: requests.Response, keep_body: bool) -> tuple[bytes, bool]:
        kept = io.BytesIO()
        total = 0
        try:
            for chunk in response.iter_content(1 << 16):
                total += len(chunk)
                if total > self.options.max_bytes:
                    return kept.getvalue(), True
                if keep_body:
                    kept.write(chunk)
        except requests.RequestException as exc:
            logger.warning("%s: body cut short: %s", response.url, _reason(exc))
            return kept.getvalue(), True
        return kept.getvalue(), False

    def _write_certificate(self, url: str, der: bytes) -> None:
        """The server's TLS certificate, as a WARC metadata record about *url*."""
        if self._writer is None:
            raise RuntimeError("WarcSession is used outside its `with` block")
        record = self._writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(der), warc_content_type="application/pkix-cert"
        )
        self._writer.write_record(record)


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

"""HTTP exchanges recorded as they crossed the wire.

Importing this module (the package `vigil` does) wraps three methods of
http.client's ``HTTPConnection``: ``putrequest``, ``send`` and ``getresponse``.
Every client built on it (``HTTPSConnection``, urllib3, requests, urllib, so
yt-dlp's handlers too), whenever it was imported, then records its exchanges while
a `Recorder` is set for the thread (`recording`), and behaves exactly as
http.client does otherwise.

What is recorded is what crossed the socket, never a re-serialisation of it:

* the request: every byte http.client sent for it (request line, headers, body);
* the response: every byte read from the socket while the response was read:
  status line, headers and body as they came, transfer and content encodings
  included. A server's odd headers (folded, non-ASCII, without a colon, bare LF)
  stay as they were sent;
* the server's address, and over TLS its certificate (DER), of the connection the
  exchange went over. A kept-alive connection carries several exchanges; each is
  recorded with that connection's address and certificate.

An exchange is handed to its recorder once its response is closed: read to the
end, or cut (what was read is what is recorded). A request that got no byte of a
response is not recorded. A proxy's CONNECT exchange is not part of any exchange.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vigil.capture.spool import Spool

__all__ = ["Exchange", "Recorder", "installed", "recording"]

_local = threading.local()  # .recorder: the `Recorder` of this thread's exchanges


class Recorder(Protocol):
    scratch: Path | None  # where an exchange's bytes go past what memory holds (None: /tmp)

    def exchange(self, exchange: Exchange) -> None:
        """Keep *exchange* (called once per exchange, on the thread that made it)."""
        ...


@dataclass
class Exchange:
    """One request and its response, as bytes on the wire."""

    started: dt.datetime  # (UTC) when the request began to be written
    scheme: str
    authority: str  # host[:port] connected to (the tunnel's target through a proxy)
    proxy: str | None = None  # the proxy's URL, when the exchange went through one
    request: bytearray = field(default_factory=bytearray)
    response: Spool = field(default_factory=Spool)
    ip: str | None = None  # the peer's address (the proxy's, through a proxy)
    certificate: bytes | None = None  # the server's TLS certificate (DER)

    @property
    def target_uri(self) -> str:
        """The URI requested: the request line's target made absolute (its Host header,
        if it sent one, names the authority, as a server reads it)."""
        head = bytes(self.request[:65536])
        line, _, rest = head.partition(b"\n")
        parts = line.decode("latin-1").split(" ")
        target = parts[1] if len(parts) > 1 else "/"
        if target.startswith(("http://", "https://")):  # absolute form (to a proxy)
            return target
        authority = self.authority
        for header in rest.split(b"\n"):
            name, colon, value = header.partition(b":")
            if not header.strip(b"\r"):
                break
            if colon and name.strip().lower() == b"host" and value.strip():
                authority = value.strip().decode("latin-1")
                break
        return f"{self.scheme}://{authority}{target}"


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    """Record every HTTP exchange this thread starts into *recorder*."""
    previous = getattr(_local, "recorder", None)
    _local.recorder = recorder
    try:
        yield
    finally:
        _local.recorder = previous


class _Tap(io.RawIOBase):
    """A socket's raw reader that copies every byte read into an exchange; closing it
    (the response is done) hands the exchange to its recorder."""

    def __init__(self, raw: Any, exchange: Exchange, recorder: Recorder) -> None:
        super().__init__()
        self._raw = raw
        self._exchange: Exchange | None = exchange
        self._recorder: Recorder | None = recorder

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return int(self._raw.fileno())

    def readinto(self, buffer: Any) -> int | None:
        count: int | None = self._raw.readinto(buffer)
        if count and self._exchange is not None:
            self._exchange.response.write(memoryview(buffer)[:count])
        return count

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
            self._raw.close()
        finally:
            self.finish()

    def finish(self) -> None:
        """Hand the exchange over (once), if any byte of a response came, and let go of
        it: a kept-alive connection holds on to its last response, not to its bytes."""
        recorder, exchange = self._recorder, self._exchange
        self._recorder = self._exchange = None
        if recorder is not None and exchange is not None and exchange.response.tell():
            recorder.exchange(exchange)


class _RecordingResponse(http.client.HTTPResponse):
    """http.client's response, reading through a `_Tap`."""

    def __init__(
        self, sock: socket.socket, *args: Any, exchange: Exchange, recorder: Recorder,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(sock, *args, **kwargs)
        self.fp.close()  # (nothing read yet: replaced by the same reader, tapped)
        self.tap = _Tap(sock.makefile("rb", buffering=0), exchange, recorder)
        self.fp = io.BufferedReader(self.tap)


_HTTP = http.client.HTTPConnection
_ORIGINAL: dict[str, Any] = getattr(_HTTP, "_vigil_original", None) or {
    name: getattr(_HTTP, name) for name in ("putrequest", "send", "getresponse")
}  # (kept on the class: a second import of this module wraps the originals again, not itself)
_HTTP._vigil_original = _ORIGINAL  # type: ignore[attr-defined]


def _putrequest(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> None:
    """Begin an exchange, if this thread records."""
    self._vigil_exchange = None
    recorder = getattr(_local, "recorder", None)
    if recorder is not None:
        tunnel = getattr(self, "_tunnel_host", None)
        host = tunnel or self.host
        port = getattr(self, "_tunnel_port", None) if tunnel else self.port
        authority = f"[{host}]" if ":" in host else host
        if port and port != self.default_port:
            authority += f":{port}"
        proxied = tunnel or url.startswith(("http://", "https://"))  # (absolute form)
        scheme = "https" if self.default_port == 443 else "http"
        self._vigil_exchange = Exchange(
            dt.datetime.now(dt.UTC),
            scheme,
            authority,
            _proxy_of(self) if proxied else None,
            response=Spool(getattr(recorder, "scratch", None)),
        )
    _ORIGINAL["putrequest"](self, method, url, *args, **kwargs)


def _proxy_of(conn: Any) -> str:
    """The proxy a connection goes through, as a URL (urllib3 knows its scheme)."""
    proxy = getattr(conn, "proxy", None)  # (urllib3's)
    scheme = getattr(proxy, "scheme", None) or "http"
    return f"{scheme}://{conn.host}:{conn.port}"


def _send(self: Any, data: Any) -> None:
    """Send *data*, keeping it in the exchange (a proxy's CONNECT is not kept)."""
    exchange = getattr(self, "_vigil_exchange", None)
    if exchange is None or getattr(self, "_vigil_connecting", False):
        _ORIGINAL["send"](self, data)
        return
    if self.sock is None and self.auto_open:
        self._vigil_connecting = True  # (first: a proxy's CONNECT is no part of the exchange)
        try:
            self.connect()
        finally:
            self._vigil_connecting = False
    if isinstance(data, bytes | bytearray | memoryview):
        _ORIGINAL["send"](self, data)
        exchange.request += data
        return
    if hasattr(data, "read"):  # a body given as a file: sent (and kept) block by block
        blocks: Any = iter(lambda: data.read(8192), data.read(0))
    else:  # an iterable of blocks, as http.client takes too
        blocks = data
    for block in blocks:
        block = block.encode("iso-8859-1") if isinstance(block, str) else block
        _ORIGINAL["send"](self, block)
        exchange.request += block


def _getresponse(self: Any) -> http.client.HTTPResponse:
    """The response, read through a tap that records it into the exchange."""
    exchange, recorder = getattr(self, "_vigil_exchange", None), getattr(_local, "recorder", None)
    if exchange is None or recorder is None:
        response: http.client.HTTPResponse = _ORIGINAL["getresponse"](self)
        return response
    self._vigil_exchange = None
    peer = getattr(self, "_vigil_peer", (None, None, None))  # (socket, IP, DER)
    if peer[0] is not self.sock:
        self._vigil_peer = peer = (self.sock, *_peer_of(self.sock))
    exchange.ip, exchange.certificate = peer[1:]
    made: list[_RecordingResponse] = []

    def tapped(sock: socket.socket, *args: Any, **kwargs: Any) -> _RecordingResponse:
        made.append(_RecordingResponse(sock, *args, exchange=exchange, recorder=recorder,
                                       **kwargs))  # fmt: skip
        return made[-1]

    own = self.__dict__.get("response_class")
    self.response_class = tapped
    try:
        response = _ORIGINAL["getresponse"](self)
    except BaseException:
        for failed in made:  # what arrived before the failure is recorded now
            failed.tap.finish()
        raise
    finally:
        if own is None:
            del self.response_class
        else:
            self.response_class = own
    return response


def _peer_of(sock: Any) -> tuple[str | None, bytes | None]:
    """The address of the peer of a connected socket, and its TLS certificate (DER)."""
    try:
        ip = str(sock.getpeername()[0])
    except (AttributeError, OSError, IndexError, TypeError):
        ip = None
    certificate = None
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is not None:
        with contextlib.suppress(ValueError, OSError):
            certificate = getpeercert(binary_form=True)
    return ip, certificate


def installed() -> bool:
    """Whether http.client records (this module patched it, and nothing undid that)."""
    return (_HTTP.putrequest is _putrequest and _HTTP.send is _send
            and _HTTP.getresponse is _getresponse)  # fmt: skip


_HTTP.putrequest = _putrequest  # type: ignore[method-assign]
_HTTP.send = _send  # type: ignore[method-assign]
_HTTP.getresponse = _getresponse  # type: ignore[method-assign]

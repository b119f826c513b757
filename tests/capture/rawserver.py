"""Byte-level peers for recording tests, on 127.0.0.1: a server that answers with exact
bytes, a scripted keep-alive server (HTTP or TLS), and an HTTP proxy (forwarding and
CONNECT, optionally asking for credentials)."""

from __future__ import annotations

import base64
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any


class RawServer:
    """Answers every connection's request with *answer* (bytes, exactly), then closes;
    `received` holds each request as it arrived."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.received: list[bytes] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                self.received.append(request)
                connection.sendall(self.answer)

    def close(self) -> None:
        self._socket.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class _ProxyHandler(socketserver.BaseRequestHandler):
    """One client connection: ``CONNECT host:port`` opens a tunnel; an absolute-form
    request is sent on to its origin in origin form (then bytes are piped both ways)."""

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk:
                return
            head += chunk
        line, _, rest = head.partition(b"\r\n")
        method, target, version = line.split(b" ", 2)
        self.server.seen.append(line.decode())  # type: ignore[attr-defined]
        wanted = self.server.credentials  # type: ignore[attr-defined]
        if wanted is not None:
            expected = b"proxy-authorization: basic " + base64.b64encode(wanted.encode()).lower()
            if expected not in head.lower():
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b"Content-Length: 0\r\nConnection: close\r\n\r\n")  # fmt: skip
                return
        if method == b"CONNECT":
            host, _, port = target.decode().rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = b""
        else:
            authority, _, path = target.decode().split("//", 1)[1].partition("/")
            host, _, port = authority.rpartition(":")
            upstream = socket.create_connection((host, int(port or 80)))
            rest = b" ".join([method, b"/" + path.encode(), version]) + b"\r\n" + rest
        with upstream:
            if rest:
                upstream.sendall(rest)
            back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            back.start()
            _pipe(client, upstream)
            back.join(5)


@contextmanager
def proxy(credentials: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy's URL, and the request lines it was sent; with *credentials*
    ("user:password"), it answers 407 to a request without them."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ProxyHandler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    server.credentials = credentials  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


class ScriptServer:
    """A keep-alive server that answers each request with what *answer* (connection
    number, request number on it, the request's head) returns: bytes to send, a list
    of bytes and pauses (seconds) to send with those pauses, (either, True) to close the
    connection after it, or None to close it unanswered. Over TLS with *tls* (a (cert,
    key) pair)."""

    def __init__(
        self,
        answer: Callable[[int, int, bytes], Any],
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.answer = answer
        self.connections = 0
        self._context = None
        if tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(*tls)
        self._socket = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self._socket.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(
                target=self._converse, args=(connection, self.connections), daemon=True
            ).start()

    def _converse(self, connection: socket.socket, number: int) -> None:
        try:
            if self._context is not None:
                connection = self._context.wrap_socket(connection, server_side=True)
            pending, count = b"", 0
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                head, _, pending = pending.partition(b"\r\n\r\n")
                count += 1
                reply = self.answer(number, count, head)
                if reply is None:
                    return
                data, close = reply if isinstance(reply, tuple) else (reply, False)
                for part in data if isinstance(data, list) else [data]:
                    if isinstance(part, float):
                        time.sleep(part)
                    else:
                        connection.sendall(part)
                if close:
                    return
        except OSError:
            return
        finally:
            connection.close()

    def close(self) -> None:
        self._socket.close()

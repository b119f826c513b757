"""Byte-level peers for recording tests, on 127.0.0.1: a scripted keep-alive server (HTTP
or TLS) answering with exact bytes, and an HTTP proxy (forwarding and CONNECT,
optionally asking for credentials)."""

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


def _read_head(sock: socket.socket, pending: bytes = b"") -> tuple[bytes, bytes] | None:
    """A request's head (to its blank line, which it keeps) and what came after it;
    None if the connection closed first."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        pending += chunk
    head, _, rest = pending.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


class _ProxyHandler(socketserver.BaseRequestHandler):
    """One client connection: ``CONNECT host:port`` opens a tunnel; an absolute-form
    request is sent on to its origin in origin form (then bytes are piped both ways)."""

    def handle(self) -> None:
        client: socket.socket = self.request
        read = _read_head(client)
        if read is None:
            return
        head = read[0] + read[1]
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
        self.received: list[bytes] = []  # each request's head, as it arrived
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
            while (read := _read_head(connection, pending)) is not None:
                head, pending = read
                self.received.append(head)
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

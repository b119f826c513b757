"""Byte-level peers for recording tests: a server that answers with exact bytes, and
an HTTP proxy (forwarding and CONNECT), both on 127.0.0.1."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


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
def proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy's URL, and the request lines it was sent."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ProxyHandler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()

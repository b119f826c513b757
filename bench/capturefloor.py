"""The floor under the capture bench: the least any Python capture of its pages does.

Not Vigil, and not an archive: per page, one HTTP/1.1 exchange for the page and one
for its image, on a connection kept open (http.client, no redirects, cookies or
retries); both recorded as gzip WARC records by hand; the page, the image and the
WARC written as files named by their SHA-256 (made durable by one syncfs per 16
pages); the page sniffed by libmagic and its text extracted with trafilatura through
the very calls Vigil makes (`sniff_media_type`, `extract_text`), the text written as
a fourth file. No ledger, no index, no events, no checkpoint. One process per core,
each taking every n-th page.

What Vigil does more than this is what the capture goal's "while doing more
(hashing, ledger)" names; when this floor alone costs most of the allowance, the
goal cannot be met by any design on this stack and machine, only approached.

Usage: python bench/capturefloor.py PORT FOLDER PAGES
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import http.client
import os
import re
import sys
import uuid
import zlib
from multiprocessing import Pool
from pathlib import Path

_LIBC = ctypes.CDLL(None, use_errno=True)


def _record(kind: str, url: str, block: bytes) -> bytes:
    digest = base64.b32encode(hashlib.sha1(block, usedforsecurity=False).digest()).decode()
    head = (
        f"WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {url}\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
        f"Content-Type: application/http; msgtype={kind}\r\n"
        f"WARC-Block-Digest: sha1:{digest}\r\nContent-Length: {len(block)}\r\n\r\n"
    ).encode()
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    return packer.compress(head + block + b"\r\n\r\n") + packer.flush()


def _put(root: Path, data: bytes) -> None:
    name = hashlib.sha256(data).hexdigest()
    folder = root / name[:2] / name[2:4]
    folder.mkdir(parents=True, exist_ok=True)
    scratch = root / "tmp" / uuid.uuid4().hex
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    with contextlib.suppress(FileExistsError):  # (the same bytes stored already)
        os.link(scratch, folder / name)
    scratch.unlink()


class _Tapped:
    """A socket whose bytes in and out are kept (for the WARC records)."""

    def __init__(self, sock: object) -> None:
        self.sock, self.sent, self.received = sock, bytearray(), bytearray()

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)  # type: ignore[attr-defined]
        self.sent += data

    def makefile(self, *_args: object, **_kwargs: object) -> object:
        raw, tapped = self.sock.makefile("rb"), self  # type: ignore[attr-defined]

        class Reader:
            def readline(self, limit: int = -1) -> bytes:
                line: bytes = raw.readline(limit)
                tapped.received += line
                return line

            def read(self, size: int = -1) -> bytes:
                data: bytes = raw.read(size)
                tapped.received += data
                return data

            def readinto(self, buffer: bytearray) -> int:
                count: int = raw.readinto(buffer)
                tapped.received += buffer[:count]
                return count

            def close(self) -> None:
                raw.close()

        return Reader()

    def close(self) -> None:
        self.sock.close()  # type: ignore[attr-defined]


def _exchange(conn: http.client.HTTPConnection, path: str) -> tuple[bytes, bytes, bytes]:
    tap = conn.sock
    assert isinstance(tap, _Tapped)
    tap.sent.clear()
    tap.received.clear()
    conn.request("GET", path, headers={"User-Agent": "capture-floor"})
    body = conn.getresponse().read()
    return bytes(tap.sent), bytes(tap.received), body


def _work(job: tuple[int, str, list[str]]) -> int:
    from vigil.capture.page import extract_text
    from vigil.sniff import sniff_media_type

    port, folder, paths = job
    root = Path(folder)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    conn.sock = _Tapped(conn.sock)  # type: ignore[assignment]
    base = f"http://127.0.0.1:{port}"
    for number, path in enumerate(paths, 1):
        sent, received, page = _exchange(conn, path)
        warc = _record("response", base + path, received) + _record("request", base + path, sent)
        found = re.search(rb'<img src="([^"]+)"', page)
        image = found.group(1).decode() if found else "/"
        sent, received, picture = _exchange(conn, image)
        warc += _record("response", base + image, received) + _record("request", base + image, sent)
        sniff_media_type(page[:65536])
        sniff_media_type(picture[:65536])
        text = extract_text(page, base + path, "text/html")
        for data in (page, picture, warc, (text.text if text else "").encode()):
            _put(root, data)
        if number % 16 == 0 or number == len(paths):
            fd = os.open(root, os.O_RDONLY)
            try:
                _LIBC.syncfs(fd)
            finally:
                os.close(fd)
    return len(paths)


def main() -> None:
    port, folder, pages = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    (Path(folder) / "tmp").mkdir(parents=True, exist_ok=True)
    paths = [f"/p/{n}.html" for n in range(pages)]
    cores = os.cpu_count() or 1
    with Pool(cores) as pool:
        done = sum(pool.map(_work, [(port, folder, paths[i::cores]) for i in range(cores)]))
    assert done == pages


if __name__ == "__main__":
    main()

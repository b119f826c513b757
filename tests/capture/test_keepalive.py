"""Connections kept open from one capture to the next (`vigil.capture.connections`):
reused only when nothing of an earlier exchange can reach a later one's record."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.capture.rawserver import ScriptServer
from tests.capture.webserver import self_signed
from vigil.blobs.memory import MemoryBlobStore
from vigil.capture import connections
from vigil.capture.connections import HttpClient
from vigil.capture.fetch import FetchOptions
from vigil.capture.httpwarc import WarcSession
from vigil.errors import CaptureError


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _capture(client: HttpClient, url: str, blobs: Any = None) -> tuple[list[bytes], Any]:
    """One capture of *url* on *client*: its response records' blocks, and what `get` gave."""
    out = io.BytesIO()
    with WarcSession(out, "x.warc.gz", client.options, blobs or MemoryBlobStore(), client) as s:
        try:
            got: Any = s.get(url)
        except CaptureError as exc:
            got = exc
    out.seek(0)
    blocks = [r.raw_stream.read() for r in ArchiveIterator(out, no_record_parse=True)
              if r.rec_type == "response"]  # fmt: skip
    return blocks, got


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    cert, key, _der = self_signed(tmp_path)
    yield cert, key


@pytest.mark.parametrize("secure", [False, True], ids=["http", "tls"])
def test_bytes_sent_past_a_response_never_reach_the_next_capture(
    secure: bool, tls: tuple[Path, Path]
) -> None:
    """A server that sends more than its Content-Length: the surplus is in the record of
    the exchange it came with, and the next capture gets a connection of its own (over
    TLS the surplus waits decrypted in the SSL object, where no select() sees it)."""
    surplus = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nNO" + b"Z" * 12000

    def answer(_conn: int, _n: int, head: bytes) -> bytes:
        return _ok(b"hello") + surplus if b" /one " in head else _ok(b"two")

    server = ScriptServer(answer, tls if secure else None)
    options = FetchOptions(retries=0, verify_tls=str(tls[0]) if secure else True)
    client = HttpClient(options)
    first, _ = _capture(client, f"{server.base}/one")
    second, got = _capture(client, f"{server.base}/two")
    server.close()
    assert first[0].startswith(_ok(b"hello"))  # (with what else came in the same reads)
    assert second == [_ok(b"two")] and got.status == 200
    assert server.connections == 2


def test_a_clean_connection_is_reused_by_the_next_capture() -> None:
    server = ScriptServer(lambda _c, _n, _h: _ok(b"page"))
    client = HttpClient(FetchOptions(retries=0))
    for _ in range(3):
        blocks, got = _capture(client, f"{server.base}/")
        assert blocks == [_ok(b"page")] and got.status == 200
    server.close()
    assert server.connections == 1


def test_a_connection_idle_too_long_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle time counts per connection: a thread busy with other hosts meanwhile does
    not keep it fresh."""
    monkeypatch.setattr(connections, "IDLE", 0.3)
    a = ScriptServer(lambda _c, _n, _h: _ok(b"a"))
    b = ScriptServer(lambda _c, _n, _h: _ok(b"b"))
    client = HttpClient(FetchOptions(retries=0))
    _capture(client, f"{a.base}/")
    for _ in range(3):
        time.sleep(0.15)
        _capture(client, f"{b.base}/")
    _capture(client, f"{a.base}/")
    assert (a.connections, b.connections) == (2, 1)
    a.close()
    b.close()


def test_a_kept_alive_connection_closed_as_a_request_arrives_is_asked_again() -> None:
    """The server closes the reused connection without answering (its keep-alive timer
    fired): the GET goes again on a new connection (RFC 9112 §9.3.1), and only the
    answered exchange is in the WARC."""

    def answer(conn: int, n: int, _head: bytes) -> bytes | None:
        return None if (conn, n) == (1, 2) else _ok(b"fine")

    server = ScriptServer(answer)
    client = HttpClient(FetchOptions(retries=0))
    _capture(client, f"{server.base}/1")
    blocks, got = _capture(client, f"{server.base}/2")
    server.close()
    assert got.status == 200 and blocks == [_ok(b"fine")] and server.connections == 2


def test_a_body_that_could_not_be_stored_leaves_its_connection_closed() -> None:
    """A blob store that fails mid-body (a full disk) while the rest of the body is still
    on its way: that rest is never read as the next capture's response."""

    class Failing(MemoryBlobStore):
        def put(self, stream: Any, progress: Any = None) -> Any:
            stream.read(10)
            raise OSError(28, "No space left on device")

    head = b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n"

    def answer(_conn: int, _n: int, request: bytes) -> Any:
        return [head + b"x" * 70_000, 0.5, b"x" * 130_000] if b"/big" in request else _ok(b"two")

    server = ScriptServer(answer)
    client = HttpClient(FetchOptions(retries=0))
    with pytest.raises(OSError, match="No space"):
        _capture(client, f"{server.base}/big", Failing())
    blocks, got = _capture(client, f"{server.base}/two")
    server.close()
    assert got.status == 200 and blocks == [_ok(b"two")] and server.connections == 2


def test_a_response_ending_inside_its_headers_is_marked_cut() -> None:
    server = ScriptServer(
        lambda _c, _n, _h: (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Cut", True)
    )
    blocks, got = _capture(HttpClient(FetchOptions(retries=0)), f"{server.base}/")
    server.close()
    assert blocks == [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Cut"]
    assert got.truncated and "inside the response's headers" in got.problem


def test_a_ca_bundle_that_is_not_there_is_named(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"missing\.pem: no such CA bundle"):
        HttpClient(FetchOptions(verify_tls=str(tmp_path / "missing.pem")))


def test_a_failure_is_named_by_its_cause() -> None:
    """urllib3 nests causes and names its pool first; the message says what happened."""
    server = ScriptServer(lambda _c, _n, _h: None)  # closes without a word
    _blocks, got = _capture(HttpClient(FetchOptions(retries=0)), f"{server.base}/")
    server.close()
    assert isinstance(got, CaptureError)
    assert str(got).endswith(
        "cannot fetch: Connection aborted: Remote end closed connection without response"
    )

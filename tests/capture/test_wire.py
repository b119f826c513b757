"""HTTP recorded as it crossed the wire (`vigil.capture.wire`, `vigil.capture.warcwriter`):
records hold the exact bytes, whatever the server sends, through proxies too."""

from __future__ import annotations

import gzip
import io
import os
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.capture.rawserver import RawServer, proxy
from tests.capture.webserver import PAGE, self_signed, serve
from vigil.archive import Archive
from vigil.capture.fetch import FetchOptions
from vigil.capture.warcwriter import WarcWriter
from vigil.capture.web import WebCapturer
from vigil.capture.wire import Exchange, header_end, recording
from vigil.errors import CaptureError

ODD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/html\r\n"
    b"X-Spaced:    three spaces before, two after  \r\n"
    b"X-Folded: a header\r\n  folded onto a second line\r\n"
    b"X-Latin-1: caf\xe9\r\n"
    b"X-Bare-LF: ends with a bare line feed\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
    b"6;ext=1\r\n<html>\r\n" b"14\r\n<p>Aleppo</p></html>\r\n" b"0\r\n\r\n"
)  # fmt: skip


@pytest.fixture
def site() -> Iterator[str]:
    with serve() as base:
        yield base


@pytest.fixture
def clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


def _records(archive: Archive, sha256: str) -> list[tuple[str, dict[str, str], bytes]]:
    """(type, WARC headers, raw block) of each record, every digest checked by warcio
    (on a parsing read: without one, warcio digests the payload from the block's start)."""
    with archive.blobs.open(sha256) as f:
        for record in ArchiveIterator(f, check_digests="raise"):
            record.raw_stream.read()
    with archive.blobs.open(sha256) as f:
        return [
            (r.rec_type, dict(r.rec_headers.headers), r.raw_stream.read())
            for r in ArchiveIterator(f, no_record_parse=True)
        ]


def test_a_response_is_kept_byte_for_byte_however_odd(archive: Archive) -> None:
    """Folded, padded and Latin-1 header lines, a bare LF, chunk extensions:
    the response record is the bytes sent, the request record the bytes received,
    and both digests check; the page item is the decoded body."""
    server = RawServer(ODD)
    try:
        result = WebCapturer(archive, media=False, screenshot=False).capture(
            f"http://127.0.0.1:{server.port}/odd"
        )
    finally:
        server.close()
    records = _records(archive, result.items[0].sha256)
    assert [kind for kind, _h, _b in records] == ["warcinfo", "response", "request"]
    (_, response_headers, response), (_, request_headers, request) = records[1], records[2]
    assert response == ODD
    assert server.received == [request]
    assert request.startswith(b"GET /odd HTTP/1.1\r\nHost: 127.0.0.1:")
    assert request_headers["WARC-Concurrent-To"] == response_headers["WARC-Record-ID"]
    assert response_headers["WARC-Target-URI"] == f"http://127.0.0.1:{server.port}/odd"
    assert response_headers["WARC-IP-Address"] == "127.0.0.1"
    page = result.items[1]
    with archive.blobs.open(page.sha256) as f:
        assert f.read() == b"<html><p>Aleppo</p></html>"


def test_a_header_line_without_a_colon_is_kept_too(archive: Archive) -> None:
    """(http.client then reads the lines after it as the body: the record is as sent.)"""
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nno colon here\r\n\r\nbody"
    server = RawServer(answer)
    try:
        result = WebCapturer(archive, media=False, screenshot=False).capture(
            f"http://127.0.0.1:{server.port}/"
        )
    finally:
        server.close()
    records = _records(archive, result.items[0].sha256)
    assert [b for kind, _h, b in records if kind == "response"] == [answer]


def test_encodings_stay_in_the_record_and_leave_the_item(archive: Archive, site: str) -> None:
    result = WebCapturer(archive, media=False, screenshot=False).capture(f"{site}/gzip.html")
    (_, _, response) = next(
        r for r in _records(archive, result.items[0].sha256) if r[0] == "response"
    )
    assert gzip.decompress(response[header_end(response) :]) == PAGE
    with archive.blobs.open(result.items[1].sha256) as f:
        assert f.read() == PAGE


def test_a_response_cut_short_is_recorded_as_it_came(archive: Archive) -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n<html>half"
    server = RawServer(cut)
    try:
        result = WebCapturer(archive, media=False, screenshot=False).capture(
            f"http://127.0.0.1:{server.port}/"
        )
    finally:
        server.close()
    assert any("body cut short" in p for p in result.problems)
    responses = [
        b for kind, _h, b in _records(archive, result.items[0].sha256) if kind == "response"
    ]
    assert responses == [cut]


def test_no_byte_of_a_response_means_no_record_and_no_capture(archive: Archive) -> None:
    server = RawServer(b"")
    size = archive.log.size
    try:
        with pytest.raises(CaptureError, match="cannot fetch"):
            WebCapturer(archive, FetchOptions(retries=0), media=False, screenshot=False).capture(
                f"http://127.0.0.1:{server.port}/"
            )
    finally:
        server.close()
    assert archive.log.size == size


@pytest.mark.parametrize("variable", ["http_proxy", "all_proxy"])
def test_through_a_proxy_the_origins_urls_are_recorded(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch, clean_proxy_environment: None,
    variable: str,
) -> None:  # fmt: skip
    """A forwarding proxy is sent the absolute URL (and the record says so, with the
    proxy named); what is recorded is what went to and came from it."""
    with proxy() as (proxy_url, seen):
        monkeypatch.setenv(variable, proxy_url)
        result = WebCapturer(archive, media=False, screenshot=False).capture(f"{site}/page.html")
    assert seen == [f"GET {site}/page.html HTTP/1.1"]
    records = _records(archive, result.items[0].sha256)
    (_, headers, request) = next(r for r in records if r[0] == "request")
    assert request.startswith(f"GET {site}/page.html HTTP/1.1\r\n".encode())
    assert headers["WARC-Target-URI"] == f"{site}/page.html"
    assert headers["WARC-Proxy-Host"] == proxy_url
    with archive.blobs.open(result.items[1].sha256) as f:
        assert f.read() == PAGE


def test_a_tunnel_through_a_proxy_records_the_exchange_not_the_connect(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    clean_proxy_environment: None,
) -> None:  # fmt: skip
    cert, key, der = self_signed(tmp_path)
    with serve((cert, key)) as base, proxy() as (proxy_url, seen):
        monkeypatch.setenv("https_proxy", proxy_url)
        options = FetchOptions(verify_tls=str(cert))
        result = WebCapturer(archive, options, media=False, screenshot=False).capture(
            f"{base}/page.html"
        )
    assert [line.rsplit(" ", 1)[0] for line in seen] == [f"CONNECT {base.removeprefix('https://')}"]
    records = _records(archive, result.items[0].sha256)
    requests = [block for kind, _h, block in records if kind == "request"]
    assert len(requests) == 1 and requests[0].startswith(b"GET /page.html HTTP/1.1\r\n")
    (_, headers, _) = next(r for r in records if r[0] == "response")
    assert headers["WARC-Target-URI"] == f"{base}/page.html"
    certificates = [block for kind, _h, block in records if kind == "metadata"]
    assert certificates == [der]


def test_http_clients_on_http_client_record_too(tmp_path: Path) -> None:
    """urllib (one of yt-dlp's handlers) over HTTPS: recorded, with the certificate."""
    cert, key, der = self_signed(tmp_path)
    exchanges: list[Exchange] = []

    class Keep:
        def exchange(self, exchange: Exchange) -> None:
            exchanges.append(exchange)

    context = ssl.create_default_context(cafile=str(cert))
    with (
        serve((cert, key)) as base,
        recording(Keep()),
        urllib.request.urlopen(f"{base}/page.html", context=context) as response,
    ):
        assert response.read() == PAGE
    (exchange,) = exchanges
    assert exchange.target_uri == f"{base}/page.html" and exchange.certificate == der
    raw = exchange.response.reader().read()
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(PAGE)


def test_a_warc_written_here_reads_back_in_warcio() -> None:
    out = io.BytesIO()
    writer = WarcWriter(out, "x.warc.gz", {"software": "test"})
    writer.metadata("https://example.org/", b"\x30\x82", "application/pkix-cert")
    out.seek(0)
    kinds = [r.rec_type for r in ArchiveIterator(out, check_digests="raise")]
    assert kinds == ["warcinfo", "metadata"]


@pytest.mark.parametrize(
    ("block", "end"),
    [
        (b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", 25),
        (b"HTTP/1.1 200 OK\nA: b\n\nbody", 22),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n\r\r\nbody", 26),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", 23),
    ],
)
def test_the_header_section_ends_where_warc_readers_end_it(block: bytes, end: int) -> None:
    assert header_end(block) == end

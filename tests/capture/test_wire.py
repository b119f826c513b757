"""HTTP recorded as it crossed the wire (`vigil.capture.wire`, `vigil.capture.warcwriter`):
records hold the exact bytes, whatever the server sends, through proxies too."""

from __future__ import annotations

import datetime as dt
import gc
import gzip
import io
import os
import ssl
import urllib.request
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.capture.rawserver import ScriptServer, proxy
from tests.capture.webserver import PAGE, self_signed, serve
from vigil.archive import Archive
from vigil.capture.fetch import FetchOptions
from vigil.capture.warcwriter import WarcWriter, header_section
from vigil.capture.web import WebCapturer
from vigil.capture.wire import Exchange, recording
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


def _capture_answered(archive: Archive, answer: bytes, path: str = "/") -> tuple[Any, ScriptServer]:
    """A capture of a server that answers *answer*, exactly, and closes."""
    server = ScriptServer(lambda _c, _n, _h: (answer, True))
    try:
        options = FetchOptions(retries=0)
        capturer = WebCapturer(archive, options, media=False, screenshot=False)
        return capturer.capture(f"{server.base}{path}"), server
    finally:
        server.close()


def test_a_response_is_kept_byte_for_byte_however_odd(archive: Archive) -> None:
    """Folded, padded and Latin-1 header lines, a bare LF, chunk extensions:
    the response record is the bytes sent, the request record the bytes received,
    and both digests check; the page item is the decoded body."""
    result, server = _capture_answered(archive, ODD, "/odd")
    records = _records(archive, result.items[0].sha256)
    assert [kind for kind, _h, _b in records] == ["warcinfo", "response", "request"]
    (_, response_headers, response), (_, request_headers, request) = records[1], records[2]
    assert response == ODD
    assert server.received == [request]
    assert request.startswith(b"GET /odd HTTP/1.1\r\nHost: 127.0.0.1:")
    assert request_headers["WARC-Concurrent-To"] == response_headers["WARC-Record-ID"]
    assert response_headers["WARC-Target-URI"] == f"{server.base}/odd"
    assert response_headers["WARC-IP-Address"] == "127.0.0.1"
    page = result.items[1]
    with archive.blobs.open(page.sha256) as f:
        assert f.read() == b"<html><p>Aleppo</p></html>"


def test_a_header_line_without_a_colon_is_kept_too(archive: Archive) -> None:
    """(http.client then reads the lines after it as the body: the record is as sent.)"""
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nno colon here\r\n\r\nbody"
    result, _server = _capture_answered(archive, answer)
    records = _records(archive, result.items[0].sha256)
    assert [b for kind, _h, b in records if kind == "response"] == [answer]


def test_encodings_stay_in_the_record_and_leave_the_item(archive: Archive, site: str) -> None:
    result = WebCapturer(archive, media=False, screenshot=False).capture(f"{site}/gzip.html")
    (_, _, response) = next(
        r for r in _records(archive, result.items[0].sha256) if r[0] == "response"
    )
    end, complete = header_section(io.BytesIO(response))
    assert complete and gzip.decompress(response[end:]) == PAGE
    with archive.blobs.open(result.items[1].sha256) as f:
        assert f.read() == PAGE


def test_a_response_cut_short_is_recorded_as_it_came(archive: Archive) -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n<html>half"
    result, _server = _capture_answered(archive, cut)
    assert any("body cut short" in p for p in result.problems)
    responses = [
        b for kind, _h, b in _records(archive, result.items[0].sha256) if kind == "response"
    ]
    assert responses == [cut]


def test_no_byte_of_a_response_means_no_record_and_no_capture(archive: Archive) -> None:
    size = archive.log.size
    with pytest.raises(CaptureError, match="cannot fetch"):
        _capture_answered(archive, b"")
    assert archive.log.size == size and list(archive.blobs) == []  # (no WARC either)


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


def _one_exchange(response: bytes) -> bytes:
    """A WARC of one exchange whose response is *response* (made without a network)."""
    exchange = Exchange(dt.datetime.now(dt.UTC), "http", "example.org")
    exchange.request += b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"
    exchange.response.write(response)
    out = io.BytesIO()
    WarcWriter(out, "x.warc.gz", {"software": "test"}).exchange(exchange)
    return out.getvalue()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
        b"HTTP/1.1 200 OK\nA: b\n\n",
        b"HTTP/1.1 200 OK\r\nA: b\r\n   \r\n",  # (an HTTP parser reads a continuation)
        b"HTTP/1.1 200 OK\r\nA: b\r\n\x0c\r\n",
        b"HTTP/1.1 200 OK\r\nA: caf\xe9\r\nB: \xa0\r\n\xa0\r\n",  # (Latin-1 NBSP is space)
        b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"y" * (3 << 20) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: z\r\n" * 120_000 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nA: b\r\n",  # (no end)
    ],
    ids=["crlf", "lf", "spaces", "formfeed", "latin-1", "3-MB-line", "1-MB-of-lines", "cut"],
)
def test_payload_digests_are_those_warcio_checks(head: bytes) -> None:
    """Where the header section ends decides the payload digest; warcio's reading of it
    (lines of whitespace end it too) is the one its checker applies."""
    warc = _one_exchange(head + b"the payload\r\n")
    records = list(ArchiveIterator(io.BytesIO(warc), check_digests="raise"))
    assert [r.rec_type for r in records] == ["warcinfo", "response", "request"]


def test_proxy_credentials_are_sent_and_no_proxy_ranges_are_honoured(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch, clean_proxy_environment: None
) -> None:
    """As requests takes them: credentials in the proxy's URL (Basic), a proxy given as
    host:port, and no_proxy as a CIDR range."""
    capturer = WebCapturer(archive, media=False, screenshot=False)
    with proxy("reporter:s3cret!") as (proxy_url, seen):
        monkeypatch.setenv("http_proxy", proxy_url.replace("http://", "http://reporter:s3cret%21@"))
        assert capturer.capture(f"{site}/page.html").items[1].url == f"{site}/page.html"
        assert len(seen) == 1
        monkeypatch.setenv("no_proxy", "127.0.0.0/8")
        capturer = WebCapturer(archive, media=False, screenshot=False)  # (a new thread client)
        capturer.capture(f"{site}/page.html")
        assert len(seen) == 1  # (went direct)
    with proxy() as (proxy_url, seen):
        monkeypatch.delenv("no_proxy")
        monkeypatch.setenv("http_proxy", proxy_url.removeprefix("http://"))
        WebCapturer(archive, media=False, screenshot=False).capture(f"{site}/page.html")
        assert seen == [f"GET {site}/page.html HTTP/1.1"]


def test_a_direct_request_is_never_labelled_proxied(archive: Archive, site: str) -> None:
    """(Its query may hold a URL.)"""
    result = WebCapturer(archive, media=False, screenshot=False).capture(
        f"{site}/page.html?share=https://example.org/a"
    )
    headers = next(
        h for kind, h, _b in _records(archive, result.items[0].sha256) if kind == "response"
    )
    assert "WARC-Proxy-Host" not in headers


def test_urls_are_requested_and_named_as_sent(archive: Archive, site: str) -> None:
    """A path with a space and Arabic letters: sent percent-encoded, and the event, the
    item and the record all name the URL that was requested."""
    result = WebCapturer(archive, media=False, screenshot=False).capture(f"{site}/حلب 2016")
    warc = result.items[0]
    sent = f"{site}/%D8%AD%D9%84%D8%A8%202016"
    event = archive.custody(warc.id)[0].data
    assert event["capture"]["final_url"] == sent
    headers = next(h for kind, h, _b in _records(archive, warc.sha256) if kind == "response")
    assert headers["WARC-Target-URI"] == sent


def test_a_recorded_exchange_is_let_go_once_written(site: str) -> None:
    """A kept-alive connection keeps its last response; not that response's bytes."""
    kept: list[weakref.ref[Exchange]] = []

    class Keep(WarcWriter):
        def exchange(self, exchange: Exchange) -> None:
            super().exchange(exchange)
            kept.append(weakref.ref(exchange))

    import urllib3

    pool = urllib3.PoolManager()
    with recording(Keep(io.BytesIO(), "x.warc.gz", {})):
        assert pool.request("GET", f"{site}/page.html").data == PAGE
    gc.collect()
    assert len(kept) == 1 and kept[0]() is None

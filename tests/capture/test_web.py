"""`vigil capture` against a real local HTTP(S) server, on both index backends."""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.capture import webserver
from tests.capture.webserver import MP4, PAGE, PDF, PNG, self_signed, serve
from tests.conftest import run_vigil
from vigil.archive import Archive
from vigil.capture import connections, webpool
from vigil.capture.fetch import FetchOptions
from vigil.capture.web import WebCapturer
from vigil.errors import CaptureError
from vigil.verify import verify_archive


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve() as base:
        yield base


def _warc_records(archive: Archive, sha256: str) -> list[tuple[str, str, str | None]]:
    with archive.blobs.open(sha256) as f:
        return [
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI") or "",
                r.http_headers.get_statuscode() if r.http_headers else None,
            )
            for r in ArchiveIterator(f)
        ]


def _blob(archive: Archive, sha256: str) -> bytes:
    with archive.blobs.open(sha256) as f:
        return f.read()


def test_capture_page_media_and_text(archive: Archive, site: str) -> None:
    result = WebCapturer(archive).capture(f"{site}/page.html")
    kinds = [i.kind for i in result.items]
    assert kinds[0] == "warc" and kinds[1] == "page" and "text" in kinds
    by_url = {i.url: i for i in result.items if i.kind in ("page", "media")}
    assert _blob(archive, by_url[f"{site}/page.html"].sha256) == PAGE
    assert _blob(archive, by_url[f"{site}/img/photo.png"].sha256) == PNG
    assert _blob(archive, by_url[f"{site}/media/clip.mp4"].sha256) == MP4
    assert _blob(archive, by_url[f"{site}/files/report.pdf"].sha256) == PDF
    for found in ("/img/photo@2x.png", "/img/og.png", "/img/poster.png"):
        assert f"{site}{found}" in by_url, found
    assert f"{site}/about" not in by_url  # not a media link
    assert by_url[f"{site}/img/photo.png"].media_type == "image/png"
    warc = result.items[0]
    assert all(i.parent_id == warc.id for i in by_url.values())
    assert any("/img/missing.png: HTTP 404" in p for p in result.problems)
    # the WARC holds request and response of every exchange, with the server's IP
    records = _warc_records(archive, warc.sha256)
    assert records[0][0] == "warcinfo"
    responses = {uri for kind, uri, _ in records if kind == "response"}
    requests_ = {uri for kind, uri, _ in records if kind == "request"}
    assert f"{site}/page.html" in responses and f"{site}/img/missing.png" in responses
    assert responses == requests_
    with archive.blobs.open(warc.sha256) as f:
        ips = {
            r.rec_headers.get_header("WARC-IP-Address")
            for r in ArchiveIterator(f)
            if r.rec_type == "response"
        }
    assert ips == {"127.0.0.1"}
    # the text derivative, with the page's claims kept as claims
    (text,) = [i for i in result.items if i.kind == "text"]
    assert text.parent_id == by_url[f"{site}/page.html"].id
    assert "تذكرونا" in _blob(archive, text.sha256).decode()
    assert text.claimed["title"] == "Aleppo, 13 December 2016" and text.claimed["language"] == "ar"
    assert [c.id for c in archive.index.children(warc.id)] == [
        i.id for i in result.items if i.kind in ("page", "media")
    ]
    assert verify_archive(archive.root).ok


def test_redirect_hops_are_each_recorded(archive: Archive, site: str) -> None:
    result = WebCapturer(archive, media=False).capture(f"{site}/redirect")
    warc, page = result.items[0], result.items[1]
    event = json.loads(archive.log.entry(archive.item(warc.id).added_index))
    assert [h["status"] for h in event["capture"]["redirects"]] == [302, 302]
    assert event["capture"]["final_url"] == f"{site}/page.html" == page.url
    statuses = [
        (uri.rsplit("/", 1)[-1], status)
        for kind, uri, status in _warc_records(archive, warc.sha256)
        if kind == "response"
    ]
    assert statuses == [("redirect", "302"), ("hop2", "302"), ("page.html", "200")]


def test_a_redirect_loop_is_kept_as_evidence_with_a_problem(archive: Archive, site: str) -> None:
    result = WebCapturer(archive, FetchOptions(max_redirects=5)).capture(f"{site}/loop")
    assert [i.kind for i in result.items] == ["warc"]
    assert any("too many redirects" in p for p in result.problems)
    assert (
        sum(1 for kind, *_ in _warc_records(archive, result.items[0].sha256) if kind == "response")
        == 6
    )


def test_a_removed_post_is_captured_with_its_status(archive: Archive, site: str) -> None:
    result = WebCapturer(archive).capture(f"{site}/gone")
    page = result.items[1]
    event = json.loads(archive.log.entry(page.added_index))
    assert page.kind == "page" and event["http"]["status"] == 410
    assert b"removed" in _blob(archive, page.sha256)
    assert f"{site}/gone: the page answered HTTP 410" in result.problems


def test_no_response_stores_nothing(archive: Archive) -> None:
    size = archive.log.size
    with pytest.raises(CaptureError, match="connection refused"):
        WebCapturer(archive).capture("http://127.0.0.1:9/never")
    with pytest.raises(CaptureError, match="not an http"):
        WebCapturer(archive).capture("file:///etc/passwd")
    assert archive.log.size == size
    assert list(archive.blobs.tmp.iterdir()) == []


def test_one_threads_captures_share_its_connections_but_no_cookies(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Captures on one thread reuse its connections (no new connection per page), yet
    each WARC holds only its own exchanges, and a cookie set in one capture is sent in
    that capture only (the evidence of one capture never shows another's state)."""
    from tests.capture.webserver import DYNAMIC

    monkeypatch.setattr(connections, "IDLE", 600.0)  # (however slow this machine is)
    DYNAMIC["peers"] = []

    def requests_in(sha256: str) -> list[tuple[str, str | None]]:
        with archive.blobs.open(sha256) as f:
            return [
                (r.rec_headers.get_header("WARC-Target-URI"), r.http_headers.get_header("Cookie"))
                for r in ArchiveIterator(f)
                if r.rec_type == "request"
            ]

    capturer = WebCapturer(archive, media=False, screenshot=False)
    walled = capturer.capture(f"{site}/cookie")
    again = capturer.capture(f"{site}/page.html")
    first, second = requests_in(walled.items[0].sha256), requests_in(again.items[0].sha256)
    assert first == [(f"{site}/cookie", None), (f"{site}/page.html", "wall=passed")]
    assert second == [(f"{site}/page.html", None)]
    assert walled.items[1].url == again.items[1].url == f"{site}/page.html"
    assert walled.items[1].sha256 == again.items[1].sha256
    # The event names the headers sent (the cookie stays in the WARC: it may be a session)
    capture = json.loads(archive.log.entry(walled.items[0].added_index))["capture"]
    sent = capture["request_headers"]
    assert sent["User-Agent"] == FetchOptions().user_agent and "gzip" in sent["Accept-Encoding"]
    assert "Cookie" not in sent
    assert capture["tools"]["urllib3"] == importlib.metadata.version("urllib3")
    # the three requests, of two captures, came over one connection
    assert [path for path, _port in DYNAMIC["peers"]] == ["/cookie", "/page.html", "/page.html"]
    assert len({port for _path, port in DYNAMIC["peers"]}) == 1


def _record_payload(archive: Archive, item_id: str, warc_sha256: str) -> bytes:
    """The payload (as warcio decodes it) of the WARC record an item names."""
    record_id = archive.custody(item_id)[0].data["http"]["warc_record_id"]
    with archive.blobs.open(warc_sha256) as f:
        for record in ArchiveIterator(f):
            if record.rec_headers.get_header("WARC-Record-ID") == record_id:
                payload: bytes = record.content_stream().read()
                return payload
    raise AssertionError(f"no record {record_id}")


@pytest.mark.parametrize(
    ("path", "problem", "truncated"),
    [
        ("/br.html", None, False),
        ("/gzip.html", None, False),
        ("/drop.html", "body cut short", True),
        ("/badgzip.html", "Content-Encoding could not be decoded", True),
    ],
)
def test_an_item_holds_the_payload_of_the_record_it_names(
    archive: Archive, site: str, path: str, problem: str | None, truncated: bool
) -> None:
    """Bodies are stored as they are read; one not read whole (dropped, undecodable) is
    taken from its WARC record instead, and says so. Either way item == record."""
    result = WebCapturer(archive, media=False).capture(f"{site}{path}")
    warc, page = result.items[0], result.items[1]
    assert page.kind == "page"
    assert _blob(archive, page.sha256) == _record_payload(archive, page.id, warc.sha256)
    http = archive.custody(page.id)[0].data["http"]
    assert http.get("truncated", False) is truncated
    if problem is None:
        assert _blob(archive, page.sha256) == PAGE and not result.problems
    else:
        assert any(problem in p for p in result.problems), result.problems
    assert verify_archive(archive.root).ok


def test_the_page_item_is_the_pages_own_fetch_even_when_it_names_itself(
    archive: Archive, site: str
) -> None:
    """A page that gives itself as its og:image is fetched twice; the page item (and its
    text) is the first fetch, the second a medium."""
    result = WebCapturer(archive).capture(f"{site}/self.html")
    page = next(i for i in result.items if i.kind == "page")
    text = next(i for i in result.items if i.kind == "text")
    again = [i for i in result.items if i.kind == "media" and i.url == f"{site}/self.html"]
    assert len(again) == 1

    def number(text: str) -> int:  # which request of /self.html the server answered
        return int(text.rsplit("request ", 1)[1].split("<", 1)[0].split()[0])

    first = number(_blob(archive, page.sha256).decode())
    assert number(_blob(archive, again[0].sha256).decode()) == first + 1
    assert text.parent_id == page.id and number(_blob(archive, text.sha256).decode()) == first


def test_http_records_whatever_was_imported_first() -> None:
    """The recorder wraps http.client's methods: urllib3 and requests imported before
    Vigil record all the same (no import order to keep)."""
    code = (
        "import urllib3, requests, http.server, threading\n"
        "import vigil.capture.wire as wire\n"
        "server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
        "threading.Thread(target=server.serve_forever, daemon=True).start()\n"
        "kept = []\n"
        "class Keep:\n"
        "    def exchange(self, exchange): kept.append(exchange)\n"
        "with wire.recording(Keep()):\n"
        "    urllib3.PoolManager().request('GET', f'http://127.0.0.1:{server.server_port}/')\n"
        "    requests.get(f'http://127.0.0.1:{server.server_port}/nothing')\n"
        "assert wire.installed() and [e.target_uri.rsplit('/', 1)[1] for e in kept] == ['', 'nothing']\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)


def test_oversized_response_is_cut_and_reported(archive: Archive, site: str) -> None:
    result = WebCapturer(archive, FetchOptions(max_bytes=1 << 20)).capture(f"{site}/big")
    assert any("larger than 1048576 bytes" in p for p in result.problems)
    warc, body = result.items[0], result.items[1]
    assert warc.kind == "warc"
    assert _blob(archive, body.sha256) == _record_payload(archive, body.id, warc.sha256)
    assert archive.custody(body.id)[0].data["http"]["truncated"] is True


def test_content_encoding_is_removed_from_the_item_but_kept_in_the_warc(
    archive: Archive, site: str
) -> None:
    result = WebCapturer(archive, media=False).capture(f"{site}/gzip.html")
    page = result.items[1]
    assert _blob(archive, page.sha256) == PAGE
    with archive.blobs.open(result.items[0].sha256) as f:
        raw = next(r.raw_stream.read() for r in ArchiveIterator(f) if r.rec_type == "response")
    assert gzip.decompress(raw) == PAGE


def test_a_latin1_page_gives_correct_text(archive: Archive, site: str) -> None:
    result = WebCapturer(archive).capture(f"{site}/latin1.html")
    (text,) = [i for i in result.items if i.kind == "text"]
    assert (
        text.kind == "text"
        and "Le café à Alep a été détruit." in _blob(archive, text.sha256).decode()
    )


def test_text_extraction_is_trafilaturas_json_extraction() -> None:
    """`extract_text` skips parts of `trafilatura.extract` it does not keep: same answer
    (dates from the page's markup only: htmldate's extensive search off)."""
    import trafilatura
    from trafilatura.settings import set_date_params

    from vigil.capture.page import extract_text

    latin1 = "<html><body><article><p>Le café à Alep a été détruit.</p>" * 20
    decomposed = (  # alef + combining hamza above, e + combining acute: NFC composes them
        "<html><head><title>\u0627\u0654\u0645\u0644 cafe\u0301</title></head><body>"
        + "<article><p>\u0627\u0654\u0645\u0644 \u0641\u064a \u062d\u0644\u0628 cafe\u0301.</p>"
        * 30
        + "</article></body></html>"
    ).encode()
    for html, ctype in (
        (PAGE, "text/html"),
        (decomposed, "text/html; charset=utf-8"),
        (latin1.encode("latin-1"), "text/html; charset=latin-1"),
    ):
        url = "https://example.org/2016/12/13/aleppo"
        charset = ctype.partition("charset=")[2]
        document = html.decode(charset) if charset else html
        raw = trafilatura.extract(
            document, url=url, output_format="json", with_metadata=True,
            date_extraction_params=set_date_params(extensive=False),
        )  # fmt: skip
        expected = json.loads(raw)
        found = extract_text(html, url, ctype)
        assert found is not None and found.text == expected["text"] and found.text
        assert "\u0654" not in found.text + (found.title or "")  # composed (NFC)
        assert (found.title, found.author, found.published) == (
            expected["title"],
            expected["author"],
            expected["date"],
        )


def test_tls_certificate_is_recorded(archive: Archive, tmp_path: Path) -> None:
    cert, key, der = self_signed(tmp_path)
    with serve((cert, key)) as base:
        with pytest.raises(CaptureError, match="cannot fetch"):
            WebCapturer(archive).capture(f"{base}/page.html")  # not trusted by default
        result = WebCapturer(archive, FetchOptions(verify_tls=str(cert)), media=False).capture(
            f"{base}/page.html"
        )
    event = json.loads(archive.log.entry(result.items[0].added_index))
    (recorded,) = event["capture"]["tls_certificates"]
    assert _blob(archive, recorded["sha256"]) == der


def test_each_https_hop_has_its_certificate_recorded(archive: Archive, tmp_path: Path) -> None:
    cert, key, der = self_signed(tmp_path)
    with serve((cert, key)) as base:
        options = FetchOptions(verify_tls=str(cert))
        result = WebCapturer(archive, options, media=False, screenshot=False).capture(
            f"{base}/redirect"
        )
    event = json.loads(archive.log.entry(result.items[0].added_index))
    recorded = event["capture"]["tls_certificates"]
    hops = [f"{base}/redirect", f"{base}/hop2", f"{base}/page.html"]
    assert [c["url"] for c in recorded] == hops
    assert {_blob(archive, c["sha256"]) for c in recorded} == {der}
    with archive.blobs.open(result.items[0].sha256) as f:
        about = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f)
                 if r.rec_type == "metadata"]  # fmt: skip
    assert about == hops


def test_a_screenshot_is_of_the_page_never_of_chromiums_error_page(
    archive: Archive, tmp_path: Path
) -> None:
    """Chromium does not trust the CA bundle the capture was given: it would render its
    certificate warning. That is no screenshot of the page; with --insecure it loads."""
    from vigil.capture.screenshot import chromium_path

    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    cert, key, _der = self_signed(tmp_path)
    with serve((cert, key)) as base:
        trusted = FetchOptions(verify_tls=str(cert))
        result = WebCapturer(archive, trusted, media=False).capture(f"{base}/page.html")
        insecure = WebCapturer(archive, FetchOptions(verify_tls=False), media=False)
        loaded = insecure.capture(f"{base}/page.html")
    assert "screenshot" not in [i.kind for i in result.items]
    assert any("chromium could not load" in p and "ERR_CERT" in p for p in result.problems)
    assert "screenshot" in [i.kind for i in loaded.items]


def test_cli_capture_json(tmp_path: Path, site: str, database_url: str | None) -> None:
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, database_url=database_url, check=True)
    out = run_vigil(
        "capture",
        "--json",
        "--no-media",
        f"{site}/page.html",
        "http://127.0.0.1:9/x",
        archive_path=path,
        database_url=database_url,
    )
    assert out.returncode == 1
    first, second = map(json.loads, out.stdout.splitlines())
    assert [i["kind"] for i in first["items"]][:3] == ["warc", "page", "text"]
    assert all(len(i["sha256"]) == 64 for i in first["items"])
    assert second["error"] and "connection refused" in second["problems"][0]
    shown = json.loads(
        run_vigil(
            "show",
            first["items"][1]["id"],
            "--json",
            archive_path=path,
            database_url=database_url,
            check=True,
        ).stdout
    )
    assert shown["url"] == f"{site}/page.html" and shown["kind"] == "page"
    assert json.loads(
        run_vigil("verify", "--json", archive_path=path, database_url=database_url).stdout
    )["ok"]


def test_transient_errors_are_retried_and_every_attempt_recorded(
    archive: Archive, site: str
) -> None:
    from tests.capture.webserver import DYNAMIC

    DYNAMIC["log"] = []
    result = WebCapturer(archive, media=False).capture(f"{site}/flaky")
    page = result.items[1]
    assert page.kind == "page" and _blob(archive, page.sha256) == PAGE
    statuses = [
        s for kind, uri, s in _warc_records(archive, result.items[0].sha256) if kind == "response"
    ]
    assert statuses == ["503", "503", "200"]


def test_a_slow_server_times_out_cleanly(archive: Archive, site: str) -> None:
    size = archive.log.size
    with pytest.raises(CaptureError, match="cannot fetch"):
        WebCapturer(archive, FetchOptions(read_timeout=1.0, retries=0)).capture(f"{site}/slow")
    assert archive.log.size == size


def test_full_page_screenshot_when_chromium_is_installed(archive: Archive, site: str) -> None:
    from vigil.capture.screenshot import chromium_path

    result = WebCapturer(archive, media=False).capture(f"{site}/page.html")
    shots = [i for i in result.items if i.kind == "screenshot"]
    if chromium_path() is None:
        assert shots == [] and any("chromium is not installed" in p for p in result.problems)
        return
    (shot,) = shots
    png = _blob(archive, shot.sha256)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and shot.media_type == "image/png"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 1280 and height > 200
    page = next(i for i in result.items if i.kind == "page")
    assert shot.parent_id == page.id


def test_capture_succeeds_without_chromium_and_says_so(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = WebCapturer(archive, media=False).capture(f"{site}/page.html")
    assert [i.kind for i in result.items] == ["warc", "page", "text"]
    assert any("no screenshot: chromium is not installed" in p for p in result.problems)


@pytest.mark.parametrize("processes", [1, 2], ids=["threads", "processes"])
def test_many_urls_fetched_at_once_keep_their_order_and_guarantees(
    archive: Archive, site: str, processes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On threads, or in worker processes (from 2 chunks of URLs on: 5 rounds of 7)."""
    pooled: list[int] = []
    original = webpool.capture_in_processes

    def spy(*args: Any, **kwargs: Any) -> Any:
        pooled.append(kwargs["processes"])
        return original(*args, **kwargs)

    monkeypatch.setattr(webpool, "capture_in_processes", spy)
    urls = [f"{site}/page.html", "ftp://example.org/x", f"{site}/gone", f"{site}/latin1.html",
            "http://127.0.0.1:9/refused", f"{site}/redirect", f"{site}/gzip.html"]  # fmt: skip
    urls *= 1 if processes == 1 else 5
    capturer = WebCapturer(archive, FetchOptions(connect_timeout=2), screenshot=False)
    before = archive.log.size
    outcomes = list(capturer.capture_many(urls, workers=3, group=2, processes=processes))
    assert pooled == ([] if processes == 1 else [processes])
    assert [u for u, _ in outcomes] == urls  # in the order given, whatever finished first
    failed = [u for u, o in outcomes if isinstance(o, CaptureError)]
    assert failed == ["ftp://example.org/x", "http://127.0.0.1:9/refused"] * (len(urls) // 7)
    results = [o for _u, o in outcomes if not isinstance(o, CaptureError)]
    assert all(r.items[0].kind == "warc" for r in results)
    assert results[0].items[1].url == f"{site}/page.html"
    logged = sum(len(r.items) for r in results)
    assert archive.log.size == before + logged  # every item logged once, nothing else
    for result in results:  # each item is what the index holds under its id
        assert all(archive.item(i.id).sha256 == i.sha256 for i in result.items)
    assert not list(archive.blobs.tmp.iterdir())  # no temporary WARC left behind
    archive.checkpoint()
    assert verify_archive(archive.root).ok


def test_the_environment_is_read_only_when_it_can_matter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxies and ~/.netrc are honoured when set; else requests skips its per-request
    lookups (same result, less CPU), and a CA bundle the environment names is applied."""
    from vigil.capture.fetch import ca_bundle, polite_session

    monkeypatch.setenv("HOME", str(tmp_path))
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.lower() in (
            "requests_ca_bundle",
            "curl_ca_bundle",
            "netrc",
        ):
            monkeypatch.delenv(name)  # fmt: skip
    assert polite_session(FetchOptions()).trust_env is False
    for name, value in (("HTTPS_PROXY", "http://127.0.0.1:3128"), ("no_proxy", "*"),
                        ("NETRC", str(tmp_path / "elsewhere"))):  # fmt: skip
        with monkeypatch.context() as env:
            env.setenv(name, value)
            assert polite_session(FetchOptions()).trust_env is True, name
    assert ca_bundle(True) is True and ca_bundle(False) is False and ca_bundle("/x") == "/x"
    monkeypatch.setenv("CURL_CA_BUNDLE", "/curl.pem")
    assert ca_bundle(True) == "/curl.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/requests.pem")  # requests' order
    assert ca_bundle(True) == "/requests.pem" and ca_bundle(False) is False
    assert polite_session(FetchOptions()).trust_env is False  # a bundle alone: no lookups
    (tmp_path / ".netrc").write_text("machine example.org login a password b\n")
    assert polite_session(FetchOptions()).trust_env is True


def test_a_killed_capture_worker_stops_the_run_and_keeps_what_was_stored(
    archive: Archive, site: str
) -> None:
    """The worker processes die mid-run (as under the OOM killer): the run ends with a
    clear error, what was stored and prepared is logged, and the archive verifies."""
    import multiprocessing

    urls = [f"{site}/page.html?n={n}" for n in range(400)]
    capturer = WebCapturer(archive, screenshot=False)
    before = archive.log.size
    outcomes = capturer.capture_many(urls, workers=2, group=8, processes=2)
    seen = [next(outcomes)]  # the first group is logged: the workers are busy with more
    for child in multiprocessing.active_children():
        child.kill()
    with pytest.raises(CaptureError, match="capture worker process died"):
        seen += list(outcomes)
    assert 1 <= len(seen) < len(urls)
    logged = archive.log.size - before
    assert logged >= sum(len(o.items) for _u, o in seen if not isinstance(o, CaptureError))
    archive.blobs.remove_stale_temporaries()  # what the killed workers left half-written
    archive.checkpoint()
    assert verify_archive(archive.root).ok


def test_malformed_urls_in_a_page_cost_nothing_but_themselves(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone writes pages: an unparsable base, host or port is skipped, the rest captured."""
    hostile = (b'<html><head><base href="http://[::1"></head><body><p>Aleppo</p>'
               b'<img src="http://[::1"><img src="http://h.example:99999/x.png">'
               b'<img src="/img/photo.png#top"><img src="/img/photo.png">'
               b'<a href="http://[::1/v.mp4">v</a></body></html>')  # fmt: skip
    monkeypatch.setitem(webserver.ROUTES, "/hostile.html", (200, "text/html", hostile))
    result = WebCapturer(archive, screenshot=False).capture(f"{site}/hostile.html")
    media = [i.url for i in result.items if i.kind == "media"]
    assert media == [f"{site}/img/photo.png"]  # once, without its fragment
    assert result.problems == []


def test_an_unexpected_error_fails_its_url_alone(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug met by one page (here: text extraction raising) fails that URL, named; the
    run goes on, nothing of the failed capture is left half-stored."""
    from vigil.capture import web

    real = web.extract_text

    def extract(html: bytes, url: str, content_type: str) -> Any:
        if url.endswith("/latin1.html"):
            raise RuntimeError("a bug")
        return real(html, url, content_type)

    monkeypatch.setattr(web, "extract_text", extract)
    urls = [f"{site}/page.html", f"{site}/latin1.html", f"{site}/gzip.html"]
    capturer = WebCapturer(archive, screenshot=False)
    outcomes = dict(capturer.capture_many(urls, workers=2))
    failed = outcomes[f"{site}/latin1.html"]
    assert isinstance(failed, CaptureError)
    assert str(failed) == f"{site}/latin1.html: capture failed (RuntimeError: a bug)"
    assert all(not isinstance(outcomes[u], CaptureError) for u in urls if "latin1" not in u)
    assert [i.url for i in archive.items() if "latin1" in (i.url or "")] == []
    assert not list(archive.blobs.tmp.iterdir())
    archive.checkpoint()
    assert verify_archive(archive.root).ok


def test_a_screenshot_that_fails_by_a_bug_costs_only_the_screenshot(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.capture import web

    def broken(url: str, **_: Any) -> Any:
        raise json.JSONDecodeError("Chromium said nonsense", "", 0)

    monkeypatch.setattr(web, "take_screenshot", broken)
    result = WebCapturer(archive, media=False).capture(f"{site}/page.html")
    assert [i.kind for i in result.items] == ["warc", "page", "text"]
    assert any(p.startswith("no screenshot: JSONDecodeError") for p in result.problems)
    assert verify_archive(archive.root).ok


def test_the_public_ip_is_recorded_only_when_the_operator_sets_a_way_to_know_it(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.capture import publicip

    def capture_block() -> dict[str, Any]:
        publicip.forget()
        result = WebCapturer(archive, media=False, screenshot=False).capture(f"{site}/page.html")
        block: dict[str, Any] = json.loads(archive.log.entry(result.items[0].added_index))[
            "capture"
        ]
        return block

    monkeypatch.delenv("VIGIL_PUBLIC_IP", raising=False)
    monkeypatch.delenv("VIGIL_PUBLIC_IP_URL", raising=False)
    assert "public_ip" not in capture_block()  # opt-in: asking tells a third party
    monkeypatch.setitem(webserver.ROUTES, "/ip", (200, "text/plain", b"203.0.113.7\n"))
    monkeypatch.setenv("VIGIL_PUBLIC_IP_URL", f"{site}/ip")
    seen = capture_block()["public_ip"]
    assert seen["address"] == "203.0.113.7" and f"{site}/ip" in seen["how"] and seen["at"]
    monkeypatch.setitem(webserver.ROUTES, "/ip", (200, "text/html", b"<html>blocked</html>"))
    assert "public_ip" not in capture_block()  # not an address: not recorded
    monkeypatch.setenv("VIGIL_PUBLIC_IP", "198.51.100.4")
    assert capture_block()["public_ip"] == {
        "address": "198.51.100.4",
        "how": "stated by the operator (VIGIL_PUBLIC_IP)",
    }


def test_a_public_ip_service_that_failed_is_asked_again_later(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.capture import publicip

    now = [1000.0]
    monkeypatch.setattr(publicip, "_clock", lambda: now[0])
    monkeypatch.delenv("VIGIL_PUBLIC_IP", raising=False)
    monkeypatch.setenv("VIGIL_PUBLIC_IP_URL", f"{site}/ip")
    monkeypatch.setitem(webserver.ROUTES, "/ip", (503, "text/plain", b"busy"))
    publicip.forget()
    assert publicip.public_ip() is None
    monkeypatch.setitem(webserver.ROUTES, "/ip", (200, "text/plain", b"203.0.113.7"))
    now[0] += 60
    assert publicip.public_ip() is None  # a failure is reused for ten minutes
    now[0] += 600
    found = publicip.public_ip()
    assert found is not None and found["address"] == "203.0.113.7"
    monkeypatch.setitem(webserver.ROUTES, "/ip", (200, "text/plain", b"198.51.100.9"))
    now[0] += 3000
    assert publicip.public_ip() == found  # an answer, for an hour
    now[0] += 700
    moved = publicip.public_ip()
    assert moved is not None and moved["address"] == "198.51.100.9"  # the network moved
    publicip.forget()

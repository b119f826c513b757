"""The capturer's address, signed into platform URLs, never reaches a public package."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.conftest import FIXTURES
from tests.export.warcs import write_responses
from vigil.archive import Archive
from vigil.capture.imports import import_export
from vigil.capture.imports.ytdlp_info import YtDlpInfoImporter
from vigil.export.clientip import mask_client_ips, mask_in
from vigil.export.package import export_package
from vigil.export.verify import verify_package
from vigil.export.warcredact import redact_warc

ADDRESS = "203.0.113.7"
VIDEO = f"https://rr1.googlevideo.com/videoplayback?expire=1&ei=x&ip={ADDRESS}&id=o-A&itag=18"


def test_the_address_is_masked_however_the_url_is_written() -> None:
    text = json.dumps({"url": VIDEO}).encode()
    for written in (text, text.replace(b"&", b"\\u0026"), text.replace(b"&", b"&amp;"),
                    b"u=" + VIDEO.replace("&", "%26").replace("=", "%3D").encode(),
                    b"https://x.example/v?ip=2001:db8::7&itag=1"):  # fmt: skip
        masked, count = mask_client_ips(written)
        assert count == 1 and ADDRESS.encode() not in masked and b"2001:db8" not in masked
        assert b"0.0.0.0" in masked
    assert mask_client_ips(b"zip=12345&tip=1.2.3.4.5 ip address 10.0.0.1") == (
        b"zip=12345&tip=1.2.3.4.5 ip address 10.0.0.1", 0)  # fmt: skip
    assert mask_in({"a": [VIDEO, 5]}) == {"a": [VIDEO.replace(ADDRESS, "0.0.0.0"), 5]}


def test_a_public_package_of_a_platform_post_holds_no_client_address(
    archive: Archive, tmp_path: Path
) -> None:
    info = json.loads((FIXTURES / "social" / "yt-dlp-info" / "soundcloud_info.json").read_text())
    info["formats"][0]["url"] = VIDEO
    info["url"] = VIDEO
    (tmp_path / "post.info.json").write_text(json.dumps(info))
    result = import_export(archive, YtDlpInfoImporter(tmp_path / "post.info.json"))
    post = result.posts[0]
    package = tmp_path / "public.wacz"
    export_package(archive, [post.id], package, public=True)
    with zipfile.ZipFile(package) as zf:
        everything = b"".join(zf.read(n) for n in zf.namelist())
    assert ADDRESS.encode() not in everything
    assert b"ip=0.0.0.0" in everything  # the post is there, masked
    problems, _ = verify_package(package, archive.verifier.vkey)
    assert problems == []
    with archive.blobs.open(post.sha256) as f:
        assert ADDRESS.encode() in f.read()  # the original is untouched


def test_a_warc_of_platform_exchanges_loses_the_address(tmp_path: Path) -> None:
    src, dst = tmp_path / "yt.warc.gz", tmp_path / "public.warc.gz"
    with src.open("wb") as f:
        write_responses(f, [
            ("https://www.youtube.com/watch?v=x", "application/json",
             json.dumps({"streamingData": {"url": VIDEO}}).encode()),
            (VIDEO.replace("itag=18", "itag=19"), "text/plain", b"not a video, named oddly"),
        ])  # fmt: skip
    done = redact_warc(src, dst)
    assert [n["client_ips_masked"] for n in done["scrubbed"]] == [1, 0]
    with dst.open("rb") as f:
        records = [(r.rec_headers.get_header("WARC-Target-URI") or "", r.content_stream().read())
                   for r in ArchiveIterator(f, check_digests="raise")]  # fmt: skip
    assert len(records) == 3
    for uri, body in records:
        assert ADDRESS not in uri and ADDRESS.encode() not in body

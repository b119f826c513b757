"""Platform capture through yt-dlp (its generic extractor, for real, against the local server)
and yt-dlp info.json imports (../shared/fixtures/social/yt-dlp-info)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.capture.webserver import MP4, PAGE, PNG, serve
from tests.conftest import FIXTURES, run_vigil
from vigil.archive import Archive
from vigil.capture.imports import import_export
from vigil.capture.imports.ytdlp_info import YtDlpInfoImporter
from vigil.capture.media import PlatformCapturer, platform_extractor
from vigil.capture.ytdlp import post_claims
from vigil.errors import CaptureError, InputError
from vigil.verify import verify_archive

INFO = FIXTURES / "social" / "yt-dlp-info"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve() as base:
        yield base


def _blob(archive: Archive, sha256: str) -> bytes:
    with archive.blobs.open(sha256) as f:
        return f.read()


def test_platform_urls_are_recognised() -> None:
    assert platform_extractor("https://www.youtube.com/watch?v=dQw4w9WgXcQ") == "Youtube"
    assert platform_extractor("https://x.com/someone/status/1") == "Twitter"
    assert platform_extractor("https://vimeo.com/12345") == "Vimeo"
    assert platform_extractor("https://example.org/statement.html") is None


def test_yt_dlp_capture_stores_post_media_and_thumbnail(archive: Archive, site: str) -> None:
    result = PlatformCapturer(archive).capture(f"{site}/page.html")
    post, *media = result.items
    assert post.kind == "post" and post.url == f"{site}/page.html"
    info = json.loads(_blob(archive, post.sha256))
    assert info["extractor_key"] == "HTML5MediaEmbed"
    assert post.claimed["title"] == info["title"] and post.claimed["platform"] == "html5mediaembed"
    by_role = {json.loads(archive.log.entry(m.added_index))["role"]: m
               for m in media if m.kind == "media"}  # fmt: skip
    assert _blob(archive, by_role["media"].sha256) == MP4
    assert _blob(archive, by_role["thumbnail"].sha256) == PNG + b"poster"
    assert all(m.parent_id == post.id for m in media)
    # every exchange yt-dlp made is in a WARC beside them, as it crossed the wire
    (warc,) = [m for m in media if m.kind == "warc"]
    with archive.blobs.open(warc.sha256) as f:
        responses = {r.rec_headers.get_header("WARC-Target-URI"): (
                         r.rec_headers.get_header("WARC-IP-Address"), r.content_stream().read())
                     for r in ArchiveIterator(f) if r.rec_type == "response"}  # fmt: skip
    assert responses[f"{site}/media/clip.mp4"] == ("127.0.0.1", MP4)
    assert responses[f"{site}/page.html"][1] == PAGE
    event = json.loads(archive.log.entry(post.added_index))
    assert event["capture"]["tools"]["yt-dlp"]
    assert verify_archive(archive.root).ok


def test_yt_dlp_failure_stores_nothing(archive: Archive, site: str) -> None:
    size = archive.log.size
    with pytest.raises(CaptureError, match="yt-dlp could not capture it"):
        PlatformCapturer(archive).capture(f"{site}/gone")
    assert archive.log.size == size
    assert list(archive.blobs.tmp.iterdir()) == []


def test_info_json_import(archive: Archive) -> None:
    result = import_export(archive, YtDlpInfoImporter(INFO / "soundcloud_info.json"))
    (post,) = result.posts
    raw = json.loads((INFO / "soundcloud_info.json").read_text())
    assert post.claimed["platform"] == "soundcloud" and post.claimed["post_id"] == "223644255"
    assert post.claimed["posted"] == "2015-09-13T10:30:28Z"  # timestamp 1442140228
    assert post.claimed["title"] == raw["title"] and post.claimed["formats_listed"] == 3
    assert post.claimed["author_name"] == raw["uploader"]
    # SoundCloud's uploader_id is the account's number; its handle is in the page URL
    assert (post.claimed["author_id"], post.claimed["author_handle"]) == ("111488150", "bruttoband")
    assert result.missing_media == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [  # shaped as yt-dlp's X, YouTube and TikTok extractors give them
        ({"uploader_id": "NASA", "channel_id": "11348282", "uploader": "NASA"},
         ("11348282", "NASA")),
        ({"uploader_id": "@NASA", "channel_id": "UCLA_DiR1FfKNvjuUpBHmylQ",
          "channel_url": "https://www.youtube.com/channel/UCLA_DiR1FfKNvjuUpBHmylQ"},
         ("UCLA_DiR1FfKNvjuUpBHmylQ", "@NASA")),
        ({"uploader_id": "6789012345", "uploader_url": "https://www.tiktok.com/@witness"},
         ("6789012345", "@witness")),
        ({"channel_url": "https://www.youtube.com/channel/UC1"}, (None, None)),
    ],
)  # fmt: skip
def test_post_authors_keep_their_id_and_handle_apart(
    fields: dict[str, str], expected: tuple[str | None, str | None]
) -> None:
    claims = post_claims({"id": "1", **fields})
    assert (claims.get("author_id"), claims.get("author_handle")) == expected


def test_a_posts_links_are_the_urls_its_text_names() -> None:
    text = ("Shelling in al-Shaar (https://example.org/a), see https://t.co/x1. "
            "Again: https://example.org/a; and http://b.example/?q=1!")  # fmt: skip
    claims = post_claims({"id": "1", "description": text})
    assert claims["links"] == ["https://example.org/a", "https://t.co/x1",
                               "http://b.example/?q=1"]  # fmt: skip
    assert "links" not in post_claims({"id": "1", "description": "no links"})


def test_info_json_without_formats_is_not_an_error(archive: Archive) -> None:
    result = import_export(archive, YtDlpInfoImporter(INFO / "no_formats_info.json"))
    (post,) = result.posts
    media = json.loads(archive.log.entry(post.added_index))["media"]
    assert media == [{"role": "media", "missing": "the info.json lists no formats"}]


def test_info_json_with_its_media_beside_it(archive: Archive, tmp_path: Path) -> None:
    info = json.loads((INFO / "soundcloud_info.json").read_text())
    (tmp_path / "track.info.json").write_text(json.dumps(info))
    (tmp_path / "track.mp3").write_bytes(b"ID3\x03\x00 audio")
    (tmp_path / "track.jpg").write_bytes(b"\xff\xd8\xff\xe0 cover")
    result = import_export(archive, YtDlpInfoImporter(tmp_path))
    media = json.loads(archive.log.entry(result.posts[0].added_index))["media"]
    assert sorted(m["role"] for m in media) == ["jpg", "mp3"] and result.missing_media == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.info.json").write_text("[1]")
    with pytest.raises(InputError, match=r"not a yt-dlp info\.json"):
        import_export(archive, YtDlpInfoImporter(bad))


def test_cli_capture_routes_through_yt_dlp_when_asked(tmp_path: Path, site: str) -> None:
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, check=True)
    out = run_vigil(
        "capture", "--yt-dlp", "--json", f"{site}/page.html", archive_path=path, check=True
    )
    kinds = [i["kind"] for i in json.loads(out.stdout)["items"]]
    assert kinds[0] == "post" and "media" in kinds


def test_every_medium_of_a_post_is_captured(archive: Archive, site: str) -> None:
    """A post with two videos is a playlist to yt-dlp: both, each with its info.json."""
    result = PlatformCapturer(archive).capture(f"{site}/channel")
    post, *children = result.items
    assert post.kind == "post" and post.claimed["entries"] == 2 and result.problems == []
    roles = {(json.loads(archive.log.entry(c.added_index))["role"], c.name)
             for c in children if c.kind == "media"}  # fmt: skip
    assert roles == {("media", "channel-1.mp4"), ("media", "channel-2.mp4"),
                     ("info", "channel-1.info.json"), ("info", "channel-2.info.json")}  # fmt: skip
    videos = sorted(_blob(archive, c.sha256) for c in children if c.name.endswith(".mp4"))
    assert videos == sorted([MP4, MP4 + b"two"])
    assert json.loads(_blob(archive, post.sha256))["_type"] == "playlist"
    capped = PlatformCapturer(archive, max_entries=1).capture(f"{site}/channel")
    assert [c.name for c in capped.items[1:] if c.kind == "media"] == [
        "channel-1.info.json",
        "channel-1.mp4",
    ]
    assert capped.problems == [f"{site}/channel: only the first 1 entries were captured (of 2)"]


def test_a_post_yt_dlp_cannot_take_is_captured_as_a_page(tmp_path: Path, site: str) -> None:
    """Nothing for yt-dlp in it (as a text-only post): kept as a web page, saying why."""
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, check=True)
    out = run_vigil("capture", "--yt-dlp", "--json", "--no-screenshot", f"{site}/latin1.html",
                    archive_path=path, check=True)  # fmt: skip
    captured = json.loads(out.stdout)
    assert [i["kind"] for i in captured["items"]] == ["warc", "page", "text"]
    assert "yt-dlp could not capture it" in captured["problems"][0]
    assert captured["problems"][0].endswith("captured as a web page instead")
    refused = run_vigil("capture", "--yt-dlp", "http://127.0.0.1:9/gone", archive_path=path)
    assert refused.returncode == 1 and "as a web page: " in refused.stderr

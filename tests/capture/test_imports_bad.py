"""Imports of cut, malformed and oddly named exports: refused or skipped by name, never a crash.

Built from the real samples in ../shared/fixtures (cut with ``head -c``-style
slicing, fields replaced), on both backends.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_vigil
from vigil.archive import Archive
from vigil.capture.imports import import_export
from vigil.capture.imports.telegram import TelegramImporter
from vigil.capture.imports.warcs import import_warcs
from vigil.capture.imports.xarchive import XArchiveImporter, read_ytd
from vigil.capture.imports.ytdlp_info import YtDlpInfoImporter
from vigil.errors import InputError
from vigil.verify import verify_archive

WARCS = FIXTURES / "warc"
SOCIAL = FIXTURES / "social"
X_ARCHIVE = SOCIAL / "twitter-archive-milahu104"
X_EXPECTED = json.loads((SOCIAL / "expected.json").read_text())["twitter-archive-milahu104"]


def _cut(source: Path, size: int, target: Path) -> Path:
    """The first *size* bytes of *source*, as `head -c` leaves an interrupted download."""
    target.write_bytes(source.read_bytes()[:size])
    return target


def _event(archive: Archive, item) -> dict:
    return json.loads(archive.log.entry(item.added_index))


# -- WARC / WACZ ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size", "says"),
    [
        # inside the response record's payload: 481 of its 975 block bytes (gzip), 413 (plain)
        (
            "example.warc.gz",
            1500,
            "truncated: record 3 (response at offset 784) ends after 481 of 975",
        ),
        (
            "example.warc",
            2000,
            "truncated: record 3 (response at offset 1197) ends after 413 of 975",
        ),
        # inside the headers of record 3: right after "Content-Length: ", or well before it
        ("example.warc", 1580, "record 3 (response at offset 1197) has no valid Content-Length"),
        ("example.warc", 1300, "107 bytes after the last whole record (offset 1193) form no"),
        # inside the headers of record 4, before its WARC-Target-URI (warcio crashed on this)
        ("example.warc", 2594, "truncated or malformed: record 4 has no WARC-Target-URI"),
        # record 1 whole, its gzip member's end (CRC, size) cut off
        ("example.warc.gz", 345, "its gzip member ends early"),
        # a partial gzip member after the last whole one
        (
            "example.warc.gz",
            800,
            "16 bytes after the last whole record (offset 784) form no record",
        ),
    ],
)
def test_a_cut_warc_is_refused_by_name_and_the_rest_goes_on(
    archive: Archive, tmp_path: Path, name: str, size: int, says: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cut = _cut(WARCS / "warcio" / name, size, folder / f"a-cut-{name}")
    shutil.copy(WARCS / "warcio" / "example.warc.gz", folder / "z-good.warc.gz")
    result = import_warcs(archive, folder)
    (refused,) = result.refused
    assert refused.startswith(f"{cut}: ") and says in refused, refused
    assert [f.name for f in result.files] == ["z-good.warc.gz"]  # the rest goes on
    assert not [i for i in archive.items() if i.name and "a-cut" in i.name]  # nothing of it
    assert verify_archive(archive.root).ok


def test_cli_refuses_a_cut_warc_with_one_line_and_exit_1(
    tmp_path: Path, database_url: str | None
) -> None:
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, database_url=database_url, check=True)
    cut = _cut(WARCS / "warcio" / "example.warc.gz", 1500, tmp_path / "cut.warc.gz")
    out = run_vigil("import", "warc", cut, archive_path=path, database_url=database_url)
    assert out.returncode == 1, out
    assert "0 files imported, 0 records stored" in out.stdout
    assert f"error    {cut}: truncated: record 3" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_stated_digest_that_could_not_be_checked_is_reported(
    archive: Archive, tmp_path: Path
) -> None:
    # an empty resource record stating the (right) SHA-1 of nothing: warcio never
    # compares a digest over zero bytes, so its check stays null
    record = (
        b"WARC/1.0\r\n"
        b"WARC-Type: resource\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Date: 2024-01-01T00:00:00Z\r\n"
        b"WARC-Target-URI: file:///empty.txt\r\n"
        b"Content-Type: text/plain\r\n"
        b"WARC-Block-Digest: sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ\r\n"
        b"Content-Length: 0\r\n\r\n\r\n\r\n"
    )
    path = tmp_path / "empty-record.warc"
    path.write_bytes(record)
    result = import_warcs(archive, path)
    assert not result.refused
    (problem,) = result.problems
    assert "WARC-Block-Digest stated but could not be checked" in problem and str(path) in problem
    (item,) = result.records
    warc = _event(archive, item)["warc"]
    assert warc["digest_ok"] is None
    assert warc["digest_problems"] == ["WARC-Block-Digest stated but could not be checked"]


def _wacz_with(tmp_path: Path, name: str, datapackage: bytes) -> Path:
    """The real valid_example_2.wacz with its datapackage.json replaced."""
    target = tmp_path / name
    with (
        zipfile.ZipFile(WARCS / "py-wacz" / "valid_example_2.wacz") as src,
        zipfile.ZipFile(target, "w") as dst,
    ):
        for info in src.infolist():
            data = datapackage if info.filename == "datapackage.json" else src.read(info)
            dst.writestr(info, data)
    return target


def test_a_malformed_wacz_in_a_folder_is_refused_and_the_rest_goes_on(
    archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _wacz_with(folder, "a-list.wacz", b"[]")
    _wacz_with(folder, "b-resources.wacz", b'{"resources": "x"}')
    _wacz_with(folder, "c-resource.wacz", b'{"resources": [null]}')
    # a member whose bytes no longer match its CRC-32 (valid_example_2 stores them uncompressed)
    damaged = bytearray((WARCS / "py-wacz" / "valid_example_2.wacz").read_bytes())
    with zipfile.ZipFile(WARCS / "py-wacz" / "valid_example_2.wacz") as z:
        info = next(i for i in z.infolist() if i.filename.startswith("archive/"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged[start + 50] ^= 0xFF
    (folder / "d-crc.wacz").write_bytes(bytes(damaged))
    shutil.copy(WARCS / "warcio" / "example.warc.gz", folder / "z-good.warc.gz")
    result = import_warcs(archive, folder)
    refused = sorted(result.refused)
    assert len(refused) == 4, refused
    assert refused[0] == f"{folder / 'a-list.wacz'}: datapackage.json is not a JSON object"
    assert "b-resources.wacz: datapackage.json 'resources' is not a list" in refused[1]
    assert "c-resource.wacz: datapackage.json 'resources' is not a list" in refused[2]
    assert "d-crc.wacz: not a readable WACZ (Bad CRC-32" in refused[3]
    assert [f.name for f in result.files] == ["z-good.warc.gz"]


# -- yt-dlp ---------------------------------------------------------------------------------


def test_ytdlp_default_names_with_brackets_find_their_media(
    archive: Archive, tmp_path: Path
) -> None:
    # yt-dlp's default output template is "%(title)s [%(id)s].%(ext)s"
    stem = "Aleppo, 13 December [a1b2c3]"
    shutil.copy(SOCIAL / "yt-dlp-info" / "soundcloud_info.json", tmp_path / f"{stem}.info.json")
    video = FIXTURES / "pdq" / "tmk-sample-videos" / "test-padded-dimensions.mp4"
    shutil.copy(video, tmp_path / f"{stem}.mp4")
    (tmp_path / "Aleppo, 13 December a.mp4").write_bytes(b"not this one")  # what [a1b2c3] matched
    result = import_export(archive, YtDlpInfoImporter(tmp_path / f"{stem}.info.json"))
    (post,) = result.posts
    (medium,) = _event(archive, post)["media"]
    assert medium["role"] == "mp4" and "missing" not in medium
    with archive.blobs.open(medium["sha256"]) as f:
        assert f.read() == video.read_bytes()
    assert result.missing_media == 0


# -- X archive ------------------------------------------------------------------------------


def _old_style_archive(root: Path) -> tuple[Path, set[str]]:
    """The real archive's tweets that have media, laid out as archives before 2019:
    ``data/tweet.js`` (``window.YTD.tweet.part0``) and ``data/tweet_media/``."""
    data = root / "data"
    (data / "tweet_media").mkdir(parents=True)
    shutil.copy(X_ARCHIVE / "data" / "account.js", data / "account.js")
    wanted = {m["tweet_id"] for m in X_EXPECTED["media"].values() if m["in"] == "tweets.js"}
    entries = [
        e for e in read_ytd(X_ARCHIVE / "data" / "tweets.js") if e["tweet"]["id_str"] in wanted
    ]
    (data / "tweet.js").write_text(
        "window.YTD.tweet.part0 = " + json.dumps(entries, indent=2), encoding="utf-8"
    )
    for media in (X_ARCHIVE / "data" / "tweets_media").iterdir():
        shutil.copy(media, data / "tweet_media" / media.name)
    return root, wanted


def test_x_archive_with_the_older_tweet_js_and_tweet_media(
    archive: Archive, tmp_path: Path
) -> None:
    root, wanted = _old_style_archive(tmp_path / "x")
    result = import_export(archive, XArchiveImporter(root))
    assert {p.claimed["post_id"] for p in result.posts} == wanted
    assert result.problems == []
    posts = {p.claimed["post_id"]: p for p in result.posts}
    for name, medium in X_EXPECTED["media"].items():
        if medium["in"] != "tweets.js":
            continue
        links = {m.get("sha256") for m in _event(archive, posts[medium["tweet_id"]])["media"]}
        assert medium["sha256"] in links, name


def test_an_x_archive_without_tweets_says_so(tmp_path: Path, database_url: str | None) -> None:
    export = tmp_path / "x" / "data"
    export.mkdir(parents=True)
    shutil.copy(X_ARCHIVE / "data" / "account.js", export / "account.js")
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, database_url=database_url, check=True)
    out = run_vigil(
        "import", "x-archive", tmp_path / "x", archive_path=path, database_url=database_url
    )
    assert out.returncode == 0, out
    assert "0 posts stored" in out.stdout
    assert f"{export}: no tweets found" in out.stderr


def test_malformed_tweets_are_skipped_by_id_and_the_rest_stored(
    archive: Archive, tmp_path: Path
) -> None:
    data = tmp_path / "x" / "data"
    data.mkdir(parents=True)
    (good,) = [e for e in read_ytd(X_ARCHIVE / "data" / "tweets.js")][:1]
    bad_urls = json.loads(json.dumps(good))
    bad_urls["tweet"].update(id_str="1001", entities={"urls": [None]})
    bad_entities = json.loads(json.dumps(good))
    bad_entities["tweet"].update(id_str="1002", entities="x")
    bad_media = json.loads(json.dumps(good))
    bad_media["tweet"].update(id_str="1003", extended_entities={"media": [{"video_info": 5}]})
    tweets = data / "tweets.js"
    tweets.write_text(
        "window.YTD.tweets.part0 = " + json.dumps([bad_urls, good, bad_entities, bad_media])
    )
    result = import_export(archive, XArchiveImporter(tmp_path / "x"))
    assert [p.claimed["post_id"] for p in result.posts] == [good["tweet"]["id_str"]]
    assert result.problems == [
        f"{tweets}: tweet '1001': entities.urls is not a list of objects: skipped",
        f"{tweets}: tweet '1002': entities is a str, not an object: skipped",
        f"{tweets}: tweet '1003': video_info is a int, not an object: skipped",
    ]
    assert result.as_json()["problems"] == result.problems


# -- Telegram -------------------------------------------------------------------------------


def _message(n: int, **fields: object) -> dict:
    base = {
        "id": n,
        "type": "message",
        "date": "2016-12-13T10:00:00",
        "date_unixtime": str(1481623200 + n),
        "from": "Aleppo Media Center",
        "from_id": "channel1001",
        "text": f"message {n}",
    }
    return {**base, **fields}


def test_malformed_telegram_messages_are_skipped_by_id_and_the_rest_stored(
    archive: Archive, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    (export / "photos").mkdir(parents=True)
    (export / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8\xff\xe0 real photo")
    messages = [
        _message(1, photo="photos/photo_1.jpg"),
        _message(2, text=[1]),
        _message(3, date_unixtime="99999999999999"),
        _message(4, photo="photos/a\x00b.jpg"),
        _message(5, photo="photos/" + "x" * 300 + ".jpg"),
        _message(6, text={"not": "text"}),
        _message(7, views=float("nan")),
        _message(8, text=["ok ", {"type": "bold", "text": "bold"}]),
    ]
    result_json = export / "result.json"
    result_json.write_text(json.dumps({"name": "Aleppo", "id": 1001, "messages": messages}))
    result = import_export(archive, TelegramImporter(export))
    stored = {p.claimed["post_id"]: p for p in result.posts}
    assert sorted(stored) == ["1001/1", "1001/4", "1001/5", "1001/8"]
    assert result.problems == [
        f"{result_json}: chat '1001' message 2: text fragment 1 is not a string or an entity: skipped",
        f"{result_json}: chat '1001' message 3: date_unixtime '99999999999999' is out of range: skipped",
        f"{result_json}: chat '1001' message 6: text is a dict, not a string or a list of fragments: skipped",
        f"{result_json}: 1001/7: cannot be stored (nan is not representable in JCS): skipped",
    ]
    (nul,) = _event(archive, stored["1001/4"])["media"]
    assert "holds a NUL byte: not read" in nul["missing"]
    (long,) = _event(archive, stored["1001/5"])["media"]
    assert "File name too long" in long["missing"]
    assert stored["1001/8"].claimed["text"] == "ok bold"
    assert result.missing_media == 2
    assert verify_archive(archive.root).ok


def test_cli_telegram_malformed_message_is_a_warning_not_a_traceback(
    tmp_path: Path, database_url: str | None
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    messages = [_message(1), _message(2, text=[1]), _message(3, date_unixtime="99999999999999")]
    (export / "result.json").write_text(json.dumps({"id": 7, "messages": messages}))
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, database_url=database_url, check=True)
    out = run_vigil("import", "telegram", export, archive_path=path, database_url=database_url)
    assert out.returncode == 0, out
    assert "1 posts stored" in out.stdout
    assert "Traceback" not in out.stderr
    assert "result.json: chat '7' message 2: text fragment 1" in out.stderr
    assert "result.json: chat '7' message 3: date_unixtime" in out.stderr


def test_an_empty_telegram_export_says_so(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"chats": {"list": []}}))
    result = import_export(archive, TelegramImporter(path))
    assert result.posts == [] and result.problems == [f"{path}: the export holds no messages"]
    path.write_text(json.dumps({"chats": {"list": 5}}))
    with pytest.raises(InputError, match=r"result\.json: chats\.list is not a list of chats"):
        import_export(archive, TelegramImporter(path))

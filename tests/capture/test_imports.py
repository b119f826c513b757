"""Offline imports on the real samples in ../shared/fixtures/social, on both backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_vigil
from vigil.archive import Archive
from vigil.capture.imports import import_export
from vigil.capture.imports.telegram import TelegramImporter
from vigil.capture.imports.xarchive import XArchiveImporter
from vigil.errors import InputError
from vigil.verify import verify_archive

SOCIAL = FIXTURES / "social"
EXPECTED = json.loads((SOCIAL / "expected.json").read_text())


def _posts(archive: Archive) -> dict[str, object]:
    return {i.claimed["post_id"]: i for i in archive.items() if i.kind == "post"}


def _event(archive: Archive, item) -> dict:
    return json.loads(archive.log.entry(item.added_index))


def test_x_archive(archive: Archive) -> None:
    expected = EXPECTED["twitter-archive-milahu104"]
    result = import_export(archive, XArchiveImporter(SOCIAL / "twitter-archive-milahu104"))
    counts = expected["counts"]
    assert len(result.posts) == counts["tweets.js"] + counts["deleted-tweets.js"]
    assert result.problems == []  # the real archive is well formed: nothing skipped
    posts = _posts(archive)
    deleted = [p for p in posts.values() if p.claimed.get("deleted")]
    assert len(deleted) == counts["deleted-tweets.js"]
    account = expected["account"]
    some = next(iter(posts.values()))
    assert (
        some.claimed["author_id"],
        some.claimed["author_handle"],
        some.claimed["author_name"],
    ) == (account["accountId"], account["username"], account["accountDisplayName"])
    # every media file of the archive is linked, byte for byte, to its tweet
    for name, medium in expected["media"].items():
        post = posts[medium["tweet_id"]]
        links = [m for m in _event(archive, post)["media"] if "item" in m]
        assert medium["sha256"] in {m["sha256"] for m in links}, name
        with archive.blobs.open(medium["sha256"]) as f:
            assert len(f.read()) == medium["bytes"]
        assert post.claimed["text"] == medium["full_text"]
        if medium["in"] == "deleted-tweets.js":
            assert post.claimed["deleted"] is True
    first = expected["media"]["2009609488027070672-G-ORHopX0AExj6w.png"]
    assert posts[first["tweet_id"]].claimed["posted"] == "2026-01-09T12:53:33Z"
    # the original tweet object is the post's blob, unchanged
    post = posts[first["tweet_id"]]
    with archive.blobs.open(post.sha256) as f:
        assert json.loads(f.read())["full_text"] == first["full_text"]
    # importing again adds nothing
    size = archive.log.size
    again = import_export(archive, XArchiveImporter(SOCIAL / "twitter-archive-milahu104"))
    assert again.posts == [] and again.already_held == len(result.posts)
    assert archive.log.size == size
    assert verify_archive(archive.root).ok


@pytest.mark.parametrize("name", ["test_single_export.json", "test_batch_export.json"])
def test_telegram_samples(archive: Archive, name: str) -> None:
    result = import_export(archive, TelegramImporter(SOCIAL / "chat-miner" / "telegram" / name))
    target = json.loads((SOCIAL / "chat-miner" / "telegram" / "target.json").read_text())
    assert result.problems == []
    got = [(p.claimed["posted"], p.claimed["author"]) for p in result.posts]
    assert got == [(t["timestamp"] + "Z", t["author"]) for t in target]
    assert result.posts[0].claimed["text"] == "Minimal Message"
    # Fragments are joined as Telegram wrote them (plain runs carry their own spaces);
    # chat-miner's target adds a space, which would corrupt real exports.
    assert result.posts[1].claimed["text"] == "Link:https://telegram.org/"
    assert result.posts[1].claimed["links"] == ["https://telegram.org/"]


def _telegram_export(folder: Path, messages: int) -> Path:
    """A full-account export in Telegram Desktop's format, with media and placeholders."""
    (folder / "chats" / "chat_01" / "photos").mkdir(parents=True)
    (folder / "chats" / "chat_01" / "photos" / "photo_1.jpg").write_bytes(
        b"\xff\xd8\xff\xe0 real photo"
    )
    (folder / "profile_pictures").mkdir()  # named by no message, part of the export all the same
    (folder / "unrelated.txt").write_text("not Telegram's: an export unpacked into Downloads")
    (folder / "profile_pictures" / "photo_1@13-12-2016_10-00-00.jpg").write_bytes(b"\xff\xd8 p")
    msgs = []
    for n in range(messages):
        msg = {
            "id": n + 1,
            "type": "message",
            "date": "2016-12-13T10:00:00",
            "date_unixtime": str(1481623200 + n),
            "from": "Aleppo Media Center",
            "from_id": "channel1001",
            "text": f"رسالة {n}",
        }
        if n == 0:
            msg["photo"] = "chats/chat_01/photos/photo_1.jpg"
        if n == 1:
            msg["file"] = "(File not included. Change data exporting settings to download.)"
            msg["media_type"] = "video_file"
        if n == 2:
            msg["photo"] = "../../../etc/passwd"
        if n == 3:
            msg["text"] = [
                "see ",
                {"type": "text_link", "text": "this", "href": "https://example.org/x"},
            ]
            msg["reply_to_message_id"] = 1
        msgs.append(msg)
    msgs.append(
        {
            "id": messages + 1,
            "type": "service",
            "date_unixtime": "1481630000",
            "actor": "Admin",
            "action": "pin_message",
            "text": "",
        }
    )
    export = {
        "chats": {
            "about": "",
            "list": [{"name": "Aleppo", "type": "public_channel", "id": 1001, "messages": msgs}],
        }
    }
    (folder / "result.json").write_text(json.dumps(export, ensure_ascii=False))
    return folder


def test_telegram_full_export_with_media_placeholders_and_hostile_paths(
    archive: Archive, tmp_path: Path
) -> None:
    export = _telegram_export(tmp_path / "export", 50)
    result = import_export(archive, TelegramImporter(export))
    assert len(result.posts) == 51
    by_id = {p.claimed["post_id"]: _event(archive, p) for p in result.posts}
    (photo,) = by_id["1001/1"]["media"]
    with archive.blobs.open(photo["sha256"]) as f:
        assert f.read() == b"\xff\xd8\xff\xe0 real photo"
    (placeholder,) = by_id["1001/2"]["media"]
    assert placeholder == {
        "role": "video_file",
        "missing": "File not included. Change data exporting settings to download.",
    }
    (hostile,) = by_id["1001/3"]["media"]
    assert "leads outside the export" in hostile["missing"]
    assert all("passwd" not in (i.name or "") for i in archive.items())
    assert by_id["1001/4"]["claimed"]["links"] == ["https://example.org/x"]
    assert by_id["1001/4"]["claimed"]["reply_to"] == 1
    assert by_id["1001/51"]["claimed"]["message_type"] == "service"
    assert result.missing_media == 2
    kept = {Path(f.path).relative_to(export).as_posix() for f in result.files}
    assert kept == {"result.json", "chats/chat_01/photos/photo_1.jpg",
                    "profile_pictures/photo_1@13-12-2016_10-00-00.jpg"}  # fmt: skip
    assert verify_archive(archive.root).ok


def test_malformed_exports_store_nothing(archive: Archive, tmp_path: Path) -> None:
    size = archive.log.size
    bad = tmp_path / "result.json"
    bad.write_text('{"chats": {"list": [{"name": "x", "messages": [1, 2]}]}}')
    with pytest.raises(InputError, match="message 0 is not an object"):
        import_export(archive, TelegramImporter(bad))
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a Telegram JSON export"):
        import_export(archive, TelegramImporter(bad))
    (tmp_path / "x" / "data").mkdir(parents=True)
    (tmp_path / "x" / "data" / "tweets.js").write_text("window.YTD.tweets.part0 = [ {broken")
    with pytest.raises(InputError, match=r"tweets\.js: not an X archive data file"):
        import_export(archive, XArchiveImporter(tmp_path / "x"))
    with pytest.raises(InputError, match="no X archive here"):
        XArchiveImporter(tmp_path)
    assert archive.log.size == size


def test_cli_import(tmp_path: Path, database_url: str | None) -> None:
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, database_url=database_url, check=True)
    out = run_vigil(
        "import",
        "telegram",
        SOCIAL / "chat-miner" / "telegram" / "test_single_export.json",
        "--json",
        archive_path=path,
        database_url=database_url,
        check=True,
    )
    data = json.loads(out.stdout)
    assert len(data["posts"]) == 2 and data["files"][0]["status"] == "stored"
    bad = run_vigil("import", "telegram", tmp_path, archive_path=path, database_url=database_url)
    assert bad.returncode == 1 and "no Telegram export" in bad.stderr


def test_x_archive_keeps_the_whole_archive_as_received(archive: Archive, tmp_path: Path) -> None:
    """Not only data/: the archive's own viewer and assets are part of what was received."""
    root = tmp_path / "twitter-archive"
    shutil.copytree(SOCIAL / "twitter-archive-milahu104", root)
    (root / "Your archive.html").write_text("<html>Your archive</html>")
    (root / "assets" / "images").mkdir(parents=True)
    (root / "assets" / "images" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "holiday.jpg").write_bytes(b"\xff\xd8 unzipped into Downloads, not the archive's")
    result = import_export(archive, XArchiveImporter(root))
    kept = {Path(f.path).relative_to(root).as_posix() for f in result.files}
    assert {"Your archive.html", "assets/images/logo.png", "data/tweets.js"} <= kept
    assert "holiday.jpg" not in kept
    assert result.posts and result.problems == []

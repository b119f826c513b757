"""The archive front door on both index backends: init, add, items, custody, proofs, reindex."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from vigil.archive import Archive
from vigil.errors import (
    AmbiguousItem,
    ArchiveExists,
    ArchiveNotFound,
    DatabaseError,
    ForeignFolder,
    ItemNotFound,
)
from vigil.events import ITEM_ADDED, decode_event
from vigil.ledger.checkpoint import open_checkpoint
from vigil.ledger.note import Verifier
from vigil.ledger.proofcheck import check_entry_proof


def test_init_creates_layout_and_private_key(archive: Archive) -> None:
    root = archive.root
    for part in (
        "blobs",
        "ledger/entries.jsonl",
        "ledger/checkpoints",
        "keys/verifier.vkey",
        "vigil.toml",
    ):
        assert (root / part).exists(), part
    key = root / "keys" / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("PRIVATE+KEY+")
    vkey = (root / "keys" / "verifier.vkey").read_text().strip()
    assert Verifier.from_vkey(vkey).name == archive.origin
    # the empty log is already signed, establishing the origin
    assert archive.log.checkpoint_sizes() == [0]


def test_embedded_default_uses_sqlite_in_wal_mode(tmp_path: Path) -> None:
    with Archive.init(tmp_path / "a") as archive, archive.index.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "a" / "vigil.db").exists()


def test_init_refuses_existing_and_foreign_folders(tmp_path: Path, archive: Archive) -> None:
    with pytest.raises(ArchiveExists):
        Archive.init(archive.root)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ForeignFolder, match="not empty"):
        Archive.init(foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(ForeignFolder, match="not a Vigil archive"):
        Archive.open(foreign)
    with pytest.raises(ArchiveNotFound, match="vigil init"):
        Archive.open(tmp_path / "missing")


def test_init_refuses_a_key_name_c2sp_cannot_carry(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="name"):
        Archive.init(tmp_path / "a", name="has space+plus")
    assert not (tmp_path / "a").exists()


def test_add_records_blob_media_type_names_claims_and_observations(
    archive: Archive, evidence: Path
) -> None:
    results = archive.add_paths([evidence])
    assert [r.status for r in results] == ["stored"] * 5
    by_name = {r.item.name: r.item for r in results if r.item}
    png = by_name["image.png"]
    assert png.media_type == "image/png"
    assert by_name["statement.txt"].media_type == "text/plain"
    assert by_name["page.html"].media_type == "text/html"
    assert by_name["empty.bin"].size == 0
    assert png.path == str(evidence / "nested" / "image.png")
    assert set(png.claimed) >= {"mtime", "ctime"}
    assert {"at", "host", "user", "tool", "version"} <= set(png.observed)
    with archive.blobs.open(png.sha256) as f:
        assert f.read() == (evidence / "nested" / "image.png").read_bytes()
    # the ledger entry names the item's SHA-256 and keeps claims apart from observations
    event = decode_event(png.added_index, archive.log.entry(png.added_index))
    assert event.type == ITEM_ADDED and event.sha256 == png.sha256 and event.item == png.id
    assert "mtime" in event.data["claimed"] and "mtime" not in event.data["actor"]
    # and a checkpoint covers everything added
    assert archive.log.checkpoint_sizes()[-1] == 5


def test_adding_again_reports_existing_items_and_logs_nothing(
    archive: Archive, evidence: Path
) -> None:
    first = archive.add_paths([evidence])
    size = archive.log.size
    again = archive.add_paths([evidence])
    assert {r.status for r in again} == {"exists"}
    assert archive.log.size == size
    assert first[0].item is not None and first[0].item.id in again[0].message


def test_same_content_at_two_paths_is_two_items_one_blob(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("same")
    (tmp_path / "b.txt").write_text("same")
    results = archive.add_paths([tmp_path / "a.txt", tmp_path / "b.txt"])
    a, b = (r.item for r in results)
    assert a and b and a.id != b.id and a.sha256 == b.sha256
    assert list(archive.blobs) == [a.sha256]


def test_bad_entries_are_reported_and_the_rest_is_stored(archive: Archive, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.txt").write_text("good")
    os.mkfifo(tree / "pipe")
    os.symlink("/etc/hostname", tree / "outside-link")
    os.symlink(tree / "good.txt", tree / "inside-link")
    os.symlink(tree / "nowhere", tree / "broken-link")
    odd = os.fsencode(tree) + b"/caf\xe9.txt"  # Latin-1 name, not UTF-8
    with open(odd, "wb") as f:
        f.write(b"latin-1 named")
    results = {Path(r.path).name: r for r in archive.add_paths([tree, tmp_path / "missing.txt"])}
    assert results["good.txt"].status == "stored"
    assert results["pipe"].status == "skipped" and "FIFO" in results["pipe"].message
    assert (
        results["outside-link"].status == "skipped"
        and "--follow-symlinks" in results["outside-link"].message
    )
    assert results["inside-link"].status == "stored"
    assert results["inside-link"].item and results["inside-link"].item.claimed["symlink_target"]
    assert results["broken-link"].status == "error"
    assert results["missing.txt"].status == "error"
    latin = results["caf\\xe9.txt"]
    assert latin.status == "stored" and latin.item is not None
    event = decode_event(latin.item.added_index, archive.log.entry(latin.item.added_index))
    assert event.data["name_b64"] == "Y2Fm6S50eHQ="  # the exact original bytes survive
    assert archive.verify().ok


def test_follow_symlinks_stores_targets_outside_the_tree(archive: Archive, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside, tree / "link")
    (result,) = archive.add_paths([tree], follow_symlinks=True)
    assert result.status == "stored" and result.item and result.item.size == 7


def test_a_device_is_not_read(archive: Archive, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    os.mknod(tmp_path / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: endless
    (result,) = archive.add_paths([tmp_path / "zero"])
    assert result.status == "error" and "character device" in result.message


def test_files_inside_the_archive_are_not_added(archive: Archive) -> None:
    results = archive.add_paths([archive.root])
    assert {r.status for r in results} == {"skipped"}


def test_items_by_id_and_sha256_prefix(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    (item_result,) = archive.add_paths([tmp_path / "x"])
    item = item_result.item
    assert item is not None
    assert archive.item(item.id).sha256 == item.sha256
    assert archive.item(item.id.lower()).id == item.id
    assert archive.item(item.sha256[:6]).id == item.id
    with pytest.raises(ItemNotFound):
        archive.item("ffff" if not item.sha256.startswith("ffff") else "0000")
    with pytest.raises(ItemNotFound, match="4\\+ hex"):
        archive.item("ab")


def test_ambiguous_prefix(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("same")
    (tmp_path / "b").write_text("same")
    results = archive.add_paths([tmp_path / "a", tmp_path / "b"])
    assert results[0].item is not None
    with pytest.raises(AmbiguousItem, match="several"):
        archive.item(results[0].item.sha256[:8])


def test_custody_and_proofs_check_offline(archive: Archive, evidence: Path, tmp_path: Path) -> None:
    results = archive.add_paths([evidence])
    item = results[2].item
    assert item is not None
    events = archive.custody(item.id)
    assert [e.index for e in events] == [item.added_index]
    written = archive.write_proofs(item.id, tmp_path / "proofs")
    assert [p.name for p in written] == [
        f"{item.added_index}.json",
        f"{item.added_index}.tlog-proof",
    ]
    entry = written[0].read_bytes()
    assert json.loads(entry)["sha256"] == item.sha256
    key = Verifier.from_vkey((archive.root / "keys" / "verifier.vkey").read_text().strip())
    checkpoint = check_entry_proof(entry, written[1].read_text(), [key], origin=archive.origin)
    assert checkpoint.size == archive.log.size
    with pytest.raises(Exception, match="root"):
        check_entry_proof(entry.replace(b'"size"', b'"Size"'), written[1].read_text(), [key])


def test_proof_signs_a_new_checkpoint_when_the_item_is_not_covered(
    archive: Archive, tmp_path: Path
) -> None:
    (tmp_path / "x").write_text("x")
    archive.add_paths([tmp_path / "x"])
    # events appended without a checkpoint (as after a crash)
    archive.append_events(
        [
            {
                "v": 1,
                "type": "note",
                "at": "2026-11-25T00:00:00.000000Z",
                "sha256": "0" * 64,
                "actor": {},
            }
        ]
    )
    before = archive.log.checkpoint_sizes()[-1]
    _, proof = archive.proof(archive.log.size - 1)
    assert open_checkpoint(proof.checkpoint, [archive.verifier])[0].size == before + 1


def test_index_catches_up_with_the_ledger_after_a_crash(
    tmp_path: Path, database_url: str | None
) -> None:
    with Archive.init(tmp_path / "a", database_url=database_url) as archive:
        (tmp_path / "x").write_text("x")
        archive.add_paths([tmp_path / "x"])
        # simulate a crash after the ledger fsync and before the index commit
        event = decode_event(0, archive.log.entry(0)).data | {
            "item": "01ZZZZZZZZZZZZZZZZZZZZZZZZ",
            "path": "/elsewhere",
        }
        from vigil.events import encode_event

        with archive.log.writer() as writer:
            writer.append([encode_event(event)])
    with Archive.open(tmp_path / "a", database_url=database_url) as reopened:
        assert reopened.item("01ZZZZZZZZZZZZZZZZZZZZZZZZ").path == "/elsewhere"
        assert reopened.index.ledger_size() == 2


def test_reindex_rebuilds_the_same_index(archive: Archive, evidence: Path) -> None:
    archive.add_paths([evidence])
    before = [i.as_json() for i in archive.items()]
    checkpoints = archive.index.checkpoint_sizes()
    assert archive.reindex() == 5
    assert [i.as_json() for i in archive.items()] == before
    assert archive.index.checkpoint_sizes() == checkpoints


def test_a_lost_sqlite_index_is_rebuilt_from_the_ledger(tmp_path: Path, evidence: Path) -> None:
    with Archive.init(tmp_path / "a") as archive:
        before = [i.as_json() for i in archive.add_paths([evidence]) and archive.items()]
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "a" / f"vigil.db{suffix}").unlink(missing_ok=True)
    with Archive.open(tmp_path / "a") as reopened:
        assert [i.as_json() for i in reopened.items()] == before
        assert reopened.verify().ok


def test_an_index_of_another_archive_is_refused(tmp_path: Path, database_url: str | None) -> None:
    if database_url is None:
        pytest.skip("needs a shared database server")
    Archive.init(tmp_path / "one", database_url=database_url).close()
    with pytest.raises(DatabaseError, match="belongs to archive"):
        Archive.init(tmp_path / "two", database_url=database_url)
    assert not (tmp_path / "two").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["one"]


def test_a_file_given_with_its_folder_is_stored_once(archive: Archive, tmp_path: Path) -> None:
    """`vigil add report/ report/a.txt` (or an import naming a medium and its folder):
    the second mention is the item just stored, in the same batch, not an error."""
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "a.txt").write_text("82 civilians\n")
    before = archive.log.size
    results = archive.add_paths([folder, folder / "a.txt"])
    assert [r.status for r in results] == ["stored", "exists"]
    assert results[0].item is not None and results[1].item == results[0].item
    assert archive.log.size == before + 1

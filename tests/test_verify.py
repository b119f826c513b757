"""`verify` finds every kind of damage and names exactly what was damaged."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from vigil.archive import Archive
from vigil.ledger.note import Signer
from vigil.verify import VerifyReport, verify_archive


@pytest.fixture
def filled(archive: Archive, evidence: Path) -> Archive:
    archive.add_paths([evidence])
    (evidence / "later.txt").write_text("added after the first checkpoint")
    archive.add_paths([evidence / "later.txt"])
    return archive


def _flip(path: Path, offset: int) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _entries_named(report: VerifyReport) -> set[int]:
    named: set[int] = set()
    for finding in report.errors:
        named |= {
            int(n) for n in re.findall(r"entry (\d+)", f"{finding.subject} {finding.message}")
        }
    return named


def test_an_intact_archive_verifies(filled: Archive) -> None:
    report = verify_archive(filled.root)
    assert report.ok, report.findings
    assert (report.entries, report.items, report.blobs) == (6, 6, 6)
    assert report.checkpoints == 3  # sizes 0, 5 and 6
    assert report.bytes_hashed == sum(filled.blobs.size(s) for s in filled.blobs)


def test_every_flipped_blob_byte_names_exactly_its_item(filled: Archive) -> None:
    items = {i.sha256: i for i in filled.items()}
    for sha256 in list(filled.blobs):
        path = filled.blobs.path(sha256)
        if path.stat().st_size == 0:
            continue
        for offset in {0, path.stat().st_size // 2, path.stat().st_size - 1}:
            _flip(path, offset)
            report = verify_archive(filled.root)
            _flip(path, offset)
            assert not report.ok
            (error,) = report.errors
            assert error.subject == f"blob {sha256}"
            assert items[sha256].id in error.message
            others = [i.id for s, i in items.items() if s != sha256]
            assert not any(o in error.message for o in others)
    assert verify_archive(filled.root).ok


def test_every_flipped_entry_byte_names_exactly_that_entry(filled: Archive) -> None:
    entries = filled.log.entries_path
    lines = entries.read_bytes().split(b"\n")[:-1]
    start = 0
    for index, line in enumerate(lines):
        for offset in (0, 1, len(line) // 3, len(line) // 2, len(line) - 1):
            _flip(entries, start + offset)
            report = verify_archive(filled.root)
            _flip(entries, start + offset)
            assert not report.ok, (index, offset)
            assert _entries_named(report) == {index}, (index, offset, report.errors)
        start += len(line) + 1
    assert verify_archive(filled.root).ok


def test_a_flipped_checkpoint_byte_names_the_checkpoint(filled: Archive) -> None:
    for size in filled.log.checkpoint_sizes():
        path = filled.log.checkpoint_path(size)
        for offset in (2, path.stat().st_size - 5):
            _flip(path, offset)
            report = verify_archive(filled.root)
            _flip(path, offset)
            assert [e.subject for e in report.errors] == [f"checkpoint {path.name}"]


def test_a_removed_entry_is_found(filled: Archive) -> None:
    entries = filled.log.entries_path
    lines = entries.read_bytes().split(b"\n")
    entries.write_bytes(b"\n".join(lines[:3] + lines[4:]))  # entry 3 deleted
    report = verify_archive(filled.root)
    assert not report.ok
    assert 3 in _entries_named(report)
    assert any("entries are missing" in e.message for e in report.errors)


def test_a_missing_blob_names_its_item(filled: Archive) -> None:
    item = filled.items()[1]
    filled.blobs.path(item.sha256).unlink()
    report = verify_archive(filled.root)
    (error,) = report.errors
    assert item.id in error.subject and "missing" in error.message


def test_damaged_cache_is_a_warning_that_reindex_mends(filled: Archive) -> None:
    _flip(filled.log.cache_dir / "level-00", 5)
    report = verify_archive(filled.root)
    assert report.ok
    assert any(f.subject == "ledger/cache" for f in report.findings)
    filled.reindex()
    assert not verify_archive(filled.root).findings


def test_verify_needs_no_database(filled: Archive, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(filled.root, copy, ignore=shutil.ignore_patterns("vigil.db*"))
    assert verify_archive(copy).ok


def test_a_trusted_key_that_differs_is_an_error(filled: Archive) -> None:
    other = Signer.generate(filled.origin).verifier
    report = verify_archive(filled.root, trusted_key=other)
    assert not report.ok
    subjects = {e.subject for e in report.errors}
    assert "keys/verifier.vkey" in subjects
    assert any(s.startswith("checkpoint ") for s in subjects)


def test_unsigned_tail_is_reported_not_failed(filled: Archive) -> None:
    filled.append_events(
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
    report = verify_archive(filled.root)
    assert report.ok
    assert any("not yet signed" in f.message for f in report.findings)


def test_a_torn_last_line_is_a_warning(filled: Archive) -> None:
    with filled.log.entries_path.open("ab") as f:
        f.write(b'{"v":1,"torn')
    report = verify_archive(filled.root)
    assert report.ok
    assert any("incomplete last line" in f.message for f in report.findings)


def test_a_checkpoint_for_another_origin_is_an_error(filled: Archive) -> None:
    from vigil.ledger.checkpoint import Checkpoint, sign_checkpoint

    size = filled.log.checkpoint_sizes()[-1]
    path = filled.log.checkpoint_path(size)
    path.write_text(
        sign_checkpoint(Checkpoint("elsewhere/log", size, filled.log.root(size)), filled.signer)
    )
    report = verify_archive(filled.root)
    (error,) = report.errors
    assert error.subject == f"checkpoint {path.name}" and "origin 'elsewhere/log'" in error.message

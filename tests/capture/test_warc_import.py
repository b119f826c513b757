"""Importing WARC, ARC and WACZ files made by others: ../shared/fixtures/warc, both backends."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from vigil.archive import Archive
from vigil.capture.imports.warcs import import_warcs
from vigil.verify import verify_archive

WARCS = FIXTURES / "warc"
EXPECTED = json.loads((WARCS / "expected.json").read_text())["warcio_records"]


def _index(archive: Archive, file_item_id: str) -> list[dict]:
    (index,) = [c for c in archive.index.children(file_item_id) if c.kind == "warc-index"]
    with archive.blobs.open(index.sha256) as f:
        return [json.loads(line) for line in f.read().splitlines()]


@pytest.mark.parametrize(
    "name",
    [
        "example.warc.gz",
        "example.warc",
        "example-digest.warc",
        "example-iana.org-chunked.warc",
        "example-resource.warc.gz",
        "post-test.warc.gz",
        "example.arc.gz",
        "example-trunc.warc",
    ],
)
def test_every_record_is_indexed_with_its_digest_check(archive: Archive, name: str) -> None:
    result = import_warcs(archive, WARCS / "warcio" / name)
    assert not result.refused
    (item,) = result.files
    expected = EXPECTED[name]
    index = _index(archive, item.id)
    want = [
        (r["type"] if r["type"] != "arc_header" else "warcinfo", r["offset"])
        for r in expected["records"]
    ]
    assert [(e["type"], e["offset"]) for e in index] == want
    for entry, record in zip(index, expected["records"], strict=True):
        assert entry["digest_ok"] == record["digest_check"], entry
        assert entry["payload_sha256"] == record["payload_sha256_decoded"]
    failed = [r for r in expected["records"] if r["digest_check"] is False]
    assert len([p for p in result.problems if "digest failed" in p]) == len(failed)
    # each body record is an item whose blob is the decoded payload
    by_offset = {
        r.claimed and json.loads(archive.log.entry(r.added_index))["warc"]["offset"]: r
        for r in result.records
    }
    for record in expected["records"]:
        if record["offset"] in by_offset:
            assert by_offset[record["offset"]].sha256 == record["payload_sha256_decoded"]
    assert verify_archive(archive.root).ok


def test_example_response_is_addressable(archive: Archive) -> None:
    result = import_warcs(archive, WARCS / "warcio" / "example.warc.gz")
    (page,) = [r for r in result.records if r.url == "http://example.com/" and r.kind == "page"]
    with archive.blobs.open(page.sha256) as f:
        assert b"Example Domain" in f.read()
    event = json.loads(archive.log.entry(page.added_index))
    assert event["warc"]["http_status"] == "200" and event["claimed"]["warc_date"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("example-bad.warc.gz.bad", "not a readable WARC"),
        ("example-bad-non-chunked.warc.gz", "non-chunked gzip"),
        ("example-wrong-chunks.warc.gz", "ends after 343 of 1613 bytes, where its gzip member"),
    ],
)
def test_an_unreadable_file_is_refused_and_nothing_of_it_stored(
    archive: Archive, tmp_path: Path, name: str, reason: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(WARCS / "warcio" / name, folder / (name.removesuffix(".bad")))
    shutil.copy(WARCS / "warcio" / "example.warc.gz", folder / "good.warc.gz")
    result = import_warcs(archive, folder)
    (refused,) = result.refused
    assert name.removesuffix(".bad") in refused and reason in refused
    assert [f.name for f in result.files] == ["good.warc.gz"]  # the rest goes on


def test_wacz_hashes_are_checked_and_its_warcs_imported(archive: Archive, tmp_path: Path) -> None:
    result = import_warcs(archive, WARCS / "py-wacz" / "valid_example_2.wacz")
    assert not result.refused and not result.problems
    assert any(r.url == "http://www.example.com/" for r in result.records)
    # a member altered after packaging is found by the datapackage hash
    bad = tmp_path / "altered.wacz"
    with (
        zipfile.ZipFile(WARCS / "py-wacz" / "valid_example_2.wacz") as src,
        zipfile.ZipFile(bad, "w") as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "pages/pages.jsonl":
                data = data.replace(b"Example Domain", b"Exemple Domain")
            dst.writestr(info, data)
    altered = import_warcs(archive, bad)
    assert any(
        "pages/pages.jsonl: SHA-256 differs from datapackage.json" in p for p in altered.problems
    )


def test_hostile_zips_are_refused(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    dup = folder / "dup.wacz"
    with zipfile.ZipFile(dup, "w") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("datapackage.json", "{}")
        z.writestr("datapackage.json", "{}")
    (folder / "fake.wacz").write_bytes(b"PK\x03\x04 truncated")
    result = import_warcs(archive, folder)
    assert len(result.refused) == 2
    assert any("duplicate member names" in r for r in result.refused)
    assert any("not a WACZ (zip) file" in r for r in result.refused)
    assert sorted(p.name for p in folder.rglob("*")) == [
        "dup.wacz",
        "fake.wacz",
    ]  # nothing extracted
    assert result.files == [] and result.records == []


def test_importing_the_same_file_twice_adds_nothing(archive: Archive) -> None:
    import_warcs(archive, WARCS / "warcio" / "example.warc.gz")
    size = archive.log.size
    again = import_warcs(archive, WARCS / "warcio" / "example.warc.gz")
    assert "already imported" in again.problems[0]
    assert archive.log.size == size

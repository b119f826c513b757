"""Sealed items (design invariant 6): withheld from packages with what derives from them
and the WARC that holds them; handing them out is a logged read; the seal is evidence."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import db_url, run_vigil
from vigil.access import SEALED_READ, seal, sealed_ids, withheld
from vigil.archive import Archive
from vigil.errors import InputError, ItemNotFound
from vigil.export.package import export_package
from vigil.export.verify import verify_package


def _members(package: Path) -> str:
    with zipfile.ZipFile(package) as zf:
        return "\n".join(zf.namelist())


def test_a_sealed_medium_takes_its_warc_out_of_every_package(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, refs = captured
    page = archive.item(refs[0])
    media = [c for c in archive.index.children(page.parent_id or "") if c.kind == "media"]
    assert media and page.parent_id
    secret = media[0]
    assert seal(archive, [secret.id], reason="a witness's face") == [secret.id]
    assert sealed_ids(archive) == {secret.id}
    package = tmp_path / "case.wacz"
    result = export_package(archive, refs, package)
    why = dict(result.why_left_out)
    assert why[secret.id] == "sealed"
    assert why[page.parent_id] == f"its records hold sealed item {secret.id}"
    names = _members(package)
    assert secret.id not in names and page.parent_id not in names and page.id in names
    with zipfile.ZipFile(package) as zf:
        assert secret.sha256 not in zf.read("datapackage.json").decode()
    problems, _ = verify_package(package, archive.verifier.vkey)
    assert problems == []  # what is in it still proves itself
    assert not [e for e in archive.custody(secret.id) if e.type == SEALED_READ]


def test_handing_out_sealed_items_is_a_logged_read(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, refs = captured
    seal(archive, [refs[1]], reason="names a detainee")
    with pytest.raises(InputError, match="public package never holds sealed"):
        export_package(archive, refs, tmp_path / "p.wacz", public=True, include_sealed=True)
    assert not (tmp_path / "p.wacz").exists()
    result = export_package(archive, refs, tmp_path / "court.wacz", include_sealed=True)
    assert result.sealed_read == [refs[1]] and refs[1] in _members(tmp_path / "court.wacz")
    [read] = [e for e in archive.custody(refs[1]) if e.type == SEALED_READ]
    assert read.data["purpose"] == "exported to court.wacz"
    with pytest.raises(InputError, match="every item chosen is sealed"):
        export_package(archive, [refs[1]], tmp_path / "only.wacz")
    assert seal(archive, [refs[1]], reason="published by the family", unseal=True) == [refs[1]]
    assert withheld(archive, [archive.item(refs[1])]) == {}
    kinds = [e.type for e in archive.custody(refs[1])]
    assert kinds[-3:] == ["item.sealed", "sealed.read", "item.unsealed"]


def test_seal_commands(archive: Archive, evidence: Path, tmp_path: Path) -> None:
    archive.add_paths([evidence])
    first = archive.items()[0]
    where = {"archive_path": archive.root, "database_url": db_url(archive)}
    no_reason = run_vigil("seal", first.id, **where)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    missing = run_vigil("seal", "0000nothing", "--reason", "x", **where)
    assert missing.returncode == 1 and "0000nothing" in missing.stderr
    out = run_vigil("seal", first.id, "--reason", "a child's name", "--json", check=True, **where)
    assert json.loads(out.stdout) == {"sealed": [first.id]}
    again = run_vigil("seal", first.id, "--reason", "twice", check=True, **where)
    assert "already sealed" in again.stdout
    listed = json.loads(run_vigil("sealed", "--json", check=True, **where).stdout)
    assert [s["id"] for s in listed] == [first.id]
    assert listed[0]["decisions"][0]["reason"] == "a child's name"
    package = tmp_path / "all.wacz"
    done = run_vigil("export", "--all", "-o", package, check=True, **where)
    assert f"left out {first.id}: sealed" in done.stderr
    assert first.id not in _members(package)
    run_vigil("unseal", first.id, "--reason", "consent given", check=True, **where)
    assert json.loads(run_vigil("sealed", "--json", check=True, **where).stdout) == []
    with pytest.raises(ItemNotFound):
        seal(archive, ["0000nothing"], reason="x")
    assert archive.verify().ok

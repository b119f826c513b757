"""Incidents: items of their own, evidence tied and untied by logged decisions, and
`vigil export --incident` packaging the incident with its evidence."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import db_url, run_vigil
from vigil.archive import Archive
from vigil.errors import InputError
from vigil.export.verify import verify_package
from vigil.incidents import LINKED, UNLINKED, add_incident, incident, incidents, tie


def test_evidence_is_tied_and_untied_by_logged_decisions(archive: Archive, evidence: Path) -> None:
    archive.add_paths([evidence])
    files = [i.id for i in archive.items()]
    row = add_incident(archive, "Shelling of al-Quds hospital", date="2016-12-12",
                       place="eastern Aleppo")  # fmt: skip
    assert archive.blobs.path(row.sha256).read_bytes() == (
        b'{"date":"2016-12-12","place":"eastern Aleppo","title":"Shelling of al-Quds hospital"}'
    )
    assert tie(archive, row.id, files[:3], note="filmed at the entrance") == files[:3]
    assert tie(archive, row.id, files[:1]) == []  # already tied
    assert tie(archive, row.id, files[1:2], note="filmed in Idlib", untie=True) == files[1:2]
    assert incident(archive, row.id).members == [files[0], files[2]]
    custody = [(e.type, e.data.get("member")) for e in archive.custody(row.id)]
    assert custody[1:] == [(LINKED, files[0]), (LINKED, files[1]), (LINKED, files[2]),
                           (UNLINKED, files[1])]  # fmt: skip
    assert [i.row.id for i in incidents(archive)] == [row.id]
    with pytest.raises(InputError, match="not an incident"):
        tie(archive, files[0], files[1:2])
    with pytest.raises(InputError, match="not evidence of itself"):
        tie(archive, row.id, [row.id])
    for bad in ("2016-13-01", "2016-12-13/2016-12-12", "yesterday"):
        with pytest.raises(InputError, match="--date"):
            add_incident(archive, "x", date=bad)
    assert archive.verify().ok


def test_export_by_incident(archive: Archive, evidence: Path, tmp_path: Path) -> None:
    archive.add_paths([evidence])
    where = {"archive_path": archive.root, "database_url": db_url(archive)}
    created = run_vigil("incident", "add", "Executions in al-Fardous", "--date",
                        "2016-12-12/2016-12-13", "--json", check=True, **where)  # fmt: skip
    made = json.loads(created.stdout)
    assert made["date"] == "2016-12-12/2016-12-13"
    empty = run_vigil("export", "--incident", made["id"], "-o", tmp_path / "e.wacz", **where)
    assert empty.returncode == 1 and "no item is tied" in empty.stderr
    files = [i.id for i in archive.items() if i.kind == "file"]
    run_vigil("incident", "link", made["id"], *files[:2], "--note", "the same street",
              check=True, **where)  # fmt: skip
    shown = json.loads(run_vigil("incident", "show", made["id"], "--json", check=True,
                                 **where).stdout)  # fmt: skip
    assert shown["items"] == files[:2]
    listed = json.loads(run_vigil("incident", "ls", "--json", check=True, **where).stdout)
    assert [i["id"] for i in listed] == [made["id"]]
    package = tmp_path / "fardous.wacz"
    run_vigil("export", "--incident", made["id"], "-o", package, check=True, **where)
    with zipfile.ZipFile(package) as zf:
        names = "\n".join(zf.namelist())
    assert made["id"] in names and all(f in names for f in files[:2])
    assert not any(f in names for f in files[2:])
    problems, _ = verify_package(package, archive.verifier.vkey)
    assert problems == []
    both = run_vigil("export", "--incident", made["id"], "--all", "-o", package, **where)
    assert both.returncode == 1 and "choose what to export" in both.stderr

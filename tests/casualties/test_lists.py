"""Casualty lists: imported from the real Gaza releases (../shared/fixtures/linkage, used
only to count and check, never shown), bad encodings and bad rows, XLSX, claims, stats."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import FIXTURES, run_vigil
from vigil.archive import Archive
from vigil.casualties.claims import store_claim
from vigil.casualties.lists import import_list
from vigil.casualties.stats import casualty_stats
from vigil.errors import InputError

GAZA = FIXTURES / "linkage" / "palestine-datasets"
AUGUST = GAZA / "20240808killed-in-gaza.csv"
MAPPING = {"name": "full_name", "en_name": "name_latin", "dob": "date_of_birth",
           "id": "source_record_id"}  # fmt: skip
TODAY = dt.date(2026, 11, 25)


def test_a_real_list_is_kept_and_every_row_accounted_for(archive: Archive) -> None:
    result = import_list(archive, AUGUST, "Gaza MoH 2024-08", MAPPING, unknown=("-1",),
                         today=TODAY)  # fmt: skip
    with AUGUST.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert result.rows == len(rows) == 24_672
    assert result.accepted + len(result.rejected) == result.rows
    for rejection in result.rejected:  # the age column holds a year of birth there
        age = rows[rejection["row"] - 2]["age"]
        assert rejection["reasons"] == [f"age {age} is impossible (0 to 120 years)"]
    assert len(result.rejected) == sum(1 for r in rows if int(r["age"]) > 120)
    stored = archive.item(result.list_item)
    assert archive.blobs.path(stored.sha256).read_bytes() == AUGUST.read_bytes()
    assert stored.kind == "casualty-list" and stored.claimed == {"source": "Gaza MoH 2024-08"}
    with archive.blobs.open(archive.item(result.records_item).sha256) as f:
        entries = [json.loads(line) for line in f]
    assert [e["raw"]["id"] for e in entries] == [r["id"] for r in rows]  # raw rows verbatim
    assert all(
        e["record"]["source_record_id"] == " ".join(e["raw"]["id"].split()) for e in entries
    )  # spacing normalised in the record, verbatim in the raw row
    stats = casualty_stats(archive)
    assert stats.records == result.accepted
    assert sum(stats.by["sex"].values()) == result.accepted
    expected_sex = {
        "m": sum(r["sex"] == "m" for r in rows),
        "f": sum(r["sex"] == "f" for r in rows),
    }
    rejected_rows = {r["row"] for r in result.rejected}
    for n, r in enumerate(rows, start=2):
        if n in rejected_rows:
            expected_sex[r["sex"]] -= 1
    assert dict(stats.by["sex"]) == expected_sex
    assert archive.verify().ok


def _csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


ROWS = "الاسم,الجنس,العمر,تاريخ الوفاة\nمحمد أحمد,ذكر,34,2016-12-13\nفاطمة علي,أنثى,9,13/12/2016\n"
ARABIC_MAP = {"الاسم": "full_name", "الجنس": "sex", "العمر": "age", "تاريخ الوفاة": "date_of_death"}


@pytest.mark.parametrize(("encoding", "prefix", "named"), [
    ("cp1256", b"", "windows-1256"), ("utf-8", b"\xef\xbb\xbf", "utf-8 (with BOM)"),
    ("utf-8", b"", "utf-8"),
])  # fmt: skip
def test_encodings_are_recognised(
    archive: Archive, tmp_path: Path, encoding: str, prefix: bytes, named: str
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(prefix + ROWS.encode(encoding))
    result = import_list(archive, path, "LCC Aleppo", ARABIC_MAP, today=TODAY)
    assert result.encoding == named and result.accepted == 2 and not result.rejected
    with archive.blobs.open(archive.item(result.records_item).sha256) as f:
        first, second = (json.loads(line)["record"] for line in f)
    assert first == {"full_name": "محمد أحمد", "sex": "m", "age": 34, "age_group": "adult",
                     "date_of_death": "2016-12-13"}  # fmt: skip
    assert second["date_of_death"] == "2016-12-13" and second["age_group"] == "child"


def test_unreadable_files_store_nothing(archive: Archive, tmp_path: Path) -> None:
    before = archive.log.size
    garbage = tmp_path / "latin.csv"
    garbage.write_bytes("name,age\nJosé Müller,40\n".encode("latin-1") + bytes([0x81, 0x8D]))
    with pytest.raises(InputError, match=r"latin\.csv: neither UTF-8 nor Windows-1256"):
        import_list(archive, garbage, "x", {"name": "full_name"})
    good = _csv(tmp_path / "ok.csv", ROWS, "utf-8")
    with pytest.raises(InputError, match="no column 'name'"):
        import_list(archive, good, "x", {"name": "full_name"})
    with pytest.raises(InputError, match="unknown field"):
        import_list(archive, good, "x", {"الاسم": "nickname"})
    with pytest.raises(InputError, match="--source"):
        import_list(archive, good, " ", ARABIC_MAP)
    assert archive.log.size == before


def test_bad_rows_are_rejected_with_their_reasons(archive: Archive, tmp_path: Path) -> None:
    text = (
        "name,sex,age,dob,dod,id\n"
        "A,m,34,1982-01-01,2016-12-13,1\n"
        "B,x,34,,2016-12-13,2\n"  # unknown sex
        "C,f,150,,2016-12-13,3\n"  # impossible age
        "D,f,abc,,2016-12-13,4\n"  # not a number
        "E,m,30,,2016-02-30,5\n"  # no such day
        "F,m,30,,2031-01-01,6\n"  # in the future
        "G,m,30,2017-01-01,2016-12-13,7\n"  # death before birth
        ",,30,,2016-12-13,\n"  # no name, no id
        "A,m,34,1982-01-01,2016-12-13,1\n"  # row 2 again
        "\n"  # blank: no row
        "H,f,,,,8\n"
    )
    path = _csv(tmp_path / "bad.csv", text, "utf-8")
    mapping = {"name": "full_name", "dob": "date_of_birth", "dod": "date_of_death",
               "id": "source_record_id"}  # fmt: skip
    result = import_list(archive, path, "test list", mapping, today=TODAY)
    reasons = {r["row"]: " ".join(r["reasons"]) for r in result.rejected}
    assert result.accepted == 2 and result.rows == 10
    assert "sex 'x'" in reasons[3] and "age 150 is impossible" in reasons[4]
    assert "age 'abc' is not a number" in reasons[5] and "not a date: '2016-02-30'" in reasons[6]
    assert "in the future" in reasons[7] and "before date of birth" in reasons[8]
    assert "no name" in reasons[9] and "the same row as row 2" in reasons[10]


def test_xlsx_claims_and_the_cli(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["full_name", "sex", "age", "date_of_death", "governorate"])
    sheet.append(["محمد أحمد", "m", 34, dt.datetime(2016, 12, 13), "حلب"])
    sheet.append(["Amina", "f", 7, dt.datetime(2016, 12, 14), "حلب"])
    workbook = tmp_path / "list.xlsx"
    book.save(workbook)
    archive_path = tmp_path / "archive"
    run_vigil("init", archive_path=archive_path, check=True)
    out = run_vigil("casualties", "import", workbook, "--source", "LCC", "--json",
                    archive_path=archive_path, check=True)  # fmt: skip
    assert json.loads(out.stdout)["accepted"] == 2
    run_vigil("casualties", "claim", "--source", "OHCHR, 13 Dec 2016", "--killed", "82",
              "--women", "11", "--children", "13", "--date", "2016-12-12", "--place",
              "eastern Aleppo", archive_path=archive_path, check=True)  # fmt: skip
    stats = json.loads(run_vigil("casualties", "stats", "--json", archive_path=archive_path,
                                 check=True).stdout)  # fmt: skip
    assert stats["records"] == 2 and stats["by_month_of_death"] == {"2016-12": 2}
    assert stats["by_place"] == {"حلب": 2} and stats["by_age_group"] == {"adult": 1, "child": 1}
    [claim] = stats["claims"]
    assert (claim["killed"], claim["women"], claim["children"]) == (82, 11, 13)
    assert stats["source_overlap"] is None  # not before linkage
    bad = run_vigil("casualties", "claim", "--source", "x", "--killed", "5", "--women", "9",
                    archive_path=archive_path)  # fmt: skip
    assert bad.returncode == 1 and "among --killed" in bad.stderr
    wrong = run_vigil("casualties", "import", workbook, "--source", "x", "--map", "oops",
                      archive_path=archive_path)  # fmt: skip
    assert wrong.returncode == 1 and "COLUMN=FIELD" in wrong.stderr


def test_claims_are_items_with_custody(archive: Archive) -> None:
    row = store_claim(archive, source="Reuters", killed=79, quote="at least 79 executed")
    assert row.kind == "casualty-claim" and row.claimed["quote"] == "at least 79 executed"
    assert len(archive.custody(row.id)) == 1

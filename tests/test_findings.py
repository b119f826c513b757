"""Verification findings: logged per item, summarised by aspect, carried into packages."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import db_url, run_vigil
from vigil.archive import Archive
from vigil.errors import InputError
from vigil.export.package import export_package
from vigil.export.verify import verify_package
from vigil.findings import FINDING, findings, record_finding, summary


def test_findings_are_logged_summarised_and_checked(archive: Archive, evidence: Path) -> None:
    archive.add_paths([evidence])
    video, satellite = (i.id for i in archive.items()[:2])
    first = record_finding(archive, video, aspect="location", result="inconclusive",
                           method="skyline compared with street-level photos")  # fmt: skip
    second = record_finding(
        archive, video, aspect="location", result="confirmed", value="36.2021,37.1343",
        method="minaret and water tower matched to imagery of 2016-11-30", evidence=[satellite],
    )  # fmt: skip
    record_finding(archive, video, aspect="source", result="disputed",
                   method="the account was created the day of the upload")  # fmt: skip
    assert second["entry"] > first["entry"]
    assert second["evidence"] == [{"item": satellite, "sha256": archive.item(satellite).sha256}]
    mine = findings(archive, video)
    assert [f["aspect"] for f in mine] == ["location", "location", "source"]
    assert summary(mine) == {"source": "disputed", "location": "confirmed"}
    assert findings(archive, satellite) == [] and len(findings(archive)) == 3
    assert [e.type for e in archive.custody(video)][1:] == [FINDING] * 3
    for kwargs, message in (
        ({"aspect": "vibes", "result": "confirmed", "method": "m"}, "aspect 'vibes'"),
        ({"aspect": "time", "result": "true", "method": "m"}, "result 'true'"),
        ({"aspect": "time", "result": "confirmed", "method": "  "}, "needs its method"),
    ):
        with pytest.raises(InputError, match=message):
            record_finding(archive, video, **kwargs)
    with pytest.raises(InputError, match="not evidence for a finding about itself"):
        record_finding(archive, video, aspect="time", result="confirmed", method="m",
                       evidence=[video])  # fmt: skip
    assert len(findings(archive)) == 3  # nothing logged by the refusals


def test_the_commands_and_a_package_carry_findings(
    archive: Archive, evidence: Path, tmp_path: Path
) -> None:
    archive.add_paths([evidence])
    item = archive.items()[0].id
    url = db_url(archive)
    done = run_vigil("finding", item, "--aspect", "time", "--result", "confirmed",
                     "--value", "2016-12-12 ~15:00", "--method", "shadow length (SunCalc)",
                     "--json", archive_path=archive.root, database_url=url, check=True)  # fmt: skip
    logged = json.loads(done.stdout)
    assert logged["type"] == FINDING and logged["value"] == "2016-12-12 ~15:00"
    bad = run_vigil("finding", item, "--aspect", "mood", "--result", "confirmed", "--method", "m",
                    archive_path=archive.root, database_url=url)  # fmt: skip
    assert bad.returncode == 2 and "mood" in bad.stderr
    missing = run_vigil("finding", "ffffffff", "--aspect", "time", "--result", "confirmed",
                        "--method", "m", archive_path=archive.root, database_url=url)  # fmt: skip
    assert missing.returncode != 0 and "ffffffff" in missing.stderr
    listed = run_vigil("findings", archive_path=archive.root, database_url=url, check=True)
    assert "time: confirmed" in listed.stdout and "shadow length (SunCalc)" in listed.stdout
    package = tmp_path / "case.wacz"
    reopened = Archive.open(archive.root, database_url=url)
    export_package(reopened, [item], package)
    with zipfile.ZipFile(package) as zf:
        report = zf.read("report/report.html").decode()
        described = json.loads(zf.read(f"items/{item}.item"))
    assert "time CONFIRMED = 2016-12-12 ~15:00" in report and "shadow length (SunCalc)" in report
    assert any(s["event"]["type"] == FINDING for s in described["custody"])
    problems, _ = verify_package(package, reopened.verifier.vkey)
    assert problems == []  # the finding's entry is proven like the rest
    reopened.close()

"""`vigil enrich` (resumable, idempotent, failures recorded), `similar` and `clusters`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_vigil
from vigil.archive import Archive
from vigil.enrich.runner import Runner, pdq_results
from vigil.errors import InputError
from vigil.search.similar import clusters, similar_to

PDQ = FIXTURES / "pdq"


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Twelve edits of one photo, its 90-degree rotation, two unrelated images, a broken one."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in sorted((PDQ / "bridge-mods").iterdir()):
        shutil.copy(path, folder / path.name)
    shutil.copy(PDQ / "reg-test-input/dih/bridge-2-rotate-90.jpg", folder / "rotated.jpg")
    shutil.copy(PDQ / "misc-images/c.png", folder / "c.png")
    shutil.copy(PDQ / "misc-images/wee.jpg", folder / "wee.jpg")
    (folder / "broken.jpg").write_bytes((PDQ / "misc-images/wee.jpg").read_bytes()[:300])
    (folder / "notes.txt").write_text("not an image\n")
    return folder


def test_enrich_is_idempotent_records_failures_and_redoes(archive: Archive, photos: Path) -> None:
    archive.add_paths([photos])
    report = Runner(archive, ["pdq"]).run(workers=2)
    assert report.done == {"pdq": 15}
    assert [f["item"] for f in report.failed] == [
        i.id for i in archive.items() if i.name == "broken.jpg"
    ]
    results = pdq_results(archive)
    aaa = next(i for i in archive.items() if i.name == "aaa-orig.jpg")
    assert (
        results[aaa.id]["pdq"] == "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    )
    assert results[aaa.id]["quality"] == 100 and len(results[aaa.id]["dihedral"]) == 7
    derived = next(c for c in archive.index.children(aaa.id) if c.kind == "pdq")
    event = json.loads(archive.custody(derived.id)[0].raw)
    assert event["tool"].startswith("pdqhash ") and event["of"] == aaa.id
    assert json.loads(archive.blobs.path(derived.sha256).read_bytes()) == event["result"]
    # Again: nothing to do (the failure is the record too). --redo recomputes.
    again = Runner(archive, ["pdq"]).run(workers=1)
    assert again.done == {} and again.failed == []
    redo = Runner(archive, ["pdq"]).run(redo={"pdq"}, workers=1)
    assert redo.done == {"pdq": 15}
    assert archive.verify().ok
    with pytest.raises(InputError, match="unknown derivation nope"):
        Runner(archive, ["nope"])


def test_similar_and_clusters_find_the_edits_and_the_rotation(
    archive: Archive, photos: Path
) -> None:
    archive.add_paths([photos])
    Runner(archive, ["pdq"]).run(workers=2)
    by_name = {i.name: i for i in archive.items() if i.kind == "file"}
    found = similar_to(archive, item=by_name["aaa-orig.jpg"].id)
    names = {row.name for row, _ in found}
    assert "rotated.jpg" in names  # through the dihedral variants
    assert "c.png" not in names and "wee.jpg" not in names
    assert all(distance <= 31 for _, distance in found)
    [plain] = clusters(archive)  # hashes as they are: the rotation stays apart
    assert "aaa-orig.jpg" in {m.name for m in plain.members}
    assert "rotated.jpg" not in {m.name for m in plain.members}
    groups = clusters(archive, rotations=True)
    assert len(groups) == 1
    members = {m.name for m in groups[0].members}
    assert "aaa-orig.jpg" in members and "rotated.jpg" in members and "c.png" not in members
    assert members == {m.name for m in plain.members} | {"rotated.jpg"}
    assert clusters(archive, 40) == clusters(archive, 40, rotations=True)  # wide: all variants
    assert groups[0].earliest_captured == groups[0].members[0]
    assert groups[0].earliest_claimed is None  # files claim no post time
    with pytest.raises(InputError, match="has no PDQ hash"):
        similar_to(archive, item=next(i for i in archive.items() if i.name == "notes.txt").id)


def test_cli_enrich_similar_clusters(tmp_path: Path, photos: Path) -> None:
    archive_path = tmp_path / "archive"
    with Archive.init(archive_path) as archive:
        archive.add_paths([photos])
    done = json.loads(
        run_vigil("enrich", "--only", "pdq", "--json", archive_path=archive_path, check=True).stdout
    )
    assert done["done"] == {"pdq": 15} and len(done["failed"]) == 1
    near = json.loads(
        run_vigil("similar", "--file", photos / "shrink-a-lot.jpg", "--json",
                  archive_path=archive_path, check=True).stdout
    )  # fmt: skip
    assert {n["name"] for n in near} >= {"aaa-orig.jpg", "shrink-a-lot.jpg", "rotated.jpg"}
    assert next(n for n in near if n["name"] == "shrink-a-lot.jpg")["distance"] == 0
    groups = json.loads(
        run_vigil("clusters", "--json", archive_path=archive_path, check=True).stdout
    )
    assert len(groups) == 1 and groups[0]["earliest_by_claimed_post_time"] is None
    assert "earliest_by_our_capture_time" in groups[0]
    bad = run_vigil("similar", archive_path=archive_path)
    assert bad.returncode == 1 and "give an ITEM or --file" in bad.stderr

"""Near-duplicate clusters kept up to date as PDQ results arrive (`near_clusters`), equal to
regrouping everything, on both backends."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

from PIL import Image

from tests.conftest import FIXTURES
from vigil.archive import Archive
from vigil.enrich.runner import Runner
from vigil.events import DERIVATIVE_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.search import clusterstore
from vigil.search.similar import clusters

BRIDGE = FIXTURES / "pdq" / "bridge-mods"


def _groups(archive: Archive) -> list[set[str]]:
    return sorted((set(g) for g in clusterstore.stored_groups(archive)), key=min)


def _log_pdq(archive: Archive, item: str, value: int) -> None:
    """A PDQ result for *item*, as the runner logs one (the hash chosen by the test)."""
    blob = archive.blobs.put(io.BytesIO(f"pdq {value:064x}".encode()))
    archive.append_events([{
        "v": 1, "type": DERIVATIVE_ADDED, "kind": "pdq", "at": rfc3339(utc_now()),
        "item": new_item_id(), "of": item, "sha256": blob.sha256, "size": blob.size,
        "media_type": "application/json", "name": "pdq.json", "tool": "test",
        "result": {"pdq": f"{value:064x}", "quality": 100, "dihedral": {}},
        "actor": Actor.current().as_json(),
    }])  # fmt: skip


def test_a_new_image_joins_and_bridges_clusters(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):
        (folder / f"{name}.txt").write_text(name)
    archive.add_paths([folder])
    ids = {i.name: i.id for i in archive.items()}
    rng = random.Random(4)
    h = rng.getrandbits(256)
    bits = rng.sample(range(256), 40)
    far = h
    for bit in bits:
        far ^= 1 << bit
    middle = h
    for bit in bits[:20]:
        middle ^= 1 << bit
    _log_pdq(archive, ids["a.txt"], h)
    _log_pdq(archive, ids["b.txt"], far)  # 40 bits from a: apart
    _log_pdq(archive, ids["d.txt"], rng.getrandbits(256))
    assert clusterstore.catch_up(archive) == 3
    assert _groups(archive) == []
    _log_pdq(archive, ids["c.txt"], middle)  # 20 bits from each: joins both
    assert clusterstore.catch_up(archive) == 1  # incremental: one lookup
    assert _groups(archive) == [{ids["a.txt"], ids["b.txt"], ids["c.txt"]}]
    assert clusterstore.catch_up(archive) == 0
    incremental = _groups(archive)
    archive.reindex()  # the table is derived: rebuilt by regrouping everything
    assert _groups(archive) == incremental


def test_enrich_keeps_the_clusters_up_to_date(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("aaa-orig.jpg", "blur-a-little.jpg"):
        shutil.copy(BRIDGE / name, folder / name)
    shutil.copy(FIXTURES / "pdq" / "misc-images" / "wee.jpg", folder / "wee.jpg")
    archive.add_paths([folder])
    Runner(archive, ["pdq"]).run(workers=1)
    [first] = clusters(archive)
    assert {m.name for m in first.members} == {"aaa-orig.jpg", "blur-a-little.jpg"}
    later = tmp_path / "later"
    later.mkdir()
    with Image.open(BRIDGE / "aaa-orig.jpg") as image:  # a re-encoded repost, smaller
        image.resize((800, 502)).save(later / "repost.jpg", "JPEG", quality=40)
    archive.add_paths([later])
    Runner(archive, ["pdq"]).run(workers=1)  # logs one hash; the clusters follow
    [grown] = clusters(archive)
    assert {m.name for m in grown.members} == {"aaa-orig.jpg", "blur-a-little.jpg", "repost.jpg"}
    assert grown.earliest_captured.name == "aaa-orig.jpg"
    as_json = grown.as_json()
    assert all(m["distance_to_earliest_captured"] <= 31 for m in as_json["members"])
    assert as_json["members"][0]["distance_to_earliest_captured"] == 0

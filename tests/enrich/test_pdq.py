"""PDQ against Meta's reference hashes (../shared/fixtures/pdq), and the exact near-duplicate index."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pdqhash
import pytest

from tests.conftest import FIXTURES
from vigil.enrich.pdq import hamming, pdq_dihedral, pdq_hash
from vigil.errors import InputError
from vigil.search.pdqindex import PdqIndex, distances, group_rows

PDQ = FIXTURES / "pdq"
IMAGES = json.loads((PDQ / "expected.json").read_text())["images"] if PDQ.is_dir() else {}
EXACT = sorted(
    (name, e["pdq"])
    for name, entry in IMAGES.items()
    for e in entry["expected"]
    if e["match"].startswith("exact") and "unletterbox" not in e["source"]
)
TOLERANT = sorted(
    (name, e["pdq"], int(e["match"].split("<=")[1].split()[0]))
    for name, entry in IMAGES.items()
    for e in entry["expected"]
    if "<=" in e["match"]
)


@pytest.mark.parametrize(("name", "expected"), EXACT)
def test_reproduces_the_exact_reference_hashes(name: str, expected: str) -> None:
    assert pdq_hash(PDQ / name).hex == expected


@pytest.mark.parametrize(("name", "expected", "tolerance"), TOLERANT)
def test_within_metas_stated_tolerance_elsewhere(name: str, expected: str, tolerance: int) -> None:
    assert hamming(pdq_hash(PDQ / name).hex, expected) <= tolerance


def test_quality_and_modes() -> None:
    assert pdq_hash(PDQ / "bridge-mods/aaa-orig.jpg").quality == 100
    assert pdq_hash(PDQ / "threatexchange-resources/I16.png").quality == 36
    assert pdq_hash(PDQ / "misc-images/small.jpg").quality == 0
    # CMYK is converted to RGB first: the same picture as the original, not its inverse.
    cmyk = pdq_hash(PDQ / "misc-images/modes/CMYK.jpg").hex
    assert hamming(cmyk, pdq_hash(PDQ / "bridge-mods/aaa-orig.jpg").hex) <= 31
    with pytest.raises(InputError, match="not an image"):
        pdq_hash(b"not an image")


def test_dihedral_variants_reproduce_threatexchange() -> None:
    expected = IMAGES["threatexchange-resources/LA.png"]["dihedral_from_hash_cmd_test"]
    got = pdq_dihedral(PDQ / "threatexchange-resources/LA.png")
    assert {name: h.hex for name, h in got.items()} == expected


def test_a_rotated_copy_is_found_through_its_dihedral_variants() -> None:
    original = PDQ / "reg-test-input/dih/bridge-1-original.jpg"
    rotated = pdq_hash(PDQ / "reg-test-input/dih/bridge-2-rotate-90.jpg").hex
    assert hamming(pdq_hash(original).hex, rotated) == 120  # as the Java reference test says
    closest = min(hamming(v.hex, rotated) for v in pdq_dihedral(original).values())
    assert closest <= 31


@pytest.mark.parametrize("bulk", [0, 2_000, 5_500])
def test_index_finds_exactly_what_brute_force_finds(bulk: int) -> None:
    """*bulk* hashes go into the tables at once, the rest one by one (scanned while few,
    merged into the tables past `MERGE_AT`)."""
    rng = random.Random(2016)
    index = PdqIndex()
    hashes = {}
    base = [rng.getrandbits(256) for _ in range(50)]
    for n in range(6000):
        if n % 3 == 0:  # near copies of a few originals, at every distance up to 40
            value = base[n % 50]
            for bit in rng.sample(range(256), rng.randint(0, 40)):
                value ^= 1 << bit
        else:
            value = rng.getrandbits(256)
        hashes[f"item{n}"] = f"{value:064x}"
    keys = list(hashes)
    index.add_many(keys[:bulk], [hashes[k] for k in keys[:bulk]])
    for key in keys[bulk:]:
        index.add(key, hashes[key])
    for radius in (0, 15, 16, 31, 47, 80):
        for query in [f"{b:064x}" for b in base[:10]]:
            brute = sorted(
                ((k, hamming(h, query)) for k, h in hashes.items() if hamming(h, query) <= radius),
                key=lambda kd: (kd[1], kd[0]),
            )
            assert index.within(query, radius) == brute
    assert len(index) == 6000


@pytest.mark.parametrize("radius", [0, 15, 31])
def test_grouping_all_pairs_equals_brute_force(radius: int) -> None:
    rng = np.random.default_rng(2016)
    originals = rng.integers(0, 1 << 16, size=(40, 16), dtype=np.uint16)
    rows = rng.integers(0, 1 << 16, size=(2_500, 16), dtype=np.uint16)
    for n in range(0, 2_500, 3):  # near copies at 0-40 bits, some identical
        rows[n] = originals[n % 40]
        for bit in rng.integers(0, 256, size=int(rng.integers(0, 41))):
            rows[n, bit // 16] ^= np.uint16(1 << (bit % 16))
    labels = group_rows(rows, radius)
    parent = list(range(len(rows)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(len(rows)):
        for j in np.flatnonzero(distances(rows, rows[i]) <= radius).tolist():
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
    assert labels.tolist() == [root(i) for i in range(len(rows))]
    with pytest.raises(ValueError, match="radius 32"):
        group_rows(rows, 32)


def test_a_large_jpeg_is_decoded_smaller_and_hashes_nearly_alike(tmp_path: Path) -> None:
    from PIL import Image

    big = tmp_path / "big.jpg"
    with Image.open(PDQ / "bridge-mods/aaa-orig.jpg") as image:
        image.resize((4016, 2520)).save(big, "JPEG", quality=92)
    with Image.open(big) as image:
        full = pdqhash.compute(np.asarray(image.convert("RGB")))[0]
    full_hex = bytes(np.packbits(full.astype(np.uint8))).hex()
    reduced = pdq_hash(big)
    assert hamming(reduced.hex, full_hex) <= 16  # the JPEG decoder's 1/4 scale
    assert hamming(reduced.hex, pdq_hash(PDQ / "bridge-mods/aaa-orig.jpg").hex) <= 31

"""PDQ hashing throughput on JPEG photos: Vigil's `pdq_hash` (large JPEGs decoded at a
reduced scale, both cores) against the `pdqhash` package hashing the same files naively
(full decode with Pillow, one process), in the same run.

The photos are made here from the PDQ fixtures' 1600x1004 photo: 40 at phone-camera size
(4032x3024) and 80 at common web size (1600x1200), each a different crop, JPEG quality 90.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from vigil.enrich.pdq import hamming, pdq_hash

SOURCE = Path(__file__).resolve().parents[2] / "shared/fixtures/pdq/bridge-mods/aaa-orig.jpg"


def photos(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = sorted(folder.glob("*.jpg"))
    if len(made) == 120:
        return made
    base = Image.open(SOURCE).convert("RGB")
    rng = np.random.default_rng(5)
    out = []
    for n in range(120):
        size = (4032, 3024) if n < 40 else (1600, 1200)
        left, top = int(rng.integers(0, 300)), int(rng.integers(0, 200))
        crop = base.crop((left, top, left + 1200, top + 760)).resize(size, Image.Resampling.BICUBIC)
        path = folder / f"photo-{n:03d}.jpg"
        crop.save(path, "JPEG", quality=90)
        out.append(path)
    return out


def _naive(path: Path) -> str:
    with Image.open(path) as image:
        bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return bytes(np.packbits(bits.astype(np.uint8))).hex()


def _ours(path: Path) -> str:
    return pdq_hash(path).hex


def bench_pdq_speed(work: Path) -> dict[str, float]:
    files = photos(work / "pdq-photos")
    for path in files:  # page cache warm for both
        path.read_bytes()
    started = time.perf_counter()
    naive = [_naive(p) for p in files]
    naive_s = time.perf_counter() - started
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        ours = list(pool.map(_ours, files, chunksize=4))
    ours_s = time.perf_counter() - started
    drift = [hamming(a, b) for a, b in zip(naive, ours, strict=True)]
    return {"naive_s": naive_s, "ours_s": ours_s, "photos": len(files),
            "max_drift": max(drift), "mean_drift": sum(drift) / len(drift)}  # fmt: skip

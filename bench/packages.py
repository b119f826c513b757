"""Evidence-package benchmark: export and verify 1,000 items / ~2 GB.

Reference, measured in the same run on the same files: `zip -0` of the folder (write
the bytes into one ZIP) plus `sha256sum` of the files (hash them), i.e. the least
work a package of hashed originals needs. Goals: export <= 2x, verify <= 1.5x.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

VIGIL = [sys.executable, "-m", "vigil"]


def _timed(command: list[str], **kwargs: object) -> float:
    subprocess.run(["sync"], check=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - started


def bench_packages(work: Path, items: int = 1000, size: int = 2 << 30) -> None:
    if shutil.which("zip") is None:
        print("packages: needs zip (apt-get install zip)")
        return
    rng = random.Random(7)
    folder = work / "package-files"
    if not folder.exists():
        folder.mkdir(parents=True)
        for n in range(items):
            (folder / f"item{n:04d}.bin").write_bytes(os.urandom(size // items))
    paths = sorted(folder.iterdir())
    total = sum(p.stat().st_size for p in paths)
    archive = work / "archive-packages"
    if not (archive / "vigil.toml").exists():
        shutil.rmtree(archive, ignore_errors=True)
        subprocess.run([*VIGIL, "--archive", str(archive), "init"], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        subprocess.run([*VIGIL, "--archive", str(archive), "add", str(folder)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    rng.shuffle(paths)
    reference_zip = work / "reference.zip"
    package = work / "bench.wacz"
    best: dict[str, float] = {}
    for _ in range(2):
        reference_zip.unlink(missing_ok=True)
        package.unlink(missing_ok=True)
        zip_s = _timed(["zip", "-0", "-q", "-r", str(reference_zip), folder.name], cwd=work)
        sum_s = _timed(["sha256sum", *map(str, paths)])
        export_s = _timed(
            [*VIGIL, "--archive", str(archive), "export", "--all", "-o", str(package)]
        )
        verify_s = _timed([*VIGIL, "verify-package", str(package)])
        for key, value in (("zip", zip_s), ("sum", sum_s), ("export", export_s),
                           ("verify", verify_s)):  # fmt: skip
            best[key] = min(best.get(key, float("inf")), value)
    reference = best["zip"] + best["sum"]
    gb = total / 1e9
    print(f"packages: {items:,} items, {gb:.2f} GB; reference zip -0 {best['zip']:.1f} s"
          f" + sha256sum {best['sum']:.1f} s = {reference:.1f} s")  # fmt: skip
    for key, goal in (("export", "2.00"), ("verify", "1.50")):
        ratio = best[key] / reference
        print(f"  {key}  {best[key]:6.1f} s   ratio {ratio:5.2f}  (goal <= {goal})")
    reference_zip.unlink(missing_ok=True)
    package.unlink(missing_ok=True)

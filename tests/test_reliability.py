"""Reliability, tested rather than promised: SIGKILL at random moments, concurrent writers,
unreadable files. Real `vigil` subprocesses on a real archive, on both index backends."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_vigil, vigil_env

pytestmark = pytest.mark.slow

TRIALS = 24


def _make_files(folder: Path, count: int, rng: random.Random) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        (folder / f"f{n:04d}.bin").write_bytes(rng.randbytes(rng.randint(0, 48_000)))


def _start_add(archive: Path, url: str | None, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vigil", "add", "--json", *map(str, args)],
        env=vigil_env(archive, url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stored(stdout: str) -> dict[str, str]:
    """id -> sha256 of every item the process reported as stored (complete lines only)."""
    stored = {}
    for line in stdout.splitlines(keepends=True):
        if line.endswith("\n"):
            record = json.loads(line)
            if record["status"] == "stored":
                stored[record["id"]] = record["sha256"]
    return stored


def _verify_ok(archive: Path, url: str | None) -> dict:
    result = run_vigil("verify", "--json", archive_path=archive, database_url=url)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"], report["findings"]
    return report


def _listed(archive: Path, url: str | None) -> dict[str, str]:
    items = json.loads(
        run_vigil("ls", "--json", archive_path=archive, database_url=url, check=True).stdout
    )
    return {i["id"]: i["sha256"] for i in items}


def test_sigkill_at_random_moments_loses_nothing_reported(
    tmp_path: Path, database_url: str | None
) -> None:
    rng = random.Random(20161213)
    archive = tmp_path / "archive"
    run_vigil("init", archive_path=archive, database_url=database_url, check=True)
    # measure how long an uninterrupted add takes, to spread the kills over it
    _make_files(tmp_path / "warmup", 120, rng)
    started = time.monotonic()
    run_vigil(
        "add",
        "--batch-size",
        "5",
        tmp_path / "warmup",
        archive_path=archive,
        database_url=database_url,
        check=True,
    )
    duration = time.monotonic() - started
    reported = _listed(archive, database_url)
    killed_mid_run = 0
    for trial in range(TRIALS):
        folder = tmp_path / f"trial{trial:02d}"
        _make_files(folder, 120, rng)
        proc = _start_add(archive, database_url, "--batch-size", "5", folder)
        time.sleep(rng.uniform(0.05, duration * 1.1))
        if proc.poll() is None:
            killed_mid_run += 1
        proc.send_signal(signal.SIGKILL)
        stdout, _ = proc.communicate()
        reported.update(_stored(stdout))
        # the next command repairs what the kill left, and every reported item is there
        _verify_ok(archive, database_url)
        listed = _listed(archive, database_url)
        missing = set(reported) - set(listed)
        assert not missing, f"trial {trial}: reported but lost: {missing}"
        assert all(listed[i] == s for i, s in reported.items())
    assert killed_mid_run >= TRIALS // 2, "most kills must land while add is running"
    report = _verify_ok(archive, database_url)
    assert report["items"] == len(_listed(archive, database_url))
    assert report["entries"] == report["items"]
    # and adding the same folders again completes what the kills interrupted
    for trial in range(TRIALS):
        run_vigil(
            "add",
            tmp_path / f"trial{trial:02d}",
            archive_path=archive,
            database_url=database_url,
            check=True,
        )
    assert len(_listed(archive, database_url)) == 120 * (TRIALS + 1)
    _verify_ok(archive, database_url)


def test_two_concurrent_adds_lose_nothing_and_share_one_log(
    tmp_path: Path, database_url: str | None
) -> None:
    rng = random.Random(79)
    archive = tmp_path / "archive"
    run_vigil("init", archive_path=archive, database_url=database_url, check=True)
    _make_files(tmp_path / "a", 150, rng)
    _make_files(tmp_path / "b", 150, rng)
    _make_files(tmp_path / "shared", 30, rng)
    procs = [
        _start_add(archive, database_url, "--batch-size", "4", tmp_path / "a", tmp_path / "shared"),
        _start_add(archive, database_url, "--batch-size", "4", tmp_path / "shared", tmp_path / "b"),
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outputs]
    stored = [_stored(o[0]) for o in outputs]
    assert not set(stored[0]) & set(stored[1])
    listed = _listed(archive, database_url)
    assert set(listed) == set(stored[0]) | set(stored[1])
    assert len(listed) == 330  # the shared files were stored once, by whichever came first
    report = _verify_ok(archive, database_url)
    assert report["entries"] == 330


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder another user can reach (pytest's own is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="vigil-test-"))
    base.chmod(0o777)
    yield base
    for path in base.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(base)


def test_unreadable_file_is_reported_and_the_rest_stored(shared_tmp: Path) -> None:
    tree = shared_tmp / "tree"
    tree.mkdir()
    (tree / "readable.txt").write_text("ok")
    (tree / "secret.txt").write_text("no")
    (tree / "secret.txt").chmod(0o000)
    (tree / "locked").mkdir()
    (tree / "locked" / "inner.txt").write_text("no")
    (tree / "locked").chmod(0o000)
    archive = shared_tmp / "archive"
    command = [sys.executable, "-m", "vigil", "add", "--json", str(tree)]
    if os.geteuid() == 0:  # root reads everything: run as nobody, as a real user would be
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        subprocess.run(
            [*as_nobody, sys.executable, "-m", "vigil", "init"],
            env=vigil_env(archive, None),
            check=True,
            capture_output=True,
        )
        command = [*as_nobody, *command]
    else:
        run_vigil("init", archive_path=archive, check=True)
    result = subprocess.run(
        command, env=vigil_env(archive, None), capture_output=True, text=True, timeout=120
    )
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert result.returncode == 1, result.stderr
    assert records["readable.txt"]["status"] == "stored"
    assert (
        records["secret.txt"]["status"] == "error"
        and "Permission denied" in records["secret.txt"]["message"]
    )
    assert records["locked"]["status"] == "error" and "cannot list" in records["locked"]["message"]
    report = json.loads(run_vigil("verify", "--json", archive_path=archive).stdout)
    assert report["ok"] and report["items"] == 1

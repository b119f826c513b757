"""The real `vigil` command in a subprocess: every command, its JSON, its errors and exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_vigil

COMMANDS = [
    "init",
    "add",
    "ls",
    "show",
    "custody",
    "checkpoint",
    "key",
    "proof",
    "verify",
    "reindex",
    "verify-proof",
    "demo",
]


@pytest.fixture
def cli_archive(tmp_path: Path, database_url: str | None) -> tuple[Path, str | None]:
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, database_url=database_url, check=True)
    return path, database_url


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_full_workflow(
    cli_archive: tuple[Path, str | None], evidence: Path, tmp_path: Path
) -> None:
    path, url = cli_archive

    def vigil(*args: str | Path, check: bool = True):
        return run_vigil(*args, archive_path=path, database_url=url, check=check)

    added = _json_lines(vigil("add", "--json", evidence).stdout)
    assert [a["status"] for a in added] == ["stored"] * 5
    assert all(len(a["sha256"]) == 64 and a["id"] for a in added)

    listed = json.loads(vigil("ls", "--json").stdout)
    assert [i["id"] for i in listed] == [a["id"] for a in added]

    png = next(a for a in added if a["path"].endswith("image.png"))
    shown = json.loads(vigil("show", png["sha256"][:10], "--json").stdout)
    assert shown["media_type"] == "image/png" and shown["checkpoint"] == 5
    assert Path(shown["blob"]).read_bytes() == (evidence / "nested" / "image.png").read_bytes()
    assert png["id"] in vigil("show", png["id"]).stdout

    custody = json.loads(vigil("custody", png["id"], "--json").stdout)
    assert [c["event"]["type"] for c in custody] == ["item.added"]
    assert "item.added" in vigil("custody", png["id"]).stdout

    note = vigil("checkpoint").stdout
    vkey = vigil("key").stdout.strip()
    assert note.splitlines()[1] == "5" and note.splitlines()[0] == vkey.split("+")[0]

    out = tmp_path / "proofs"
    vigil("proof", png["id"], "--out", out)
    index = shown["added_index"]
    (tmp_path / "trusted.vkey").write_text(vkey + "\n")
    ok = run_vigil(
        "verify-proof",
        out / f"{index}.json",
        out / f"{index}.tlog-proof",
        "--key",
        tmp_path / "trusted.vkey",
        "--json",
        archive_path=tmp_path / "none",
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["size"] == 5

    tampered = out / "tampered.json"
    tampered.write_bytes((out / f"{index}.json").read_bytes().replace(b"image/png", b"image/jpg"))
    bad = run_vigil(
        "verify-proof",
        tampered,
        out / f"{index}.tlog-proof",
        "--key",
        vkey,
        archive_path=tmp_path / "none",
    )
    assert bad.returncode == 1 and "error" in bad.stderr

    report = json.loads(vigil("verify", "--json", "--key", vkey).stdout)
    assert report["ok"] and report["entries"] == 5
    assert "Reindexed 5 ledger entries" in vigil("reindex").stdout


def test_verify_exits_1_and_names_the_damaged_item(
    cli_archive: tuple[Path, str | None], evidence: Path
) -> None:
    path, url = cli_archive
    added = _json_lines(
        run_vigil("add", "--json", evidence, archive_path=path, database_url=url, check=True).stdout
    )
    victim = added[0]
    blob = path / "blobs" / victim["sha256"][:2] / victim["sha256"][2:4] / victim["sha256"]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"!")
    result = run_vigil("verify", archive_path=path, database_url=url)
    assert result.returncode == 1
    assert victim["id"] in result.stderr and "FAILED" in result.stdout
    as_json = json.loads(run_vigil("verify", "--json", archive_path=path, database_url=url).stdout)
    assert not as_json["ok"] and victim["id"] in as_json["findings"][0]["message"]


def test_add_reports_bad_paths_and_exits_1_keeping_the_rest(
    cli_archive: tuple[Path, str | None], tmp_path: Path
) -> None:
    path, url = cli_archive
    (tmp_path / "good.txt").write_text("good")
    os.mkfifo(tmp_path / "fifo")
    result = run_vigil(
        "add",
        tmp_path / "good.txt",
        tmp_path / "fifo",
        tmp_path / "absent",
        archive_path=path,
        database_url=url,
    )
    assert result.returncode == 1
    assert "fifo: a FIFO" in result.stderr and "absent: no such file" in result.stderr
    assert "stored" in result.stdout and "good.txt" in result.stdout
    assert "1 stored" in result.stderr and "2 error" in result.stderr


def test_missing_archive_is_one_clear_line(tmp_path: Path) -> None:
    result = run_vigil("ls", archive_path=tmp_path / "nowhere")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"vigil: error: no Vigil archive at {tmp_path / 'nowhere'}; create one with: vigil init --archive {tmp_path / 'nowhere'}"
    ]
    assert "Traceback" not in result.stderr


def test_unknown_item_is_one_clear_line(cli_archive: tuple[Path, str | None]) -> None:
    path, url = cli_archive
    result = run_vigil("show", "deadbeef", archive_path=path, database_url=url)
    assert result.returncode == 1
    assert "no item with id or SHA-256 prefix 'deadbeef'" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str, tmp_path: Path) -> None:
    result = run_vigil(command, "--help", archive_path=tmp_path)
    assert result.returncode == 0
    assert "Example" in result.stdout, result.stdout


def test_demo_runs_and_verifies(tmp_path: Path) -> None:
    result = run_vigil("demo", "--dir", tmp_path / "demo", archive_path=tmp_path / "unused")
    assert result.returncode == 0, result.stderr
    assert "Verified: OK" in result.stdout and "c2sp.org/tlog-proof@v1" in result.stdout
    again = run_vigil("demo", "--dir", tmp_path / "demo", archive_path=tmp_path / "unused")
    assert again.returncode == 0 and "exists" in again.stdout


def test_an_unreachable_database_fails_init_cleanly(tmp_path: Path) -> None:
    result = run_vigil(
        "--database-url", "postgresql://127.0.0.1:1/none", "init", archive_path=tmp_path / "a"
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert (
        line.startswith("vigil: error: cannot prepare the index database:")
        and "Connection refused" in line
    )
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []

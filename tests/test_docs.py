"""Docs that tests keep honest: every command and setting is documented, and the third-party
verification script in docs/ really verifies (and really fails on tampering)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from vigil.archive import Archive
from vigil.cli.main import COMMAND_MODULES, cli
from vigil.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    assert isinstance(cli, click.Group)
    return cli.list_commands(click.Context(cli))


def test_every_command_is_loaded_from_the_module_the_table_names() -> None:
    """`COMMAND_MODULES` lists every command, with the module that defines it."""
    import importlib

    for modules in set(COMMAND_MODULES.values()):
        for module in modules:
            importlib.import_module(module)
    assert isinstance(cli, click.Group)
    assert sorted(cli.commands) == sorted(COMMAND_MODULES)
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == COMMAND_MODULES[name][0], name


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme_table(command: str) -> None:
    assert f"| `vigil {command}" in README


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting) -> None:
    assert f"`{setting.option}`" in README and f"`{setting.env}`" in README


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    section = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in section.strip().splitlines()]
    assert commands == ["bash scripts/demo", "bash scripts/test"]
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_the_reference_verifier_in_docs_checks_a_real_item(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
    (tmp_path / "other.txt").write_text("another")
    with Archive.init(tmp_path / "archive") as archive:
        results = archive.add_paths([tmp_path / "photo.jpg", tmp_path / "other.txt"])
        item = results[0].item
        assert item is not None
        archive.write_proofs(item.id, tmp_path / "proofs")
        key = tmp_path / "archive.vkey"
        key.write_text(archive.verifier.vkey + "\n")
    n = item.added_index
    script = [sys.executable, str(ROOT / "docs" / "verify_item.py"), "--key", str(key)]
    args = [
        "--entry",
        str(tmp_path / "proofs" / f"{n}.json"),
        "--proof",
        str(tmp_path / "proofs" / f"{n}.tlog-proof"),
    ]
    ok = subprocess.run(
        [*script, *args, "--blob", str(tmp_path / "photo.jpg")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "included in the signed tree" in ok.stdout and "byte for byte" in ok.stdout

    wrong_file = subprocess.run(
        [*script, *args, "--blob", str(tmp_path / "other.txt")], capture_output=True, text=True
    )
    assert wrong_file.returncode == 1 and "not the one the entry names" in wrong_file.stderr

    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(
        (tmp_path / "proofs" / f"{n}.json").read_bytes().replace(b'"photo.jpg"', b'"photo.png"')
    )
    bad = subprocess.run(
        [*script, "--entry", str(tampered), "--proof", args[3]], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "inclusion proof fails" in bad.stderr

    other_key = tmp_path / "other.vkey"
    with Archive.init(tmp_path / "other-archive") as other:
        other_key.write_text(other.verifier.vkey)
    shutil.copy(other_key, key)
    foreign = subprocess.run([*script, *args], capture_output=True, text=True)
    assert foreign.returncode == 1 and "no signature by this key" in foreign.stderr

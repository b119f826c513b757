"""Commands that need no archive of one's own: verify-proof, and the demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from vigil.cli.commands import _load_key
from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.demo import run_demo
from vigil.errors import InputError
from vigil.ledger.proofcheck import check_entry_proof


@cli.command(name="verify-proof")
@click.argument("entry", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument(
    "proof_file", metavar="PROOF", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--key", "key_text", required=True, help="The verifier key you trust (vkey text or file)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_proof(entry: Path, proof_file: Path, key_text: str, as_json: bool) -> None:
    """Check that ENTRY (<n>.json) is in the log, using PROOF (<n>.tlog-proof) and a key. Offline.

    \b
    Example:
      vigil verify-proof proofs/0.json proofs/0.tlog-proof --key archive.vkey
    """
    try:
        checkpoint = check_entry_proof(
            entry.read_bytes(), proof_file.read_bytes(), [_load_key(key_text)]
        )
    except UnicodeDecodeError as exc:
        raise InputError(f"{proof_file}: not a text proof ({exc})") from None
    result = {
        "ok": True,
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
    }
    if as_json:
        emit_json(result)
        return
    click.echo(f"OK: {entry} is entry of {checkpoint.origin} at tree size {checkpoint.size}")


@cli.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=Path("vigil-demo"),
    show_default=True,
    help="Where to create the demo archive and files.",
)
@pass_state
def demo(state: State, folder: Path) -> None:
    """Create an archive, add sample files, verify it, and print a proof for one item.

    \b
    Example:
      vigil demo --dir /tmp/vigil-demo
    """
    result = run_demo(folder, say=lambda text: state.out.print(escape(text)))
    if not result.ok:
        sys.exit(1)

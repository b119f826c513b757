"""`vigil timestamp`: have RFC 3161 authorities stamp a checkpoint of the archive."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.errors import InputError
from vigil.ledger.stamping import timestamp_checkpoint
from vigil.ledger.timestamps import load_certificates


@cli.command()
@click.option(
    "--tsa",
    "urls",
    multiple=True,
    envvar="VIGIL_TSA",
    help="A timestamp authority's URL (repeat for several; $VIGIL_TSA, space-separated).",
)
@click.option(
    "--tsa-chain",
    "chain_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM/DER certificates of the TSAs' chains; self-signed ones become trusted roots "
    "(default roots: the system trust store).",
)
@click.option("--timeout", type=click.FloatRange(0.1), default=30.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The stamps and problems as one JSON object.")
@pass_state
def timestamp(
    state: State,
    urls: tuple[str, ...],
    chain_files: tuple[Path, ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Sign a checkpoint now and have each TSA timestamp it (RFC 3161).

    Each reply is verified fully (imprint, nonce, signer, timeStamping EKU, chain
    at genTime) before its token, chain and CRLs are stored and logged. An
    inclusion proof of any entry in the stamped checkpoint extends the timestamp
    to that entry. Exit 1 if any TSA failed.

    \b
    Example:
      vigil timestamp --tsa https://freetsa.org/tsr --tsa-chain freetsa-cacert.pem
    """
    wanted = [u for url in urls for u in url.split()]
    if not wanted:
        raise InputError("no timestamp authority: give --tsa URL (or set VIGIL_TSA)")
    chain = [c for f in chain_files for c in load_certificates(f.read_bytes(), str(f))]
    with state.open() as archive:
        done, problems = timestamp_checkpoint(
            archive, wanted, chains={u: chain for u in wanted}, timeout=timeout
        )
    if as_json:
        emit_json({"stamps": [d.as_json() for d in done], "problems": problems})
    else:
        for d in done:
            stamp = d.event["stamp"]
            click.echo(
                f"checkpoint {d.checkpoint_size} stamped by {d.tsa} at {stamp['gen_time']}"
                f" (serial {stamp['serial']}; entry {d.event_index})"
            )
        for problem in problems:
            click.echo(f"error    {problem}", err=True)
    if problems:
        sys.exit(1)

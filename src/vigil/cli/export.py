"""`vigil export` (evidence packages) and `vigil verify-package` (their offline check)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import click

from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.errors import InputError
from vigil.export.package import export_package
from vigil.export.verify import verify_package
from vigil.incidents import incident
from vigil.search.fulltext import search

MAX_QUERY_ITEMS = 10_000


@cli.command()
@click.option("--items", "refs", multiple=True, help="An item id or SHA-256 prefix (repeat).")
@click.option("--all", "everything", is_flag=True, help="Every item of the archive.")
@click.option("--incident", "incident_ref", help="An incident: it and every item tied to it.")
@click.option("--query", help='Every item `vigil search` finds for this query (e.g. "مشفى القدس").')
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The package to write (.wacz).",
)  # fmt: skip
@click.option(
    "--public",
    is_flag=True,
    help="For the public: redacted copies of images, videos, audio, WARCs and of texts that "
    "inline media as data: URIs (vigil redact; "
    "made now where missing), no sealed items, no files that cannot be cleaned (PDF, office), "
    "no identifying metadata (paths, operators, hosts) nor the ledger entries that carry it.",
)
@click.option(
    "--include-sealed",
    is_flag=True,
    help="Hand out sealed items too (each read is logged); never with --public.",
)
@click.option("--title", help="A title for the package.")
@click.option("--json", "as_json", is_flag=True, help="What was exported, as JSON.")
@pass_state
def export(
    state: State,
    refs: tuple[str, ...],
    everything: bool,
    incident_ref: str | None,
    query: str | None,
    output: Path,
    public: bool,
    include_sealed: bool,
    title: str | None,
    as_json: bool,
) -> None:
    """Write a WACZ evidence package that proves itself offline.

    The items named come with what was captured with them or derived from them
    (a page brings its WARC, media, text, screenshot): original files byte for
    byte, WARCs with a CDXJ index and page list (standard replay tools open it),
    each item's metadata and custody, every ledger entry with a tlog-proof into one
    signed checkpoint, that checkpoint's RFC 3161 timestamps, the verifier key, an
    HTML report; datapackage.json hashes it all and its digest is signed. Sealed
    items (vigil seal), what derives from them and the WARCs holding them are left
    out and named, unless --include-sealed.

    \b
    Example:
      vigil export --items 01JF3Q8 --items 01JF3QA -o aleppo-2016-12-13.wacz
      vigil export --query '"al-Quds hospital"' -o al-quds.wacz
      vigil export --incident 01JF4A2 -o al-quds-2016-12-12.wacz
      vigil verify-package aleppo-2016-12-13.wacz --key case-17.vkey
    """
    if output.suffix != ".wacz":
        raise InputError(f"{output}: an evidence package is a .wacz file")
    if sum((bool(refs), everything, incident_ref is not None, query is not None)) != 1:
        raise InputError(
            "choose what to export: --items, --all, --incident or --query (one of them)"
        )
    with state.open() as archive:
        chosen = [i.id for i in archive.items()] if everything else list(refs)
        if incident_ref is not None:
            found = incident(archive, incident_ref)
            if not found.members:
                raise InputError(f"--incident {incident_ref}: no item is tied to it yet")
            chosen = [found.row.id, *found.members]
        if query is not None:
            chosen = [h.item.id for h in search(archive, query, limit=MAX_QUERY_ITEMS)]
            if not chosen:
                raise InputError(f"--query {query!r}: no item matches")
        result = export_package(archive, chosen, output, public=public, title=title,
                                include_sealed=include_sealed)  # fmt: skip
    if as_json:
        emit_json(result.as_json())
        return
    click.echo(
        f"{output}: {len(result.items)} items, {result.entries} ledger entries proven into"
        f" checkpoint {result.checkpoint_size}, {result.timestamps} timestamps"
        + (f"; left out {len(result.left_out)} withheld" if result.left_out else "")
        + (
            f"; {len(result.sealed_read)} sealed items handed out (logged)"
            if result.sealed_read
            else ""
        )
    )
    for item in result.left_out:
        click.echo(f"  left out {item}: {result.why_left_out[item]}", err=True)


@cli.command(name="verify-package")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The archive's verifier key you trust.")  # fmt: skip
@click.option("--newer", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A newer checkpoint of the same archive.")  # fmt: skip
@click.option("--consistency", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The consistency proof to --newer (one base64 hash per line).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The outcome as JSON.")
def verify_package_(
    package: Path, key: Path | None, newer: Path | None, consistency: Path | None, as_json: bool
) -> None:
    """Check an evidence package offline: every digest, the signature, every proof,
    the checkpoint, the timestamps. Exit 1 on any problem, each named.

    The same check runs without Vigil: python -m vigil.export.verify PACKAGE.

    \b
    Example:
      vigil verify-package aleppo-2016-12-13.wacz --key case-17.vkey
    """
    trusted = key.read_text() if key else None
    later = None
    if newer is not None:
        hashes = consistency.read_text().split() if consistency else []
        later = (newer.read_text(), [base64.b64decode(h) for h in hashes])
    problems, checked = verify_package(package, trusted, later)
    if as_json:
        emit_json({"ok": not problems, "problems": problems, "checked": checked})
    else:
        for line in checked:
            click.echo(f"ok       {line}")
        for line in problems:
            click.echo(f"PROBLEM  {line}", err=True)
        click.echo("package verifies" if not problems else f"{len(problems)} problems")
    if problems:
        sys.exit(1)


@cli.command()
@click.argument("old_size", type=click.IntRange(1))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the newer checkpoint and the proof.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The files written, as JSON.")
@pass_state
def consistency(state: State, old_size: int, out: Path, as_json: bool) -> None:
    """Prove that the log of OLD_SIZE entries (a package's checkpoint) is a prefix of
    today's: writes <new>.note (a checkpoint signed now) and <old>-<new>.consistency
    (RFC 9162 consistency proof, one base64 hash per line), for verify-package --newer.

    \b
    Example:
      vigil consistency 1204 --out later/
      vigil verify-package case.wacz --newer later/1310.note \\
          --consistency later/1204-1310.consistency
    """
    with state.open() as archive:
        checkpoint, note = archive.checkpoint()
        if old_size > checkpoint.size:
            raise InputError(f"the log holds {checkpoint.size} entries, fewer than {old_size}")
        proof = archive.log.consistency_proof(old_size, checkpoint.size)
    out.mkdir(parents=True, exist_ok=True)
    note_path = out / f"{checkpoint.size}.note"
    proof_path = out / f"{old_size}-{checkpoint.size}.consistency"
    note_path.write_text(note, encoding="utf-8")
    proof_path.write_text("".join(base64.b64encode(h).decode() + "\n" for h in proof))
    if as_json:
        emit_json({"note": str(note_path), "proof": str(proof_path), "size": checkpoint.size})
    else:
        click.echo(f"{note_path}\n{proof_path}")

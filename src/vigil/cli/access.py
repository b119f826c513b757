"""`vigil seal`, `vigil unseal`, `vigil sealed`: withholding what could endanger a witness."""

from __future__ import annotations

from typing import Any

import click

from vigil.access import seal as seal_items
from vigil.access import seal_reasons, sealed_ids
from vigil.cli.main import State, cli, emit_json, pass_state


@cli.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (kept in the ledger).")
@click.option("--json", "as_json", is_flag=True, help="The items whose state changed, as JSON.")
@pass_state
def seal(state: State, refs: tuple[str, ...], reason: str, as_json: bool) -> None:
    """Seal items: kept and provable, but withheld from every package (with what
    derives from them and the WARC that holds them) unless an export names them with
    --include-sealed, which is logged as a read.

    \b
    Example:
      vigil seal 01JF3Q8 --reason "the uploader's face is visible; family at risk"
    """
    with state.open() as archive:
        changed = seal_items(archive, refs, reason=reason)
    if as_json:
        emit_json({"sealed": changed})
    else:
        click.echo(f"sealed {len(changed)} item(s)" + ("" if changed else " (already sealed)"))


@cli.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (kept in the ledger).")
@click.option("--json", "as_json", is_flag=True, help="The items whose state changed, as JSON.")
@pass_state
def unseal(state: State, refs: tuple[str, ...], reason: str, as_json: bool) -> None:
    """Lift the seal of items (the seal and its lifting both stay in the ledger).

    \b
    Example:
      vigil unseal 01JF3Q8 --reason "published by the family, 2025-03-02"
    """
    with state.open() as archive:
        changed = seal_items(archive, refs, reason=reason, unseal=True)
    if as_json:
        emit_json({"unsealed": changed})
    else:
        click.echo(f"unsealed {len(changed)} item(s)" + ("" if changed else " (none was sealed)"))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="The sealed items and why, as JSON.")
@pass_state
def sealed(state: State, as_json: bool) -> None:
    """List the sealed items, with who sealed them, when and why.

    \b
    Example:
      vigil sealed --json
    """
    with state.open() as archive:
        found: list[dict[str, Any]] = []
        for item_id in sorted(sealed_ids(archive)):
            row = archive.item(item_id)
            found.append({"id": row.id, "name": row.name, "kind": row.kind,
                          "decisions": seal_reasons(archive, row.id)})  # fmt: skip
    if as_json:
        emit_json(found)
        return
    click.echo(f"{len(found)} sealed item(s)")
    for entry in found:
        last = entry["decisions"][-1]
        click.echo(f"  {entry['id']}  {entry['name']}  sealed {last['at']} by {last['user']}:"
                   f" {last['reason']}")  # fmt: skip


@cli.command()
@click.argument("ref")
@click.option(
    "--box",
    "boxes",
    multiple=True,
    metavar="X,Y,W,H",
    help="Also blur this rectangle (pixels of the upright image); repeatable.",
)
@click.option("--no-detect", is_flag=True, help="Blur only the --box rectangles.")
@click.option("--reason", help="Why (kept in the ledger), e.g. who reviewed the copy.")
@click.option("--json", "as_json", is_flag=True, help="The redacted copy, as JSON.")
@pass_state
def redact(
    state: State, ref: str, boxes: tuple[str, ...], no_detect: bool, reason: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Make the public copy of an image, video, audio file or WARC, or of a text that
    inlines media as data: URIs: faces blurred (detected, plus any --box), metadata
    stripped, other inlined files removed. The original is untouched; the copy
    is a logged derivative, and public packages (export --public) hold it instead. A
    newer copy replaces an older one in later packages.

    \b
    Example:
      vigil redact 01JF3Q8 --box 410,96,120,150 --reason "reviewed: a child at the back"
    """
    from vigil.export.public import copy_event, redact_item
    from vigil.redact import Box

    chosen = [Box.parse(text) for text in boxes]
    with state.open() as archive:
        target = archive.item(ref)
        copy = redact_item(archive, target.id, chosen, detect=not no_detect, reason=reason)
        result = copy_event(archive, copy)["result"]
    if as_json:
        emit_json({**copy.brief(), "of": target.id, "result": result})
        return
    faces = len(result.get("faces", [])) or result.get("frames_with_faces", 0)
    click.echo(f"{copy.id}  {copy.name}  ({copy.media_type}): redacted copy of {target.id}")
    if "redacted" in result:
        click.echo(
            f"  {len(result['redacted'])} media record(s) redacted in the WARC, "
            f"{len(result.get('scrubbed', []))} text(s) with inlined media scrubbed"
        )
    elif "data_uris" in result:
        actions = [d["action"] for d in result["data_uris"]]
        click.echo(
            f"  inlined data: URIs: {actions.count('redacted')} redacted, "
            f"{actions.count('removed')} removed"
        )
    elif result.get("detected"):
        click.echo(f"  faces detected: {faces}; boxes given: {len(chosen)}")
    else:
        click.echo(f"  no detection; boxes given: {len(chosen)}")

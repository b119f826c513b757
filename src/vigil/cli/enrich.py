"""`vigil enrich`, `vigil similar`, `vigil clusters`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from vigil.archive import Archive
from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.enrich.pdq import pdq_dihedral
from vigil.enrich.runner import DERIVATIONS, EnrichReport, Runner
from vigil.errors import InputError
from vigil.search.similar import clusters as find_clusters
from vigil.search.similar import similar_to
from vigil.search.videos import VideoMatch, similar_videos


@cli.command()
@click.option("--only", "names", multiple=True, type=click.Choice(sorted(DERIVATIONS)),
              help="Run only this derivation (repeat).")  # fmt: skip
@click.option("--redo", multiple=True, type=click.Choice(sorted(DERIVATIONS)),
              help="Recompute this derivation for every item.")  # fmt: skip
@click.option("--workers", type=click.IntRange(1), help="Processes (default: all cores).")
@click.option("--c2pa-trust", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="VIGIL_C2PA_TRUST",
              help="c2pa settings JSON with a trust list (else: 'untrusted').")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="What was derived and what failed, as JSON.")
@pass_state
def enrich(
    state: State, names: tuple[str, ...], redo: tuple[str, ...], workers: int | None,
    c2pa_trust: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Compute what is not computed yet: PDQ hashes of images, the metadata media
    state about themselves (EXIF, GPS, XMP, IPTC; container tags), C2PA Content
    Credentials validated offline, OCR of Arabic and English text in images.

    Resumable and idempotent: what is done with the current tool version is skipped,
    a failure is recorded for its item and never stops the run. Each result is a
    derivative with its tool and version, never a change to the original. A
    derivation whose program is not installed (tesseract, ffprobe) is skipped and named.

    \b
    Example:
      vigil enrich
      vigil enrich --only ocr --only c2pa --c2pa-trust trust.json
      vigil enrich --redo pdq --json
    """
    trust = None
    if c2pa_trust is not None:
        trust = c2pa_trust.read_text(encoding="utf-8")
        try:
            json.loads(trust)
        except ValueError as exc:
            raise InputError(f"--c2pa-trust {c2pa_trust}: not JSON ({exc})") from None
    with state.open() as archive:
        runner = Runner(archive, list(names) or None, c2pa_trust=trust)
        report = _run(state, runner, quiet=as_json, redo=set(redo), workers=workers)
    if as_json:
        emit_json(report.as_json())
        return
    for name, count in sorted(report.done.items()):
        click.echo(f"{name}: {count} items")
    for failure in report.failed:
        click.echo(
            f"failed   {failure['derivation']} {failure['item']}: {failure['error']}", err=True
        )
    for name, why in sorted(report.unavailable.items()):
        click.echo(f"skipped  {name}: {why}", err=True)
    if not report.done and not report.failed:
        click.echo("nothing to do")


def _run(state: State, runner: Runner, *, quiet: bool, **options: Any) -> EnrichReport:
    """Run *runner* with a progress bar on stderr (when it is a terminal and not *quiet*)."""
    columns = (TextColumn("enrich"), BarColumn(), MofNCompleteColumn())
    disable = quiet or not state.err.is_terminal
    with Progress(*columns, console=state.err, disable=disable) as bar:
        task = bar.add_task("enrich", total=None)
        return runner.run(
            progress=lambda done, total: bar.update(task, completed=done, total=total), **options
        )


def enrich_stored(state: State, archive: Archive) -> None:
    """After a capture or import: derive what is new, reporting on stderr (stdout may be JSON)."""
    report = _run(state, Runner(archive), quiet=False)
    done = ", ".join(f"{name} {count}" for name, count in sorted(report.done.items()))
    click.echo(f"enriched: {done or 'nothing new'}"
               + (f"; {len(report.failed)} failed (see vigil enrich --json)" if report.failed
                  else ""), err=True)  # fmt: skip


@cli.command()
@click.argument("item", required=False)
@click.option("--file", "photo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A photo (not in the archive) to look for.")  # fmt: skip
@click.option("--radius", type=click.IntRange(0, 256), default=31, show_default=True,
              help="Largest PDQ Hamming distance.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The items found, as JSON.")
@pass_state
def similar(state: State, item: str | None, photo: Path | None, radius: int, as_json: bool) -> None:
    """Items whose picture is within --radius of ITEM's or of --file's (rotations and
    mirror images included), nearest first. For a video ITEM: the videos sharing 80 %
    of its one-a-second frames (vPDQ), with both shares.

    \b
    Example:
      vigil similar 01JF3Q8
      vigil similar --file forwarded.jpg --json
    """
    if (item is None) == (photo is None):
        raise InputError("give an ITEM or --file PHOTO (one of them)")
    variants = [h.hex for h in pdq_dihedral(photo).values()] if photo else None
    with state.open() as archive:
        if item is not None and archive.item(item).media_type.startswith("video/"):
            _similar_videos(similar_videos(archive, item, radius=radius), as_json)
            return
        found = similar_to(archive, item=item, variants=variants, radius=radius)
    if as_json:
        emit_json(
            [{"id": r.id, "sha256": r.sha256, "distance": d, "name": r.name} for r, d in found]
        )
        return
    for row, distance in found:
        click.echo(f"{distance:3}  {row.id}  {row.sha256[:16]}  {row.name}")
    if not found:
        click.echo("nothing within the radius")


def _similar_videos(found: list[VideoMatch], as_json: bool) -> None:
    if as_json:
        emit_json([{"id": m.item.id, "sha256": m.item.sha256, "name": m.item.name,
                    "distance": m.distance, "query_match_percent": m.query_percent,
                    "compared_match_percent": m.compared_percent} for m in found])  # fmt: skip
        return
    for m in found:
        click.echo(f"{m.query_percent:5.1f}% of its frames, {m.compared_percent:5.1f}% of the"
                   f" other's  {m.item.id}  {m.item.sha256[:16]}  {m.item.name}")  # fmt: skip
    if not found:
        click.echo("no video shares 80 % of its frames")


@cli.command()
@click.option("--radius", type=click.IntRange(0, 256), default=31, show_default=True)
@click.option("--rotations", is_flag=True,
              help="Also join rotated and mirrored copies (7 more queries an image).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The clusters, as JSON.")
@pass_state
def clusters(state: State, radius: int, rotations: bool, as_json: bool) -> None:
    """Near-duplicate groups, each with its earliest copy by our capture time and by the
    post time a platform claims (labelled apart; they are different clocks).

    \b
    Example:
      vigil clusters --json
      vigil clusters --rotations
    """
    with state.open() as archive:
        found = find_clusters(archive, radius, rotations=rotations)
    if as_json:
        emit_json([c.as_json() for c in found])
        return
    for n, cluster in enumerate(found, 1):
        click.echo(f"cluster {n}: {len(cluster.members)} items")
        click.echo(f"  earliest by our capture time: {cluster.earliest_captured.id}"
                   f" ({cluster.earliest_captured.added_at})")  # fmt: skip
        if cluster.earliest_claimed is not None:
            row, posted = cluster.earliest_claimed
            click.echo(f"  earliest by claimed post time: {row.id} (claims {posted})")
        for member in cluster.members:
            click.echo(f"    {member.id}  {member.sha256[:16]}  {member.name}")

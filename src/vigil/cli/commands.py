"""The archive commands: init, add, ls, show, custody, checkpoint, key, proof, verify, reindex."""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from vigil.archive import AddResult, Archive
from vigil.capture.files import FileCandidate, walk
from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.events import Event
from vigil.ledger.note import Verifier
from vigil.verify import VerifyReport

_COLOUR = {"stored": "green", "exists": "cyan", "skipped": "yellow", "error": "red"}


def _bytes_to_add(paths: tuple[Path, ...], follow_symlinks: bool) -> int:
    """Total size of the files `add` will read (a quick pre-scan for the progress bar)."""
    total = 0
    for found in walk(paths, follow_symlinks=follow_symlinks):
        if isinstance(found, FileCandidate):
            with contextlib.suppress(OSError):
                total += found.path.stat().st_size
    return total


def _progress(state: State) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=state.err,
        transient=True,
        disable=not state.err.is_terminal,
    )


@cli.command()
@click.option(
    "--name", help="Log origin and key name (default: vigil/<random>). Never reveals the host."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
def init(state: State, name: str | None, as_json: bool) -> None:
    """Create a new archive: blob folder, ledger, index, Ed25519 keys.

    \b
    Example:
      vigil --archive ./archive init
      vigil --archive ./case-17 --database-url postgresql://127.0.0.1/vigil init
    """
    archive = Archive.init(state.archive_path, database_url=state.database_url, name=name)
    with archive:
        if as_json:
            emit_json(
                {
                    "archive": str(archive.root),
                    "origin": archive.origin,
                    "vkey": archive.verifier.vkey,
                }
            )
            return
        state.out.print(f"Created archive {escape(str(archive.root))}")
        state.out.print(f"Verifier key (publish it): {archive.verifier.vkey}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--follow-symlinks", is_flag=True, help="Follow symlinks that lead out of the given trees."
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per path, per line, as each is stored."
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=256,
    show_default=True,
    help="Files per durable ledger commit (results are reported after each commit).",
)
@pass_state
def add(
    state: State, paths: tuple[Path, ...], follow_symlinks: bool, as_json: bool, batch_size: int
) -> None:
    """Store files and folders (recursively) as items, byte for byte.

    Each result is printed once it is durable (blob and ledger entry fsynced,
    index committed). Exit 1 if any path could not be added; the rest are kept.

    \b
    Example:
      vigil add ~/evidence/aleppo-2016-12/ statement.pdf
      vigil add --json photos/ | jq -r 'select(.status=="stored") | .id'
    """
    counts: Counter[str] = Counter()
    with state.open() as archive, _progress(state) as progress:
        total = _bytes_to_add(paths, follow_symlinks) if state.err.is_terminal else None
        task = progress.add_task("adding", total=total)
        # On a terminal, lines go through the progress display so they print above
        # the bar; elsewhere plain click.echo (rich costs ~1 ms a line).
        live = state.out.is_terminal and state.err.is_terminal

        def say(text: str, colour: str, error: bool = False) -> None:
            if live:
                progress.console.print(text, style=colour, markup=False, highlight=False)
            else:
                click.echo(click.style(text, fg=colour), err=error)

        def report(result: AddResult) -> None:
            counts[result.status] += 1
            if as_json:
                emit_json(result.as_json())
                return
            colour = _COLOUR[result.status]
            if result.item is not None:
                item = result.item
                say(f"{result.status:8} {item.id}  {item.sha256[:16]}  {result.path}", colour)
            else:
                error = result.status == "error"
                say(f"{result.status:8} {result.path}: {result.message}", colour, error)

        archive.add_paths(
            paths,
            follow_symlinks=follow_symlinks,
            report=report,
            on_bytes=lambda n: progress.advance(task, n),
            batch_size=batch_size,
        )
    if not as_json:
        summary = ", ".join(
            f"{counts[k]} {k}" for k in ("stored", "exists", "skipped", "error") if counts[k]
        )
        state.err.print(summary or "nothing to add")
    if counts["error"]:
        sys.exit(1)


@cli.command(name="ls")
@click.option("--limit", type=int, default=None, help="Show at most this many items.")
@click.option("--offset", type=int, default=0, help="Skip this many items first.")
@click.option("--json", "as_json", is_flag=True, help="Print the items as a JSON array.")
@pass_state
def ls_(state: State, limit: int | None, offset: int, as_json: bool) -> None:
    """List items, oldest first.

    \b
    Example:
      vigil ls --limit 20
    """
    with state.open() as archive:
        items = archive.items(limit, offset)
    if as_json:
        emit_json([i.as_json() for i in items])
        return
    # plain lines: ids and names are never cut, whatever the terminal's width
    for i in items:
        click.echo(f"{i.id}  {i.sha256[:16]}  {i.size:>12}  {i.media_type:24}  {i.name}")


@cli.command()
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help="Print the item as JSON.")
@pass_state
def show(state: State, item: str, as_json: bool) -> None:
    """Show one item: blob, media type, what the file claims, what we observed.

    ITEM is an item id or a unique prefix (4+ hex digits) of its SHA-256.

    \b
    Example:
      vigil show 2cf24dba
    """
    with state.open() as archive:
        row = archive.item(item)
        blob = archive.blobs.path(row.sha256)
        covered = archive.covering_checkpoint(row.added_index)
    if as_json:
        emit_json({**row.as_json(), "blob": str(blob), "checkpoint": covered})
        return
    out = state.out
    out.print(f"[bold]{row.id}[/]  {escape(row.name)}")
    out.print(f"  sha256      {row.sha256}")
    out.print(
        f"  size        {row.size} bytes   media type {row.media_type} (sniffed from the bytes)"
    )
    out.print(f"  path        {escape(row.path)}")
    out.print(f"  blob        {escape(str(blob))}")
    out.print("  claimed by the file (unverified):")
    for key, value in row.claimed.items():
        out.print(f"    {key:12}{escape(str(value))}")
    out.print("  observed by us:")
    for key, value in row.observed.items():
        out.print(f"    {key:12}{escape(str(value))}")
    out.print(
        f"  ledger      entry {row.added_index}, "
        + (
            f"signed in checkpoint of size {covered}"
            if covered
            else "not yet in a signed checkpoint"
        )
    )


def _event_line(ev: Event) -> str:
    actor = ev.data.get("actor", {})
    tool = f"{actor.get('tool', '?')} {actor.get('version', '?')}"
    who = f"{actor.get('user', '?')}@{actor.get('host', '?')} ({tool})"
    return f"{ev.at}  entry {ev.index:<8} {ev.type:16} {who}"


@cli.command()
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help="Print the events as a JSON array.")
@pass_state
def custody(state: State, item: str, as_json: bool) -> None:
    """The item's chain of custody: every ledger event naming it, as a timeline.

    \b
    Example:
      vigil custody 01JDQ3Z8M2X5V7K9N4P6R8T0W2
    """
    with state.open() as archive:
        events = archive.custody(item)
        covering = {ev.index: archive.covering_checkpoint(ev.index) for ev in events}
    if as_json:
        emit_json(
            [
                {"index": ev.index, "checkpoint": covering[ev.index], "event": ev.data}
                for ev in events
            ]
        )
        return
    for ev in events:
        signed = covering[ev.index]
        tail = f"signed at size {signed}" if signed else "not yet signed"
        state.out.print(f"{escape(_event_line(ev))}  {tail}")


@cli.command()
@pass_state
def checkpoint(state: State) -> None:
    """Sign and print a checkpoint of the whole log (C2SP tlog-checkpoint, signed note).

    \b
    Example:
      vigil checkpoint > latest.note
    """
    with state.open() as archive:
        _, note = archive.checkpoint()
    sys.stdout.write(note)


@cli.command()
@pass_state
def key(state: State) -> None:
    """Print the archive's verifier key (C2SP vkey); publish it so others can check you.

    \b
    Example:
      vigil key > archive.vkey
    """
    with state.open() as archive:
        sys.stdout.write(archive.verifier.vkey + "\n")


@cli.command()
@click.argument("item")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder to write the proofs into.",
)
@pass_state
def proof(state: State, item: str, out: Path) -> None:
    """For each event of ITEM, write its leaf bytes (<n>.json) and a proof (<n>.tlog-proof).

    Anyone can check them with the verifier key alone: see docs/verification.md,
    or `vigil verify-proof`.

    \b
    Example:
      vigil proof 2cf24dba --out proofs/
    """
    with state.open() as archive:
        written = archive.write_proofs(item, out)
    for path in written:
        state.out.print(escape(str(path)))


def _print_report(state: State, report: VerifyReport) -> None:
    for finding in report.findings:
        style = {"error": "bold red", "warning": "yellow", "info": "dim"}[finding.severity]
        console = state.err if finding.severity == "error" else state.out
        console.print(
            f"[{style}]{finding.severity}[/]: {escape(finding.subject)}: {escape(finding.message)}"
        )
    verdict = (
        "[green]OK[/]" if report.ok else f"[bold red]FAILED[/] ({len(report.errors)} problems)"
    )
    state.out.print(
        f"{verdict}: {report.entries} entries, {report.items} items, {report.blobs} blobs "
        f"({report.bytes_hashed} bytes re-hashed), {report.checkpoints} checkpoints"
    )


@cli.command()
@click.option(
    "--key", "key_text", help="A verifier key you trust (vkey text or a file holding it)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def verify(state: State, key_text: str | None, as_json: bool) -> None:
    """Re-hash every blob, rebuild the Merkle tree, check every checkpoint. Exit 1 on any problem.

    Reads only the archive's files (not the database), so it also checks a copy.

    \b
    Example:
      vigil verify --key archive.vkey
    """
    from vigil.verify import verify_archive

    trusted = _load_key(key_text) if key_text else None
    if not (state.archive_path / "vigil.toml").is_file():
        Archive.open(state.archive_path)  # raises the usual clear error
    with _progress(state) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        report = verify_archive(
            state.archive_path.resolve(), trusted_key=trusted, progress=on_progress
        )
    if as_json:
        emit_json(report.as_json())
    else:
        _print_report(state, report)
    if not report.ok:
        sys.exit(1)


def _load_key(text: str) -> Verifier:
    path = Path(text)
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
    return Verifier.from_vkey(text.strip())


@cli.command()
@pass_state
def reindex(state: State) -> None:
    """Rebuild the index database and the ledger caches from the ledger files.

    \b
    Example:
      vigil reindex
    """
    with state.open() as archive, _progress(state) as progress:
        task = progress.add_task("reindexing", total=None)
        entries = archive.reindex(
            progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
        items = archive.index.count_items()
    state.out.print(f"Reindexed {entries} ledger entries ({items} items).")

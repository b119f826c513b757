"""`vigil source …`, `vigil watch`, `vigil recheck`."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table

from vigil.capture.fetch import FetchOptions
from vigil.capture.live import StatusBoard
from vigil.cli.main import NO_ENRICH, State, cli, emit_json, pass_state
from vigil.errors import InputError
from vigil.watch.gone import recheck
from vigil.watch.loop import SourceStatus, Watcher, stop_on_signals
from vigil.watch.sources import KINDS, SourceList, parse_interval


def _sources(state: State) -> SourceList:
    state.open().close()  # the usual clear error when there is no archive
    return SourceList(state.archive_path / "sources.toml")


@cli.group()
def source() -> None:
    """Manage watched sources (kept in sources.toml in the archive).

    \b
    Example:
      vigil source add https://example.org/feed.xml --kind feed --every 10m
      vigil source ls
    """


@source.command(name="add")
@click.argument("url")
@click.option("--kind", type=click.Choice(KINDS), default="page", show_default=True)
@click.option("--every", default="5m", show_default=True, help="Poll interval: 90s, 5m, 1h, 1d.")
@click.option("--id", "source_id", help="A short name (default: from the host).")
@pass_state
def source_add(state: State, url: str, kind: str, every: str, source_id: str | None) -> None:
    """Watch URL.

    \b
    Example:
      vigil source add https://t.me/s/aleppo_news --kind page --every 2m
    """
    sources = _sources(state)
    added = sources.add(url, kind, parse_interval(every), source_id)
    sources.save()
    click.echo(f"watching {added.id}: {added.url} ({added.kind}, every {every})")


@source.command(name="rm")
@click.argument("source_id")
@pass_state
def source_rm(state: State, source_id: str) -> None:
    """Stop watching a source (what was captured from it stays).

    \b
    Example:
      vigil source rm example-org
    """
    sources = _sources(state)
    sources.remove(source_id)
    sources.save()


def _when(epoch: float | None) -> str:
    if not epoch:
        return "now"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _recordings(board: StatusBoard) -> Table:
    table = Table("live recording", "state", "duration", "segments", "MB", "last segment", "url")
    now = time.time()
    for status, alive in board.read():
        age = status.last_segment_at
        table.add_row(
            status.recording,
            status.state if alive else "interrupted",
            f"{status.duration:.0f} s",
            str(status.segments),
            f"{status.bytes / 1e6:.1f}",
            "-" if age is None else f"{now - age:.1f} s ago",
            status.url,
        )
    return table


def _view(statuses: list[SourceStatus], board: StatusBoard) -> Group:
    return Group(_table(statuses), _recordings(board))


def _table(statuses: list[SourceStatus]) -> Table:
    table = Table("source", "kind", "every", "last success", "last error", "next run", "captured")
    for s in statuses:
        table.add_row(
            s.source.id,
            s.source.kind,
            str(s.source.as_json()["every"]),
            s.last_success or "-",
            (s.last_error or "-")[:60],
            _when(s.next_run),
            str(s.captured),
        )
    return table


@source.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print the sources and their state as JSON.")
@pass_state
def source_ls(state: State, as_json: bool) -> None:
    """List sources with their polling state.

    \b
    Example:
      vigil source ls --json
    """
    sources = _sources(state)
    with state.open() as archive:
        statuses = Watcher(archive, list(sources.sources.values())).status()
    if as_json:
        emit_json([s.as_json() for s in statuses])
    else:
        state.out.print(_table(statuses))


@source.command(name="export")
@pass_state
def source_export(state: State) -> None:
    """Print the source list as TOML.

    \b
    Example:
      vigil source export > sources.toml
    """
    sys.stdout.write(_sources(state).to_toml())


@source.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
def source_import(state: State, file: Path) -> None:
    """Add the sources of a TOML file (those whose id and URL are new).

    \b
    Example:
      vigil source import colleagues-sources.toml
    """
    sources = _sources(state)
    added = sources.merge(file)
    sources.save()
    click.echo(f"{len(added)} sources added")


@cli.command()
@click.option(
    "--once",
    is_flag=True,
    help="Poll every due source once, then exit (once the recordings it started end).",
)
@click.option(
    "--host-gap",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Seconds between two requests to one host.",
)
@NO_ENRICH
@pass_state
def watch(state: State, once: bool, host_gap: float, no_enrich: bool) -> None:
    """Poll every source on its schedule and capture what is new, until stopped.

    Feeds: each new entry is captured once. Pages: captured when they change.
    Accounts: each new post, through yt-dlp. Streams: recorded while live
    (as `vigil record` does), several at once. Failing sources back off
    exponentially and never block the others. What is captured is enriched by a
    `vigil enrich` running beside the watch (unless --no-enrich). Ctrl-C or SIGTERM
    stops cleanly; a restart resumes without capturing anything twice.

    \b
    Example:
      vigil watch
      vigil watch --once   # from cron
    """
    sources = list(_sources(state).sources.values())
    if not sources:
        raise InputError("no sources to watch: add one with `vigil source add URL`")
    with state.open() as archive, stop_on_signals() as stop:
        watcher = Watcher(archive, sources, FetchOptions(), host_gap=host_gap,
                          enrich=not no_enrich)  # fmt: skip
        board = StatusBoard(archive.root)
        if state.err.is_terminal:
            view = _view(watcher.status(), board)
            with Live(view, console=state.err, refresh_per_second=2) as live:
                watcher.run(stop, once=once, on_cycle=lambda s: live.update(_view(s, board)))
        else:
            watcher.run(stop, once=once)
        final = watcher.status()
    failing = [s for s in final if s.failures]
    click.echo(f"{sum(s.captured for s in final)} items captured; {len(failing)} sources failing")


@cli.command(name="recheck")
@click.argument("items", nargs=-1)
@click.option("--all", "check_all", is_flag=True, help="Re-check every page and post captured.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item re-checked.")
@pass_state
def recheck_(state: State, items: tuple[str, ...], check_all: bool, as_json: bool) -> None:
    """Re-check captured items; log `item.gone` for those taken down (404/410/451, or
    the platform's message). Unreachable is not gone.

    \b
    Example:
      vigil recheck --all
    """
    with state.open() as archive:
        if check_all:
            rows = [i for i in archive.items() if i.kind in ("page", "post") and i.url]
        else:
            rows = [archive.item(ref) for ref in items]
        if not rows:
            raise InputError("nothing to re-check: give ITEM ids or --all")
        results = recheck(archive, rows)
    for result in results:
        if as_json:
            emit_json(result.as_json())
        else:
            click.echo(f"{result.outcome:11} {result.item.id}  {result.item.url}  {result.detail}")

"""`vigil record`: live streams, and `vigil record --status` of those running."""

from __future__ import annotations

import sys
import threading
import time

import click

from vigil.capture.fetch import DEFAULT_USER_AGENT, FetchOptions
from vigil.capture.live import StatusBoard
from vigil.capture.record import RecordingResult, RecordOptions, StreamRecorder
from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.db.index import ItemRow
from vigil.errors import InputError, VigilError
from vigil.watch.loop import stop_on_signals


def _show_status(state: State, as_json: bool) -> None:
    state.open().close()  # the usual clear error when there is no archive
    rows = StatusBoard(state.archive_path).read()
    if as_json:
        emit_json([{**s.as_json(), "process_alive": alive} for s, alive in rows])
        return
    if not rows:
        click.echo("no live recordings")
        return
    now = time.time()
    for status, alive in rows:
        age = "-" if status.last_segment_at is None else f"{now - status.last_segment_at:.1f}s"
        what = status.state if alive else "interrupted (process gone; record the URL to resume)"
        click.echo(
            f"{status.recording}  {what:10}  {status.duration:8.1f}s  {status.segments:6} segments"
            f"  {status.bytes / 1e6:9.1f} MB  last segment {age} ago  {status.url}"
        )


def _summary(result: RecordingResult) -> str:
    how = {
        "ended": "the stream ended",
        "stopped": "stopped on request",
        "stalled": "the stream ended abnormally (stalled)",
        "vanished": "the stream ended abnormally (vanished)",
        "failed": "the recording failed",
    }[result.reason]
    lost = f", {len(result.missing)} missing" if result.missing else ""
    again = " (resumed)" if result.resumed else ""
    return (
        f"recording {result.recording.id}{again}: {how}: {result.detail}; kept {result.segments}"
        f" segments, {result.duration:.1f} s, {result.bytes / 1e6:.1f} MB{lost}"
    )


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--all-variants", is_flag=True, help="Keep every variant, not only the best.")
@click.option(
    "--give-up",
    type=click.FloatRange(1),
    default=30.0,
    show_default=True,
    help="End after this many seconds without a new segment (everything is kept).",
)
@click.option(
    "--checkpoint-every",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Sign a checkpoint this often (seconds) while recording.",
)
@click.option("--no-assemble", is_flag=True, help="Keep the segments only; no remuxed file.")
@click.option("--user-agent", default=DEFAULT_USER_AGENT, help="User-Agent to send.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the server to answer or send more.",
)
@click.option("--status", "show_status", is_flag=True, help="Show the recordings running now.")
@click.option(
    "--json", "as_json", is_flag=True, help="A line per item once durable, then a summary."
)
@pass_state
def record(
    state: State,
    urls: tuple[str, ...],
    all_variants: bool,
    give_up: float,
    checkpoint_every: float,
    no_assemble: bool,
    user_agent: str,
    timeout: float,
    show_status: bool,
    as_json: bool,
) -> None:
    """Record HLS live streams while they are live, every segment proven as it arrives.

    A URL is an HLS playlist (.m3u8, master or media) or a platform's live page
    (resolved by yt-dlp, or streamlink when installed). Recording starts from the
    earliest segment still listed; each segment is stored and logged before the
    next is fetched; it ends when the playlist says so, or after --give-up seconds
    without a new segment, or on Ctrl-C, and exits 0 having kept everything. Then
    the segments are remuxed, without re-encoding, into one file (a derivative).
    Several URLs are recorded at once. A recording whose process died is resumed
    by recording the same URL again.

    \b
    Examples:
      vigil record https://example.org/live/index.m3u8 --give-up 60
      vigil record --status
    """
    if show_status:
        _show_status(state, as_json)
        return
    if not urls:
        raise InputError("give at least one stream URL to record (or --status)")
    options = RecordOptions(
        give_up=give_up,
        all_variants=all_variants,
        checkpoint_every=checkpoint_every,
        assemble=not no_assemble,
        fetch=FetchOptions(user_agent=user_agent, read_timeout=timeout, connect_timeout=timeout),
    )
    printing = threading.Lock()

    def on_item(row: ItemRow) -> None:
        with printing:
            if as_json:
                emit_json({**row.brief(), "parent": row.parent_id})
            elif row.kind in ("stream", "remux"):
                click.echo(f"{row.kind:8} {row.id}  {row.sha256[:16]}  {row.url or row.name}")

    failed = 0
    with state.open() as archive, stop_on_signals() as stop:
        results: list[RecordingResult | VigilError] = []

        def one(url: str) -> None:
            try:
                recorder = StreamRecorder(archive, url, options, stop=stop, on_item=on_item)
                results.append(recorder.run())
            except VigilError as exc:
                results.append(exc)
            except Exception as exc:  # reported, and the exit status says so
                results.append(VigilError(f"{url}: {type(exc).__name__}: {exc}"))

        threads = [threading.Thread(target=one, args=(u,), daemon=True) for u in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # stay responsive to signals
    for outcome in results:
        if isinstance(outcome, VigilError):
            failed += 1
            if as_json:
                emit_json({"error": str(outcome)})
            else:
                click.echo(f"error    {outcome}", err=True)
            continue
        failed += outcome.reason == "failed"
        if as_json:
            emit_json({"recording": outcome.as_json()})
        else:
            click.echo(_summary(outcome), err=outcome.abnormal)
            for problem in outcome.problems:
                click.echo(f"warning  {problem}", err=True)
    if failed:
        sys.exit(1)

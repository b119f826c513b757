"""Ways in: `vigil capture` (web pages) and `vigil import` (exports)."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from vigil.archive import Archive
from vigil.capture.fetch import DEFAULT_USER_AGENT, FetchOptions
from vigil.capture.imports import IMPORTERS, import_export
from vigil.capture.media import (
    MAX_ENTRIES,
    PlatformCapturer,
    capture_post_or_page,
    platform_extractor,
)
from vigil.capture.web import CaptureResult, WebCapturer
from vigil.cli.main import NO_ENRICH, State, cli, emit_json, pass_state
from vigil.errors import CaptureError


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--no-media", is_flag=True, help="Capture the page only, not the media it shows.")
@click.option("--no-screenshot", is_flag=True, help="Do not render a screenshot with Chromium.")
@click.option(
    "--yt-dlp",
    "via",
    flag_value="yt-dlp",
    help="Capture through yt-dlp even where no platform extractor claims the URL.",
)
@click.option(
    "--web",
    "via",
    flag_value="web",
    help="Capture as a web page even where a yt-dlp platform extractor claims the URL.",
)
@click.option(
    "--user-agent",
    default=DEFAULT_USER_AGENT,
    show_default=False,
    help="User-Agent to send (default: a common browser's).",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(1),
    default=1 << 30,
    show_default=True,
    help="Cut any one response at this size (reported).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the server to answer or send more.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Accept TLS certificates that do not verify (the certificate is still recorded).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per URL: every item created, problems."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Web pages fetched at once, in all (their captures are logged in groups).",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=min(os.cpu_count() or 1, 4),
    show_default="cores, at most 4",
    help="Worker processes fetching and storing web pages (used from 32 consecutive pages on).",
)
@click.option(
    "--max-entries",
    type=click.IntRange(1),
    default=MAX_ENTRIES,
    show_default=True,
    help="Media of one post (or videos of a playlist URL) captured through yt-dlp, at most.",
)
@NO_ENRICH
@pass_state
def capture(
    state: State,
    urls: tuple[str, ...],
    no_media: bool,
    no_screenshot: bool,
    via: str | None,
    user_agent: str,
    max_bytes: int,
    timeout: float,
    insecure: bool,
    as_json: bool,
    concurrency: int,
    processes: int,
    max_entries: int,
    no_enrich: bool,
) -> None:
    """Capture web pages and platform posts, with their media and text.

    A URL that a yt-dlp platform extractor claims (YouTube, X, Facebook, TikTok,
    Telegram, Vimeo, ...) is captured through yt-dlp: best-quality media (every one
    of a post, up to --max-entries), thumbnails, subtitles, the info.json as the
    post; if yt-dlp gets nothing (a text-only post), the URL is captured as a web
    page instead, with a warning saying why. Any other URL is captured
    as a web page: every redirect hop, the page and its media (one hop) recorded
    as WARC 1.1 with server IPs and TLS certificates; each body an item, the
    page's text a derivative. Exit 1 if any URL could not be captured at all.
    Then `vigil enrich` runs on what is new (unless --no-enrich).

    \b
    Example:
      vigil capture https://example.org/statement --json
    """
    from vigil.capture import webpool

    if processes > 1 and len(urls) >= 2 * webpool.CHUNK:  # (web pages may be many)
        webpool.warm_up()
    options = FetchOptions(
        user_agent=user_agent, read_timeout=timeout, max_bytes=max_bytes, verify_tls=not insecure
    )
    failed = 0
    with state.open() as archive:
        platform = PlatformCapturer(archive, options, max_entries=max_entries)
        failed = _capture_all(
            archive, urls, platform, no_media, no_screenshot, via, as_json, concurrency, processes
        )
        if not no_enrich:
            _enrich(state, archive)
    if failed:
        sys.exit(1)


def _enrich(state: State, archive: Archive) -> None:
    from vigil.cli.enrich import enrich_stored  # loaded only when used (heavy)

    enrich_stored(state, archive)


def _capture_all(
    archive: Archive, urls: tuple[str, ...], platform: PlatformCapturer, no_media: bool,
    no_screenshot: bool, via: str | None, as_json: bool, concurrency: int, processes: int,
) -> int:  # fmt: skip
    """Capture each URL; return how many could not be captured at all."""
    failed = 0
    with archive.blobs.deferred_sync():
        web = WebCapturer(
            archive, platform.options, media=not no_media, screenshot=not no_screenshot
        )

        def by_ytdlp(url: str) -> bool:
            return via == "yt-dlp" or (via is None and platform_extractor(url) is not None)

        for use_ytdlp, run in itertools.groupby(urls, key=by_ytdlp):
            outcomes: Iterable[tuple[str, CaptureResult | CaptureError]]
            if use_ytdlp:
                outcomes = ((url, _platform_capture(platform, web, url)) for url in run)
            else:  # consecutive web pages: fetched concurrently, logged in groups
                outcomes = web.capture_many(run, workers=concurrency, processes=processes)
            for url, outcome in outcomes:
                failed += _report(url, outcome, as_json)
        archive.checkpoint()  # one signature covering every capture of this run
    return failed


def _platform_capture(
    platform: PlatformCapturer, web: WebCapturer, url: str
) -> CaptureResult | CaptureError:
    try:
        return capture_post_or_page(platform, web, url)
    except CaptureError as exc:
        return exc


def _report(url: str, outcome: CaptureResult | CaptureError, as_json: bool) -> int:
    """Print one capture's outcome; 1 if it failed."""
    if isinstance(outcome, CaptureError):
        if as_json:
            emit_json({"url": url, "items": [], "problems": [str(outcome)], "error": True})
        else:
            click.echo(f"error    {outcome}", err=True)
        return 1
    if as_json:
        emit_json(outcome.as_json())
        return 0
    for item in outcome.items:
        click.echo(f"{item.kind:8} {item.id}  {item.sha256[:16]}  {item.url or item.name}")
    for problem in outcome.problems:
        click.echo(f"warning  {problem}", err=True)
    return 0


@cli.command(name="import")
@click.argument("kind", type=click.Choice([*sorted(IMPORTERS), "warc"]))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the files and posts stored as JSON.")
@NO_ENRICH
@pass_state
def import_(state: State, kind: str, path: Path, as_json: bool, no_enrich: bool) -> None:
    """Import an export: its files kept as they are, each post an item linked to its media.

    KIND is telegram (a Telegram Desktop JSON export: result.json or its folder),
    x-archive (an X/Twitter "your archive" folder, or its data/ folder), or warc
    (WARC, ARC or WACZ files, or a folder of them: every record indexed, digests
    checked; a file that cannot be read to its end is refused, the rest go on).

    \b
    Example:
      vigil import telegram ~/Downloads/ChatExport_2016-12-13/
      vigil import x-archive ~/twitter-archive --json
      vigil import warc crawls/

    Then `vigil enrich` runs on what is new (unless --no-enrich).
    """
    if kind == "warc":
        _import_warcs(state, path, as_json, no_enrich)
        return
    importer = IMPORTERS[kind](path)
    with state.open() as archive:
        result = import_export(archive, importer)
        if not no_enrich:
            _enrich(state, archive)
    if as_json:
        emit_json(result.as_json())
        return
    stored = sum(1 for f in result.files if f.status == "stored")
    click.echo(
        f"{len(result.posts)} posts stored ({result.already_held} already held), "
        f"{stored} export files stored, {result.missing_media} media not in the export"
    )
    for problem in result.problems:
        click.echo(f"warning  {problem}", err=True)


def _import_warcs(state: State, path: Path, as_json: bool, no_enrich: bool) -> None:
    from vigil.capture.imports.warcs import import_warcs

    with state.open() as archive:
        result = import_warcs(archive, path)
        if not no_enrich:
            _enrich(state, archive)
    if as_json:
        emit_json(result.as_json())
    else:
        click.echo(f"{len(result.files)} files imported, {len(result.records)} records stored")
        for problem in result.problems:
            click.echo(f"warning  {problem}", err=True)
        for refused in result.refused:
            click.echo(f"error    {refused}", err=True)
    if result.refused:
        sys.exit(1)

"""`vigil capture`: web pages with their media and text."""

from __future__ import annotations

import sys

import click

from vigil.capture.fetch import DEFAULT_USER_AGENT, FetchOptions
from vigil.capture.web import WebCapturer
from vigil.cli.main import State, cli, emit_json, pass_state
from vigil.errors import CaptureError


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--no-media", is_flag=True, help="Capture the page only, not the media it shows.")
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
@pass_state
def capture(
    state: State,
    urls: tuple[str, ...],
    no_media: bool,
    user_agent: str,
    max_bytes: int,
    timeout: float,
    insecure: bool,
    as_json: bool,
) -> None:
    """Capture web pages: the full HTTP exchange as WARC, each medium, the main text.

    Every redirect hop, the page and its media (one hop) are recorded as WARC 1.1
    with server IPs (and TLS certificates); each body becomes an item, and the
    page's text a derivative. Exit 1 if any URL gave no response at all.

    \b
    Example:
      vigil capture https://example.org/statement --json
    """
    options = FetchOptions(
        user_agent=user_agent, read_timeout=timeout, max_bytes=max_bytes, verify_tls=not insecure
    )
    failed = 0
    with state.open() as archive:
        capturer = WebCapturer(archive, options, media=not no_media)
        for url in urls:
            try:
                result = capturer.capture(url)
            except CaptureError as exc:
                failed += 1
                if as_json:
                    emit_json({"url": url, "items": [], "problems": [str(exc)], "error": True})
                else:
                    click.echo(f"error    {exc}", err=True)
                continue
            if as_json:
                emit_json(result.as_json())
                continue
            for item in result.items:
                click.echo(f"{item.kind:8} {item.id}  {item.sha256[:16]}  {item.url or item.name}")
            for problem in result.problems:
                click.echo(f"warning  {problem}", err=True)
    if failed:
        sys.exit(1)

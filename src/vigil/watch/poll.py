"""One poll of one source: what is new there, and capture it.

* ``feed`` (RSS/Atom, feedparser): a conditional GET; when the feed changed, the
  feed itself is captured (evidence of what it listed, and when). Then every entry
  not captured yet (`vigil.watch.entries`: a 2xx capture of the link as requested)
  is captured, or tried again on later polls even when the feed did not change,
  each with its own backoff.
* ``page``: a conditional GET; captured when its content hash differs from the
  last poll's. When a watched page or feed starts answering 404/410/451, the pages
  captured from it get their ``item.gone`` (once; `vigil.watch.gone.mark_gone`).
* ``account`` (channel, playlist, profile): yt-dlp's flat listing; every entry not
  captured yet goes through yt-dlp (one that fails backs off as a feed entry does).
* ``stream``: when the stream is live and not being recorded, a recording starts
  on its own thread (`vigil.watch.recorders`); the poll itself returns at once.

The polling requests themselves are not evidence (they decide what to capture);
every capture goes through `WebCapturer` / `PlatformCapturer` and the ledger.

A capture of one entry that fails in any way, even by a bug (an unexpected
exception), is that entry's problem: the other entries are still captured.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import feedparser
import requests
import yt_dlp
from yt_dlp.utils import DownloadError

from vigil.capture.fetch import FetchOptions, polite_session
from vigil.capture.media import PlatformCapturer, capture_post_or_page, platform_extractor
from vigil.capture.web import WebCapturer
from vigil.errors import CaptureError, VigilError
from vigil.watch.entries import MAX_ATTEMPTS, EntryRetries, captured_urls, last_feed
from vigil.watch.gone import GONE_STATUSES, mark_gone
from vigil.watch.recorders import Recorders
from vigil.watch.sources import Source

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["PollOutcome", "PollState", "Poller"]

logger = logging.getLogger(__name__)


@dataclass
class PollState:
    """What the last poll of a source left for the next one."""

    etag: str | None = None
    last_modified: str | None = None
    content_sha256: str | None = None


@dataclass
class PollOutcome:
    state: PollState
    captured: list[str] = field(default_factory=list)  # item ids
    problems: list[str] = field(default_factory=list)
    unchanged: bool = False


class Poller:
    def __init__(
        self,
        archive: Archive,
        options: FetchOptions | None = None,
        recorders: Recorders | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """*clock*: the time entry retries are scheduled by (the watch's own clock)."""
        self.archive = archive
        self.clock = clock
        self.retries = EntryRetries()
        self._pending: dict[str, list[str]] = {}  # feed source id -> entries not captured yet
        self.recorders = recorders
        self.options = options or FetchOptions()
        self.session = polite_session(self.options)
        self.web = WebCapturer(archive, self.options)
        self.feed_web = WebCapturer(archive, self.options, media=False)  # the feed document
        self.platform = PlatformCapturer(archive, self.options)

    def poll(self, source: Source, state: PollState) -> PollOutcome:
        """Poll *source*; `CaptureError` if the source itself cannot be reached."""
        if source.kind == "feed":
            return self._feed(source, state)
        if source.kind == "page":
            return self._page(source, state)
        if source.kind == "account":
            return self._account(source, state)
        if self.recorders is None:
            raise CaptureError(f"{source.url}: streams are recorded by `vigil watch`")
        said = self.recorders.check(source)
        return PollOutcome(state, unchanged=said != "started recording")

    def _get(self, source: Source, state: PollState) -> tuple[Any, bytes] | None:
        """Conditional GET; None when the server says nothing changed (304)."""
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        try:
            response = self.session.get(
                source.url,
                headers=headers,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
                stream=True,
            )
            with response:
                if response.status_code == 304:
                    return None
                body = response.raw.read(self.options.max_bytes + 1, decode_content=True)
        except requests.RequestException as exc:
            raise CaptureError(f"{source.url}: cannot poll: {type(exc).__name__}") from None
        if response.status_code >= 400:
            message = f"HTTP {response.status_code} {response.reason}".strip()
            if response.status_code in GONE_STATUSES:
                mark_gone(self.archive, source.url, response.status_code, message)
            raise CaptureError(f"{source.url}: {message}")
        if len(body) > self.options.max_bytes:
            raise CaptureError(f"{source.url}: larger than {self.options.max_bytes} bytes")
        return response.headers, body

    def _changed(self, source: Source, state: PollState) -> tuple[bytes | None, PollState]:
        """The body if the source changed since *state*, and the state to keep."""
        got = self._get(source, state)
        if got is None:
            return None, state
        headers, body = got
        new = PollState(
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            content_sha256=hashlib.sha256(body).hexdigest(),
        )
        return (None if new.content_sha256 == state.content_sha256 else body), new

    def _capture(
        self, url: str, capturer: WebCapturer | PlatformCapturer | None = None
    ) -> list[str]:
        """Capture *url*: an entry or a page that a platform extractor claims (a video
        in a channel's RSS feed) goes through yt-dlp, as with `vigil capture`, and
        what yt-dlp cannot take is captured as a web page."""
        capturer = capturer or self.web
        if capturer is self.platform or (
            capturer is self.web and platform_extractor(url) is not None
        ):
            result = capture_post_or_page(self.platform, self.web, url, checkpoint=True)
        else:
            result = capturer.capture(url)
        return [i.id for i in result.items]

    def _feed(self, source: Source, state: PollState) -> PollOutcome:
        body, new_state = self._changed(source, state)
        outcome = PollOutcome(new_state)
        if body is not None:  # (an entry no longer listed is still owed its capture)
            links = self._read_feed(source, body, outcome) + self._pending.get(source.id, [])
        elif source.id in self._pending:
            links = self._pending[source.id]
        else:  # first poll since the watch started, and the feed did not change
            links = _links(feedparser.parse(last_feed(self.archive, source.url) or b""))
        self._pending[source.id] = self._entries(source, links, outcome, self.web)
        outcome.unchanged = body is None and not outcome.captured
        return outcome

    def _read_feed(self, source: Source, body: bytes, outcome: PollOutcome) -> list[str]:
        """Capture the changed feed document; the links of its entries."""
        parsed: Any = feedparser.parse(body)
        if parsed.bozo and not parsed.entries:
            raise CaptureError(f"{source.url}: not a readable feed ({parsed.bozo_exception})")
        if parsed.bozo:  # feedparser read part of it: keep the document, say what is wrong
            outcome.problems.append(
                f"{source.url}: malformed feed ({parsed.bozo_exception}); read as far as it goes"
            )
        outcome.captured += self._capture(source.url, self.feed_web)
        return _links(parsed)

    def _entries(
        self,
        source: Source,
        links: list[str],
        outcome: PollOutcome,
        capturer: WebCapturer | PlatformCapturer,
    ) -> list[str]:
        """Capture those of *links* not captured yet whose retry is due; the links
        still to be captured on a later poll (those given up excepted)."""
        done = captured_urls(self.archive, links)
        pending = []
        for link in dict.fromkeys(links):
            if link in done:
                continue
            if self.retries.due(link, self.clock()):
                if self._capture_entry(link, capturer, outcome):
                    continue
                failures = self.retries.failed(link, source.every, self.clock())
                if failures >= MAX_ATTEMPTS:
                    outcome.problems.append(f"{link}: not captured in {failures} tries; given up")
            if not self.retries.given_up(link):
                pending.append(link)
        return pending

    def _capture_entry(
        self, link: str, capturer: WebCapturer | PlatformCapturer, outcome: PollOutcome
    ) -> bool:
        """Capture one entry; whether it is now captured (a 2xx, or a post).

        Any exception is this entry's problem, not the source's: a capture bug on
        one entry must not keep the others (listed after it) from being captured.
        """
        try:
            outcome.captured += self._capture(link, capturer)
        except VigilError as exc:
            outcome.problems.append(str(exc))
        except Exception as exc:
            logger.exception("%s: unexpected error while capturing it", link)
            outcome.problems.append(f"{link}: unexpected {type(exc).__name__}: {exc}")
            return False
        if link in captured_urls(self.archive, [link]):
            self.retries.succeeded(link)
            return True
        return False

    def _page(self, source: Source, state: PollState) -> PollOutcome:
        body, new_state = self._changed(source, state)
        outcome = PollOutcome(new_state, unchanged=body is None)
        if body is not None:
            outcome.captured += self._capture(source.url)
        return outcome

    def _account(self, source: Source, state: PollState) -> PollOutcome:
        options = {"extract_flat": "in_playlist", "quiet": True, "no_warnings": True}
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                listing = ydl.extract_info(source.url, download=False)
        except DownloadError as exc:
            raise CaptureError(
                f"{source.url}: cannot list: {' '.join(str(exc).split())[:200]}"
            ) from None
        outcome = PollOutcome(state)
        entries = (listing or {}).get("entries") or [listing or {}]
        urls = [(e or {}).get("url") or (e or {}).get("webpage_url") for e in entries]
        self._entries(source, [u for u in urls if isinstance(u, str)], outcome, self.platform)
        outcome.unchanged = not outcome.captured
        return outcome

    def already_captured(self, url: str) -> bool:
        """Whether *url* was captured successfully (`vigil.watch.entries.captured_urls`)."""
        return url in captured_urls(self.archive, [url])


def _links(parsed: Any) -> list[str]:
    """The links of a parsed feed's entries, in order."""
    return [str(e["link"]) for e in parsed.entries if e.get("link")]

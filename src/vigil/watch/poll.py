"""One poll of one source: what is new there, and capture it.

* ``feed`` (RSS/Atom, feedparser): a conditional GET; when the feed changed, the
  feed itself is captured (evidence of what it listed, and when) and then every
  entry whose link has not been captured yet.
* ``page``: a conditional GET; captured when its content hash differs from the
  last poll's.
* ``account`` (channel, playlist, profile): yt-dlp's flat listing; every entry not
  captured yet goes through yt-dlp.
* ``stream``: when the stream is live and not being recorded, a recording starts
  on its own thread (`vigil.watch.recorders`); the poll itself returns at once.

The polling requests themselves are not evidence (they decide what to capture);
every capture goes through `WebCapturer` / `PlatformCapturer` and the ledger.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import feedparser
import requests
import yt_dlp
from sqlalchemy import select
from yt_dlp.utils import DownloadError

from vigil.capture.fetch import FetchOptions, polite_session
from vigil.capture.media import PlatformCapturer
from vigil.capture.web import WebCapturer
from vigil.db.schema import items
from vigil.errors import CaptureError, VigilError
from vigil.watch.recorders import Recorders
from vigil.watch.sources import Source

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["PollOutcome", "PollState", "Poller"]


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
    ) -> None:
        self.archive = archive
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
            raise CaptureError(f"{source.url}: HTTP {response.status_code}")
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
        return [i.id for i in (capturer or self.web).capture(url).items]

    def _feed(self, source: Source, state: PollState) -> PollOutcome:
        body, new_state = self._changed(source, state)
        outcome = PollOutcome(new_state, unchanged=body is None)
        if body is None:
            return outcome
        parsed: Any = feedparser.parse(body)
        if parsed.bozo and not parsed.entries:
            raise CaptureError(f"{source.url}: not a readable feed ({parsed.bozo_exception})")
        if parsed.bozo:  # feedparser read part of it: keep the document, say what is wrong
            outcome.problems.append(
                f"{source.url}: malformed feed ({parsed.bozo_exception}); read as far as it goes"
            )
        outcome.captured += self._capture(source.url, self.feed_web)
        for entry in parsed.entries:
            link = entry.get("link")
            if not link or self.already_captured(link):
                continue
            try:
                outcome.captured += self._capture(link)
            except VigilError as exc:
                outcome.problems.append(str(exc))
        return outcome

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
        for entry in entries:
            url = (entry or {}).get("url") or (entry or {}).get("webpage_url")
            if not url or self.already_captured(url):
                continue
            try:
                outcome.captured += self._capture(url, self.platform)
            except VigilError as exc:
                outcome.problems.append(str(exc))
        outcome.unchanged = not outcome.captured
        return outcome

    def already_captured(self, url: str) -> bool:
        """Whether a page or post was captured from *url* (derived from the ledger's items)."""
        query = select(items.c.id).where(items.c.url == url, items.c.kind.in_(("page", "post")))
        with self.archive.index.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

"""`vigil record URL`: record an HLS live stream while it is live, segment by segment.

A stream can die at any moment, so nothing waits for its end. Every media segment
is fetched as soon as a playlist lists it, stored as a blob (fsync) and logged as
its own ``item.added`` event (kind ``segment``) **before the next one is fetched**;
a checkpoint is signed every few seconds. If the stream dies at minute 3, minutes
0-3 are already durable and provable.

The items of one recording, all children of the ``stream`` item (whose blob is the
first playlist fetched):

* ``playlist``: every distinct version of a playlist, with when we fetched it;
* ``segment``: what the playlist claimed (sequence number, duration, program date
  time, discontinuity, key and IV, init section, which media playlist listed it)
  under ``claimed``; our fetch (start, end, status, attempts) under ``fetched``;
* ``key`` and ``init``: AES-128 keys and fMP4 init sections, once per URI;
* at the end, ``stream.ended`` says why (`Reason`) and lists what is missing, and a
  ``remux`` derivative assembles the segments into one playable file (see
  `vigil.capture.assemble`).

Recording starts from the earliest segment still listed (live restart). Playlists
are reloaded as RFC 8216 section 6.3.4 asks: a target duration after a reload that
changed, half of one after a reload that did not. A recording whose process died
(no ``stream.ended``) is resumed by the next ``vigil record`` of the same URL.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import requests
import urllib3
from sqlalchemy import and_, select

from vigil import __version__
from vigil.capture.fetch import FetchOptions
from vigil.capture.hls import PLAYLIST_TYPE, MediaPlaylist, best_variant, parse_playlist
from vigil.capture.live import LiveStatus, Resolved, StatusBoard, resolve_stream
from vigil.capture.stream_end import finish
from vigil.capture.variant import VariantRecorder
from vigil.db.index import ItemRow
from vigil.db.schema import events, items
from vigil.errors import CaptureError
from vigil.events import (
    DERIVATIVE_ADDED,
    ITEM_ADDED,
    STREAM_ENDED,
    STREAM_MISSING,
    Actor,
    rfc3339,
    utc_now,
)
from vigil.ids import new_item_id
from vigil.sniff import sniff_media_type

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["RecordOptions", "RecordingResult", "StreamRecorder"]

logger = logging.getLogger(__name__)

Reason = Literal["ended", "stalled", "vanished", "stopped", "failed"]
_active: set[str] = set()  # recordings running in this process (a URL is recorded once)
_active_lock = threading.Lock()


@dataclass
class RecordOptions:
    give_up: float = 30.0  # seconds without a new segment before the recording ends
    all_variants: bool = False
    segment_tries: int = 4  # a segment answering 404/5xx is retried, backing off
    retry_wait: float = 0.5
    checkpoint_every: float = 10.0
    assemble: bool = True
    max_segment_bytes: int = 1 << 30
    fetch: FetchOptions = field(default_factory=FetchOptions)


@dataclass
class RecordingResult:
    url: str
    recording: ItemRow
    resumed: bool
    reason: Reason = "ended"
    detail: str = ""
    segments: int = 0
    bytes: int = 0
    duration: float = 0.0
    missing: list[dict[str, Any]] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def abnormal(self) -> bool:
        """The stream stopped without saying so (no EXT-X-ENDLIST) and not on our request."""
        return self.reason in ("stalled", "vanished", "failed")

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "recording": self.recording.id,
            "resumed": self.resumed,
            "reason": self.reason,
            "abnormal": self.abnormal,
            "detail": self.detail,
            "segments": self.segments,
            "bytes": self.bytes,
            "duration": round(self.duration, 3),
            "missing": self.missing,
            "items": [i.brief() for i in self.items],
            "problems": self.problems,
        }


@dataclass
class Got:
    url: str
    status: int
    body: bytes
    content_type: str
    started: str  # RFC 3339
    completed: str


class StreamRecorder:
    """Records one live stream into an archive: ``StreamRecorder(archive, url).run()``."""

    def __init__(
        self,
        archive: Archive,
        url: str,
        options: RecordOptions | None = None,
        *,
        stop: threading.Event | None = None,
        on_item: Callable[[ItemRow], None] | None = None,
    ) -> None:
        self.archive = archive
        self.url = url
        self.options = options or RecordOptions()
        self.stop = stop or threading.Event()
        self.on_item = on_item
        self.actor = Actor.current().as_json()
        self.session = requests.Session()
        self.session.headers["User-Agent"] = self.options.fetch.user_agent
        self.board = StatusBoard(archive.root)
        self._lock = threading.Lock()
        self._last_checkpoint = time.monotonic()
        # Resuming: media playlist URI -> {sequence: program date time} of segments held.
        self.resumed: dict[str, dict[int, dt.datetime | None]] = {}
        self.held_aux: dict[str, str] = {}  # key/init URI -> item id
        self.failed_aux: set[str] = set()
        self.result: RecordingResult | None = None
        self.first_playlist_item = ""  # the item holding the first playlist fetched
        self.status: LiveStatus | None = None

    # -- fetching ----------------------------------------------------------------------

    def fetch(
        self, url: str, limit: int | None = None, byterange: tuple[int, int] | None = None
    ) -> Got:
        """GET *url* (a byte range of it: length, offset); a failure on the way, even
        mid-body, is a `requests.RequestException` (the caller decides what it means)."""
        limit = limit or self.options.fetch.max_bytes
        started = rfc3339(utc_now())
        timeout = (self.options.fetch.connect_timeout, self.options.fetch.read_timeout)
        headers = {}
        if byterange is not None:
            length, offset = byterange
            headers["Range"] = f"bytes={offset}-{offset + length - 1}"
        with self.session.get(url, timeout=timeout, stream=True, headers=headers) as response:
            try:
                body = response.raw.read(limit + 1, decode_content=True)
            except urllib3.exceptions.HTTPError as exc:  # dropped or timed out mid-body
                raise requests.ConnectionError(f"{url}: {exc}") from None
            if len(body) > limit:
                raise CaptureError(f"{url}: larger than {limit} bytes")
            if byterange is not None and response.status_code == 200:
                body = body[byterange[1] : byterange[1] + byterange[0]]  # Range ignored
            return Got(
                url=response.url,
                status=response.status_code,
                body=body,
                content_type=response.headers.get("Content-Type", ""),
                started=started,
                completed=rfc3339(utc_now()),
            )

    # -- logging -----------------------------------------------------------------------

    def log(self, *datas: dict[str, Any]) -> list[ItemRow]:
        logged = self.archive.append_events(list(datas))
        added = (ITEM_ADDED, DERIVATIVE_ADDED)
        rows = [ItemRow.from_event(ev) for ev in logged if ev.type in added]
        with self._lock:
            assert self.result is not None
            self.result.items += rows
            since = time.monotonic() - self._last_checkpoint
            checkpoint_due = since >= self.options.checkpoint_every
            if checkpoint_due:
                self._last_checkpoint = time.monotonic()
        if checkpoint_due:
            self.archive.checkpoint()
        for row in rows:
            if self.on_item is not None:
                self.on_item(row)
        return rows

    def child_event(
        self,
        kind: str,
        got: Got,
        media_type: str = "",
        extra: dict[str, Any] | None = None,
        *,
        url: str | None = None,
    ) -> dict[str, Any]:
        """An ``item.added`` event for a child of the recording; its blob is stored (fsync)."""
        assert self.result is not None
        blob = self.archive.blobs.put(io.BytesIO(got.body))
        event: dict[str, Any] = {
            "v": 1,
            "type": ITEM_ADDED,
            "kind": kind,
            "at": rfc3339(utc_now()),
            "item": new_item_id(),
            "parent": self.result.recording.id,
            "sha256": blob.sha256,
            "size": blob.size,
            "media_type": media_type or sniff_media_type(blob.head),
            "name": (url or got.url).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or kind,
            "url": url or got.url,
            "fetched": {
                "final_url": got.url,
                "started": got.started,
                "completed": got.completed,
                "status": got.status,
                "content_type": got.content_type,
            },
            "actor": self.actor,
        }
        event.update(extra or {})
        return event

    # -- the recording ---------------------------------------------------------------

    def run(self) -> RecordingResult:
        """Record until the stream ends, stalls, vanishes or `stop` is set."""
        resolved = resolve_stream(self.url, self.options.fetch)
        try:
            first = self.fetch(resolved.playlist_url)
        except requests.RequestException as exc:
            raise CaptureError(f"{resolved.playlist_url}: cannot fetch: {exc}") from None
        if first.status >= 400:
            raise CaptureError(f"{resolved.playlist_url}: HTTP {first.status}")
        top = parse_playlist(first.body, first.url)
        self.result = self._start(resolved, first)
        result = self.result
        self.status = LiveStatus(result.recording.id, self.url, os.getpid(), time.time())
        self.board.write(self.status)
        try:
            try:
                self._record(top, first)
            except Exception as exc:  # a bug or the disk: end the recording, keep what is held
                logger.exception("recording %s failed", result.recording.id)
                result.reason, result.detail = "failed", f"{type(exc).__name__}: {exc}"
            finish(self, result)
        finally:
            self.board.remove(result.recording.id)
            with _active_lock:
                _active.discard(result.recording.id)
        return result

    def _start(self, resolved: Resolved, first: Got) -> RecordingResult:
        """Resume this URL's unfinished recording, or log a new ``stream`` item."""
        unfinished = self._unfinished()
        if unfinished is not None:
            self._claim(unfinished)
            result = RecordingResult(self.url, unfinished, resumed=True)
            for child in self.archive.index.children(unfinished.id):
                if child.kind == "segment":
                    held = self.resumed.setdefault(str(child.claimed.get("playlist")), {})
                    when = child.claimed.get("program_date_time")
                    held[int(child.claimed["sequence"])] = (
                        dt.datetime.fromisoformat(when) if when else None
                    )
                    result.segments += 1
                    result.bytes += child.size
                    result.duration += float(child.claimed.get("duration") or 0)
                elif child.kind in ("key", "init") and child.url:
                    self.held_aux[child.url] = child.id
            for _, entry in self.archive.index.item_events(unfinished.id):
                data = json.loads(entry)
                if data["type"] == STREAM_MISSING:
                    result.missing.append(data["missing"])
            self.result = result
            rows = self.log(self.child_event("playlist", first, PLAYLIST_TYPE))
            self.first_playlist_item = rows[0].id
            return result
        blob = self.archive.blobs.put(io.BytesIO(first.body))
        event = {
            "v": 1,
            "type": ITEM_ADDED,
            "kind": "stream",
            "at": rfc3339(utc_now()),
            "item": new_item_id(),
            "sha256": blob.sha256,
            "size": blob.size,
            "media_type": PLAYLIST_TYPE,
            "name": first.url.split("?", 1)[0].rsplit("/", 1)[-1] or "stream.m3u8",
            "url": self.url,
            "stream": {
                "protocol": "hls",
                "playlist_url": resolved.playlist_url,
                "resolved_by": resolved.resolved_by,
                "title": resolved.title,
                "all_variants": self.options.all_variants,
                "give_up_seconds": self.options.give_up,
            },
            "fetched": {"started": first.started, "completed": first.completed, "status": 200},
            "capture": {"tools": {"vigil": __version__, "requests": requests.__version__}},
            "actor": self.actor,
        }
        logged = self.archive.append_events([event])
        row = ItemRow.from_event(logged[0])
        self._claim(row)
        result = RecordingResult(self.url, row, resumed=False, items=[row])
        self.first_playlist_item = row.id
        if self.on_item is not None:
            self.on_item(row)
        return result

    def _claim(self, recording: ItemRow) -> None:
        """Refuse a recording another process or thread is making now."""
        for status, alive in self.board.read():
            if status.recording == recording.id and alive and status.pid != os.getpid():
                raise CaptureError(
                    f"{self.url}: being recorded now by process {status.pid}"
                    f" (recording {recording.id})"
                )
        with _active_lock:
            if recording.id in _active:
                raise CaptureError(f"{self.url}: being recorded now (recording {recording.id})")
            _active.add(recording.id)

    def _unfinished(self) -> ItemRow | None:
        """The latest recording of this URL if no ``stream.ended`` closes it."""
        query = (
            select(items.c.id)
            .where(and_(items.c.kind == "stream", items.c.url == self.url))
            .order_by(items.c.added_index.desc())
            .limit(1)
        )
        with self.archive.index.engine.connect() as conn:
            latest = conn.execute(query).scalar()
            if latest is None:
                return None
            ended = conn.execute(
                select(events.c.idx).where(
                    and_(events.c.item_id == latest, events.c.type == STREAM_ENDED)
                )
            ).first()
        return None if ended is not None else self.archive.index.item(str(latest))

    def _record(self, top: MediaPlaylist, first: Got) -> None:
        """Run one `VariantRecorder` per variant kept (threads when several)."""
        assert self.result is not None
        if not top.is_master:
            outcome = VariantRecorder(self, top.uri, None, first).run()
            self.result.reason, self.result.detail = outcome
            return
        chosen = top.variants if self.options.all_variants else [best_variant(top.variants)]
        recorders = [VariantRecorder(self, v.uri, top.uri, None) for v in chosen]
        if len(recorders) == 1:
            self.result.reason, self.result.detail = recorders[0].run()
            return
        outcomes: list[tuple[Reason, str]] = []

        def run(recorder: VariantRecorder) -> None:
            try:
                outcomes.append(recorder.run())
            except Exception as exc:
                logger.exception("recording %s: variant %s failed", self.url, recorder.url)
                outcomes.append(("failed", f"{recorder.url}: {type(exc).__name__}: {exc}"))

        threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in recorders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        order: list[Reason] = ["failed", "vanished", "stalled", "stopped", "ended"]
        worst = min(outcomes, key=lambda o: order.index(o[0]))
        self.result.reason, self.result.detail = worst

    def note_segment(self, size: int, duration: float, variant: str) -> None:
        assert self.result is not None and self.status is not None
        with self._lock:
            self.result.segments += 1
            self.result.bytes += size
            self.result.duration += duration
            self.status.segments, self.status.bytes = self.result.segments, self.result.bytes
            self.status.duration = round(self.result.duration, 3)
            self.status.last_segment_at = time.time()
            self.status.variant = variant
            self.status.state = "recording"
            self.board.write(self.status)

    def set_state(self, state: str) -> None:
        assert self.status is not None
        with self._lock:
            if self.status.state != state:
                self.status.state = state
                self.board.write(self.status)

    def problem(self, text: str) -> None:
        assert self.result is not None
        with self._lock:
            self.result.problems.append(text)

    def note_missing(self, entry: dict[str, Any]) -> None:
        """Log a segment we will never have (as it is noticed: a crash cannot lose it)."""
        assert self.result is not None and self.status is not None
        self.log(
            {
                "v": 1,
                "type": STREAM_MISSING,
                "at": rfc3339(utc_now()),
                "item": self.result.recording.id,
                "sha256": self.result.recording.sha256,
                "missing": entry,
                "actor": self.actor,
            }
        )
        with self._lock:
            self.result.missing.append(entry)
            self.status.missing = len(self.result.missing)

"""Live recordings started by `vigil watch`: one thread per stream source that went live.

A ``stream`` source is live when its URL resolves to an HLS playlist that does not
say it ended (or, once, to an ended one never recorded: the replay is still
evidence). Then a `StreamRecorder` runs on its own thread; the watch loop goes on
polling the other sources, and several recordings run at once. Stopping the watch
stops every recording cleanly (each logs ``stream.ended`` and is assembled).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import requests
from sqlalchemy import and_, select

from vigil.capture.hls import parse_playlist
from vigil.capture.live import resolve_stream
from vigil.capture.record import RecordOptions, StreamRecorder
from vigil.db.schema import items
from vigil.errors import CaptureError, VigilError
from vigil.watch.sources import Source

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["Recorders"]

logger = logging.getLogger(__name__)


class Recorders:
    """The recordings a watch has running, by source id."""

    def __init__(self, archive: Archive, options: RecordOptions | None = None) -> None:
        self.archive = archive
        self.options = options or RecordOptions()
        self.stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}

    def running(self) -> list[str]:
        return [sid for sid, thread in self._threads.items() if thread.is_alive()]

    def check(self, source: Source) -> str:
        """Start recording *source* if it is live and not being recorded; say what happened."""
        thread = self._threads.get(source.id)
        if thread is not None and thread.is_alive():
            return "recording"
        try:
            resolved = resolve_stream(source.url, self.options.fetch)
            response = requests.get(
                resolved.playlist_url,
                headers={"User-Agent": self.options.fetch.user_agent},
                timeout=(self.options.fetch.connect_timeout, self.options.fetch.read_timeout),
            )
            if response.status_code >= 400:
                return f"not live (HTTP {response.status_code})"
            playlist = parse_playlist(response.content, response.url)
        except (CaptureError, requests.RequestException) as exc:
            return f"not live ({exc})"
        if playlist.ended and self._recorded_before(source.url):
            return "not live (ended; recorded before)"
        thread = threading.Thread(
            target=self._record, args=(source,), name=f"record-{source.id}", daemon=True
        )
        self._threads[source.id] = thread
        thread.start()
        return "started recording"

    def _recorded_before(self, url: str) -> bool:
        query = select(items.c.id).where(and_(items.c.kind == "stream", items.c.url == url))
        with self.archive.index.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def _record(self, source: Source) -> None:
        try:
            result = StreamRecorder(self.archive, source.url, self.options, stop=self.stop).run()
        except VigilError as exc:
            logger.warning("source %s: recording failed: %s", source.id, exc)
            return
        except Exception:  # never take the watch down with one recording
            logger.exception("source %s: recording failed", source.id)
            return
        log = logger.warning if result.abnormal else logger.info
        log(
            "source %s: recording %s %s (%s); %d segments",
            source.id,
            result.recording.id,
            result.reason,
            result.detail,
            result.segments,
        )

    def stop_all(self, timeout: float | None = None) -> None:
        """Stop every recording and wait until each has logged its end."""
        self.stop.set()
        for thread in list(self._threads.values()):
            thread.join(timeout)

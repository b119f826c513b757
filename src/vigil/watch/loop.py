"""`vigil watch`: poll every source on its schedule until stopped.

* Each source has its own interval; after a failure the next poll waits
  ``every × 2^(failures−1)`` (at most ``MAX_BACKOFF``), times a random factor in
  [0.75, 1.25] so that many failing sources do not return in step.
* Politeness: one source at a time, and at least ``host_gap`` seconds between two
  requests to the same host: polls, and every request of the captures they start
  (entries, redirect hops, media; `vigil.capture.fetch`'s host gate; yt-dlp's own
  sleep between requests).
* One failing source never blocks the others: its error is recorded in its state
  and the loop goes on. That holds for any exception a poll raises, a bug included
  (say a page that makes a parser raise ``ValueError``): it is recorded as the
  source's error with its type, its traceback goes to the log, and the source backs
  off; otherwise that source, due again at once after a restart, would stop every
  restarted watch. ``KeyboardInterrupt`` and ``SystemExit`` are not caught.
* What a poll captured is enriched by a `vigil enrich` child in the background
  (`vigil.watch.enricher`), so OCR and keyframes never delay the next poll.
* SIGINT/SIGTERM set a stop flag checked between polls (a capture in progress
  finishes: it is atomic anyway). The schedule lives in the database, so a
  restart resumes where it stopped, and what was captured is not captured again.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from vigil.capture.fetch import FetchOptions
from vigil.capture.record import RecordOptions
from vigil.db.schema import source_state
from vigil.errors import VigilError
from vigil.events import rfc3339, utc_now
from vigil.watch.enricher import BackgroundEnrich
from vigil.watch.entries import MAX_BACKOFF, backoff
from vigil.watch.poll import Poller, PollState
from vigil.watch.recorders import Recorders
from vigil.watch.sources import Source

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["MAX_BACKOFF", "SourceStatus", "Watcher", "stop_on_signals"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceStatus:
    source: Source
    last_success: str | None
    last_error: str | None
    failures: int
    next_run: float
    captured: int

    def as_json(self) -> dict[str, Any]:
        return {
            **self.source.as_json(),
            "last_success": self.last_success,
            "last_error": self.last_error,
            "failures": self.failures,
            "next_run": self.next_run,
            "captured": self.captured,
        }


class Watcher:
    def __init__(
        self,
        archive: Archive,
        sources: list[Source],
        options: FetchOptions | None = None,
        *,
        host_gap: float = 1.0,
        clock: Callable[[], float] = time.time,
        enrich: bool = False,
    ) -> None:
        """*enrich*: run `vigil enrich` in the background on what is captured (the CLI does)."""
        self.archive = archive
        self.enricher = BackgroundEnrich(archive.root, enabled=enrich)
        self.sources = sources
        options = dataclasses.replace(options or FetchOptions(), host_gap=host_gap)
        self.recorders = Recorders(archive, RecordOptions(fetch=options))
        self.poller = Poller(archive, options, self.recorders, clock=lambda: self.clock())
        self.host_gap = host_gap
        self.clock = clock
        self._last_at_host: dict[str, float] = {}

    def _ensure_rows(self) -> None:
        """A state row per source; another process creating the same row meanwhile is fine."""
        with self.archive.index.engine.connect() as conn:
            known = {r[0] for r in conn.execute(select(source_state.c.source_id))}
        for source in self.sources:
            if source.id in known:
                continue
            try:
                with self.archive.index.engine.begin() as conn:
                    conn.execute(insert(source_state).values(source_id=source.id))
            except IntegrityError:
                pass

    def status(self) -> list[SourceStatus]:
        """Each source's polling state (a source never polled has none yet)."""
        with self.archive.index.engine.connect() as conn:
            rows = {r.source_id: r for r in conn.execute(select(source_state))}
        out = []
        for source in self.sources:
            r = rows.get(source.id)
            if r is None:
                out.append(SourceStatus(source, None, None, 0, 0.0, 0))
                continue
            out.append(
                SourceStatus(
                    source, r.last_success, r.last_error, r.failures, r.next_run, r.captured
                )
            )
        return out

    def due(self) -> list[Source]:
        now = self.clock()
        return [s.source for s in self.status() if s.next_run <= now]

    def poll_one(self, source: Source) -> None:
        """Poll one source now and record the outcome; never raises for the source's faults."""
        self._ensure_rows()
        gap = self._last_at_host.get(source.host, -1e18) + self.host_gap - time.monotonic()
        if gap > 0:
            time.sleep(gap)
        with self.archive.index.engine.connect() as conn:
            row = conn.execute(
                select(source_state).where(source_state.c.source_id == source.id)
            ).one()
        state = PollState(row.etag, row.last_modified, row.content_sha256)
        try:
            outcome = self.poller.poll(source, state)
        except VigilError as exc:
            values = self._failed(source, row.failures, str(exc))
        except Exception as exc:  # a bug met by one source: see the module docstring
            logger.exception("source %s: unexpected error while polling", source.id)
            values = self._failed(source, row.failures, f"{type(exc).__name__}: {exc}")
        else:
            for problem in outcome.problems:
                logger.warning("source %s: %s", source.id, problem)
            values = {
                "etag": outcome.state.etag,
                "last_modified": outcome.state.last_modified,
                "content_sha256": outcome.state.content_sha256,
                "last_success": rfc3339(utc_now()),
                "failures": 0,
                "next_run": self.clock() + source.every,
                "captured": row.captured + len(outcome.captured),
            }
            if outcome.captured:
                self.enricher.captured()
        finally:
            self._last_at_host[source.host] = time.monotonic()
        with self.archive.index.engine.begin() as conn:
            conn.execute(
                update(source_state).where(source_state.c.source_id == source.id).values(**values)
            )

    def _failed(self, source: Source, failures: int, error: str) -> dict[str, Any]:
        """The state to record after a failed poll: the error, and the backoff."""
        failures += 1
        delay = backoff(source.every, failures) * random.uniform(0.75, 1.25)
        logger.warning("source %s: %s (retry in %.0f s)", source.id, error, delay)
        return {
            "last_error": f"{rfc3339(utc_now())}: {error}",
            "failures": failures,
            "next_run": self.clock() + delay,
        }

    def run(
        self,
        stop: threading.Event,
        *,
        once: bool = False,
        on_cycle: Callable[[list[SourceStatus]], None] | None = None,
    ) -> None:
        """Poll due sources until *stop* is set (with ``once``: poll each due source once)."""
        self._ensure_rows()
        finished = False
        try:
            while not stop.is_set():
                for source in self.due():
                    if stop.is_set():
                        break
                    self.poll_one(source)
                    if on_cycle is not None:
                        on_cycle(self.status())
                self.enricher.poll()
                if once and not self.recorders.running():
                    finished = True
                    return
                upcoming = min((s.next_run for s in self.status()), default=self.clock() + 60)
                stop.wait(max(0.2, min(upcoming - self.clock(), 5.0)))
                if on_cycle is not None:
                    on_cycle(self.status())  # live recordings move on between polls
        finally:
            self.recorders.stop_all()  # each logs its end and is assembled
            self.enricher.stop(finish=finished)  # --once waits for it; a stop does not


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (handlers restored after)."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        logger.warning("received %s: stopping after the current poll", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

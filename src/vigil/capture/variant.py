"""The reload loop of one media playlist of a live recording (see `vigil.capture.record`).

A segment is named by its media sequence number within one *epoch* of the
playlist: URIs are not names (CDNs rotate tokens in them; a restarted publisher
reuses file names). A new epoch starts when the publisher restarted the stream:
the media sequence went back, or a sequence number held came back with another
program date time.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import requests

from vigil.capture.hls import PLAYLIST_TYPE, MediaPlaylist, Segment, best_variant, parse_playlist
from vigil.errors import CaptureError

if TYPE_CHECKING:
    from vigil.capture.record import Got, Reason, StreamRecorder

__all__ = ["VariantRecorder"]

GONE = (403, 404, 410)  # a segment answering these after every retry is missing for good
ROUNDS = 3  # reloads a segment failing otherwise (5xx, timeouts) is tried in before it is missing
MAX_GAP_LISTED = 1000  # a gap longer than this is summarised, not listed number by number
_aux_lock = threading.Lock()  # keys and init sections are stored once per URI, across threads


class VariantRecorder:
    """Reloads one media playlist and stores each new segment the moment it is listed."""

    def __init__(
        self, rec: StreamRecorder, url: str, master_url: str | None, first: Got | None
    ) -> None:
        self.rec = rec
        self.master_url = master_url
        self.first = first  # the root item's own bytes: not logged again as a playlist
        self.playlist_item = rec.first_playlist_item
        self.options = rec.options
        self._follow(url)
        self.skip_before: tuple[int, dt.datetime | None] | None = None  # after a switch

    def _follow(self, url: str) -> None:
        self.url = url
        self.held: dict[int, dt.datetime | None] = dict(self.rec.resumed.get(url, {}))
        self.last_seq = max(self.held) if self.held else None
        self.rounds: dict[int, int] = {}
        self.previous: MediaPlaylist | None = None
        self.epoch = 0

    def run(self) -> tuple[Reason, str]:
        rec, options = self.rec, self.options
        last_new = time.monotonic()
        last_body: bytes | None = None
        playlist: MediaPlaylist | None = None
        failures = 0
        got = self.first
        while True:
            if rec.stop.is_set():
                return "stopped", "stopped on request"
            started = time.monotonic()
            error, changed = None, False
            if got is None:
                try:
                    got = rec.fetch(self.url)
                except (requests.RequestException, CaptureError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    error = f"HTTP {got.status}" if got.status >= 400 else None
            if error is None and got is not None and got.body != last_body:
                last_body, changed = got.body, True
                try:
                    playlist = parse_playlist(got.body, got.url)
                except CaptureError as exc:
                    error = str(exc)
                self._log_version(got, error)
            if error is not None:
                failures += 1
                if got is not None and got.status in GONE and self._switch_variant():
                    got, last_body = None, None
                    continue
                if time.monotonic() - last_new > options.give_up:
                    return "vanished", f"{self.url}: {error}, for {options.give_up:g} s"
                rec.set_state("reconnecting")
                backoff = min(0.5 * 2 ** min(failures, 4), 5.0) * random.uniform(0.8, 1.2)
                rec.stop.wait(backoff)
                got = None
                continue
            failures = 0
            assert playlist is not None and got is not None
            if playlist.is_master:
                return "vanished", f"{self.url}: a master playlist where a media playlist was"
            if changed:
                self._check_restart(playlist)
            if self._fetch_new(playlist):
                last_new = time.monotonic()
            if playlist.ended and self._all_held(playlist):
                return "ended", "the playlist says the stream ended (EXT-X-ENDLIST)"
            if time.monotonic() - last_new > options.give_up:
                return "stalled", f"no new segment for {options.give_up:g} s"
            # RFC 8216 6.3.4: a target duration after a reload that changed, else half.
            wait = playlist.target_duration * (1.0 if changed else 0.5)
            rec.stop.wait(max(0.0, started + wait - time.monotonic()))
            got = None

    def _log_version(self, got: Got, unreadable: str | None) -> None:
        """Log a playlist version the first time we see it (its fetch time is when)."""
        if got is self.first:
            return  # already logged: the recording's own item, or its resumed playlist
        extra = {"unreadable": unreadable} if unreadable else None
        event = self.rec.child_event("playlist", got, PLAYLIST_TYPE, extra, url=self.url)
        self.playlist_item = self.rec.log(event)[0].id

    def _check_restart(self, playlist: MediaPlaylist) -> None:
        """Start a new epoch if the publisher restarted the stream (see the module doc)."""
        before = self.previous
        self.previous = playlist
        dated = any(s.program_date_time is not None for s in playlist.segments)
        # With dates, only a held number at another time counts (a stale copy of the
        # playlist from a CDN cache lists old numbers at their own times).
        went_back = (
            not dated
            and before is not None
            and (
                playlist.media_sequence < before.media_sequence
                or bool(
                    playlist.segments
                    and before.segments
                    and playlist.segments[-1].sequence < before.segments[-1].sequence
                )
            )
        )
        other_time = any(
            _other_time(self.held.get(s.sequence), s)
            for s in playlist.segments
            if s.sequence in self.held
        )
        if went_back or other_time:
            self.epoch += 1
            self.held, self.last_seq, self.rounds = {}, None, {}
            self.rec.problem(
                f"{self.url}: the media sequence restarted (the stream was restarted):"
                f" segments from here are epoch {self.epoch}"
            )

    def _all_held(self, playlist: MediaPlaylist) -> bool:
        return all(s.sequence in self.held or self._skipped(s) for s in playlist.segments)

    def _skipped(self, seg: Segment) -> bool:
        """Before where we switched from another variant: that time is held already."""
        if self.skip_before is None:
            return False
        sequence, moment = self.skip_before
        if moment is not None and seg.program_date_time is not None:
            return seg.program_date_time < moment + dt.timedelta(seconds=seg.duration / 2)
        return seg.sequence < sequence

    def _fetch_new(self, playlist: MediaPlaylist) -> bool:
        """Store every listed segment not held yet, in order; True if any was stored."""
        stored = False
        for seg in playlist.segments:
            if seg.sequence in self.held or self._skipped(seg):
                continue
            if self.rec.stop.is_set():
                break
            self._note_gap(seg)
            # A last URI without its newline may be cut short: its 404 is not final.
            maybe_cut = playlist.unterminated and seg is playlist.segments[-1]
            outcome = self._segment(seg, maybe_cut)
            if outcome is None:
                self.rounds[seg.sequence] = self.rounds.get(seg.sequence, 0) + 1
                if self.rounds[seg.sequence] < ROUNDS:
                    break  # reload the playlist, then try this one again
                self._missing(seg, f"failed in {ROUNDS} reloads")
                continue
            stored = stored or outcome
        return stored

    def _note_gap(self, seg: Segment) -> None:
        """Segments between the last held and *seg* left the playlist before we got them."""
        last = self.last_seq
        if last is None or seg.sequence <= last + 1:
            return
        lost = range(last + 1, seg.sequence)
        why = "expired from the playlist before it was fetched"
        if len(lost) > MAX_GAP_LISTED:
            self.rec.note_missing(
                {"sequences": f"{lost.start}-{lost.stop - 1}", "playlist": self.url, "error": why}
            )
        else:
            for number in lost:
                self.rec.note_missing({"sequence": number, "playlist": self.url, "error": why})
        self.last_seq = seg.sequence - 1

    def _missing(self, seg: Segment, error: str, attempts: int | None = None) -> None:
        entry: dict[str, Any] = {"sequence": seg.sequence, "uri": seg.uri, "playlist": self.url}
        entry.update(error=error, epoch=self.epoch)
        if attempts is not None:
            entry["attempts"] = attempts
        self.rec.note_missing(entry)
        self._hold(seg)

    def _get_with_retries(
        self, url: str, limit: int, byterange: tuple[int, int] | None = None
    ) -> tuple[Got | None, str, bool, int]:
        """(response, last error, whether the failure is definitive, attempts)."""
        error, definitive = "", False
        for attempt in range(1, self.options.segment_tries + 1):
            try:
                got = self.rec.fetch(url, limit, byterange)
            except requests.RequestException as exc:
                error, definitive = f"{type(exc).__name__}", False
            except CaptureError as exc:
                return None, str(exc), True, attempt
            else:
                if got.status < 300:
                    return got, "", False, attempt
                error, definitive = f"HTTP {got.status}", got.status in GONE
            if attempt < self.options.segment_tries and not self.rec.stop.is_set():
                self.rec.stop.wait(self.options.retry_wait * 2 ** (attempt - 1))
        return None, error, definitive, self.options.segment_tries

    def _segment(self, seg: Segment, maybe_cut: bool = False) -> bool | None:
        """Fetch, store and log one segment: True stored, False missing, None retry later."""
        rec = self.rec
        got, error, definitive, attempts = self._get_with_retries(
            seg.uri, self.options.max_segment_bytes, seg.byterange
        )
        if got is None:
            if not definitive or maybe_cut:
                return None
            self._missing(seg, error, attempts)
            return False
        extra: dict[str, Any] = {}  # keys and init sections: after the segment, never before
        if seg.key is not None:
            extra["key_item"] = self._auxiliary("key", seg.key.uri)
        if seg.init_uri is not None:
            extra["init_item"] = self._auxiliary("init", seg.init_uri)
        event = rec.child_event(
            "segment",
            got,
            extra={"claimed": {**seg.describe(), "playlist": self.url}},
            url=seg.uri,
        )
        event["fetched"].update(
            attempts=attempts, playlist_item=self.playlist_item, epoch=self.epoch, **extra
        )
        rec.log(event)
        self._hold(seg)
        rec.note_segment(len(got.body), seg.duration, self.url)
        return True

    def _hold(self, seg: Segment) -> None:
        self.held[seg.sequence] = seg.program_date_time
        self.last_seq = max(self.last_seq if self.last_seq is not None else -1, seg.sequence)

    def _auxiliary(self, kind: str, url: str) -> str | None:
        """Store a key or init section once per URI; its item id (None if it failed)."""
        rec = self.rec
        with _aux_lock:
            if url in rec.held_aux:
                return rec.held_aux[url]
            if url in rec.failed_aux:
                return None
            got, error, _, _ = self._get_with_retries(url, 16 << 20)
            if got is None:
                rec.failed_aux.add(url)  # not retried before every segment
                rec.problem(f"{url}: the {kind} for some segments could not be fetched ({error})")
                return None
            media_type = "application/octet-stream" if kind == "key" else ""
            rows = rec.log(rec.child_event(kind, got, media_type, url=url))
            rec.held_aux[url] = rows[0].id
            return rows[0].id

    def _switch_variant(self) -> bool:
        """The variant's playlist is gone: take the master's best other variant now."""
        if self.master_url is None or self.options.all_variants:
            return False
        rec = self.rec
        try:
            got = rec.fetch(self.master_url)
            master = parse_playlist(got.body, got.url) if got.status < 400 else None
        except (requests.RequestException, CaptureError):
            return False
        others = [v for v in (master.variants if master else []) if v.uri != self.url]
        if not others:
            return False
        best = best_variant(others)
        rec.log(rec.child_event("playlist", got, PLAYLIST_TYPE, url=self.master_url))
        rec.problem(f"variant {self.url} vanished; switched to {best.uri}")
        last_time = max((t for t in self.held.values() if t is not None), default=None)
        resume_at = (self.last_seq + 1) if self.last_seq is not None else 0
        self._follow(best.uri)
        self.skip_before = (resume_at, last_time)
        return True


def _other_time(held: dt.datetime | None, seg: Segment) -> bool:
    """A segment number we hold, now listed with a program date time that is not its own."""
    if held is None or seg.program_date_time is None:
        return False
    return abs((seg.program_date_time - held).total_seconds()) > max(1.0, seg.duration)

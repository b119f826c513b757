"""The reload loop of one media playlist of a live recording (see `vigil.capture.record`)."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

import requests

from vigil.capture.hls import PLAYLIST_TYPE, MediaPlaylist, Segment, best_variant, parse_playlist
from vigil.errors import CaptureError

if TYPE_CHECKING:
    from vigil.capture.record import Got, Reason, StreamRecorder

__all__ = ["VariantRecorder"]

GONE = (403, 404, 410)  # a segment answering these after every retry is missing for good
MAX_GAP_LISTED = 1000  # a gap longer than this is summarised, not listed number by number


class VariantRecorder:
    """Reloads one media playlist and stores each new segment the moment it is listed."""

    def __init__(
        self, rec: StreamRecorder, url: str, master_url: str | None, first: Got | None
    ) -> None:
        self.rec = rec
        self.url = url
        self.master_url = master_url
        self.first = first  # the root item's own bytes: not logged again as a playlist
        self.playlist_item = rec.first_playlist_item
        self.options = rec.options

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
                try:
                    playlist = parse_playlist(got.body, got.url)
                except CaptureError as exc:  # e.g. read while the server rewrote it
                    error = str(exc)
                else:
                    self._log_version(got)
                    last_body, changed = got.body, True
            if error is not None:
                failures += 1
                if got is not None and got.status in GONE and self._switch_variant():
                    got, last_body = None, None
                    continue
                if time.monotonic() - last_new > options.give_up:
                    return "vanished", f"{self.url}: {error}, for {options.give_up:g} s"
                self._set_state("reconnecting")
                backoff = min(0.5 * 2 ** min(failures, 4), 5.0) * random.uniform(0.8, 1.2)
                rec.stop.wait(backoff)
                got = None
                continue
            failures = 0
            assert playlist is not None and got is not None
            if playlist.is_master:
                return "vanished", f"{self.url}: a master playlist where a media playlist was"
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

    def _set_state(self, state: str) -> None:
        if self.rec.status is not None and self.rec.status.state != state:
            self.rec.status.state = state
            self.rec.board.write(self.rec.status)

    def _log_version(self, got: Got) -> None:
        """Log a playlist version the first time we see it (its fetch time is when)."""
        if got is self.first:
            return  # already logged: the recording's own item, or its resumed playlist
        rows = self.rec.log(self.rec.child_event("playlist", got, PLAYLIST_TYPE, url=self.url))
        self.playlist_item = rows[0].id

    def _all_held(self, playlist: MediaPlaylist) -> bool:
        done = self.rec.done
        return all((s.sequence, s.uri) in done for s in playlist.segments)

    def _fetch_new(self, playlist: MediaPlaylist) -> bool:
        """Store every listed segment not held yet, in order; True if any was stored."""
        rec = self.rec
        stored = False
        for seg in playlist.segments:
            if (seg.sequence, seg.uri) in rec.done:
                continue
            if rec.stop.is_set():
                break
            self._note_gap(seg)
            outcome = self._segment(seg)
            if outcome is None:
                break  # the network failed: reload the playlist, then retry this one
            stored = stored or outcome
        return stored

    def _note_gap(self, seg: Segment) -> None:
        """Segments between the last held and *seg* left the playlist before we got them."""
        last = self.rec.last_sequence.get(self.url)
        if last is None or seg.sequence <= last + 1:
            return
        lost = range(last + 1, seg.sequence)
        if len(lost) > MAX_GAP_LISTED:
            self.rec.note_missing(
                {"sequences": f"{lost.start}-{lost.stop - 1}", "playlist": self.url,
                 "error": "expired from the playlist before it was fetched"}
            )  # fmt: skip
        else:
            for number in lost:
                self.rec.note_missing(
                    {"sequence": number, "playlist": self.url,
                     "error": "expired from the playlist before it was fetched"}
                )  # fmt: skip
        self.rec.last_sequence[self.url] = seg.sequence - 1

    def _get_with_retries(self, url: str, limit: int) -> tuple[Got | None, str, bool, int]:
        """(response, last error, whether the failure is definitive, attempts)."""
        error, definitive = "", False
        for attempt in range(1, self.options.segment_tries + 1):
            try:
                got = self.rec.fetch(url, limit)
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

    def _segment(self, seg: Segment) -> bool | None:
        """Fetch, store and log one segment: True stored, False missing, None retry later."""
        rec = self.rec
        extra: dict[str, Any] = {}
        if seg.key is not None and seg.key.method == "AES-128":
            extra["key_item"] = self._auxiliary("key", seg.key.uri)
        if seg.init_uri is not None:
            extra["init_item"] = self._auxiliary("init", seg.init_uri)
        got, error, definitive, attempts = self._get_with_retries(
            seg.uri, self.options.max_segment_bytes
        )
        if got is None:
            if not definitive:
                return None
            rec.note_missing(
                {"sequence": seg.sequence, "uri": seg.uri, "playlist": self.url,
                 "error": error, "attempts": attempts}
            )  # fmt: skip
            self._held(seg)
            return False
        event = rec.child_event(
            "segment",
            got,
            extra={"claimed": {**seg.describe(), "playlist": self.url}},
            url=seg.uri,
        )
        event["fetched"].update(attempts=attempts, playlist_item=self.playlist_item, **extra)
        rec.log(event)
        self._held(seg)
        rec.note_segment(len(got.body), seg.duration, self.url)
        return True

    def _held(self, seg: Segment) -> None:
        self.rec.done.add((seg.sequence, seg.uri))
        last = self.rec.last_sequence.get(self.url, -1)
        self.rec.last_sequence[self.url] = max(last, seg.sequence)

    def _auxiliary(self, kind: str, url: str) -> str | None:
        """Store an AES key or init section once per URI; its item id (None if unreachable)."""
        rec = self.rec
        if url in rec.held:
            return rec.held[url]
        got, error, _, _ = self._get_with_retries(url, 16 << 20)
        if got is None:
            rec.problem(f"{url}: the {kind} for some segments could not be fetched ({error})")
            return None
        media_type = "application/octet-stream" if kind == "key" else ""
        rows = rec.log(rec.child_event(kind, got, media_type, url=url))
        rec.held[url] = rows[0].id
        return rows[0].id

    def _switch_variant(self) -> bool:
        """The variant's playlist is gone: take the master's best variant now, if another."""
        if self.master_url is None or self.options.all_variants:
            return False
        rec = self.rec
        try:
            got = rec.fetch(self.master_url)
            master = parse_playlist(got.body, got.url) if got.status < 400 else None
        except (requests.RequestException, CaptureError):
            return False
        if master is None or not master.is_master:
            return False
        best = best_variant(master.variants)
        if best.uri == self.url:
            return False
        rec.log(rec.child_event("playlist", got, PLAYLIST_TYPE, url=self.master_url))
        rec.problem(f"variant {self.url} vanished; switched to {best.uri}")
        self.url = best.uri
        return True

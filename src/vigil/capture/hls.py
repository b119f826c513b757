"""HLS playlists (RFC 8216), read with the ``m3u8`` package into what a recorder needs.

A *master* playlist lists variants (`Variant`); a *media* playlist lists segments
(`Segment`) numbered from ``EXT-X-MEDIA-SEQUENCE``. A segment's sequence number and
URI together name it across reloads of a live playlist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import m3u8

from vigil.errors import CaptureError

__all__ = [
    "PLAYLIST_TYPE",
    "MediaPlaylist",
    "Segment",
    "SegmentKey",
    "Variant",
    "best_variant",
    "is_playlist",
    "parse_playlist",
]

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class SegmentKey:
    """How a segment is encrypted: ``EXT-X-KEY`` (method ``NONE`` is no key at all)."""

    method: str
    uri: str
    iv: str | None  # as given (0x…); None: the IV is the media sequence number

    def iv_for(self, sequence: int) -> str:
        """The IV in effect for segment *sequence* (RFC 8216 section 5.2)."""
        return self.iv if self.iv else f"0x{sequence:032x}"


@dataclass(frozen=True)
class Segment:
    sequence: int
    uri: str  # absolute
    duration: float
    program_date_time: dt.datetime | None  # claimed by the playlist (as given or carried on)
    discontinuity: bool
    key: SegmentKey | None
    init_uri: str | None  # EXT-X-MAP, for fragmented MP4 segments
    discontinuity_sequence: int = 0
    byterange: tuple[int, int] | None = None  # (length, offset): EXT-X-BYTERANGE
    title: str | None = None

    def describe(self) -> dict[str, Any]:
        """The playlist's claims about this segment, for its ledger event."""
        out: dict[str, Any] = {
            "sequence": self.sequence,
            "duration": self.duration,
            "discontinuity": self.discontinuity,
            "discontinuity_sequence": self.discontinuity_sequence,
        }
        if self.byterange is not None:
            out["byterange"] = f"{self.byterange[0]}@{self.byterange[1]}"
        if self.program_date_time is not None:
            out["program_date_time"] = self.program_date_time.astimezone(dt.UTC).isoformat()
        if self.key is not None:
            out["key"] = {
                "method": self.key.method,
                "uri": self.key.uri,
                "iv": self.key.iv_for(self.sequence),
            }
        if self.init_uri is not None:
            out["init"] = self.init_uri
        return out


@dataclass(frozen=True)
class Variant:
    uri: str  # absolute
    bandwidth: int
    resolution: tuple[int, int] | None
    codecs: str | None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri, "bandwidth": self.bandwidth}
        if self.resolution:
            out["resolution"] = f"{self.resolution[0]}x{self.resolution[1]}"
        if self.codecs:
            out["codecs"] = self.codecs
        return out


@dataclass(frozen=True)
class MediaPlaylist:
    """A master playlist has `variants` and no segments; a media playlist the reverse."""

    uri: str
    variants: list[Variant]
    segments: list[Segment]
    media_sequence: int
    target_duration: float
    ended: bool  # EXT-X-ENDLIST: no segment will ever be added
    playlist_type: str | None  # EVENT, VOD or None (sliding window)
    unterminated: bool = False  # no final newline: the last URI may be cut short

    @property
    def is_master(self) -> bool:
        return bool(self.variants)


def is_playlist(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U")


def parse_playlist(body: bytes, uri: str) -> MediaPlaylist:
    """Parse *body* fetched from *uri*; `CaptureError` when it is not an HLS playlist.

    A live playlist may be read while its server rewrites it in place: a duration
    without its URI is no segment, and `MediaPlaylist.unterminated` says whether the
    last line may be cut short (no final newline; many servers omit it, so the
    segment is kept, and the recorder does not take a 404 for it as final).
    """
    if not is_playlist(body):
        raise CaptureError(f"{uri}: not an HLS playlist (no #EXTM3U header)")
    try:
        text = body.decode("utf-8-sig")
        parsed: Any = m3u8.loads(text, uri=uri)
    except (UnicodeDecodeError, ValueError, AttributeError, IndexError, TypeError) as exc:
        raise CaptureError(f"{uri}: unreadable HLS playlist ({exc})") from None
    variants = [
        Variant(
            uri=p.absolute_uri,
            bandwidth=int(p.stream_info.bandwidth or p.stream_info.average_bandwidth or 0),
            resolution=tuple(p.stream_info.resolution) if p.stream_info.resolution else None,
            codecs=p.stream_info.codecs,
        )
        for p in parsed.playlists
    ]
    # EXT-X-SKIP (a delta update) leaves out the first segments: numbering goes on after.
    skipped = int(getattr(parsed.skip, "skipped_segments", 0) or 0) if parsed.skip else 0
    first = int(parsed.media_sequence or 0) + skipped
    times = _program_date_times(parsed.segments)
    discontinuities = int(parsed.discontinuity_sequence or 0)
    segments = []
    range_end: dict[str, int] = {}  # URI -> where its last byte range ended
    for n, seg in enumerate(parsed.segments):
        discontinuities += 1 if seg.discontinuity and n else 0
        if not seg.uri:
            continue
        byterange = None
        if seg.byterange:
            length_text, _, offset_text = str(seg.byterange).partition("@")
            offset = int(offset_text) if offset_text else range_end.get(seg.absolute_uri, 0)
            byterange = (int(length_text), offset)
            range_end[seg.absolute_uri] = offset + int(length_text)
        key = seg.key
        seg_key = None
        if key is not None and key.method and key.method.upper() != "NONE":
            seg_key = SegmentKey(key.method.upper(), key.absolute_uri, key.iv)
        init = seg.init_section.absolute_uri if seg.init_section is not None else None
        segments.append(
            Segment(
                sequence=first + n,
                uri=seg.absolute_uri,
                duration=float(seg.duration or 0),
                program_date_time=times[n],
                discontinuity=bool(seg.discontinuity),
                key=seg_key,
                init_uri=init,
                discontinuity_sequence=discontinuities,
                byterange=byterange,
                title=seg.title or None,
            )
        )
    if not variants and not segments and not parsed.is_endlist and not parsed.target_duration:
        raise CaptureError(f"{uri}: an HLS playlist with neither variants nor segments")
    return MediaPlaylist(
        uri=uri,
        variants=variants,
        segments=segments,
        media_sequence=first,
        target_duration=float(parsed.target_duration or 6),
        ended=bool(parsed.is_endlist),
        playlist_type=(parsed.playlist_type or "").upper() or None,
        unterminated=not text.endswith("\n") and not parsed.is_endlist,
    )


def _program_date_times(segments: Any) -> list[dt.datetime | None]:
    """Each segment's program date time (RFC 8216 4.4.4.6): an EXT-X-PROGRAM-DATE-TIME
    applies to the next segment and carries on by the durations that follow; segments
    before the first are dated backwards from it, as players do."""
    times: list[dt.datetime | None] = []
    current: dt.datetime | None = None
    for n, seg in enumerate(segments):
        if seg.program_date_time is not None:
            current = seg.program_date_time
        elif current is not None:
            current += dt.timedelta(seconds=float(segments[n - 1].duration or 0))
        times.append(current)
    anchor = next((n for n, t in enumerate(times) if t is not None), None)
    if anchor is not None:
        for n in range(anchor - 1, -1, -1):
            later = times[n + 1]
            assert later is not None
            times[n] = later - dt.timedelta(seconds=float(segments[n].duration or 0))
    return times


def best_variant(variants: list[Variant]) -> Variant:
    """The highest bandwidth, then the largest picture."""
    return max(
        variants,
        key=lambda v: (v.bandwidth, (v.resolution or (0, 0))[0] * (v.resolution or (0, 0))[1]),
    )

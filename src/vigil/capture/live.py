"""Around a live recording: resolving a URL to its HLS stream, and live status files.

* `resolve_stream`: a plain ``.m3u8`` URL is recorded as it is; any other URL is
  asked of yt-dlp (and, when installed, streamlink) for the HLS stream of a live
  broadcast.
* `StatusBoard`: each running recording keeps ``run/recordings/<id>.json`` in the
  archive up to date (not evidence: the ledger is), so ``vigil record --status``
  and the watch view can show every live recording, in any process.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import requests
import yt_dlp
from yt_dlp.utils import DownloadError

from vigil.capture.fetch import FetchOptions
from vigil.capture.hls import is_playlist
from vigil.errors import CaptureError
from vigil.processes import process_alive

__all__ = ["LiveStatus", "Resolved", "StatusBoard", "resolve_stream"]


@dataclass(frozen=True)
class Resolved:
    playlist_url: str
    resolved_by: str | None  # "yt-dlp 2025.…" / "streamlink …"; None for a plain playlist URL
    title: str | None = None
    is_live: bool | None = None


def _looks_like_playlist(url: str, options: FetchOptions) -> bool:
    if url.split("?", 1)[0].lower().endswith((".m3u8", ".m3u")):
        return True
    try:
        with requests.get(
            url,
            headers={"User-Agent": options.user_agent},
            timeout=(options.connect_timeout, options.read_timeout),
            stream=True,
        ) as response:
            head = response.raw.read(64, decode_content=True)
    except requests.RequestException:
        return False
    return is_playlist(head)


def _by_ytdlp(url: str) -> Resolved | None:
    params = {"quiet": True, "no_warnings": True, "skip_download": True, "noplaylist": True}
    try:
        with yt_dlp.YoutubeDL(params) as ydl:
            info = ydl.extract_info(url, download=False)
    except DownloadError:
        return None
    if not isinstance(info, dict):
        return None
    formats = [
        f
        for f in info.get("formats") or [info]
        if str(f.get("protocol", "")).startswith("m3u8") and f.get("url")
    ]
    if not formats:
        return None
    best = formats[-1]  # yt-dlp sorts formats worst to best
    playlist = best.get("manifest_url") or best["url"]
    return Resolved(
        playlist_url=str(playlist),
        resolved_by=f"yt-dlp {yt_dlp.version.__version__}",
        title=info.get("title"),
        is_live=info.get("is_live"),
    )


def _by_streamlink(url: str) -> Resolved | None:
    try:
        from streamlink.session.session import Streamlink  # optional: when installed
        from streamlink.stream.hls.hls import HLSStream
    except ImportError:
        return None
    try:
        streams = Streamlink().streams(url)
    except Exception:  # any plugin failure just means "not resolved here"
        return None
    best = streams.get("best")
    if not isinstance(best, HLSStream):
        return None
    playlist = getattr(best, "multivariant", None)
    playlist_url = getattr(playlist, "uri", None) or best.url
    return Resolved(str(playlist_url), f"streamlink {version('streamlink')}")


def resolve_stream(url: str, options: FetchOptions | None = None) -> Resolved:
    """The HLS playlist to record for *url*; `CaptureError` when there is none."""
    options = options or FetchOptions()
    if _looks_like_playlist(url, options):
        return Resolved(url, None)
    for resolver in (_by_ytdlp, _by_streamlink):
        found = resolver(url)
        if found is not None:
            return found
    raise CaptureError(f"{url}: no HLS live stream found (neither a playlist nor known to yt-dlp)")


@dataclass
class LiveStatus:
    """One recording as it runs."""

    recording: str
    url: str
    pid: int
    started: float  # time.time()
    variant: str = ""
    segments: int = 0
    bytes: int = 0
    duration: float = 0.0  # seconds of media, as the playlist claims
    last_segment_at: float | None = None
    missing: int = 0
    state: str = "recording"  # recording | reconnecting | assembling

    def as_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        out = asdict(self)
        out["running_for"] = round(now - self.started, 1)
        out["last_segment_age"] = (
            None if self.last_segment_at is None else round(now - self.last_segment_at, 1)
        )
        return out


class StatusBoard:
    """``run/recordings/*.json`` in the archive: written atomically, read by anyone."""

    def __init__(self, archive_root: Path) -> None:
        self.folder = archive_root / "run" / "recordings"

    def write(self, status: LiveStatus) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{status.recording}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(asdict(status)))
        os.replace(tmp, self.folder / f"{status.recording}.json")

    def remove(self, recording: str) -> None:
        (self.folder / f"{recording}.json").unlink(missing_ok=True)

    def read(self) -> list[tuple[LiveStatus, bool]]:
        """Every recording with a status file, and whether its process still runs."""
        out = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                status = LiveStatus(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue  # being replaced, or not ours
            out.append((status, process_alive(status.pid)))
        return out

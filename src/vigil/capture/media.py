"""Platform posts through yt-dlp (used as a library): the post, its media, its info.json.

`vigil capture` sends a URL here when one of yt-dlp's platform extractors claims
it (YouTube, X, Facebook, Instagram, TikTok, Telegram, Vimeo, …), or always with
``--yt-dlp``. yt-dlp downloads the best quality it can (merging video and audio
when ffmpeg is installed, else the best single file), the thumbnails, the
subtitles, and writes the full info.json. The info.json becomes the ``post``
item, its normalised fields kept as claims (`vigil.capture.ytdlp.post_claims`);
every downloaded file becomes a ``media`` item whose parent is the post, and every
HTTP exchange yt-dlp made a ``warc`` item beside them (as sent and received, with
the servers' IPs; see `_recording`).

A post with several media (an X post with four videos, a Telegram album, an
Instagram carousel) is a playlist to yt-dlp: every entry is downloaded, up to
``max_entries`` (a channel URL would otherwise mean the whole channel; `vigil watch`
is for those), and each entry's own info.json is kept too (role ``info``).
`capture_post_or_page` falls back to a web capture when yt-dlp gets nothing (a
text-only post has no video for it to find): a post must not be lost for that.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yt_dlp
from yt_dlp.utils import DownloadError

from vigil import __version__
from vigil.capture.extractors import platform_extractor
from vigil.capture.fetch import FetchOptions
from vigil.capture.httpwarc import check_recording, new_warc
from vigil.capture.publicip import public_ip
from vigil.capture.web import CaptureResult, WebCapturer
from vigil.capture.wire import recording
from vigil.capture.ytdlp import post_claims
from vigil.db.index import ItemRow
from vigil.errors import CaptureError
from vigil.events import ITEM_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.sniff import sniff_media_type

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["MAX_ENTRIES", "PlatformCapturer", "capture_post_or_page", "platform_extractor"]

MAX_ENTRIES = 50


class PlatformCapturer:
    def __init__(
        self, archive: Archive, options: FetchOptions | None = None, *,
        max_entries: int = MAX_ENTRIES,
    ) -> None:  # fmt: skip
        self.archive = archive
        self.options = options or FetchOptions()
        self.max_entries = max_entries
        self.actor = Actor.current().as_json()

    def _ydl_options(self, folder: Path) -> dict[str, Any]:
        merge = shutil.which("ffmpeg") is not None
        return {
            "outtmpl": str(folder / "%(id)s.%(ext)s"),
            "format": "bv*+ba/b" if merge else "b",
            "writeinfojson": True,
            "writethumbnail": True,
            "writesubtitles": True,
            "subtitleslangs": ["all"],
            "noplaylist": True,  # a video URL that names its playlist too: the video
            "playlist_items": f"1:{self.max_entries}",  # a post of several media: each
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "retries": 3,
            "socket_timeout": self.options.read_timeout,
            "http_headers": {"User-Agent": self.options.user_agent},
            "nocheckcertificate": self.options.verify_tls is False,
            "sleep_interval_requests": self.options.host_gap,  # (politeness, as for pages)
            "max_filesize": self.options.max_bytes,
        }

    def capture(self, url: str, *, checkpoint: bool = True) -> CaptureResult:
        """Capture the post at *url*; `CaptureError` (nothing stored) if yt-dlp gets nothing."""
        folder = self.archive.blobs.tmp / f"{os.getpid()}-{secrets.token_hex(8)}-yt-dlp"
        warc = folder.with_name(folder.name + ".warc.gz")
        folder.mkdir()
        try:
            try:
                with _recording(warc), yt_dlp.YoutubeDL(self._ydl_options(folder)) as ydl:
                    info = ydl.sanitize_info(ydl.extract_info(url, download=True))
            except DownloadError as exc:
                raise CaptureError(f"{url}: yt-dlp could not capture it: {_reason(exc)}") from None
            if not isinstance(info, dict):
                raise CaptureError(f"{url}: yt-dlp returned nothing")
            return self._store(url, info, folder, warc, checkpoint)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            warc.unlink(missing_ok=True)

    def _store(
        self, url: str, info: dict[str, Any], folder: Path, warc: Path, checkpoint: bool
    ) -> CaptureResult:
        result = CaptureResult(url)
        own = folder / f"{info.get('id')}.info.json"
        if own.is_file():
            with own.open("rb") as f:
                info_blob = self.archive.blobs.put(f)
        else:  # yt-dlp always writes it when asked; keep what it returned otherwise
            info_blob = self.archive.blobs.put(io.BytesIO(json.dumps(info).encode()))
        entries = [e for e in info.get("entries") or [] if isinstance(e, dict)]
        claims = post_claims(info)
        if entries:  # a playlist: what it does not say, its first entry does
            claims = {**post_claims(entries[0]), **claims, "entries": len(entries)}
            listed = info.get("playlist_count")
            if len(entries) >= self.max_entries or (
                isinstance(listed, int) and listed > len(entries)
            ):
                result.problems.append(f"{url}: only the first {len(entries)} entries were "
                                       f"captured (of {listed or 'more'})")  # fmt: skip
        post_id = new_item_id()
        now = rfc3339(utc_now())
        events: list[dict[str, Any]] = [
            {
                "v": 1,
                "type": ITEM_ADDED,
                "kind": "post",
                "at": now,
                "item": post_id,
                "sha256": info_blob.sha256,
                "size": info_blob.size,
                "media_type": "application/json",
                "name": f"{claims.get('platform', 'post')}-{claims.get('post_id', '')}.info.json",
                "url": url,
                "claimed": claims,
                "capture": {
                    "requested": url,
                    "extractor": info.get("extractor_key"),
                    "format": info.get("format_id"),
                    "request_headers": {"User-Agent": self.options.user_agent},
                    "tools": {"vigil": __version__, "yt-dlp": yt_dlp.version.__version__},
                    **({"public_ip": ip} if (ip := public_ip()) else {}),
                },
                "actor": self.actor,
            }
        ]
        name = f"{claims.get('platform', 'post')}-{claims.get('post_id', '')}.warc.gz"
        events.append(self._child(post_id, now, warc, "warc", name=name, url=url,
                                  media_type="application/warc"))  # fmt: skip
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p != own):
            entry = _entry_of(path, entries) or info
            role = _role(path, entry)
            medium_url = entry.get("url") if role == "media" else None
            events.append(self._child(post_id, now, path, "media", name=path.name, role=role,
                                      url=medium_url))  # fmt: skip
        if not any(e.get("role") == "media" for e in events[1:]):
            result.problems.append(f"{url}: yt-dlp downloaded no media (info.json kept)")
        logged = self.archive.append_events(events)
        if checkpoint:
            self.archive.checkpoint()
        result.items = [ItemRow.from_event(ev) for ev in logged]
        return result

    def _child(
        self, post_id: str, now: str, path: Path, kind: str, *, name: str, url: str | None,
        media_type: str | None = None, role: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The ``item.added`` event of a file of the post (stored here)."""
        with path.open("rb") as f:
            blob = self.archive.blobs.put(f)
        event = {"v": 1, "type": ITEM_ADDED, "kind": kind, "at": now, "item": new_item_id(),
                 "parent": post_id, "sha256": blob.sha256, "size": blob.size,
                 "media_type": media_type or sniff_media_type(blob.head), "name": name,
                 "url": url, "actor": self.actor}  # fmt: skip
        return event | ({"role": role} if role else {})


@contextlib.contextmanager
def _recording(path: Path) -> Iterator[None]:
    """Record every HTTP exchange yt-dlp makes on this thread into a WARC at *path*
    (Vigil's recorder sits under http.client, which yt-dlp's requests and urllib
    handlers both use): the requests and responses as they crossed the wire, with the
    server's IP, as for web captures. What ffmpeg fetches itself (some HLS and DASH
    downloads) is not in it."""
    check_recording()
    with (
        path.open("xb") as f,
        recording(new_warc(f, path.name, f"yt-dlp {yt_dlp.version.__version__}", path.parent)),
    ):
        yield


def _entry_of(path: Path, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The playlist entry a downloaded file belongs to (files are named by its id)."""
    owners = [e for e in entries if path.name.startswith(f"{e.get('id')}.")]
    return max(owners, key=lambda e: len(str(e.get("id"))), default=None)


def capture_post_or_page(
    platform: PlatformCapturer, web: WebCapturer, url: str, *, checkpoint: bool = False
) -> CaptureResult:
    """*url* through yt-dlp, or, when yt-dlp gets nothing, as a web page saying why;
    `CaptureError` only if neither could capture anything."""
    try:
        return platform.capture(url, checkpoint=checkpoint)
    except CaptureError as exc:
        try:
            result = web.capture(url, checkpoint=checkpoint)
        except CaptureError as also:
            raise CaptureError(f"{exc}; as a web page: {also}") from None
        result.problems.insert(0, f"{exc}: captured as a web page instead")
        return result


def _role(path: Path, info: dict[str, Any]) -> str:
    if path.name.endswith(".info.json"):
        return "info"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("vtt", "srt", "ass", "ttml"):
        return "subtitles"
    if suffix in ("jpg", "jpeg", "png", "webp") and suffix != info.get("ext"):
        return "thumbnail"
    return "media"


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).removeprefix("ERROR: ").split())[:300]

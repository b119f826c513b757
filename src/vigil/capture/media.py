"""Platform posts through yt-dlp (used as a library): the post, its media, its info.json.

`vigil capture` sends a URL here when one of yt-dlp's platform extractors claims
it (YouTube, X, Facebook, Instagram, TikTok, Telegram, Vimeo, …), or always with
``--yt-dlp``. yt-dlp downloads the best quality it can (merging video and audio
when ffmpeg is installed, else the best single file), the thumbnails, the
subtitles, and writes the full info.json. The info.json becomes the ``post``
item, its normalised fields kept as claims (`vigil.capture.ytdlp.post_claims`);
every downloaded file becomes a ``media`` item whose parent is the post.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yt_dlp
from yt_dlp.utils import DownloadError

from vigil import __version__
from vigil.capture.extractors import platform_extractor
from vigil.capture.fetch import FetchOptions
from vigil.capture.web import CaptureResult
from vigil.capture.ytdlp import post_claims
from vigil.db.index import ItemRow
from vigil.errors import CaptureError
from vigil.events import ITEM_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.sniff import sniff_media_type

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["PlatformCapturer", "platform_extractor"]


class PlatformCapturer:
    def __init__(self, archive: Archive, options: FetchOptions | None = None) -> None:
        self.archive = archive
        self.options = options or FetchOptions()
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
            "noplaylist": True,
            "playlist_items": "1",
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "retries": 3,
            "socket_timeout": self.options.read_timeout,
            "http_headers": {"User-Agent": self.options.user_agent},
            "nocheckcertificate": self.options.verify_tls is False,
            "max_filesize": self.options.max_bytes,
        }

    def capture(self, url: str, *, checkpoint: bool = True) -> CaptureResult:
        """Capture the post at *url*; `CaptureError` (nothing stored) if yt-dlp gets nothing."""
        folder = self.archive.blobs.tmp / f"{os.getpid()}-{secrets.token_hex(8)}-yt-dlp"
        folder.mkdir()
        try:
            try:
                with yt_dlp.YoutubeDL(self._ydl_options(folder)) as ydl:
                    info = ydl.sanitize_info(ydl.extract_info(url, download=True))
            except DownloadError as exc:
                raise CaptureError(f"{url}: yt-dlp could not capture it: {_reason(exc)}") from None
            if not isinstance(info, dict):
                raise CaptureError(f"{url}: yt-dlp returned nothing")
            return self._store(url, info, folder, checkpoint)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _store(
        self, url: str, info: dict[str, Any], folder: Path, checkpoint: bool
    ) -> CaptureResult:
        result = CaptureResult(url)
        info_files = sorted(folder.glob("*.info.json"))
        if info_files:
            with info_files[0].open("rb") as f:
                info_blob = self.archive.blobs.put(f)
        else:  # yt-dlp always writes it when asked; keep what it returned otherwise
            info_blob = self.archive.blobs.put(io.BytesIO(json.dumps(info).encode()))
        claims = post_claims(info)
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
                },
                "actor": self.actor,
            }
        ]
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p not in info_files):
            with path.open("rb") as f:
                blob = self.archive.blobs.put(f)
            events.append(
                {
                    "v": 1,
                    "type": ITEM_ADDED,
                    "kind": "media",
                    "at": now,
                    "item": new_item_id(),
                    "parent": post_id,
                    "sha256": blob.sha256,
                    "size": blob.size,
                    "media_type": sniff_media_type(blob.head),
                    "name": path.name,
                    "url": info.get("url") if path.suffix.lstrip(".") == info.get("ext") else None,
                    "role": _role(path, info),
                    "actor": self.actor,
                }
            )
        if len(events) == 1:
            result.problems.append(f"{url}: yt-dlp downloaded no media (info.json kept)")
        logged = self.archive.append_events(events)
        if checkpoint:
            self.archive.checkpoint()
        result.items = [ItemRow.from_event(ev) for ev in logged]
        return result


def _role(path: Path, info: dict[str, Any]) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("vtt", "srt", "ass", "ttml"):
        return "subtitles"
    if suffix in ("jpg", "jpeg", "png", "webp") and suffix != info.get("ext"):
        return "thumbnail"
    return "media"


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).removeprefix("ERROR: ").split())[:300]

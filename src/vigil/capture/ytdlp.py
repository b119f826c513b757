"""yt-dlp's view of a post: its info dict normalised into Vigil's post claims.

Used both for live platform captures (`vigil.capture.media`) and for `.info.json`
files imported offline (`vigil.capture.imports.ytdlp_info`). Every field is what
the platform states, so all of it is kept under ``claimed``; the info dict itself
is kept whole as a blob.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

__all__ = ["post_claims"]

_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+")


def _posted(info: dict[str, Any]) -> str | None:
    for key in ("release_timestamp", "timestamp"):
        value = info.get(key)
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    date = info.get("upload_date")
    if isinstance(date, str) and len(date) == 8 and date.isdigit():
        return f"{date[:4]}-{date[4:6]}-{date[6:]}"  # a day only, as the platform gives it
    return None


def _handle(info: dict[str, Any]) -> str | None:
    """The author's handle: yt-dlp's ``uploader_id`` is one on some platforms (X:
    ``NASA``, YouTube: ``@NASA``) and a number on others (SoundCloud, TikTok), whose
    handle is then the one path segment of the author's page (``soundcloud.com/name``)."""
    uploader_id = info.get("uploader_id")
    if isinstance(uploader_id, str) and uploader_id and not uploader_id.isdigit():
        return uploader_id
    for key in ("uploader_url", "channel_url"):
        url = info.get(key)
        if isinstance(url, str):
            segments = [s for s in urlsplit(url).path.split("/") if s]
            if len(segments) == 1 and not segments[0].isdigit():
                return segments[0]
    return None


def _links(text: object) -> list[str]:
    """The http(s) URLs a post's text names, in order, once each."""
    if not isinstance(text, str):
        return []
    found = [m.rstrip(".,;:!?") for m in _URL.findall(text)]
    return list(dict.fromkeys(found))


def post_claims(info: dict[str, Any]) -> dict[str, Any]:
    """Normalised post fields from a yt-dlp info dict (missing ones left out)."""
    claims: dict[str, Any] = {
        "platform": str(info.get("extractor_key") or info.get("extractor") or "unknown").lower(),
        "post_id": info.get("id"),
        "url": info.get("webpage_url") or info.get("original_url"),
        "author_id": info.get("channel_id") or info.get("uploader_id"),
        "author_handle": _handle(info),
        "author_name": info.get("uploader") or info.get("channel"),
        "posted": _posted(info),
        "title": info.get("title"),
        "text": info.get("description"),
        "language": info.get("language"),
        "tags": info.get("tags"),
        "duration_seconds": info.get("duration"),
        "live": info.get("is_live") or info.get("was_live") or None,
        "engagement": {
            k: info.get(f"{k}_count")
            for k in ("view", "like", "comment", "repost")
            if info.get(f"{k}_count") is not None
        },
        "links": _links(info.get("description")),
        "geo": info.get("location"),
        "reply_to": info.get("parent_id"),
        "formats_listed": len(info.get("formats") or []),
    }
    return {k: v for k, v in claims.items() if v not in (None, "", [], {})}

"""Takedown evidence: re-check captured items and log ``item.gone`` when they vanished.

A page or medium whose URL now answers 404 or 410, or a platform post yt-dlp now
reports unavailable, gets an ``item.gone`` event naming the item, its SHA-256, the
URL, the HTTP status or the platform's message, and when we saw it. A network
failure on our side is reported as ``unreachable``, never as gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import requests
import yt_dlp
from yt_dlp.utils import DownloadError

from vigil.capture.fetch import FetchOptions
from vigil.capture.media import platform_extractor
from vigil.db.index import ItemRow
from vigil.events import ITEM_GONE, Actor, rfc3339, utc_now

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["RecheckResult", "recheck"]

GONE_STATUSES = (404, 410, 451)
Outcome = Literal["present", "gone", "unreachable"]


@dataclass(frozen=True)
class RecheckResult:
    item: ItemRow
    outcome: Outcome
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "url": self.item.url,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def _check_http(url: str, options: FetchOptions) -> tuple[Outcome, str, int | None]:
    try:
        response = requests.get(
            url,
            headers={"User-Agent": options.user_agent},
            timeout=(options.connect_timeout, options.read_timeout),
            stream=True,
        )
        response.close()
    except requests.RequestException as exc:
        return "unreachable", type(exc).__name__, None
    if response.status_code in GONE_STATUSES:
        return "gone", f"HTTP {response.status_code} {response.reason}", response.status_code
    return "present", f"HTTP {response.status_code}", response.status_code


def _check_platform(url: str) -> tuple[Outcome, str, int | None]:
    try:
        with yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "skip_download": True}) as ydl:
            ydl.extract_info(url, download=False)
    except DownloadError as exc:
        message = " ".join(str(exc).removeprefix("ERROR: ").split())[:300]
        lowered = message.lower()
        words = ("unavailable", "deleted", "removed", "not found", "private", "suspended", "404")
        if any(w in lowered for w in words):
            return "gone", message, None
        return "unreachable", message, None
    return "present", "yt-dlp found it", None


def recheck(
    archive: Archive, to_check: list[ItemRow], options: FetchOptions | None = None
) -> list[RecheckResult]:
    """Re-check items that have a URL; log ``item.gone`` for those that vanished."""
    options = options or FetchOptions()
    actor = Actor.current().as_json()
    results, events = [], []
    for item in to_check:
        if not item.url:
            continue
        if item.kind == "post" and platform_extractor(item.url):
            outcome, detail, status = _check_platform(item.url)
        else:
            outcome, detail, status = _check_http(item.url, options)
        results.append(RecheckResult(item, outcome, detail))
        if outcome == "gone":
            events.append(
                {
                    "v": 1,
                    "type": ITEM_GONE,
                    "at": rfc3339(utc_now()),
                    "item": item.id,
                    "sha256": item.sha256,
                    "url": item.url,
                    "http_status": status,
                    "message": detail,
                    "actor": actor,
                }
            )
    if events:
        archive.append_events(events)
        archive.checkpoint()
    return results

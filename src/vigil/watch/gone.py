"""Takedown evidence: re-check captured items and log ``item.gone`` when they vanished.

A page or medium whose URL now answers 404, 410 or 451, or a platform post yt-dlp
now reports unavailable, gets an ``item.gone`` event naming the item, its SHA-256,
the URL, the HTTP status or the platform's message, and when we saw it.

A temporary failure is not evidence of a takedown: a connection failure, a 403
(often a bot wall), a 429 (rate limit), a 5xx (server trouble) and any other error
status are reported as ``unreachable``, never as gone, and never as present.

`vigil watch` uses `mark_gone` when a watched page or feed starts answering
404/410/451: each page captured from that URL gets its ``item.gone`` once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import requests
import yt_dlp
from sqlalchemy import exists, or_, select
from yt_dlp.utils import DownloadError

from vigil.capture.fetch import FetchOptions
from vigil.capture.media import platform_extractor
from vigil.db.index import ItemRow
from vigil.db.schema import events, items
from vigil.events import ITEM_GONE, Actor, rfc3339, utc_now

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["GONE_STATUSES", "RecheckResult", "http_outcome", "mark_gone", "recheck", "record_gone"]

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
    status = response.status_code
    outcome = http_outcome(status)
    detail = f"HTTP {status}" if outcome == "present" else f"HTTP {status} {response.reason}"
    return outcome, detail, status


def http_outcome(status: int) -> Outcome:
    """What an HTTP status (after redirects) says of a captured URL: 404/410/451 gone;
    below 400 present; any other error (403, 429, 5xx…) unreachable, as it may pass."""
    if status in GONE_STATUSES:
        return "gone"
    return "present" if status < 400 else "unreachable"


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
    results, gone = [], []
    for item in to_check:
        if not item.url:
            continue
        if item.kind == "post" and platform_extractor(item.url):
            outcome, detail, status = _check_platform(item.url)
        else:
            outcome, detail, status = _check_http(item.url, options)
        results.append(RecheckResult(item, outcome, detail))
        if outcome == "gone":
            gone.append((item, status, detail))
    record_gone(archive, gone)
    return results


def record_gone(archive: Archive, gone: list[tuple[ItemRow, int | None, str]]) -> None:
    """Log an ``item.gone`` for each (item, HTTP status or None, message), and sign a
    checkpoint over them (nothing when *gone* is empty)."""
    if not gone:
        return
    actor = Actor.current().as_json()
    at = rfc3339(utc_now())
    archive.append_events(
        [
            {
                "v": 1,
                "type": ITEM_GONE,
                "at": at,
                "item": item.id,
                "sha256": item.sha256,
                "url": item.url,
                "http_status": status,
                "message": message,
                "actor": actor,
            }
            for item, status, message in gone
        ]
    )
    archive.checkpoint()


def mark_gone(archive: Archive, url: str, status: int, message: str) -> list[ItemRow]:
    """Log ``item.gone`` for the pages captured from *url* (requested or final URL)
    that have none yet, and return them.

    Once per page: a source that keeps answering 410 does not repeat it on every
    poll; a page captured again after it came back gets its own when it goes again.
    """
    warcs = select(items.c.id).where(items.c.kind == "warc", items.c.url == url)
    marked = exists().where(events.c.item_id == items.c.id, events.c.type == ITEM_GONE)
    query = (
        select(items.c.id)
        .where(items.c.kind == "page", or_(items.c.url == url, items.c.parent_id.in_(warcs)))
        .where(~marked)
        .order_by(items.c.added_index)
    )
    with archive.index.engine.connect() as conn:
        ids = [str(i) for (i,) in conn.execute(query)]
    pages = [archive.index.item(i) for i in ids]
    record_gone(archive, [(page, status, message) for page in pages])
    return pages

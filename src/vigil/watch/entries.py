"""Which entries of a source are captured, and when to try again those that are not.

* An entry counts as captured when a web capture *requested* its link (the ``warc``
  item's ``url``) and got a 2xx final response (its ``capture.status``), or when a
  platform post was captured from it. Matching the requested URL, not the page's
  final one, keeps a redirected link from being captured again on every poll;
  requiring a 2xx keeps a stored "503 overloaded" answer from counting as the entry
  (it stays in the archive: it is what the server said).
* An entry not captured yet is tried again on later polls of its source, even when
  the feed has not changed, with its own backoff: after its n-th failure it waits at
  least ``every × 2^(n−1)`` (at most `MAX_BACKOFF`), and after `MAX_ATTEMPTS`
  failures it is given up (the poll says so once). The schedule is kept in memory:
  after a restart each entry not captured yet is tried once more, then backs off.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from vigil.db.schema import events, items
from vigil.events import ITEM_ADDED

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.engine import Connection

    from vigil.archive import Archive

__all__ = ["MAX_ATTEMPTS", "MAX_BACKOFF", "EntryRetries", "backoff", "captured_urls", "last_feed"]

MAX_BACKOFF = 6 * 3600
MAX_ATTEMPTS = 10
_CHUNK = 500  # URLs per query (SQLite allows a few thousand bound parameters)


def backoff(every: int, failures: int) -> float:
    """How long a source or entry waits after its *failures*-th failure in a row."""
    return float(min(MAX_BACKOFF, every * 2 ** max(0, failures - 1)))


def captured_urls(archive: Archive, urls: Iterable[str]) -> set[str]:
    """Those of *urls* captured successfully (a 2xx web capture, or a post)."""
    wanted = list(dict.fromkeys(urls))
    found: set[str] = set()
    with archive.index.engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found |= _posts(conn, chunk) | _pages(conn, chunk)
    return found


def _posts(conn: Connection, urls: list[str]) -> set[str]:
    query = select(items.c.url).where(items.c.kind == "post", items.c.url.in_(urls))
    return {str(url) for (url,) in conn.execute(query)}


def _warcs(urls: list[str]) -> Select[str, str, str]:
    """(id, url, ledger entry) of the web captures that requested one of *urls*, newest first."""
    return (
        select(items.c.id, items.c.url, events.c.entry)
        .join(events, (events.c.item_id == items.c.id) & (events.c.type == ITEM_ADDED))
        .where(items.c.kind == "warc", items.c.url.in_(urls))
        .order_by(items.c.added_index.desc())
    )


def _pages(conn: Connection, urls: list[str]) -> set[str]:
    return {str(url) for _id, url, entry in conn.execute(_warcs(urls)) if _succeeded(entry)}


def _succeeded(entry: str) -> bool:
    """Whether a web capture's ledger entry says its final response was a 2xx."""
    capture = json.loads(entry).get("capture")
    status = capture.get("status") if isinstance(capture, dict) else None
    return isinstance(status, int) and 200 <= status < 300


def last_feed(archive: Archive, url: str) -> bytes | None:
    """The body of the newest successful capture of the feed at *url*, if any.

    What a restarted watch reads the entries from when the feed has not changed
    since (its poll then brings no body).
    """
    with archive.index.engine.connect() as conn:
        warc_id = next(
            (str(i) for i, _url, entry in conn.execute(_warcs([url])) if _succeeded(entry)), None
        )
    if warc_id is None:
        return None
    page = next((c for c in archive.index.children(warc_id) if c.kind == "page"), None)
    if page is None:
        return None
    with archive.blobs.open(page.sha256) as f:
        return f.read()


@dataclass
class _Retry:
    failures: int = 0
    next_at: float = 0.0


class EntryRetries:
    """When each entry that failed may be tried again (in memory, keyed by its link)."""

    def __init__(self) -> None:
        self._retries: dict[str, _Retry] = {}

    def due(self, link: str, now: float) -> bool:
        retry = self._retries.get(link)
        return retry is None or (retry.failures < MAX_ATTEMPTS and retry.next_at <= now)

    def given_up(self, link: str) -> bool:
        retry = self._retries.get(link)
        return retry is not None and retry.failures >= MAX_ATTEMPTS

    def failed(self, link: str, every: int, now: float) -> int:
        """Count a failure; the entry waits its backoff, less half a poll of slack (the
        polls of a source are not exactly *every* apart). Returns the failures so far."""
        retry = self._retries.setdefault(link, _Retry())
        retry.failures += 1
        retry.next_at = now + backoff(every, retry.failures) - every / 2
        return retry.failures

    def succeeded(self, link: str) -> None:
        self._retries.pop(link, None)

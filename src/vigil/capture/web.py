"""`vigil capture URL`: a web page, its media and its text, as provable items.

One capture makes:

* a ``warc`` item: the WARC 1.1 file of every HTTP exchange (each redirect hop,
  the page, each medium one hop deep), with server IPs and TLS certificates;
* a ``page`` item and ``media`` items: each response body as its own blob (after
  removing transfer and content encodings, i.e. the bytes a browser would use),
  naming the WARC record it came from; their ``parent`` is the ``warc`` item;
* a ``text`` derivative of the page (trafilatura): main text, with what the page
  claims about itself (title, author, published time, language) kept as claims;
* a full-page ``screenshot`` derivative when Chromium is installed (the capture
  still succeeds without it, and its problems say so).

All blobs are durable before one batch of events is logged; then a checkpoint is
signed. A URL that gives no response at all stores nothing (`CaptureError`).
`capture_many` fetches several URLs at once on threads and logs the captures in
groups (one durable batch of blobs, one ledger append per group).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import logging
import os
import platform
import secrets
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trafilatura
from warcio.archiveiterator import ArchiveIterator

from vigil import __version__
from vigil.blobs.base import StoredBlob
from vigil.capture.connections import HttpClient
from vigil.capture.fetch import Fetched, FetchOptions
from vigil.capture.httpwarc import URLLIB3_VERSION, WarcSession
from vigil.capture.page import PageText, extract_text, media_urls
from vigil.capture.publicip import public_ip
from vigil.capture.screenshot import take_screenshot
from vigil.capture.spool import Spool
from vigil.errors import CaptureError
from vigil.events import DERIVATIVE_ADDED, ITEM_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id
from vigil.sniff import sniff_media_type

if TYPE_CHECKING:
    from vigil.archive import Archive
    from vigil.blobs.base import BlobStore
    from vigil.db.index import ItemRow

__all__ = ["CaptureResult", "WebCapturer"]

logger = logging.getLogger(__name__)


@dataclass
class CaptureResult:
    url: str
    items: list[ItemRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "items": [i.brief() for i in self.items],
            "problems": self.problems,
        }


@dataclass
class _Response:
    """One response record of the WARC and the blob of its body."""

    url: str
    status: int
    content_type: str
    record_id: str
    warc_date: str
    ip: str | None
    blob: StoredBlob
    truncated: bool = False  # not read whole: *blob* is replaced by its record's payload


@dataclass
class _Fetch:
    """What the network half of a capture brought: a temporary WARC, the page, and the
    blobs of the bodies and certificates (stored as they were read)."""

    url: str
    started: dt.datetime
    warc: Spool
    page: Fetched | None = None
    text: PageText | None = None
    responses: list[_Response] = field(default_factory=list)
    page_response: _Response | None = None
    certificates: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: CaptureError | None = None

    def add(self, fetched: Fetched, *, page: bool = False) -> None:
        """Keep a response with a body as a future item (not a redirect hop)."""
        status = fetched.status or 0
        if fetched.blob is None or 300 <= status < 400 or not fetched.record.get("id"):
            return
        if fetched.blob.size == 0 and not fetched.truncated:
            return
        response = _Response(
            url=fetched.final_url,
            status=status,
            content_type=fetched.content_type,
            record_id=fetched.record.get("id") or "",
            warc_date=fetched.record.get("date") or "",
            ip=fetched.record.get("ip"),
            blob=fetched.blob,
            truncated=fetched.truncated,
        )
        self.responses.append(response)
        self.page_response = response if page else self.page_response

    def bodies_from_records(self, store: BlobStore) -> None:
        """Replace each body not read whole by its WARC record's payload (as warcio
        decodes it): the item then holds what the record it names holds, as before this
        shortcut existed. Rare (cut, dropped or undecodable responses)."""
        wanted = {r.record_id: r for r in self.responses if r.truncated}
        if not wanted:
            return
        lost = set()
        for record in ArchiveIterator(self.warc.reader()):
            response = wanted.get(record.rec_headers.get_header("WARC-Record-ID"))
            if response is None:
                continue
            try:
                response.blob = store.put(record.content_stream())
            except (OSError, ValueError, EOFError, zlib.error) as exc:
                self.problems.append(f"{response.url}: body unreadable in the WARC: {exc}")
                lost.add(response.record_id)
        self.responses = [r for r in self.responses if r.blob.size > 0 and r.record_id not in lost]
        if self.page_response is not None and self.page_response not in self.responses:
            self.page_response = None


@dataclass
class _Prepared:
    """A capture stored but not logged: its blobs are put, its events made."""

    result: CaptureResult
    events: list[dict[str, Any]]
    page: Fetched | None = None  # for the screenshot
    page_id: str | None = None


@functools.cache
def _tools() -> dict[str, str]:
    """The versions a capture names (read once per process: installed metadata is slow)."""
    return {
        "vigil": __version__,
        "urllib3": URLLIB3_VERSION,
        "trafilatura": trafilatura.__version__,
        "python": platform.python_version(),
    }


def _name_for(url: str) -> str:
    parts = urlsplit(url)
    return parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.hostname or url


class WebCapturer:
    """Captures URLs into an archive."""

    def __init__(
        self,
        archive: Archive,
        options: FetchOptions | None = None,
        *,
        media: bool = True,
        screenshot: bool = True,
    ) -> None:
        self.archive = archive
        self.options = options or FetchOptions()
        self.media = media
        self.screenshot = screenshot
        self.actor = Actor.current().as_json()
        self._local = threading.local()  # each fetching thread's `HttpClient`

    def capture(self, url: str, *, checkpoint: bool = True) -> CaptureResult:
        """Capture *url*; `CaptureError` (nothing stored) if it gives no response at all.

        With ``checkpoint=False`` the caller signs one checkpoint after many captures.
        """
        _url, prepared = self._fetch_and_store(url)
        if isinstance(prepared, CaptureError):
            raise prepared
        self._add_screenshot(prepared)
        [(_url, result)] = self._commit([(url, prepared)])
        if checkpoint:
            self.archive.checkpoint()
        assert isinstance(result, CaptureResult)
        return result

    def capture_many(
        self, urls: Iterable[str], *, workers: int = 4, group: int = 64, processes: int = 1
    ) -> Iterator[tuple[str, CaptureResult | CaptureError]]:
        """Capture *urls*, *workers* fetching at once, yielding (url, outcome) in order.

        Fetching and storing the blobs (network, a temporary WARC, the text extraction,
        the blob puts) run on worker threads, or with *processes* > 1 in that many
        worker processes sharing the *workers* threads (`vigil.capture.webpool`: the work
        is CPU-bound); screenshots, one at a time, and logging run here. Every *group*
        captures, their blobs are made durable together and their events logged in one
        append: the same guarantees as `capture`, one fsync for many. No checkpoint is
        signed: the caller signs one at the end.
        """
        from vigil.blobs.fs import FilesystemBlobStore
        from vigil.capture.webpool import CHUNK, capture_in_processes

        given = iter(urls)
        first = list(itertools.islice(given, 2 * CHUNK))  # (the rest read as it is needed)
        stream: Iterator[tuple[str, _Prepared | CaptureError]]
        if (processes > 1 and len(first) >= 2 * CHUNK
                and isinstance(self.archive.blobs, FilesystemBlobStore)):  # fmt: skip
            threads = max(1, workers // processes)  # *workers* in flight in all (politeness)
            stream = capture_in_processes(self, itertools.chain(first, given),
                                          processes=processes, threads=threads)  # fmt: skip
        else:
            stream = self._prepare_on_threads([*first, *given], workers)
        pending: list[tuple[str, _Prepared | CaptureError]] = []
        try:
            for url, prepared in stream:
                if isinstance(prepared, _Prepared):
                    self._add_screenshot(prepared)
                pending.append((url, prepared))
                if len(pending) >= group:
                    yield from self._commit(pending)
                    pending = []
        except CaptureError:  # a worker died: log what is stored, then say so
            self._commit(pending)
            raise
        yield from self._commit(pending)

    def _prepare_on_threads(
        self, urls: list[str], workers: int
    ) -> Iterator[tuple[str, _Prepared | CaptureError]]:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fetch") as pool:
            queue: deque[Future[tuple[str, _Prepared | CaptureError]]] = deque()
            todo = iter(urls)
            for url in itertools.islice(todo, 2 * workers):
                queue.append(pool.submit(self._fetch_and_store, url))
            while queue:
                done = queue.popleft().result()
                for more in itertools.islice(todo, 1):
                    queue.append(pool.submit(self._fetch_and_store, more))
                yield done

    def _fetch_and_store(self, url: str) -> tuple[str, _Prepared | CaptureError]:
        """Everything of a capture but the screenshot and the logging (thread-safe).

        An unexpected error (a bug met by one page) fails that URL alone, with its
        traceback in the log: the other captures of the run go on."""
        try:
            fetched = self._fetch(url)
            return url, fetched.error or self._prepare(fetched)
        except Exception as exc:
            logger.exception("capture of %s failed", url)
            return url, CaptureError(f"{url}: capture failed ({type(exc).__name__}: {exc})")

    def _add_screenshot(self, prepared: _Prepared) -> None:
        if self.screenshot and prepared.page is not None and prepared.page_id is not None:
            prepared.events += self._screenshot_event(
                prepared.page, prepared.page_id, prepared.events[0]["at"], prepared.result
            )

    def _fetch(self, url: str) -> _Fetch:
        """The network half of a capture: the temporary WARC, and each body and TLS
        certificate stored as a blob as it is read (thread-safe; nothing is logged)."""
        started = utc_now()
        fetched = _Fetch(url, started, Spool(self.archive.blobs.tmp))
        if urlsplit(url).scheme not in ("http", "https"):
            fetched.error = CaptureError(f"{url}: not an http(s) URL")
            return fetched
        try:
            if not hasattr(self._local, "client"):
                self._local.client = HttpClient(self.options)
            name = f"{os.getpid()}-{secrets.token_hex(8)}.warc.gz"
            warc = WarcSession(fetched.warc, name, self.options, self.archive.blobs,
                               self._local.client)  # fmt: skip
            with warc as session:
                page = session.get(url, keep_body=True)
                fetched.page = page
                fetched.add(page, page=True)
                fetched.problems += [f"{url}: {page.problem}"] if page.problem else []
                if page.status is not None and page.status >= 400:  # (evidence all the same)
                    fetched.problems.append(f"{url}: the page answered HTTP {page.status}")
                if self.media and page.body:
                    for media_url in media_urls(page.body, page.final_url):
                        fetched.problems += self._fetch_medium(session, media_url, fetched)
            fetched.certificates = session.certificates
            fetched.bodies_from_records(self.archive.blobs)
            if page.body:
                fetched.text = extract_text(page.body, page.final_url, page.content_type)
        except CaptureError as exc:
            fetched.warc.close()
            fetched.error = exc
        except BaseException:
            fetched.warc.close()
            raise
        return fetched

    def _prepare(self, fetched: _Fetch) -> _Prepared:
        """Store the WARC of a fetch and make its events (not logged yet)."""
        assert fetched.page is not None
        result = CaptureResult(fetched.url, problems=fetched.problems)
        try:
            warc = self.archive.blobs.put(fetched.warc.reader())
            events, page_id = self._events(fetched, warc, result)
        finally:
            fetched.warc.close()
        return _Prepared(result, events, fetched.page if fetched.page.body else None, page_id)

    def _commit(
        self, prepared: list[tuple[str, _Prepared | CaptureError]]
    ) -> list[tuple[str, CaptureResult | CaptureError]]:
        """Make the blobs durable, then log every event of *prepared* in one append."""
        from vigil.db.index import ItemRow  # here: worker processes never import the database layer

        failed = self.archive.blobs.sync()  # in deferred mode: every blob durable first
        if failed:
            raise next(iter(failed.values()))
        done = [p for _u, p in prepared if isinstance(p, _Prepared)]
        events = [e for p in done for e in p.events]
        logged = iter(self.archive.append_events(events) if events else [])
        for p in done:
            p.result.items = [ItemRow.from_event(next(logged)) for _ in p.events]
        return [(u, p if isinstance(p, CaptureError) else p.result) for u, p in prepared]

    def _fetch_medium(self, session: WarcSession, url: str, capture: _Fetch) -> list[str]:
        try:
            fetched = session.get(url)
        except CaptureError as exc:
            return [str(exc)]
        capture.add(fetched)
        if fetched.problem:
            return [f"{url}: {fetched.problem}"]
        if fetched.status is not None and fetched.status >= 400:
            return [f"{url}: HTTP {fetched.status}"]
        return []

    def _events(
        self,
        fetched: _Fetch,
        warc: StoredBlob,
        result: CaptureResult,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The events of a capture (without its screenshot), and the page's item id."""
        url, started, page = fetched.url, fetched.started, fetched.page
        responses, certificates = fetched.responses, fetched.certificates
        assert page is not None
        now = rfc3339(utc_now())
        warc_id = new_item_id()
        host = urlsplit(url).hostname or "capture"
        events: list[dict[str, Any]] = [
            {
                "v": 1,
                "type": ITEM_ADDED,
                "kind": "warc",
                "at": now,
                "item": warc_id,
                "sha256": warc.sha256,
                "size": warc.size,
                "media_type": "application/warc",
                "name": f"{host}-{started.strftime('%Y%m%dT%H%M%SZ')}.warc.gz",
                "url": url,
                "capture": {
                    "started": rfc3339(started),
                    "requested": url,
                    "final_url": page.final_url,
                    "status": page.status,
                    "redirects": page.hops,
                    "request_headers": page.request_headers
                    or {"User-Agent": self.options.user_agent},
                    "tls_certificates": certificates,
                    "problems": result.problems,
                    "tools": dict(_tools()),  # (a copy: the cached one is shared)
                    **({"public_ip": ip} if (ip := public_ip()) else {}),
                },
                "actor": self.actor,
            }
        ]
        page_id = None
        for response in responses:
            is_page = response is fetched.page_response
            item_id = new_item_id()
            page_id = item_id if is_page else page_id
            http: dict[str, Any] = {
                "status": response.status,
                "content_type": response.content_type,
                "warc_record_id": response.record_id,
                "warc_date": response.warc_date,
                "ip": response.ip,
            }
            if response.truncated:
                http["truncated"] = True
            events.append(
                {
                    "v": 1,
                    "type": ITEM_ADDED,
                    "kind": "page" if is_page else "media",
                    "at": now,
                    "item": item_id,
                    "parent": warc_id,
                    "sha256": response.blob.sha256,
                    "size": response.blob.size,
                    "media_type": sniff_media_type(response.blob.head),
                    "name": _name_for(response.url),
                    "url": response.url,
                    "http": http,
                    "actor": self.actor,
                }
            )
        if page_id is not None and page.body:
            events += self._text_event(page, fetched.text, page_id, now)
        return events, page_id

    def _screenshot_event(
        self, page: Fetched, page_id: str, now: str, result: CaptureResult
    ) -> list[dict[str, Any]]:
        try:
            shot = take_screenshot(page.final_url, user_agent=self.options.user_agent,
                                   insecure=self.options.verify_tls is False)  # fmt: skip
        except CaptureError as exc:
            result.problems.append(str(exc))
            return []
        except Exception as exc:  # a bug or Chromium talking nonsense: the capture stands
            logger.exception("screenshot of %s failed", page.final_url)
            result.problems.append(f"no screenshot: {type(exc).__name__}: {exc}")
            return []
        blob = self.archive.blobs.put(io.BytesIO(shot.png))
        return [
            {
                "v": 1,
                "type": DERIVATIVE_ADDED,
                "kind": "screenshot",
                "at": now,
                "item": new_item_id(),
                "of": page_id,
                "sha256": blob.sha256,
                "size": blob.size,
                "media_type": "image/png",
                "name": "screenshot.png",
                "url": page.final_url,
                "tool": shot.tool,
                "rendering": {
                    "width": shot.width,
                    "height": shot.height,
                    "page_height": shot.full_height,
                    "note": "rendered live by headless Chromium at capture time, not from the WARC",
                },
                "actor": self.actor,
            }
        ]

    def _text_event(
        self, page: Fetched, text: PageText | None, page_id: str, now: str
    ) -> list[dict[str, Any]]:
        if text is None or not text.text:
            return []
        blob = self.archive.blobs.put(io.BytesIO(text.text.encode("utf-8")))
        return [
            {
                "v": 1,
                "type": DERIVATIVE_ADDED,
                "kind": "text",
                "at": now,
                "item": new_item_id(),
                "of": page_id,
                "sha256": blob.sha256,
                "size": blob.size,
                "media_type": "text/plain",
                "name": "text.txt",
                "url": page.final_url,
                "tool": text.tool,
                "claimed": text.metadata(),
                "actor": self.actor,
            }
        ]

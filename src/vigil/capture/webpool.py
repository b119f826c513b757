"""Web captures on every core: the fetch and store half of many captures in worker
processes, the screenshots and the logging in the caller's.

Measured on the capture bench, a page costs about 20 ms of CPU (HTTP through requests
and warcio, text extraction, hashing, re-reading the WARC): with threads alone a
capture run uses one core. Here each worker process holds a `WebCapturer` over the
archive's blob folder (a `FilesystemBlobStore` of its own, in deferred mode), takes
URLs in chunks, fetches them on a few threads (for network latency) and stores their
blobs, then makes every blob of the chunk durable (`sync`: two syncfs calls) before
it hands back the prepared events. The caller logs them in order, in groups, exactly
as `WebCapturer.capture_many` does, so a killed run loses at most the chunks in
flight, and nothing is logged before its blobs are durable.

Workers are forked by a ``forkserver``: the caller has threads running (the blob
syncer), and a fork of it would copy their locks; the fork server is a fresh process
that imports the capture code once, so each worker starts without importing it again.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import multiprocessing.forkserver
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from vigil.blobs.fs import FilesystemBlobStore
from vigil.errors import CaptureError

if TYPE_CHECKING:
    from vigil.capture.fetch import FetchOptions
    from vigil.capture.web import WebCapturer, _Prepared

__all__ = ["CHUNK", "capture_in_processes", "warm_up"]

CHUNK = 16  # URLs a worker takes at once (one blob sync each)

_capturer: WebCapturer | None = None
_store: FilesystemBlobStore | None = None
_threads = 1
_stack = contextlib.ExitStack()


class _BlobsOnly:
    """What a `WebCapturer` needs of an archive to fetch and store: its blob store."""

    def __init__(self, blobs: FilesystemBlobStore) -> None:
        self.blobs = blobs


def _start(blob_root: str, options: FetchOptions, media: bool, threads: int) -> None:
    """In each worker: a capturer over the blob folder, its puts deferred to `sync`."""
    global _capturer, _store, _threads
    from vigil.capture.web import WebCapturer

    _store = FilesystemBlobStore(Path(blob_root))
    _stack.enter_context(_store.deferred_sync())
    _capturer = WebCapturer(cast("Any", _BlobsOnly(_store)), options, media=media,
                            screenshot=False)  # fmt: skip
    _threads = threads


def _chunk(urls: list[str], keep_pages: bool) -> list[tuple[str, Any]]:
    """In a worker: fetch and store *urls*, make their blobs durable, hand back events."""
    if _capturer is None or _store is None:
        raise CaptureError("capture worker not started")
    capturer = _capturer
    with ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="fetch") as pool:
        done = list(pool.map(capturer._fetch_and_store, urls))
    failed = _store.sync()
    if failed:
        raise next(iter(failed.values()))
    if not keep_pages:  # bodies travel back only for screenshots
        for _url, prepared in done:
            if not isinstance(prepared, CaptureError):
                prepared.page = None
    return done


def warm_up() -> None:
    """Start the fork server now: it imports the capture code while the caller goes on
    (opening the archive, choosing which URLs are web pages), instead of after."""
    _context()
    multiprocessing.forkserver.ensure_running()


def _context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vigil.capture.web"])
    return context


def capture_in_processes(
    capturer: WebCapturer, urls: Iterable[str], *, processes: int, threads: int
) -> Iterator[tuple[str, _Prepared | CaptureError]]:
    """(url, prepared or error) for *urls*, in order, fetched and stored by *processes*
    workers of *threads* threads each; the caller screenshots and logs them. *urls* is
    read as chunks are handed out (the caller may still be choosing the next ones)."""
    store = capturer.archive.blobs
    if not isinstance(store, FilesystemBlobStore):
        raise CaptureError("capture in processes needs the filesystem blob store")
    given = iter(urls)
    chunks = iter(lambda: list(itertools.islice(given, CHUNK)), [])
    keep_pages = capturer.screenshot
    context = _context()
    with ProcessPoolExecutor(
        max_workers=processes, mp_context=context, initializer=_start,
        initargs=(str(store.root), capturer.options, capturer.media, threads),
    ) as pool:  # fmt: skip
        queue: deque[Future[list[tuple[str, Any]]]] = deque()
        try:
            for chunk in chunks:
                queue.append(pool.submit(_chunk, chunk, keep_pages))
                if len(queue) >= 2 * processes:
                    break
            while queue:
                done = queue.popleft().result()
                for chunk in chunks:
                    queue.append(pool.submit(_chunk, chunk, keep_pages))
                    break
                yield from done
        except BrokenProcessPool as exc:  # killed (out of memory, a signal): say so
            raise CaptureError(
                f"a capture worker process died ({exc}); what was stored is logged: run "
                "the capture again for the rest"
            ) from None

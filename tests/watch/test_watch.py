"""Sources and `vigil watch` against the local server: schedule, conditional GET, change
detection, backoff, politeness, clean stop on SIGTERM, takedown detection, entries
retried until captured, and sources that fail by a bug."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import pytest

from tests.capture.webserver import DYNAMIC, serve
from tests.conftest import run_vigil, vigil_env
from vigil.archive import Archive
from vigil.capture.fetch import FetchOptions
from vigil.capture.web import WebCapturer
from vigil.errors import InputError
from vigil.verify import verify_archive
from vigil.watch.gone import recheck
from vigil.watch.loop import Watcher
from vigil.watch.sources import Source, SourceList, parse_interval


@pytest.fixture
def site() -> Iterator[str]:
    DYNAMIC["changing"] = b"<html><body>version 1</body></html>"
    DYNAMIC["gone"] = set()
    DYNAMIC["log"] = []
    DYNAMIC["status"] = {}
    DYNAMIC["entries"] = []
    with serve() as base:
        yield base
    DYNAMIC["status"] = {}
    DYNAMIC["entries"] = []


def test_intervals_and_source_list(tmp_path: Path) -> None:
    assert [parse_interval(t) for t in ("90s", "5m", "1h", "2d", "30")] == [
        90,
        300,
        3600,
        172800,
        30,
    ]
    for bad in ("5x", "", "1s", "-5m"):
        with pytest.raises(InputError):
            parse_interval(bad)
    sources = SourceList(tmp_path / "sources.toml")
    a = sources.add("https://example.org/feed.xml", "feed", 600)
    b = sources.add("https://example.org/page", "page", 300)
    assert (a.id, b.id) == ("example-org", "example-org-2")
    with pytest.raises(InputError, match="watched already"):
        sources.add("https://example.org/page")
    for bad in ("http://[::1/x", "http://example.org:99999/", "http:///nohost"):
        with pytest.raises(InputError, match=r"not a valid URL|not an http"):
            sources.add(bad, "page", 300)
    with pytest.raises(InputError, match="not an http"):
        sources.add("ftp://example.org/x")
    sources.save()
    again = SourceList(tmp_path / "sources.toml")
    assert again.sources == sources.sources
    other = tmp_path / "other.toml"
    other.write_text(
        '[[source]]\nid = "new"\nurl = "https://other.example/x"\nkind = "page"\nevery = "1h"\n'
    )
    assert [s.id for s in again.merge(other)] == ["new"]
    (tmp_path / "broken.toml").write_text("[[source]]\nurl = 'https://x.example'\n")
    with pytest.raises(InputError, match="has no 'id'"):
        SourceList(tmp_path / "broken.toml")


def _due_later(watcher: Watcher, seconds: float) -> None:
    start = time.time()
    watcher.clock = lambda: start + seconds


def test_watch_captures_new_entries_once_and_failures_back_off(archive: Archive, site: str) -> None:
    sources = [
        Source("feed", f"{site}/feed.xml", "feed", 60),
        Source("page", f"{site}/changing", "page", 60),
        Source("broken", "http://127.0.0.1:9/nothing", "page", 60),
        Source("down", f"{site}/down", "page", 60),
    ]
    watcher = Watcher(archive, sources, host_gap=0)
    watcher.run(threading.Event(), once=True)
    status = {s.source.id: s for s in watcher.status()}
    urls = {i.url for i in archive.items() if i.kind == "page"}
    assert {
        f"{site}/feed.xml",
        f"{site}/page.html",
        f"{site}/latin1.html",
        f"{site}/changing",
    } <= urls
    assert status["feed"].captured > 0 and status["feed"].failures == 0
    for failing in ("broken", "down"):
        assert status[failing].failures == 1 and status[failing].last_error
        assert status[failing].next_run >= time.time() + 60 * 0.75 - 5
    assert "HTTP 503" in (status["down"].last_error or "")
    # a second round, later: nothing new, nothing captured twice
    items_before = len(archive.items())
    _due_later(watcher, 120)
    watcher.run(threading.Event(), once=True)
    assert len(archive.items()) == items_before
    status = {s.source.id: s for s in watcher.status()}
    assert status["broken"].failures == 2  # backing off: next wait doubles
    # the page changes: captured again
    DYNAMIC["changing"] = b"<html><body>version 2</body></html>"
    _due_later(watcher, 240)
    watcher.run(threading.Event(), once=True)
    pages = [i for i in archive.items() if i.url == f"{site}/changing" and i.kind == "page"]
    assert len(pages) == 2 and pages[0].sha256 != pages[1].sha256
    assert verify_archive(archive.root).ok


def test_conditional_get_and_politeness(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no Chromium: its page loads are not spaced
    sources = [
        Source("etag", f"{site}/etag.html", "page", 60),
        Source("other", f"{site}/changing", "page", 60),
    ]
    watcher = Watcher(archive, sources, host_gap=0.5)
    watcher.run(threading.Event(), once=True)
    _due_later(watcher, 120)
    watcher.run(threading.Event(), once=True)
    log = DYNAMIC["log"]
    assert isinstance(log, list)
    polls = [entry for entry in log if entry[1] == "/etag.html"]
    assert polls[-1][2] == '"v1"'  # the second poll was conditional (answered 304)
    # every request to the host (polls, the captures' pages and media) is host_gap apart
    times = [t for t, _path, _etag in log]
    assert len(times) >= 4
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.5 - 0.01


def test_takedown_is_recorded_as_evidence(archive: Archive, site: str) -> None:
    result = WebCapturer(archive, media=False).capture(f"{site}/page.html")
    page = result.items[1]
    (present,) = recheck(archive, [page])
    assert present.outcome == "present"
    DYNAMIC["gone"] = {"/page.html"}
    (gone,) = recheck(archive, [page])
    assert gone.outcome == "gone" and "410" in gone.detail
    events = archive.custody(page.id)
    assert [e.type for e in events] == ["item.added", "item.gone"]
    assert events[1].data["http_status"] == 410 and events[1].sha256 == page.sha256
    unreachable = page.__class__(**{**page.as_json(), "url": "http://127.0.0.1:9/x"})
    (down,) = recheck(archive, [unreachable])
    assert down.outcome == "unreachable"
    assert verify_archive(archive.root).ok


def test_cli_watch_stops_cleanly_on_sigterm_and_resumes(
    tmp_path: Path, site: str, database_url: str | None
) -> None:
    path = tmp_path / "archive"
    run_vigil("init", archive_path=path, database_url=database_url, check=True)
    run_vigil(
        "source",
        "add",
        f"{site}/feed.xml",
        "--kind",
        "feed",
        "--every",
        "10m",
        archive_path=path,
        database_url=database_url,
        check=True,
    )
    run_vigil(
        "source",
        "add",
        f"{site}/changing",
        "--every",
        "10m",
        archive_path=path,
        database_url=database_url,
        check=True,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil", "watch"],
        env=vigil_env(path, database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = json.loads(
            run_vigil(
                "source", "ls", "--json", archive_path=path, database_url=database_url, check=True
            ).stdout
        )
        if all(s["last_success"] for s in listed):
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopping after the current poll" in err
    assert json.loads(
        run_vigil("verify", "--json", archive_path=path, database_url=database_url).stdout
    )["ok"]
    count = len(
        json.loads(
            run_vigil(
                "ls", "--json", archive_path=path, database_url=database_url, check=True
            ).stdout
        )
    )
    # restart: nothing is due yet, nothing is captured twice
    run_vigil("watch", "--once", archive_path=path, database_url=database_url, check=True)
    assert (
        len(
            json.loads(
                run_vigil(
                    "ls", "--json", archive_path=path, database_url=database_url, check=True
                ).stdout
            )
        )
        == count
    )


def test_account_listing_captures_each_post_once(archive: Archive, site: str) -> None:
    watcher = Watcher(archive, [Source("channel", f"{site}/channel", "account", 60)], host_gap=0)
    watcher.run(threading.Event(), once=True)
    posts = sorted(i.url for i in archive.items() if i.kind == "post")
    assert posts == [f"{site}/media/clip.mp4", f"{site}/media/two.mp4"]
    _due_later(watcher, 120)
    watcher.run(threading.Event(), once=True)
    assert sorted(i.url for i in archive.items() if i.kind == "post") == posts
    (status,) = watcher.status()
    assert status.captured == 6 and status.failures == 0  # 2 posts, their media and WARCs


def test_a_malformed_feed_is_kept_and_reported(
    archive: Archive, site: str, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = Watcher(archive, [Source("bad", f"{site}/broken-feed.xml", "feed", 60)], host_gap=0)
    with caplog.at_level("WARNING", logger="vigil.watch.loop"):
        watcher.run(threading.Event(), once=True)
    assert "malformed feed" in caplog.text
    # the document itself is evidence of what was served; its link-less entry is skipped
    assert [i.kind for i in archive.items()] == ["warc", "page"]
    (status,) = watcher.status()
    assert status.failures == 0


def test_watch_enriches_what_it_captures_in_the_background(archive: Archive, site: str) -> None:
    watcher = Watcher(archive, [Source("feed", f"{site}/feed.xml", "feed", 60)], host_gap=0,
                      enrich=True)  # fmt: skip
    watcher.run(threading.Event(), once=True)  # --once waits for the enrich child
    assert watcher.enricher.runs >= 1 and watcher.enricher.child is None
    images = [i for i in archive.items() if i.media_type.startswith("image/") and i.kind == "media"]
    assert images
    for image in images:  # each derived, or its failure recorded (the site's PNGs are odd)
        done = {c.kind for c in archive.index.children(image.id)}
        failed = {json.loads(e.raw).get("derivation") for e in archive.custody(image.id)}
        assert {"pdq", "metadata", "c2pa", "ocr"} <= done | failed


def _warcs(archive: Archive, url: str) -> int:
    """How many web captures requested *url*."""
    return sum(1 for i in archive.items() if i.kind == "warc" and i.url == url)


def _bug() -> None:
    """Raise the ValueError the audit met (`urljoin` on ``<img src="http://[::1">``)."""
    urljoin("http://example.org/", "http://[::1")


def test_an_unexpected_error_in_one_source_does_not_stop_the_watch(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_parse = feedparser.parse

    def parse(body: bytes, *args: Any, **kwargs: Any) -> Any:  # a parser bug on one feed
        if b"Aleppo updates" in body:
            _bug()
        return real_parse(body, *args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", parse)
    sources = [
        Source("buggy", f"{site}/feed.xml", "feed", 60),
        Source("fine", f"{site}/changing", "page", 60),
    ]
    watcher = Watcher(archive, sources, host_gap=0)
    with caplog.at_level("WARNING", logger="vigil.watch.loop"):
        watcher.run(threading.Event(), once=True)
    status = {s.source.id: s for s in watcher.status()}
    assert status["buggy"].failures == 1
    assert "ValueError: Invalid IPv6 URL" in (status["buggy"].last_error or "")
    assert status["buggy"].next_run >= time.time() + 60 * 0.75 - 5  # backs off
    assert status["fine"].failures == 0 and status["fine"].captured > 0
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)  # traceback
    # the buggy source is due again (as after a restart): the watch still survives it
    _due_later(watcher, 120)
    watcher.run(threading.Event(), once=True)
    status = {s.source.id: s for s in watcher.status()}
    assert status["buggy"].failures == 2 and status["fine"].failures == 0
    # an interrupt is not a source's error
    monkeypatch.setattr(feedparser, "parse", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        watcher.poll_one(sources[0])
    assert verify_archive(archive.root).ok


def _interrupt(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt


def test_a_failing_entry_does_not_block_the_others_and_is_retried_after_a_restart(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.capture import web

    real = web.extract_text

    def extract(html: bytes, url: str, content_type: str) -> Any:  # a bug met mid-capture
        if url.endswith("/page.html"):
            _bug()
        return real(html, url, content_type)

    monkeypatch.setattr(web, "extract_text", extract)
    source = Source("feed", f"{site}/feed.xml", "feed", 60)
    first = Watcher(archive, [source], host_gap=0)
    first.run(threading.Event(), once=True)
    assert _warcs(archive, f"{site}/latin1.html") == 1  # listed after the failing entry
    assert _warcs(archive, f"{site}/page.html") == 0
    (status,) = first.status()
    assert status.failures == 0
    # the bug is fixed and the watch restarted; the feed has not changed since
    monkeypatch.undo()
    watcher = Watcher(archive, [source], host_gap=0)
    _due_later(watcher, 120)
    watcher.run(threading.Event(), once=True)
    assert _warcs(archive, f"{site}/page.html") == 1
    assert watcher.poller.already_captured(f"{site}/page.html")
    assert _warcs(archive, f"{site}/feed.xml") == 1  # unchanged: not captured again
    assert _warcs(archive, f"{site}/latin1.html") == 1
    assert verify_archive(archive.root).ok


def test_feed_entries_are_retried_until_a_2xx_and_matched_by_the_url_requested(
    archive: Archive, site: str
) -> None:
    DYNAMIC["entries"] = ["/latin1.html", "/redirect"]  # /redirect ends at /page.html
    DYNAMIC["status"] = {"/latin1.html": 503}
    watcher = Watcher(
        archive, [Source("feed", f"{site}/entries.xml", "feed", 600)], FetchOptions(retries=0),
        host_gap=0,
    )  # fmt: skip
    latin1, redirect = f"{site}/latin1.html", f"{site}/redirect"
    watcher.run(threading.Event(), once=True)
    assert (_warcs(archive, latin1), _warcs(archive, redirect)) == (1, 1)  # the 503 is kept
    assert not watcher.poller.already_captured(latin1)
    # the feed is unchanged: the failed entry is tried again, the other is not
    _due_later(watcher, 1200)
    watcher.run(threading.Event(), once=True)
    assert (_warcs(archive, latin1), _warcs(archive, redirect)) == (2, 1)
    # after two failures it waits two polls: not tried on the next one
    _due_later(watcher, 1800)
    watcher.run(threading.Event(), once=True)
    assert _warcs(archive, latin1) == 2
    # it is back, and the feed changed: captured; the redirected entry is not again
    DYNAMIC["status"] = {}
    DYNAMIC["entries"] = ["/etag.html", "/latin1.html", "/redirect"]
    _due_later(watcher, 2400)
    watcher.run(threading.Event(), once=True)
    assert (_warcs(archive, latin1), _warcs(archive, redirect)) == (3, 1)
    assert _warcs(archive, f"{site}/etag.html") == 1
    assert watcher.poller.already_captured(latin1) and watcher.poller.already_captured(redirect)
    # nothing left to capture: another poll adds nothing
    count = len(archive.items())
    _due_later(watcher, 3000)
    watcher.run(threading.Event(), once=True)
    assert len(archive.items()) == count
    (status,) = watcher.status()
    assert status.failures == 0
    assert verify_archive(archive.root).ok


def test_recheck_reports_temporary_failures_as_unreachable(archive: Archive, site: str) -> None:
    result = WebCapturer(archive, media=False, screenshot=False).capture(f"{site}/latin1.html")
    (page,) = [i for i in result.items if i.kind == "page"]
    for status in (403, 429, 500, 503):
        DYNAMIC["status"] = {"/latin1.html": status}
        (checked,) = recheck(archive, [page])
        assert checked.outcome == "unreachable" and f"HTTP {status}" in checked.detail
    assert [e.type for e in archive.custody(page.id)] == ["item.added"]  # no takedown claimed
    DYNAMIC["status"] = {"/latin1.html": 451}
    (checked,) = recheck(archive, [page])
    assert checked.outcome == "gone"
    assert [e.type for e in archive.custody(page.id)] == ["item.added", "item.gone"]


def test_a_watched_page_that_goes_away_is_marked_gone_once(archive: Archive, site: str) -> None:
    watcher = Watcher(archive, [Source("page", f"{site}/changing", "page", 60)], host_gap=0)
    watcher.run(threading.Event(), once=True)
    (page,) = [i for i in archive.items() if i.kind == "page"]
    DYNAMIC["gone"] = {"/changing"}
    for later in (120, 1000):  # the source keeps answering 410
        _due_later(watcher, later)
        watcher.run(threading.Event(), once=True)
    (status,) = watcher.status()
    assert status.failures == 2 and "HTTP 410" in (status.last_error or "")
    events = archive.custody(page.id)
    assert [e.type for e in events] == ["item.added", "item.gone"]  # once, not per poll
    assert events[1].data["http_status"] == 410 and events[1].data["url"] == f"{site}/changing"
    assert verify_archive(archive.root).ok


def test_feed_entries_a_platform_claims_go_through_yt_dlp(
    archive: Archive, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel's RSS feed lists video pages: as `vigil capture` does, those a platform
    extractor claims are captured through yt-dlp (here the extractor's verdict is faked
    for one local URL, the capture is real); what yt-dlp cannot take, as a web page."""
    from vigil.watch import poll

    claimed = {f"{site}/page.html", f"{site}/latin1.html"}  # the second has no video
    monkeypatch.setattr(poll, "platform_extractor", lambda url: "Fake" if url in claimed else None)
    DYNAMIC["entries"] = ["/page.html", "/latin1.html", "/etag.html"]
    watcher = Watcher(archive, [Source("feed", f"{site}/entries.xml", "feed", 600)], host_gap=0)
    watcher.run(threading.Event(), once=True)
    kinds = {url: sorted({i.kind for i in archive.items() if i.url == url})
             for url in (f"{site}/page.html", f"{site}/latin1.html", f"{site}/etag.html")}  # fmt: skip
    assert "post" in kinds[f"{site}/page.html"]  # through yt-dlp, with its video
    assert "post" not in kinds[f"{site}/latin1.html"] and "page" in kinds[f"{site}/latin1.html"]
    assert "post" not in kinds[f"{site}/etag.html"]
    (status,) = watcher.status()
    assert status.failures == 0
    # every entry counts as captured: another poll of the changed feed adds nothing for them
    count = len(archive.items())
    DYNAMIC["entries"] = ["/page.html", "/latin1.html", "/etag.html", "/gzip.html"]
    _due_later(watcher, 1200)
    watcher.run(threading.Event(), once=True)
    new = {i.url for i in archive.items()[count:]}
    assert f"{site}/page.html" not in new and f"{site}/latin1.html" not in new

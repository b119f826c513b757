"""Live HLS recording against real ffmpeg-published streams served on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.capture.hls import FFMPEG, HlsServer, Publisher
from tests.conftest import vigil_env
from vigil.archive import Archive
from vigil.capture.assemble import assemble
from vigil.capture.hls import parse_playlist
from vigil.capture.record import RecordingResult, RecordOptions, StreamRecorder
from vigil.db.index import ItemRow
from vigil.errors import CaptureError

pytestmark = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (scripts/setup)")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def listed_durations(playlist: Path) -> dict[str, float]:
    """Segment name -> EXTINF duration, as the publisher's playlist lists them now."""
    out, duration = {}, 0.0
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            out[line] = duration
    return out


def children(archive: Archive, result: RecordingResult, kind: str) -> list[ItemRow]:
    rows = archive.index.children(result.recording.id)
    return sorted((c for c in rows if c.kind == kind), key=lambda c: c.added_index)


@pytest.fixture
def sqlite_archive(tmp_path: Path) -> Iterator[Archive]:
    """For the slow live tests: the backends differ only in the index, tested elsewhere."""
    with Archive.init(tmp_path / "archive") as opened:
        yield opened


def record(archive: Archive, url: str, **options: Any) -> RecordingResult:
    options.setdefault("give_up", 5.0)
    return StreamRecorder(archive, url, RecordOptions(**options)).run()


class Background:
    """A recording on a thread, so the test can break the stream meanwhile."""

    def __init__(self, archive: Archive, url: str, **options: Any) -> None:
        self.stop = threading.Event()
        options.setdefault("give_up", 5.0)
        self.recorder = StreamRecorder(archive, url, RecordOptions(**options), stop=self.stop)
        self.result: RecordingResult | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.result = self.recorder.run()

    def join(self, timeout: float = 60) -> RecordingResult:
        self.thread.join(timeout)
        assert self.result is not None, "the recording did not end"
        return self.result


def assert_kept_everything(archive: Archive, result: RecordingResult, folder: Path) -> None:
    """Every segment the playlist listed is held byte for byte, once, in order."""
    listed = listed_durations(folder / "live.m3u8")
    segments = children(archive, result, "segment")
    assert [s.name for s in segments] == list(listed)
    for seg in segments:
        assert seg.sha256 == sha256_file(folder / seg.name)
        assert archive.blobs.path(seg.sha256).read_bytes() == (folder / seg.name).read_bytes()
    sequences = [int(s.claimed["sequence"]) for s in segments]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert archive.verify().ok


def assert_plays(archive: Archive, result: RecordingResult, seconds: float) -> ItemRow:
    remuxes = children(archive, result, "remux")
    assert len(remuxes) == 1, result.problems
    remux = remuxes[0]
    assert remux.media_type == "video/mp4"
    duration = ffprobe_duration(archive.blobs.path(remux.sha256))
    assert abs(duration - seconds) <= 1.0, (duration, seconds)
    return remux


def test_records_a_stream_to_its_end_every_segment_its_own_event(
    archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=4)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(1)
        result = record(archive, server.url("live.m3u8"), give_up=10)
    assert publisher.wait() == 0
    assert result.reason == "ended" and not result.abnormal and not result.missing
    assert_kept_everything(archive, result, folder)
    segments = children(archive, result, "segment")
    assert result.segments == len(segments) >= 4
    assert all(s.media_type == "video/mp2t" for s in segments)
    # Each segment is its own ledger entry, logged in order, with claims kept apart.
    entries = [json.loads(archive.custody(s.id)[0].raw) for s in segments]
    assert [e["claimed"]["sequence"] for e in entries] == list(range(len(segments)))
    assert all("program_date_time" in e["claimed"] for e in entries)
    assert all(e["fetched"]["status"] == 200 and e["fetched"]["started"] for e in entries)
    indexes = [archive.custody(s.id)[0].index for s in segments]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    # Every distinct playlist version fetched is kept (the first is the stream item).
    playlists = children(archive, result, "playlist")
    assert playlists and all(p.media_type == "application/vnd.apple.mpegurl" for p in playlists)
    assert len({p.sha256 for p in playlists} | {result.recording.sha256}) == len(playlists) + 1
    # The end is logged, and the assembled file names the segments it was made from.
    ended = [json.loads(e.raw) for e in archive.custody(result.recording.id)]
    assert [e["type"] for e in ended] == ["item.added", "stream.ended"]
    assert ended[1]["reason"] == "ended" and ended[1]["segments"] == len(segments)
    remux = assert_plays(archive, result, sum(listed_durations(folder / "live.m3u8").values()))
    remux_event = json.loads(archive.custody(remux.id)[0].raw)
    assert remux_event["made_from"] == [s.sha256 for s in segments]
    assert remux_event["tool"].startswith("ffmpeg ") and "-c" in remux_event["command"]
    # Anyone can redo the remux from the evidence: the same command gives the same bytes.
    again = assemble(segments, {}, {}, archive.blobs.path, tmp_path)
    try:
        assert sha256_file(again.path) == remux.sha256
        assert again.command == remux_event["command"]
    finally:
        again.cleanup()


def test_publisher_killed_midstream_keeps_every_published_segment(tmp_path: Path) -> None:
    folder = tmp_path / "www"
    archive_path = tmp_path / "archive"
    Archive.init(archive_path).close()
    publisher = Publisher(folder, seconds=60)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(1)
        recording = subprocess.Popen(
            [sys.executable, "-m", "vigil", "record", server.url("live.m3u8"), "--give-up", "3",
             "--json"],
            env=vigil_env(archive_path, None),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        publisher.wait_for_segments(4)
        publisher.kill()  # SIGKILL: no EXT-X-ENDLIST, the playlist just stops changing
        out, err = recording.communicate(timeout=60)
    assert recording.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])["recording"]
    assert summary["reason"] == "stalled" and summary["abnormal"] is True
    with Archive.open(archive_path) as archive:
        result = RecordingResult(summary["url"], archive.item(summary["recording"]), False)
        assert_kept_everything(archive, result, folder)
        published = sum(listed_durations(folder / "live.m3u8").values())
        assert abs(summary["duration"] - published) < 1e-3
        assert_plays(archive, result, published)


def test_http_server_killed_the_stream_vanishes_and_everything_is_kept(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=30)
    server = HlsServer(folder)
    server.start()
    try:
        publisher.wait_for_segments(1)
        background = Background(sqlite_archive, server.url("live.m3u8"), give_up=3)
        publisher.wait_for_segments(3)
        time.sleep(0.5)
        server.stop()
        result = background.join()
    finally:
        server.stop()
        publisher.kill()
    assert result.reason == "vanished" and result.abnormal
    assert "ConnectionError" in result.detail
    segments = children(sqlite_archive, result, "segment")
    assert len(segments) >= 3
    for seg in segments:
        assert seg.sha256 == sha256_file(folder / seg.name)
    assert sqlite_archive.verify().ok


def test_network_drop_then_reconnect_loses_nothing(sqlite_archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=7)
    server = HlsServer(folder)
    server.start()
    try:
        publisher.wait_for_segments(1)
        background = Background(sqlite_archive, server.url("live.m3u8"), give_up=10)
        publisher.wait_for_segments(2)
        server.stop()
        time.sleep(2.5)  # two segments are published while we cannot reach the server
        server.start()  # same port
        result = background.join()
    finally:
        server.stop()
    assert publisher.wait() == 0
    assert result.reason == "ended" and not result.missing
    assert_kept_everything(sqlite_archive, result, folder)


def test_sliding_window_with_fast_expiry_loses_no_segment(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=8, list_size=2, delete_old=True)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(1)
        result = record(sqlite_archive, server.url("live.m3u8"))
    assert publisher.wait() == 0
    segments = children(sqlite_archive, result, "segment")
    sequences = [int(s.claimed["sequence"]) for s in segments]
    assert len(sequences) >= 7 and not result.missing
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert len(list(folder.glob("*.ts"))) <= 4  # the publisher really deleted old segments
    assert sqlite_archive.verify().ok


def test_segment_404_is_retried_then_recorded_missing(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=5)
    with HlsServer(folder) as server:
        server.fail["live00001.ts"] = 2  # recovers on the third try
        server.fail["live00003.ts"] = 100  # never recovers
        publisher.wait_for_segments(1)
        result = record(archive, server.url("live.m3u8"), retry_wait=0.05)
    assert publisher.wait() == 0
    assert result.reason == "ended"
    assert [(m["sequence"], m["error"], m["attempts"]) for m in result.missing] == [
        (3, "HTTP 404", 4)
    ]
    segments = {s.name: s for s in children(archive, result, "segment")}
    assert "live00003.ts" not in segments
    entry = json.loads(archive.custody(segments["live00001.ts"].id)[0].raw)
    assert entry["fetched"]["attempts"] == 3
    ended = json.loads(archive.custody(result.recording.id)[-1].raw)
    assert ended["missing"][0]["uri"].endswith("live00003.ts")
    # The assembled file still plays, with the gap marked as a discontinuity.
    remux = children(archive, result, "remux")[0]
    listed = listed_durations(folder / "live.m3u8")
    kept = sum(d for name, d in listed.items() if name != "live00003.ts")
    assert (
        abs(ffprobe_duration(archive.blobs.path(remux.sha256)) - kept)
        <= 1.0 + listed["live00003.ts"]
    )


def _master(folder: Path, variants: dict[str, int]) -> None:
    lines = ["#EXTM3U"]
    for name, bandwidth in variants.items():
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}", f"{name}/live.m3u8"]
    (folder / "master.m3u8").write_text("\n".join(lines) + "\n")


def test_master_playlist_best_variant_or_all_variants(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    low = Publisher(folder / "low", seconds=4, size="160x120")
    high = Publisher(folder / "high", seconds=4, size="320x240")
    _master(folder, {"low": 200_000, "high": 800_000})
    with HlsServer(folder) as server:
        low.wait_for_segments(1)
        high.wait_for_segments(1)
        best = record(sqlite_archive, server.url("master.m3u8"))
        assert best.recording.media_type == "application/vnd.apple.mpegurl"
        assert {s.claimed["playlist"] for s in children(sqlite_archive, best, "segment")} == {
            server.url("high/live.m3u8")
        }
    low.wait(), high.wait()
    folder2 = tmp_path / "www2"
    low = Publisher(folder2 / "low", seconds=4, size="160x120")
    high = Publisher(folder2 / "high", seconds=4, size="320x240")
    _master(folder2, {"low": 200_000, "high": 800_000})
    with HlsServer(folder2) as server:
        low.wait_for_segments(1)
        high.wait_for_segments(1)
        both = record(sqlite_archive, server.url("master.m3u8"), all_variants=True)
    low.wait(), high.wait()
    assert both.reason == "ended"
    by_playlist: dict[str, int] = {}
    for seg in children(sqlite_archive, both, "segment"):
        by_playlist[seg.claimed["playlist"]] = by_playlist.get(seg.claimed["playlist"], 0) + 1
    assert set(by_playlist) == {server.url("low/live.m3u8"), server.url("high/live.m3u8")}
    remuxes = children(sqlite_archive, both, "remux")
    assert len(remuxes) == 2
    for remux in remuxes:
        assert ffprobe_duration(sqlite_archive.blobs.path(remux.sha256)) > 3
    assert sqlite_archive.verify().ok


def test_variant_vanishing_switches_to_the_next_best(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    low = Publisher(folder / "low", seconds=8, size="160x120")
    high = Publisher(folder / "high", seconds=30, size="320x240")
    _master(folder, {"low": 200_000, "high": 800_000})
    with HlsServer(folder) as server:
        low.wait_for_segments(1)
        high.wait_for_segments(1)
        background = Background(sqlite_archive, server.url("master.m3u8"))
        high.wait_for_segments(3)
        high.kill()
        _master(folder, {"low": 200_000})  # the origin drops the variant that died
        (folder / "high" / "live.m3u8").unlink()
        result = background.join()
    low.wait()
    assert result.reason == "ended", result.detail
    assert any("switched to" in p for p in result.problems)
    playlists = [s.claimed["playlist"] for s in children(sqlite_archive, result, "segment")]
    assert playlists[0].endswith("high/live.m3u8") and playlists[-1].endswith("low/live.m3u8")
    # The other variant is taken up where the first stopped: no stretch of time twice.
    times = [
        dt.datetime.fromisoformat(s.claimed["program_date_time"])
        for s in children(sqlite_archive, result, "segment")
    ]
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(steps) > 0.5, steps
    assert children(sqlite_archive, result, "remux"), result.problems
    assert sqlite_archive.verify().ok


def test_aes128_segments_are_kept_encrypted_with_their_key(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    folder.mkdir()
    key = os.urandom(16)
    (folder / "stream.key").write_bytes(key)
    key_info = tmp_path / "key_info"
    key_info.write_text(f"stream.key\n{folder / 'stream.key'}\n{os.urandom(16).hex()}\n")
    publisher = Publisher(folder, seconds=4, key_info=key_info)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(1)
        result = record(sqlite_archive, server.url("live.m3u8"))
    assert publisher.wait() == 0
    keys = children(sqlite_archive, result, "key")
    assert len(keys) == 1 and sqlite_archive.blobs.path(keys[0].sha256).read_bytes() == key
    segments = children(sqlite_archive, result, "segment")
    assert all(s.claimed["key"]["method"] == "AES-128" for s in segments)
    assert all(s.media_type != "video/mp2t" for s in segments)  # ciphertext, kept as received
    assert_kept_everything(sqlite_archive, result, folder)
    assert_plays(sqlite_archive, result, sum(listed_durations(folder / "live.m3u8").values()))


def test_recorder_killed_mid_segment_resumes_without_half_writes(tmp_path: Path) -> None:
    folder = tmp_path / "www"
    archive_path = tmp_path / "archive"
    Archive.init(archive_path).close()
    publisher = Publisher(folder, seconds=10)
    command = [sys.executable, "-m", "vigil", "record", "--give-up", "5", "--json"]
    with HlsServer(folder) as server:
        url = server.url("live.m3u8")
        publisher.wait_for_segments(1)
        first = subprocess.Popen(
            [*command, url], env=vigil_env(archive_path, None), stdout=subprocess.PIPE, text=True
        )
        assert first.stdout is not None
        seen = 0
        for line in first.stdout:  # two segments durable; then the next arrives in halves
            seen += json.loads(line).get("kind") == "segment"
            if seen == 2:
                server.segment_delay = 2.0
                break
        assert server.half_sent.wait(10)
        first.send_signal(signal.SIGKILL)  # mid-body: half a segment is in a temp file
        first.wait()
        server.segment_delay = 0
        tmp = archive_path / "blobs" / "tmp"
        assert all(p.name.startswith(f"{first.pid}-") for p in tmp.iterdir())
        status = subprocess.run(
            [sys.executable, "-m", "vigil", "record", "--status", "--json"],
            env=vigil_env(archive_path, None),
            capture_output=True,
            text=True,
            check=True,
        )
        interrupted = json.loads(status.stdout)
        assert len(interrupted) == 1 and interrupted[0]["process_alive"] is False
        assert interrupted[0]["segments"] == 2
        second = subprocess.run(
            [*command, url], env=vigil_env(archive_path, None), capture_output=True, text=True
        )
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout.splitlines()[-1])["recording"]
    assert summary["resumed"] is True and summary["reason"] == "ended"
    with Archive.open(archive_path) as archive:
        result = RecordingResult(url, archive.item(summary["recording"]), True)
        assert_kept_everything(archive, result, folder)
        assert not list(archive.blobs.stray_files())
        assert len([i for i in archive.items() if i.kind == "stream"]) == 1
        assert_plays(archive, result, sum(listed_durations(folder / "live.m3u8").values()))
        assert archive.reindex() >= 0  # and the dead process's temp file is cleared
    assert not list((archive_path / "blobs" / "tmp").iterdir())


def test_sigint_stops_cleanly_and_assembles(tmp_path: Path) -> None:
    folder = tmp_path / "www"
    archive_path = tmp_path / "archive"
    Archive.init(archive_path).close()
    publisher = Publisher(folder, seconds=30)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(1)
        recording = subprocess.Popen(
            [sys.executable, "-m", "vigil", "record", server.url("live.m3u8"), "--json"],
            env=vigil_env(archive_path, None),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        publisher.wait_for_segments(3)
        time.sleep(0.5)
        live = subprocess.run(
            [sys.executable, "-m", "vigil", "record", "--status"],
            env=vigil_env(archive_path, None),
            capture_output=True,
            text=True,
            check=True,
        )
        assert "recording" in live.stdout and "segments" in live.stdout
        recording.send_signal(signal.SIGINT)
        out, err = recording.communicate(timeout=30)
    publisher.kill()
    assert recording.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])["recording"]
    assert summary["reason"] == "stopped" and summary["abnormal"] is False
    assert any(json.loads(line).get("kind") == "remux" for line in out.splitlines()[:-1])
    with Archive.open(archive_path) as archive:
        assert archive.verify().ok
    idle = subprocess.run(
        [sys.executable, "-m", "vigil", "record", "--status"],
        env=vigil_env(archive_path, None),
        capture_output=True,
        text=True,
        check=True,
    )
    assert idle.stdout.strip() == "no live recordings"


def test_not_a_stream_is_a_clear_error_and_stores_nothing(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "page.m3u8").write_text("<html>not a playlist</html>")
    with HlsServer(folder) as server:
        with pytest.raises(CaptureError, match=r"page\.m3u8: not an HLS playlist"):
            record(archive, server.url("page.m3u8"))
        with pytest.raises(CaptureError, match="HTTP 404"):
            record(archive, server.url("gone.m3u8"))
    assert archive.items() == []


def test_playlist_parsing_keys_discontinuities_and_dates() -> None:
    text = b"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-PROGRAM-DATE-TIME:2016-12-13T10:00:00.000Z
#EXT-X-KEY:METHOD=AES-128,URI="k/1.key"
#EXTINF:2.0,
a.ts
#EXT-X-DISCONTINUITY
#EXT-X-KEY:METHOD=NONE
#EXTINF:1.5,
https://cdn.example/b.ts
"""
    playlist = parse_playlist(text, "http://origin.example/live/index.m3u8")
    first, second = playlist.segments
    assert (first.sequence, second.sequence) == (41, 42)
    assert first.uri == "http://origin.example/live/a.ts"
    assert second.uri == "https://cdn.example/b.ts"
    assert first.key is not None and first.key.uri == "http://origin.example/live/k/1.key"
    assert first.describe()["key"]["iv"] == "0x" + "0" * 30 + "29"  # IV = sequence 41
    assert second.key is None and second.discontinuity and not first.discontinuity
    assert str(second.program_date_time) == "2016-12-13 10:00:02+00:00"
    assert not playlist.ended and playlist.target_duration == 2
    with pytest.raises(CaptureError, match="not an HLS playlist"):
        parse_playlist(b"<html>", "http://x/y.m3u8")


def test_watch_records_live_stream_sources_at_once_and_stops_cleanly(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    from vigil.capture.live import StatusBoard
    from vigil.watch.loop import Watcher
    from vigil.watch.sources import Source

    folder = tmp_path / "www"
    first = Publisher(folder / "a", seconds=30)
    second = Publisher(folder / "b", seconds=30)
    (folder / "offline").mkdir()
    with HlsServer(folder) as server:
        first.wait_for_segments(1)
        second.wait_for_segments(1)
        sources = [
            Source("a", server.url("a/live.m3u8"), "stream", 60),
            Source("b", server.url("b/live.m3u8"), "stream", 60),
            Source("off", server.url("offline/live.m3u8"), "stream", 60),  # not live: 404
        ]
        watcher = Watcher(sqlite_archive, sources, host_gap=0)
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        board = StatusBoard(sqlite_archive.root)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            live = [s for s, alive in board.read() if alive and s.segments >= 2]
            if len(live) == 2:
                break
            time.sleep(0.1)
        assert sorted(watcher.recorders.running()) == ["a", "b"]
        assert len(live) == 2
        stop.set()
        thread.join(30)
        assert not thread.is_alive()
    first.kill(), second.kill()
    streams = [i for i in sqlite_archive.items() if i.kind == "stream"]
    assert sorted(i.url for i in streams) == [server.url("a/live.m3u8"), server.url("b/live.m3u8")]
    for stream in streams:
        ended = [json.loads(e.raw) for e in sqlite_archive.custody(stream.id)][-1]
        assert ended["type"] == "stream.ended" and ended["reason"] == "stopped"
        kinds = {c.kind for c in sqlite_archive.index.children(stream.id)}
        assert {"segment", "remux"} <= kinds
    assert board.read() == []
    assert sqlite_archive.verify().ok


def test_connection_dropped_mid_segment_is_retried(sqlite_archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=4)
    with HlsServer(folder) as server:
        server.drop_once.add("live00001.ts")
        publisher.wait_for_segments(1)
        result = record(sqlite_archive, server.url("live.m3u8"), retry_wait=0.05)
    assert publisher.wait() == 0
    assert result.reason == "ended" and not result.missing
    assert_kept_everything(sqlite_archive, result, folder)
    second = next(
        s for s in children(sqlite_archive, result, "segment") if s.name == "live00001.ts"
    )
    assert json.loads(sqlite_archive.custody(second.id)[0].raw)["fetched"]["attempts"] == 2


def test_rotating_uri_tokens_do_not_duplicate_segments(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=4)
    with HlsServer(folder) as server:
        server.rotate_tokens = True
        publisher.wait_for_segments(2)
        result = record(sqlite_archive, server.url("live.m3u8"))
    assert publisher.wait() == 0
    segments = children(sqlite_archive, result, "segment")
    sequences = [int(s.claimed["sequence"]) for s in segments]
    assert sequences == list(range(len(listed_durations(folder / "live.m3u8"))))
    assert all("?token=" in (s.url or "") for s in segments)


def test_publisher_restart_starts_a_new_epoch_and_loses_nothing(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=30)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(1)
        background = Background(sqlite_archive, server.url("live.m3u8"), give_up=6)
        publisher.wait_for_segments(3)
        time.sleep(0.3)
        publisher.kill()
        first_run = {n: sha256_file(folder / n) for n in publisher.published()}
        time.sleep(1.5)  # the same names again, from sequence 0, at later times
        again = Publisher(folder, seconds=3)
        assert again.wait() == 0
        result = background.join()
    assert result.reason == "ended"
    assert any("restarted" in p for p in result.problems)
    second_run = {n: sha256_file(folder / n) for n in listed_durations(folder / "live.m3u8")}
    held = [s.sha256 for s in children(sqlite_archive, result, "segment")]
    assert held == list(first_run.values()) + list(second_run.values())
    epochs = [
        json.loads(sqlite_archive.custody(s.id)[0].raw)["fetched"]["epoch"]
        for s in children(sqlite_archive, result, "segment")
    ]
    assert epochs == [0] * len(first_run) + [1] * len(second_run)


def test_a_segment_failing_with_5xx_is_missing_after_some_reloads_not_blocking(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=5)
    with HlsServer(folder) as server:
        server.fail["live00001.ts"] = 1000
        server.fail_status["live00001.ts"] = 503
        publisher.wait_for_segments(1)
        result = record(sqlite_archive, server.url("live.m3u8"), retry_wait=0.02)
    assert publisher.wait() == 0
    assert result.reason == "ended"
    assert [(m["sequence"], m["error"]) for m in result.missing] == [(1, "failed in 3 reloads")]
    names = [s.name for s in children(sqlite_archive, result, "segment")]
    assert names == [n for n in listed_durations(folder / "live.m3u8") if n != "live00001.ts"]
    missing_events = [json.loads(e.raw) for e in sqlite_archive.custody(result.recording.id)]
    assert [e["type"] for e in missing_events] == ["item.added", "stream.missing", "stream.ended"]


def test_a_playlist_read_mid_rewrite_counts_only_complete_lines() -> None:
    whole = (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
        b"#EXTINF:1.0,\nlive00000.ts\n#EXTINF:1.0,\nlive00001.ts\n"
    )
    assert [s.sequence for s in parse_playlist(whole, "http://h/live.m3u8").segments] == [0, 1]
    assert not parse_playlist(whole, "http://h/live.m3u8").unterminated
    cut_uri = parse_playlist(whole[:-3], "http://h/live.m3u8")  # live00001.ts cut short
    assert cut_uri.unterminated and cut_uri.segments[-1].uri == "http://h/live00001."
    no_uri = parse_playlist(whole[:-13], "http://h/live.m3u8")  # a duration without its URI
    assert [s.uri for s in no_uri.segments] == ["http://h/live00000.ts"]
    ranged = parse_playlist(
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-DISCONTINUITY-SEQUENCE:4\n"
        b"#EXTINF:1,\n#EXT-X-BYTERANGE:100@10\nall.ts\n#EXTINF:1,\n#EXT-X-BYTERANGE:50\nall.ts\n"
        b"#EXT-X-DISCONTINUITY\n#EXTINF:1,\nb.ts\n#EXT-X-ENDLIST\n",
        "http://h/v.m3u8",
    )
    assert [s.byterange for s in ranged.segments] == [(100, 10), (50, 110), None]
    assert [s.discontinuity_sequence for s in ranged.segments] == [4, 4, 5]
    assert ranged.ended


def test_a_page_embedding_a_live_stream_is_resolved_through_yt_dlp(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "watch.html").write_text(
        "<html><head><title>Live from eastern Aleppo</title></head><body><video controls>"
        '<source src="live.m3u8" type="application/x-mpegURL"></video></body></html>'
    )
    publisher = Publisher(folder, seconds=3)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(1)
        result = record(sqlite_archive, server.url("watch.html"))
    assert publisher.wait() == 0
    event = json.loads(sqlite_archive.custody(result.recording.id)[0].raw)
    assert event["url"] == server.url("watch.html")
    assert event["stream"]["playlist_url"] == server.url("live.m3u8")
    assert event["stream"]["resolved_by"].startswith("yt-dlp ")
    assert event["stream"]["title"].startswith("Live from eastern Aleppo")
    assert_kept_everything(sqlite_archive, result, folder)


def test_a_uri_cut_short_by_an_in_place_rewrite_is_not_recorded_missing(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "www"
    publisher = Publisher(folder, seconds=4)
    with HlsServer(folder) as server:
        publisher.wait_for_segments(2)
        server.cut_playlist = 1  # the first playlist read ends in "live00001." (no newline)
        result = record(sqlite_archive, server.url("live.m3u8"), retry_wait=0.02)
    assert publisher.wait() == 0
    assert result.reason == "ended" and not result.missing, result.missing
    assert any(name.endswith("live00001.") for name in server.requests)
    assert_kept_everything(sqlite_archive, result, folder)

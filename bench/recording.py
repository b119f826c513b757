"""Live-recording benchmark: four concurrent 720p HLS streams, against streamlink.

* A 720p (H.264 ~3.4 Mbit/s CBR + AAC) source of the run's length is encoded once
  (cached in the work folder); four ffmpeg processes publish it live (``-re``, stream
  copy, 1-second segments): stream 0 as an event playlist, streams 1-3 as sliding
  windows of 6 segments whose old segments are deleted.
* One ``vigil record --json`` process records all four; streamlink
  (``--hls-live-restart``) records stream 0 at the same time.
* Latency: this process polls each publisher's playlist every 5 ms and notes when
  each segment first appears (its playlist is renamed into place, so it appears
  whole); ``vigil record --json`` prints each segment once it is durable (blob and
  ledger entry fsynced, index committed), and the time that line arrives is taken.
* CPU: the recorder's user+system time (``/proc``) up to its last segment, over the
  streams' wall time; and in total with the remux (``wait4``).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from vigil.archive import Archive

VIGIL = [sys.executable, "-m", "vigil"]
TICKS = os.sysconf("SC_CLK_TCK")


def _source(work: Path, seconds: int) -> Path:
    source = work / f"record-source-720p-{seconds}s.ts"
    if not source.exists():
        print(f"  encoding a {seconds} s 720p source once (cached: {source.name}) ...", flush=True)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
             "-c:v", "libx264", "-preset", "veryfast", "-b:v", "3M", "-minrate", "3M",
             "-maxrate", "3M", "-bufsize", "3M", "-x264-params", "nal-hrd=cbr",
             "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
             "-c:a", "aac", "-b:a", "128k", "-muxrate", "3500k", str(source) + ".tmp.ts"],
            check=True,
        )  # fmt: skip
        os.replace(str(source) + ".tmp.ts", source)
    return source


def _serve(root: Path) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.extensions_map = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class _Appearances(threading.Thread):
    """Polls playlists; remembers when each segment name first appears."""

    def __init__(self, playlists: list[Path]) -> None:
        super().__init__(daemon=True)
        self.playlists = playlists
        self.seen: dict[tuple[int, str], float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for n, playlist in enumerate(self.playlists):
                try:
                    text = playlist.read_text()
                except FileNotFoundError:
                    continue
                now = time.time()
                for line in text.splitlines():
                    if line and not line.startswith("#"):
                        self.seen.setdefault((n, line), now)
            self.stop.wait(0.005)


def bench_record(work: Path, seconds: int = 300, streams: int = 4) -> None:
    """Four concurrent 720p live streams: lost segments, latency to durable, CPU."""
    if shutil.which("ffmpeg") is None or shutil.which("streamlink") is None:
        print("record: needs ffmpeg and streamlink (bash scripts/setup)")
        return
    source = _source(work, seconds)
    root = work / "record-www"
    shutil.rmtree(root, ignore_errors=True)
    archive_path = work / "archive-record"
    shutil.rmtree(archive_path, ignore_errors=True)
    Archive.init(archive_path).close()
    server = _serve(root)
    publishers = []
    playlists = []
    for n in range(streams):
        folder = root / f"s{n}"
        folder.mkdir(parents=True)
        window = (
            ["-hls_list_size", "0", "-hls_playlist_type", "event"]
            if n == 0
            else [
                "-hls_list_size",
                "6",
                "-hls_flags",
                "delete_segments+program_date_time+temp_file",
            ]
        )
        flags = ["-hls_flags", "program_date_time+temp_file"] if n == 0 else []
        publishers.append(
            subprocess.Popen(
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
                 "-i", str(source), "-c", "copy", "-f", "hls", "-hls_time", "1", *window,
                 *flags, "-hls_segment_filename", str(folder / "seg%05d.ts"),
                 str(folder / "live.m3u8")]
            )
        )  # fmt: skip
        playlists.append(folder / "live.m3u8")
    watcher = _Appearances(playlists)
    watcher.start()
    while not all(p.exists() for p in playlists):
        time.sleep(0.01)
    base = f"http://127.0.0.1:{server.server_port}"
    urls = [f"{base}/s{n}/live.m3u8" for n in range(streams)]
    env = {**os.environ, "VIGIL_ARCHIVE": str(archive_path)}
    started = time.time()
    recorder = subprocess.Popen(
        [*VIGIL, "record", "--json", "--give-up", "15", *urls],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    streamlink_out = work / "streamlink-s0.ts"
    streamlink = subprocess.Popen(
        ["streamlink", "--hls-live-restart", "--force", "-o", str(streamlink_out),
         f"hls://{urls[0]}", "best"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    durable: dict[tuple[int, str], float] = {}
    cpu_at_last_segment = 0.0
    assert recorder.stdout is not None
    summaries = []
    for line in recorder.stdout:
        now = time.time()
        data = json.loads(line)
        if data.get("kind") == "segment":
            n = urls.index(data["url"].rsplit("/", 1)[0] + "/live.m3u8")
            durable[(n, data["url"].rsplit("/", 1)[1])] = now
            cpu_at_last_segment = _cpu_seconds(recorder.pid)
            last_segment_at = now
        elif "recording" in data:
            summaries.append(data["recording"])
    _, status, usage = os.wait4(recorder.pid, 0)
    streamlink.wait(timeout=120)
    for p in publishers:
        p.wait()
    watcher.stop.set()
    server.shutdown()
    published = set(watcher.seen)
    lost = sorted(published - set(durable))
    latencies = sorted(durable[k] - watcher.seen[k] for k in durable if k in watcher.seen)
    wall = last_segment_at - started
    cpu_total = usage.ru_utime + usage.ru_stime
    with Archive.open(archive_path) as archive:
        stream0 = next(s for s in summaries if s["url"] == urls[0])
        rows = archive.index.children(stream0["recording"])
        digest = hashlib.sha256()
        for row in sorted((r for r in rows if r.kind == "segment"), key=lambda r: r.added_index):
            digest.update(archive.blobs.path(row.sha256).read_bytes())
        report = archive.verify()
    streamlink_digest = hashlib.sha256(streamlink_out.read_bytes()).hexdigest()
    same = digest.hexdigest() == streamlink_digest
    mbit = sum(r["bytes"] for r in summaries) * 8 / 1e6 / max(1e-9, wall) / streams
    print(f"record: {streams} x 720p live for {seconds} s (~{mbit:.1f} Mbit/s each); exit {status}")
    print(f"  segments published {len(published)}, recorded {len(durable)}, lost {len(lost)}"
          f"   (goal 0){'  LOST: ' + str(lost[:5]) if lost else ''}")  # fmt: skip
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"  listed -> durable: median {statistics.median(latencies):.3f} s, p99 {p99:.3f} s,"
        f" max {latencies[-1]:.3f} s   (goal median < 1 s)"
    )
    print(
        f"  recorder CPU while recording {cpu_at_last_segment:.1f} s over {wall:.0f} s ="
        f" {100 * cpu_at_last_segment / wall:.1f}% of one core (goal < 50%);"
        f" with the remux {cpu_total:.1f} s"
    )
    print(
        f"  stream 0 vs streamlink --hls-live-restart: SHA-256 of the segments"
        f" {'identical' if same else 'DIFFERENT'} ({digest.hexdigest()[:16]} /"
        f" {streamlink_digest[:16]}, {streamlink_out.stat().st_size:,} bytes)"
    )
    print(f"  vigil verify after the run: {'ok' if report.ok else report.errors[:3]}")
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(archive_path, ignore_errors=True)
    streamlink_out.unlink(missing_ok=True)

"""Real live HLS for the tests: ffmpeg publishes into a folder that a local HTTP server serves.

`Publisher` runs ffmpeg (lavfi test pattern + sine tone, H.264/AAC, 1-second
segments) writing a live playlist, as a live-streaming origin does. `HlsServer`
serves a folder on 127.0.0.1 (``.ts`` as ``video/mp2t``) and can be told to answer
404 for a path a number of times, or to stop and start again on the same port.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

FFMPEG = shutil.which("ffmpeg")

TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".key": "application/octet-stream",
}


class HlsServer:
    """``with HlsServer(folder) as server: server.url("live.m3u8")``."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = root
        self.port = port
        self.fail: dict[str, int] = {}  # path -> how many more times to answer an error
        self.fail_status: dict[str, int] = {}  # path -> that error (default 404)
        self.drop_once: set[str] = set()  # paths whose next body is cut off mid-way
        self.cut_playlist = 0  # the next N playlist responses lose their last 3 bytes
        self.rotate_tokens = False  # segment URIs in playlists get a new ?token= each time
        self.half_sent = threading.Event()  # set once half of a delayed segment went out
        self._served = 0
        self.requests: list[str] = []
        self.segment_delay = 0.0  # seconds to pause in the middle of each segment body
        self._server: http.server.ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                owner._connections.add(self.connection)

            def do_GET(self) -> None:
                name = self.path.split("?", 1)[0].lstrip("/")
                owner.requests.append(name)
                path = (owner.root / name).resolve()
                body = None
                status = 404
                if owner.fail.get(name, 0) > 0:
                    owner.fail[name] -= 1
                    status = owner.fail_status.get(name, 404)
                elif path.is_file() and owner.root.resolve() in path.parents:
                    body = path.read_bytes()
                if body is not None and owner.rotate_tokens and path.suffix == ".m3u8":
                    owner._served += 1
                    body = b"\n".join(
                        line + b"?token=%d" % owner._served
                        if line and not line.startswith(b"#")
                        else line
                        for line in body.split(b"\n")
                    )
                if body is not None and owner.cut_playlist and path.suffix == ".m3u8":
                    owner.cut_playlist -= 1
                    body = body[:-3]  # as if read while the server rewrote it in place
                if body is None:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", TYPES.get(path.suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                if name in owner.drop_once:
                    owner.drop_once.discard(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if owner.segment_delay and path.suffix == ".ts":
                    half = len(body) // 2
                    self.wfile.write(body[:half])
                    self.wfile.flush()
                    owner.half_sent.set()
                    time.sleep(owner.segment_delay)
                    body = body[half:]
                self.wfile.write(body)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):  # keep-alive ones too: a real outage
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()

    def __enter__(self) -> HlsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Publisher:
    """ffmpeg writing a live HLS stream into *folder* in real time."""

    def __init__(
        self,
        folder: Path,
        *,
        seconds: float,
        list_size: int = 0,  # 0: an event playlist keeping every segment
        size: str = "320x240",
        key_info: Path | None = None,
        name: str = "live",
        delete_old: bool = False,
    ) -> None:
        self.folder = folder
        self.name = name
        folder.mkdir(parents=True, exist_ok=True)
        flags = "program_date_time+temp_file" + ("+delete_segments" if delete_old else "")
        command = [
            FFMPEG or "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
            "-re", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}",
            "-re", "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", "1", "-hls_list_size", str(list_size),
            "-hls_flags", flags,
            "-hls_segment_filename", str(folder / f"{name}%05d.ts"),
        ]  # fmt: skip
        if list_size == 0:
            command += ["-hls_playlist_type", "event"]
        if key_info is not None:
            command += ["-hls_key_info_file", str(key_info)]
        command.append(str(folder / f"{name}.m3u8"))
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE)

    @property
    def playlist(self) -> Path:
        return self.folder / f"{self.name}.m3u8"

    def wait_for_segments(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.published()) >= count:
                return
            time.sleep(0.05)
        raise TimeoutError(f"ffmpeg published fewer than {count} segments in {timeout} s")

    def published(self) -> list[str]:
        """Segment names the playlist lists now."""
        try:
            text = self.playlist.read_text()
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

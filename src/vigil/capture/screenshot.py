"""Full-page screenshots with headless Chromium (Debian's ``chromium``), when installed.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
NUL-separated JSON on file descriptors 3 and 4), so nothing listens on a port and
no extra package is needed: open a tab, navigate, wait for the load event, size
the viewport to the page's full height (capped at ``MAX_HEIGHT``), capture a PNG.

The screenshot is Chromium's own rendering of the live page at capture time (its
requests are not the WARC's); it is stored as a derivative of the page, saying so.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from vigil.errors import CaptureError

__all__ = ["MAX_HEIGHT", "Screenshot", "chromium_path", "take_screenshot"]

MAX_HEIGHT = 16384
WIDTH = 1280
_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--mute-audio", "--remote-debugging-pipe",
)  # fmt: skip


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Screenshot:
    png: bytes
    width: int
    height: int
    full_height: int  # the page's height; larger than height when cut at MAX_HEIGHT
    tool: str


class _Pipe:
    """The DevTools protocol over Chromium's pipe."""

    def __init__(self, proc: subprocess.Popen[bytes], send_fd: int, recv_fd: int, deadline: float):
        self.proc, self.send_fd, self.recv_fd, self.deadline = proc, send_fd, recv_fd, deadline
        self.buffer = b""
        self.next_id = 0

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.send_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CaptureError(f"chromium: {method}: {reply['error'].get('message')}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def wait_event(self, method: str) -> None:
        while self.receive().get("method") != method:
            pass

    def receive(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise CaptureError("chromium: timed out")
            ready, _, _ = select.select([self.recv_fd], [], [], left)
            if ready:
                chunk = os.read(self.recv_fd, 1 << 20)
                if not chunk:
                    raise CaptureError("chromium: exited early")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed


def take_screenshot(
    url: str, *, timeout: float = 60.0, user_agent: str | None = None, insecure: bool = False
) -> Screenshot:
    """A full-page PNG of *url*; `CaptureError` if Chromium is missing or fails, or if
    the page did not load (a screenshot of Chromium's error page is not the page's).
    *insecure*: load it whatever its TLS certificate (as the capture did with
    ``--insecure``)."""
    binary = chromium_path()
    if binary is None:
        raise CaptureError(
            "no screenshot: chromium is not installed (Debian: apt-get install chromium)"
        )
    to_child, from_parent = os.pipe()  # parent writes commands, child reads on fd 3
    to_parent, from_child = os.pipe()  # child writes replies on fd 4, parent reads

    def wire_fds() -> None:  # in the child, between fork and exec
        os.dup2(to_child, 3)
        os.dup2(from_child, 4)

    with tempfile.TemporaryDirectory(prefix="vigil-chromium-") as profile:
        args = [binary, *_FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},1000"]
        if user_agent:
            args.append(f"--user-agent={user_agent}")
        if insecure:
            args.append("--ignore-certificate-errors")
        proc = subprocess.Popen(
            [*args, "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,
            # preexec_fn runs before the child closes inherited descriptors: keep 3 and 4
            pass_fds=(3, 4, to_child, from_child),
        )
        os.close(to_child)
        os.close(from_child)
        pipe = _Pipe(proc, from_parent, to_parent, time.monotonic() + timeout)
        try:
            version = pipe.call("Browser.getVersion").get("product", "chromium")
            target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
            session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            pipe.call("Page.enable", session)
            navigated = pipe.call("Page.navigate", session, url=url)
            if navigated.get("errorText"):  # (Chromium would show its own error page)
                raise CaptureError(f"no screenshot: chromium could not load {url} "
                                   f"({navigated['errorText']})")  # fmt: skip
            pipe.wait_event("Page.loadEventFired")
            metrics = pipe.call("Page.getLayoutMetrics", session)
            size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
            full = max(1, int(size.get("height", 1000)))
            height = min(full, MAX_HEIGHT)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=WIDTH,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            shot = pipe.call(
                "Page.captureScreenshot", session, format="png", captureBeyondViewport=True
            )
            png = base64.b64decode(shot["data"])
            with contextlib.suppress(CaptureError):
                pipe.call("Browser.close")
        finally:
            os.close(from_parent)
            os.close(to_parent)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return Screenshot(png, WIDTH, height, full, str(version))

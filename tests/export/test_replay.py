"""A package opens in a standard replay tool: pywb, in its own process, over real HTTP.

The package is added to a pywb collection as any archivist would (``wb-manager add
--unpack-wacz``: pywb copies the WARCs out and trusts the package's own CDXJ index), then
``wayback`` serves it on 127.0.0.1 and every capture is fetched back in ``id_`` mode (the
archived response, not rewritten) and compared with what the web server sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.capture.webserver import PAGE, ROUTES
from vigil.archive import Archive
from vigil.export.package import export_package

# pywb runs from its own virtualenv (scripts/setup makes .venv-replay): its brotlipy
# would shadow Brotli in Vigil's venv, and its pins are older than Vigil's.
REPLAY_BIN = Path(
    os.environ.get("VIGIL_PYWB_BIN") or Path(__file__).parents[2] / ".venv-replay" / "bin"
)
if not (REPLAY_BIN / "wayback").exists():
    pytest.skip(f"pywb is not installed in {REPLAY_BIN} (bash scripts/setup installs it)",
                allow_module_level=True)  # fmt: skip

COLLECTION = "case"
NOT_FOUND = (404, "text/plain", b"not found")  # what the test server sends for other paths
# No proxy, ever: these are requests to 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pywb_tool(name: str) -> str:
    """A console script of pywb's virtualenv."""
    return str(REPLAY_BIN / name)


def get(url: str) -> tuple[int, bytes]:
    try:
        with OPENER.open(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def wayback(root: Path) -> Iterator[str]:
    """``wayback`` serving the collections under *root*, on a free port of 127.0.0.1."""
    log_path = root / "wayback.log"
    for _attempt in range(3):  # the port may be taken between choosing it and binding it
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [pywb_tool("wayback"), "--bind", "127.0.0.1", "--port", str(port)],
                cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            deadline, ready = time.monotonic() + 60, False
            while not ready and process.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(OSError):  # not listening yet
                    ready = get(base + "/")[0] == 200
                time.sleep(0.1)
            if not ready:
                output = log_path.read_text(errors="replace")
                if process.poll() is not None and "Address already in use" in output:
                    continue
                pytest.fail(f"wayback did not start (exit {process.poll()}):\n{output}")
            yield base
            assert process.poll() is None, log_path.read_text(errors="replace")
            return
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    pytest.fail(f"wayback found no free port:\n{log_path.read_text(errors='replace')}")


def cdx(base: str, **query: str) -> list[dict[str, str]]:
    """pywb's CDX server API for the collection, one dict per capture."""
    status, body = get(f"{base}/{COLLECTION}/cdx?" + urllib.parse.urlencode(
        {**query, "output": "json"}))  # fmt: skip
    assert status == 200, body
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_package_replays_in_pywb(captured: tuple[Archive, list[str]], tmp_path: Path) -> None:
    archive, refs = captured
    package = tmp_path / "case.wacz"
    export_package(archive, refs, package)
    page = archive.item(refs[0])
    assert page.kind == "page" and page.url
    site = page.url.rsplit("/", 1)[0]

    root = tmp_path / "pywb"
    root.mkdir()
    for args in (["init", COLLECTION], ["add", "--unpack-wacz", COLLECTION, str(package)]):
        ran = subprocess.run(
            [pywb_tool("wb-manager"), *args], cwd=root, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "does not contain" not in ran.stderr, ran.stderr  # no WARC, or no index, found
    collection = root / "collections" / COLLECTION
    warcs = sorted((collection / "archive").iterdir())
    assert warcs, "pywb took no WARC out of the package"

    with wayback(root) as base:
        # The CDX API lists the page, as captured.
        rows = cdx(base, url=page.url)
        assert [(r["url"], r["status"], r["mime"]) for r in rows] == [
            (page.url, "200", "text/html")
        ]
        # Replayed unrewritten, it is the body the server sent, byte for byte.
        status, body = get(f"{base}/{COLLECTION}/{rows[0]['timestamp']}id_/{page.url}")
        assert status == 200
        assert body == PAGE
        assert body == archive.blobs.path(page.sha256).read_bytes()
        # So is every other capture in the package (the 404 too), each with its status.
        listed = cdx(base, url=site + "/", matchType="prefix")
        assert len(listed) >= 2 and page.url in {r["url"] for r in listed}
        for row in listed:
            path = urllib.parse.urlsplit(row["url"]).path
            sent_status, _type, sent_body = ROUTES.get(path, NOT_FOUND)
            assert get(f"{base}/{COLLECTION}/{row['timestamp']}id_/{row['url']}") == (
                sent_status,
                sent_body,
            ), row["url"]
        # And the page opens in the ordinary (rewriting) replay a reader would use.
        status, body = get(f"{base}/{COLLECTION}/{rows[0]['timestamp']}mp_/{page.url}")
        assert status == 200 and "إذا متنا جميعاً، تذكرونا".encode() in body

    # pywb trusted the package's index: its own indexer must find the same records there.
    own = tmp_path / "own.cdxj"
    indexer = [pywb_tool("cdx-indexer"), "--cdxj", "--sort", "--verify", "--output", str(own)]
    ran = subprocess.run([*indexer, *map(str, warcs)], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr

    def records(lines: list[str]) -> list[tuple[str, ...]]:
        out = []
        for line in lines:
            key, timestamp, data = line.split(" ", 2)
            fields = json.loads(data)
            out.append((key, timestamp, fields["url"], fields["status"], fields["offset"],
                        fields["length"]))  # fmt: skip
        return sorted(out)

    shipped = (collection / "indexes" / "index.cdxj").read_text().splitlines()
    assert records(shipped) == records(own.read_text().splitlines())
    assert len(shipped) == len(listed)

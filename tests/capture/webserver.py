"""A real HTTP(S) server on 127.0.0.1 for capture tests: pages, media, redirects, failures."""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d8a5e50000000049454e44ae426082"
)
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 200
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ARTICLE = (
    "Residents of eastern Aleppo posted farewell messages as the siege ended. "
    "«إذا متنا جميعاً، تذكرونا» wrote one man. "
) * 12

PAGE = f"""<!doctype html>
<html lang="ar"><head><meta charset="utf-8"><title>Aleppo, 13 December 2016</title>
<meta name="author" content="Local Coordination Committee">
<meta property="og:image" content="/img/og.png">
</head><body><article><h1>Aleppo, 13 December 2016</h1><p>{ARTICLE}</p>
<img src="/img/photo.png" srcset="/img/photo.png 1x, /img/photo@2x.png 2x">
<video poster="/img/poster.png"><source src="/media/clip.mp4" type="video/mp4"></video>
<a href="/files/report.pdf">report</a> <a href="/about">about</a>
<img src="/img/missing.png"></article></body></html>""".encode()

ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/page.html": (200, "text/html; charset=utf-8", PAGE),
    "/img/photo.png": (200, "image/png", PNG),
    "/img/photo@2x.png": (200, "image/png", PNG + b"2x"),
    "/img/og.png": (200, "image/png", PNG + b"og"),
    "/img/poster.png": (200, "image/png", PNG + b"poster"),
    "/media/clip.mp4": (200, "video/mp4", MP4),
    "/files/report.pdf": (200, "application/pdf", PDF),
    "/gone": (410, "text/html", b"<html><body>This post was removed.</body></html>"),
    "/latin1.html": (
        200,
        "text/html; charset=iso-8859-1",
        (
            "<html><head><title>Caf\xe9</title></head><body><article><p>"
            + "Le caf\xe9 \xe0 Alep a \xe9t\xe9 d\xe9truit. " * 20
            + "</p></article></body></html>"
        ).encode("latin-1"),
    ),
    "/big": (200, "application/octet-stream", b"x" * (3 << 20)),
    "/channel": (
        200,
        "text/html",
        b'<html><head><title>Channel</title></head><body><video src="/media/clip.mp4"></video>'
        b'<video src="/media/two.mp4"></video></body></html>',
    ),
    "/media/two.mp4": (200, "video/mp4", MP4 + b"two"),
    "/broken-feed.xml": (200, "application/rss+xml", b"<rss><channel><item><title>unclosed"),
}


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Aleppo updates</title><link>{base}/</link>
<item><title>Statement</title><link>{base}/page.html</link><pubDate>Tue, 13 Dec 2016 10:00:00 +0000</pubDate></item>
<item><title>Le café</title><link>{base}/latin1.html</link><pubDate>Tue, 13 Dec 2016 11:00:00 +0000</pubDate></item>
</channel></rss>"""

ENTRIES_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Entries</title><link>{base}/</link>
{items}
</channel></rss>"""

# Mutable behaviour for watch tests: the body of /changing, paths answering 410,
# a log of (time, path, If-None-Match) for every request, paths answering another
# status ({path: status}), the entry paths listed by /entries.xml, and the
# (path, client port) of every request (which connection it came over).
DYNAMIC: dict[str, object] = {
    "changing": b"<html><body>version 1</body></html>",
    "gone": set(),
    "log": [],
    "status": {},
    "entries": [],
    "peers": [],
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        log = DYNAMIC["log"]
        assert isinstance(log, list)
        log.append((time.monotonic(), path, self.headers.get("If-None-Match")))
        peers = DYNAMIC["peers"]
        assert isinstance(peers, list)
        peers.append((path, self.client_address[1]))
        gone = DYNAMIC["gone"]
        assert isinstance(gone, set)
        if path in gone:
            return self._send(
                410, "text/html", b"<html><body>This content was removed.</body></html>"
            )
        status = DYNAMIC.get("status", {})
        assert isinstance(status, dict)
        if path in status:
            return self._send(status[path], "text/plain", f"HTTP {status[path]}".encode())
        if path == "/entries.xml":
            base = f"http://{self.headers['Host']}"
            entries = DYNAMIC.get("entries", [])
            assert isinstance(entries, list)
            listed = "\n".join(
                f"<item><title>{p}</title><link>{base}{p}</link></item>" for p in entries
            )
            return self._send(
                200, "application/rss+xml", ENTRIES_FEED.format(base=base, items=listed).encode()
            )
        if path == "/feed.xml":
            base = f"http://{self.headers['Host']}"
            return self._send(200, "application/rss+xml", FEED.format(base=base).encode())
        if path == "/changing":
            body = DYNAMIC["changing"]
            assert isinstance(body, bytes)
            return self._send(200, "text/html", body)
        if path == "/etag.html":
            etag = '"v1"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, "text/html", b"", {"ETag": etag})
            return self._send(200, "text/html", b"<html><body>stable</body></html>", {"ETag": etag})
        if path == "/down":
            return self._send(503, "text/plain", b"overloaded")
        if path == "/flaky":  # 503 twice, then the page: retries must get it
            count = sum(1 for _, p, _ in log if p == "/flaky")
            if count <= 2:
                return self._send(503, "text/plain", b"try again", {"Retry-After": "0"})
            return self._send(200, "text/html", PAGE)
        if path == "/slow":
            time.sleep(3)
            return self._send(200, "text/html", b"<html>late</html>")
        if path == "/redirect":
            return self._redirect("/hop2")
        if path == "/hop2":
            return self._redirect("/page.html")
        if path == "/loop":
            return self._redirect("/loop")
        if path == "/br.html":
            import brotli

            return self._send(200, "text/html", brotli.compress(PAGE), {"Content-Encoding": "br"})
        if path == "/badgzip.html":  # labelled gzip, sent plain
            return self._send(200, "text/html", PAGE, {"Content-Encoding": "gzip"})
        if path == "/drop.html":  # promises twice what it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(2 * len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            self.wfile.flush()
            self.close_connection = True
            return None
        if path == "/self.html":  # names itself as its image, and changes on every request
            count = sum(1 for _, p, _ in log if p == "/self.html")
            body = (
                '<html><head><meta property="og:image" content="/self.html"></head><body>'
                f"<article><p>{'A statement from eastern Aleppo. ' * 20}request {count}"
                "</p></article></body></html>"
            )
            return self._send(200, "text/html", body.encode())
        if path == "/cookie":  # a cookie wall: sets a cookie, then sends on to the page
            extra = {"Location": "/page.html", "Set-Cookie": "wall=passed; Path=/"}
            return self._send(302, "text/plain", b"", extra)
        if path == "/gzip.html":
            body = gzip.compress(PAGE)
            return self._send(200, "text/html; charset=utf-8", body, {"Content-Encoding": "gzip"})
        status, content_type, body = ROUTES.get(path, (404, "text/plain", b"not found"))
        self._send(status, content_type, body)

    def _redirect(self, location: str) -> None:
        self._send(302, "text/plain", b"", {"Location": location})

    def _send(
        self, status: int, content_type: str, body: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def self_signed(folder: Path) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


@contextmanager
def serve(tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()

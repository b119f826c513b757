"""A real RFC 3161 TSA on 127.0.0.1: `openssl ts -reply` behind a small HTTP server.

A throwaway CA (made with `cryptography`) issues the TSA certificate (critical
extended key usage id-kp-timeStamping, a CRL distribution point on this server);
each POSTed TimeStampReq is answered by running OpenSSL's own TSA on it.
"""

from __future__ import annotations

import datetime as dt
import http.server
import subprocess
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CONFIG = """
[ tsa ]
default_tsa = local
[ local ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigil tests")])  # fmt: skip


class LocalTsa:
    """``with LocalTsa() as tsa: request_timestamp(data, tsa.url, chain=[tsa.root])``."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="vigil-tsa-"))
        self.mode = "ok"  # ok | http500 | replay (answers a stored reply for another message)
        self.replay = b""
        self.requests = 0
        self._server: http.server.ThreadingHTTPServer | None = None

    def __enter__(self) -> LocalTsa:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = (owner.folder / "ca.crl").read_bytes() if self.path == "/ca.crl" else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                owner.requests += 1
                query = self.rfile.read(int(self.headers["Content-Length"]))
                if owner.mode == "http500":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = owner.replay if owner.mode == "replay" else owner.reply(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/tsa"
        self._make_pki(f"http://127.0.0.1:{self._server.server_port}/ca.crl")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _make_pki(self, crl_url: str) -> None:
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        self.root = (
            x509.CertificateBuilder()
            .subject_name(_name("Vigil Test Root CA"))
            .issuer_name(_name("Vigil Test Root CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        tsa_key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("Vigil Test TSA"))
            .issuer_name(self.root.subject)
            .public_key(tsa_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(crl_url)], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=7))
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        (self.folder / "ca.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
        (self.folder / "root.pem").write_bytes(self.root.public_bytes(pem))
        (self.folder / "tsa.pem").write_bytes(self.certificate.public_bytes(pem))
        (self.folder / "tsa.key").write_bytes(
            tsa_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (self.folder / "serial").write_text("01\n")
        (self.folder / "tsa.cnf").write_text(CONFIG.format(dir=self.folder))

    def reply(self, query: bytes) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.folder) as work:
            (Path(work) / "query.der").write_bytes(query)
            subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(self.folder / "tsa.cnf"),
                 "-queryfile", "query.der", "-out", "reply.der"],
                cwd=work, check=True, capture_output=True,
            )  # fmt: skip
            return (Path(work) / "reply.der").read_bytes()

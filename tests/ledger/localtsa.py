"""A real RFC 3161 TSA on 127.0.0.1: `openssl ts -reply` behind a small HTTP server.

A throwaway CA (made with `cryptography`) issues the TSA certificate (critical
extended key usage id-kp-timeStamping, a CRL distribution point on this server, an
OCSP responder in its Authority Information Access); each POSTed TimeStampReq is
answered by running OpenSSL's own TSA on it, and each OCSP request by OpenSSL's own
responder (`openssl ocsp -index`, a process of its own on a port it picks).

*ocsp* says who signs the OCSP responses:

* ``delegated``: a responder certificate the CA issued with id-kp-OCSPSigning;
* ``ca``: the CA's own key (its ResponderID by key hash, not by name);
* ``no-eku``: a responder certificate the CA issued *without* id-kp-OCSPSigning;
* ``dead``: nobody (the URL is a port where nothing listens).

*revoked*: the CA's index lists the TSA certificate as revoked (keyCompromise).
"""

from __future__ import annotations

import datetime as dt
import http.server
import re
import subprocess
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

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

    def __init__(self, *, ocsp: str = "delegated", revoked: bool = False) -> None:
        if ocsp not in ("delegated", "ca", "no-eku", "dead"):
            raise ValueError(f"ocsp: {ocsp!r}")
        self.folder = Path(tempfile.mkdtemp(prefix="vigil-tsa-"))
        self.mode = "ok"  # ok | http500 | replay (answers a stored reply for another message)
        self.replay = b""
        self.requests = 0
        self.ocsp, self.revoked = ocsp, revoked
        self.ocsp_url = "http://127.0.0.1:9/ocsp"  # until a responder listens
        self._server: http.server.ThreadingHTTPServer | None = None
        self._responder: subprocess.Popen[str] | None = None

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
        try:
            self._make_pki(f"http://127.0.0.1:{self._server.server_port}/ca.crl")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._responder is not None:
            self._responder.terminate()
            try:
                self._responder.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._responder.kill()
                self._responder.wait()
            assert self._responder.stdout is not None
            self._responder.stdout.close()
            self._responder = None

    def _start_responder(self) -> None:
        """`openssl ocsp` answering from index.txt; it binds port 0 and prints the one it got."""
        signer = "root" if self.ocsp == "ca" else "ocsp"
        self._responder = subprocess.Popen(
            ["openssl", "ocsp", "-index", "index.txt", "-CA", "root.pem", "-port", "0",
             "-rsigner", f"{signer}.pem", "-rkey", f"{signer}.key", "-ndays", "1", "-ignore_err",
             *(["-resp_key_id"] if self.ocsp == "ca" else [])],
            cwd=self.folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self._responder.stdout is not None
        line = self._responder.stdout.readline()  # "ACCEPT [::]:PORT PID=..."
        found = re.search(r"ACCEPT .*:(\d+)", line)
        if found is None:
            raise RuntimeError(f"openssl ocsp did not start: {line!r}")
        self.ocsp_url = f"http://127.0.0.1:{found.group(1)}/ocsp"

    def _key(self, name: str) -> ec.EllipticCurvePrivateKey:
        key = ec.generate_private_key(ec.SECP256R1())
        (self.folder / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return key

    def _make_responder(self, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> None:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name("Vigil Test OCSP Responder"))
            .issuer_name(self.root.subject)
            .public_key(self._key("ocsp").public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if self.ocsp != "no-eku":
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
            )
        self.responder = builder.sign(ca_key, hashes.SHA256())
        pem = self.responder.public_bytes(serialization.Encoding.PEM)
        (self.folder / "ocsp.pem").write_bytes(pem)

    def _write_index(self, serial: int, expires: dt.datetime, now: dt.datetime) -> None:
        """The CA database `openssl ocsp` answers from: one line for the TSA certificate."""
        digits = f"{serial:X}"
        digits = "0" * (len(digits) % 2) + digits
        when = expires.strftime("%y%m%d%H%M%SZ")
        status, revoked = "V", ""
        if self.revoked:
            status, revoked = "R", now.strftime("%y%m%d%H%M%SZ") + ",keyCompromise"
        line = [status, when, revoked, digits, "unknown", "/O=Vigil tests/CN=Vigil Test TSA"]
        (self.folder / "index.txt").write_text("\t".join(line) + "\n")
        (self.folder / "index.txt.attr").write_text("unique_subject = no\n")

    def _make_pki(self, crl_url: str) -> None:
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        ca_key = self._key("root")
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
        (self.folder / "root.pem").write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        serial, expires = x509.random_serial_number(), now + dt.timedelta(days=30)
        if self.ocsp != "dead":
            self._make_responder(ca_key, now)
            self._write_index(serial, expires, now)
            self._start_responder()
        tsa_key = self._key("tsa")
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("Vigil Test TSA"))
            .issuer_name(self.root.subject)
            .public_key(tsa_key.public_key())
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(expires)
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
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(self.ocsp_url),
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
        (self.folder / "tsa.pem").write_bytes(self.certificate.public_bytes(pem))
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

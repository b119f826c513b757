"""RFC 3161 trusted timestamps of checkpoints (with ``rfc3161-client``).

A checkpoint says *what* the log held; a timestamp authority (TSA) says *when*, on
its own authority: it signs the SHA-256 of the checkpoint's signed note with a time
(``genTime``). The request carries a random nonce and asks for the TSA's
certificate (``certReq``). A reply is accepted only when it verifies fully:

* status granted; the imprint is SHA-256 of exactly the checkpoint note; our nonce;
* the signer is found by the SignerInfo's issuer and serial (never by position in
  the certificate bag), has the critical extended key usage id-kp-timeStamping;
* the signature verifies and the signer's chain leads to a trusted root, with
  every certificate valid **at genTime** (not now: a token outlives its TSA's
  certificate).

Because the checkpoint commits to every entry under it (RFC 9162), an inclusion
proof of an entry in a timestamped checkpoint extends the timestamp to that entry:
it existed no later than genTime.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from vigil.errors import TimestampError

__all__ = [
    "SYSTEM_ROOTS",
    "Stamp",
    "StampedReply",
    "load_certificates",
    "request_timestamp",
    "verify_timestamp",
]

SYSTEM_ROOTS = Path("/etc/ssl/certs/ca-certificates.crt")  # Debian's trust store
QUERY_TYPE = "application/timestamp-query"


@dataclass(frozen=True)
class Stamp:
    """What a verified token says."""

    gen_time: dt.datetime
    serial: int
    policy: str
    hash_algorithm: str
    nonce: int | None
    tsa_name: str | None
    accuracy: str | None
    signer: x509.Certificate

    def as_json(self) -> dict[str, Any]:
        return {
            "gen_time": self.gen_time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "serial": str(self.serial),
            "policy": self.policy,
            "hash_algorithm": self.hash_algorithm,
            "nonce": None if self.nonce is None else str(self.nonce),
            "tsa_name": self.tsa_name,
            "accuracy": self.accuracy,
            "signer": self.signer.subject.rfc4514_string(),
            "signer_sha256": self.signer.fingerprint(hashes.SHA256()).hex(),
        }


@dataclass(frozen=True)
class StampedReply:
    tsa: str
    request: bytes  # DER TimeStampReq
    response: bytes  # DER TimeStampResp, as received
    stamp: Stamp
    chain: list[x509.Certificate]  # embedded and given, leaf first, deduplicated


def load_certificates(data: bytes, name: str = "certificates") -> list[x509.Certificate]:
    """Certificates from PEM (one or many) or one DER certificate."""
    try:
        with warnings.catch_warnings():  # trust stores hold old roots with odd serials
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            if b"-----BEGIN CERTIFICATE-----" in data:
                return x509.load_pem_x509_certificates(data)
            return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise TimestampError(f"{name}: not a certificate or PEM bundle ({exc})") from None


def _embedded(response: TimeStampResponse) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(c) for c in response.signed_data.certificates]


def _signer(response: TimeStampResponse, candidates: list[x509.Certificate]) -> x509.Certificate:
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        raise TimestampError(f"expected one SignerInfo, found {len(infos)}")
    for cert in candidates:
        if cert.issuer == infos[0].issuer and cert.serial_number == infos[0].serial_number:
            return cert
    raise TimestampError("no certificate matches the SignerInfo (issuer and serial)")


def _plain(message: str) -> str:
    """OpenSSL's error stack, as its reasons: "signature failure", "unable to get local…"."""
    if "ErrorStack" not in message:
        return message
    found = re.findall(r'reason: "([^"]+)"|data: "(?:Verify error: )?([^"]+)"', message)
    said = [part for pair in found for part in pair if part and not part.endswith(":")]
    head = message.split(":", 1)[0]
    return f"{head}: {'; '.join(dict.fromkeys(said))}" if said else message


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def verify_timestamp(
    response_der: bytes,
    message: bytes,
    *,
    chain: list[x509.Certificate] | None = None,
    roots: list[x509.Certificate] | None = None,
    nonce: int | None = None,
    common_name: str | None = None,
) -> Stamp:
    """Verify a TimeStampResp over *message*; `TimestampError` says why it does not hold.

    *chain*: certificates beside the token (TSA certificate, intermediates); the
    self-signed ones among them are trusted as roots only when *roots* is None.
    """
    try:
        response = decode_timestamp_response(response_der)
    except ValueError as exc:
        raise TimestampError(f"not an RFC 3161 timestamp response ({exc})") from None
    if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        text = "; ".join(response.status_string) or PKIStatus(response.status).name
        raise TimestampError(f"the TSA refused: {text}")
    given = chain or []
    trusted = roots if roots is not None else [c for c in given if _self_signed(c)]
    if not trusted:
        raise TimestampError("no trusted root certificate to verify the TSA's chain against")
    embedded = _embedded(response)
    signer = _signer(response, embedded + given)
    builder = VerifierBuilder(
        roots=trusted,
        intermediates=[c for c in given + embedded if not _self_signed(c) and c != signer],
        nonce=nonce,
        common_name=common_name,
        tsa_certificate=None if embedded else signer,
    )
    try:
        builder.build().verify_message(response, message)
    except VerificationError as exc:
        raise TimestampError(_plain(str(exc))) from None
    info = response.tst_info
    accuracy = None
    if info.accuracy is not None:
        parts = [f"{info.accuracy.seconds or 0}s"]
        parts += [
            f"{v}{u}" for v, u in ((info.accuracy.millis, "ms"), (info.accuracy.micros, "us")) if v
        ]
        accuracy = " ".join(parts)
    algorithm = {
        "2.16.840.1.101.3.4.2.1": "sha256",
        "2.16.840.1.101.3.4.2.2": "sha384",
        "2.16.840.1.101.3.4.2.3": "sha512",
    }.get(info.message_imprint.hash_algorithm.dotted_string, "?")
    name = info.name
    return Stamp(
        gen_time=info.gen_time,
        serial=info.serial_number,
        policy=info.policy.dotted_string,
        hash_algorithm=algorithm,
        nonce=info.nonce,
        tsa_name=None if name is None else str(getattr(name, "value", name)),
        accuracy=accuracy,
        signer=signer,
    )


def request_timestamp(
    message: bytes,
    url: str,
    *,
    chain: list[x509.Certificate] | None = None,
    roots: list[x509.Certificate] | None = None,
    timeout: float = 30.0,
) -> StampedReply:
    """Ask the TSA at *url* to stamp SHA-256(*message*); verify the reply fully.

    *roots*: trusted roots (default: *chain*'s self-signed certificates, else the
    system trust store). `TimestampError` when the TSA cannot be reached, refuses,
    or answers anything that does not verify.
    """
    request = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .cert_request(cert_request=True)
        .nonce(nonce=True)
        .build()
    )
    try:
        reply = requests.post(
            url,
            data=request.as_bytes(),
            headers={"Content-Type": QUERY_TYPE, "Accept": "application/timestamp-reply"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise TimestampError(f"{url}: cannot reach the TSA ({type(exc).__name__})") from None
    if reply.status_code != 200:
        raise TimestampError(f"{url}: HTTP {reply.status_code} from the TSA")
    given = chain or []
    if roots is None and not any(_self_signed(c) for c in given) and SYSTEM_ROOTS.exists():
        roots = load_certificates(SYSTEM_ROOTS.read_bytes(), str(SYSTEM_ROOTS))
    try:
        stamp = verify_timestamp(
            reply.content, message, chain=given, roots=roots, nonce=request.nonce
        )
    except TimestampError as exc:
        raise TimestampError(f"{url}: {exc}") from None
    response = decode_timestamp_response(reply.content)
    if response.tst_info.message_imprint.message != hashlib.sha256(message).digest():
        raise TimestampError(f"{url}: the token stamps another message")  # belt and braces
    seen: dict[bytes, x509.Certificate] = {}
    for cert in [stamp.signer, *_embedded(response), *given]:
        seen.setdefault(cert.public_bytes(Encoding.DER), cert)
    issuers = {c.issuer for c in seen.values()}
    for root in roots or []:  # keep the root the chain ends in, so it can be checked offline
        if root.subject in issuers:
            seen.setdefault(root.public_bytes(Encoding.DER), root)
    return StampedReply(url, request.as_bytes(), reply.content, stamp, list(seen.values()))

"""Timestamp the archive's latest checkpoint with RFC 3161 authorities, and check it later.

For each TSA: the request and the reply (DER, as sent and received), the
certificate chain (the TSA's embedded certificates and the chain given for it, as
one PEM bundle) and the revocation data the chain points to, fetched now (what was
available at the time), are stored as blobs, and a ``checkpoint.timestamped`` event
names them with what the token says. Nothing is logged for a TSA whose reply does
not verify fully (`vigil.ledger.timestamps`).

Revocation data, each an entry of the event's ``revocation`` list (``kind``):

* ``crl``: each certificate revocation list the chain's CRL distribution points serve;
* ``ocsp``: for each certificate of the chain with an OCSP responder (Authority
  Information Access) whose issuer is in the chain, the responder's answer about it,
  with what it says (response and certificate status, thisUpdate/nextUpdate) and
  whether its signature verifies against the issuer, or against a responder the
  issuer delegated to (a certificate in the response, signed by the issuer, with the
  extended key usage id-kp-OCSPSigning, valid when the response was produced).

A fetch that fails (unreachable, malformed, refused) is recorded with why, and never
stops the timestamp: revocation data is evidence beside the token, not a condition.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    SignatureAlgorithmOID,
)

from vigil.errors import TimestampError
from vigil.events import Actor, rfc3339, utc_now
from vigil.ledger.timestamps import (
    StampedReply,
    load_certificates,
    request_timestamp,
    verify_timestamp,
)

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = [
    "CHECKPOINT_TIMESTAMPED",
    "Timestamped",
    "crl_urls",
    "ocsp_urls",
    "timestamp_checkpoint",
]

CHECKPOINT_TIMESTAMPED = "checkpoint.timestamped"
FETCH_TIMEOUT = 15.0  # seconds, for each CRL or OCSP fetch
OCSP_REQUEST, OCSP_RESPONSE = "application/ocsp-request", "application/ocsp-response"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timestamped:
    tsa: str
    checkpoint_size: int
    event_index: int
    event: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"tsa": self.tsa, "checkpoint": self.checkpoint_size, "entry": self.event_index,
                **self.event["stamp"], "token_sha256": self.event["sha256"]}  # fmt: skip


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier)
        and name.value.startswith(("http://", "https://"))
    ]


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        point.access_location.value
        for point in access
        if point.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(point.access_location, x509.UniformResourceIdentifier)
        and point.access_location.value.startswith(("http://", "https://"))
    ]


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _issuer(cert: x509.Certificate, chain: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate of *chain* that signed *cert* (never *cert* itself: nobody answers
    for a root)."""
    return next((c for c in chain if c != cert and _issued_by(cert, c)), None)


def _crl(archive: Archive, url: str) -> dict[str, Any]:
    try:
        reply = requests.get(url, timeout=FETCH_TIMEOUT)
        reply.raise_for_status()
        data = reply.content
        if b"-----BEGIN X509 CRL-----" in data:
            x509.load_pem_x509_crl(data)
        else:
            x509.load_der_x509_crl(data)
    except (requests.RequestException, ValueError) as exc:
        return {"kind": "crl", "url": url, "error": _failure(exc)}
    blob = archive.blobs.put(io.BytesIO(data))
    return {"kind": "crl", "url": url, "sha256": blob.sha256, "size": blob.size}


def _signature_problem(response: ocsp.OCSPResponse, signer: x509.Certificate) -> str | None:
    """Why *response* is not signed by *signer*'s key, or None when it is."""
    key, data, signature = signer.public_key(), response.tbs_response_bytes, response.signature
    try:
        algorithm = response.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            # RSASSA-PSS parameters are not exposed for OCSP: MGF1 with the same hash, as
            # every profile in use (RFC 4055), and any salt length.
            pss = response.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
            pad = padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO) if pss else None
            key.verify(signature, data, pad or padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            oid = response.signature_algorithm_oid.dotted_string
            return f"unsupported signature algorithm {oid}"
    except InvalidSignature:
        return f"the signature does not verify with the key of {signer.subject.rfc4514_string()}"
    except UnsupportedAlgorithm as exc:
        return f"unsupported signature algorithm ({exc})"
    return None


def _names(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether the response's ResponderID (byName or byKey) names *cert*."""
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_id = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return response.responder_key_hash == key_id  # SHA-1 of the key, as RFC 6960 §4.2.1


def _ocsp_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate
) -> tuple[x509.Certificate | None, str | None]:
    """Who signed *response*, if the issuer or a responder it delegated to; else why not."""
    named = [c for c in [issuer, *response.certificates] if _names(response, c)]
    if not named:
        return None, "the responder is neither the issuer nor a certificate in the response"
    responder = named[0]
    if responder.public_key() != issuer.public_key():
        if not _issued_by(responder, issuer):
            return None, "the responder's certificate is not signed by the issuer"
        try:
            usage = set(responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        except x509.ExtensionNotFound:
            usage = set()  # (not an empty ExtendedKeyUsage: cryptography 51 refuses to make one)
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            return None, "the responder's certificate lacks extended key usage id-kp-OCSPSigning"
        produced = response.produced_at_utc
        if not responder.not_valid_before_utc <= produced <= responder.not_valid_after_utc:
            return None, "the responder's certificate was not valid when the response was produced"
    problem = _signature_problem(response, responder)
    return (None, problem) if problem else (responder, None)


def _about(url: str, cert: x509.Certificate) -> dict[str, Any]:
    return {
        "kind": "ocsp",
        "url": url,
        "certificate": cert.subject.rfc4514_string(),
        "serial": str(cert.serial_number),
    }


def _ocsp(
    archive: Archive, url: str, cert: x509.Certificate, issuer: x509.Certificate
) -> dict[str, Any]:
    """The responder at *url* on *cert*, its answer stored as received; or why not."""
    entry = _about(url, cert)
    # The CertID hashes the issuer's name and key with SHA-1: RFC 5019 (the profile of
    # high-volume responders, which answer from responses signed ahead, keyed by that
    # CertID) requires it, and every RFC 6960 responder accepts it, while SHA-256 CertIDs
    # are answered "unknown" or refused by many. SHA-1 here only names the issuer beside
    # the serial number; nothing is signed over it, so its broken collision resistance
    # gives a forger nothing (the response's own signature uses its own hash).
    sha1 = hashes.SHA1()  # noqa: S303 (a name, not a signature: see above)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, sha1).build()
    try:
        reply = requests.post(
            url,
            data=request.public_bytes(Encoding.DER),
            headers={"Content-Type": OCSP_REQUEST, "Accept": OCSP_RESPONSE},
            timeout=FETCH_TIMEOUT,
        )
        reply.raise_for_status()
        data = reply.content
        response = ocsp.load_der_ocsp_response(data)
    except (requests.RequestException, ValueError) as exc:
        return {**entry, "error": _failure(exc)}
    entry["response_status"] = response.response_status.name.lower()
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return {**entry, "error": f"the responder answered {entry['response_status']}"}
    try:
        asked = (cert.serial_number, request.issuer_name_hash, request.issuer_key_hash)
        single = next(
            (
                r
                for r in response.responses
                if (r.serial_number, r.issuer_name_hash, r.issuer_key_hash) == asked
            ),
            None,
        )
        signer, problem = _ocsp_signer(response, issuer)
    except ValueError as exc:  # a certificate in the response that does not parse
        return {**entry, "error": _failure(exc)}
    if single is None:
        return {**entry, "error": "the response does not cover this certificate"}
    blob = archive.blobs.put(io.BytesIO(data))
    entry |= {
        "sha256": blob.sha256,
        "size": blob.size,
        "cert_status": single.certificate_status.name.lower(),
        "produced_at": rfc3339(response.produced_at_utc),
        "this_update": rfc3339(single.this_update_utc),
        "next_update": None if single.next_update_utc is None else rfc3339(single.next_update_utc),
    }
    if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        when, reason = single.revocation_time_utc, single.revocation_reason
        entry["revocation_time"] = None if when is None else rfc3339(when)
        entry["revocation_reason"] = None if reason is None else reason.name
    entry["signature_verified"] = signer is not None
    if signer is None:
        entry["signature_problem"] = problem
    else:
        entry["signed_by"] = signer.subject.rfc4514_string()
    return entry


def _revocation(archive: Archive, chain: list[x509.Certificate]) -> list[dict[str, Any]]:
    """Each CRL the chain points to and each OCSP answer on its certificates, stored as
    fetched now; or why one could not be."""
    out = [_crl(archive, url) for url in dict.fromkeys(u for c in chain for u in crl_urls(c))]
    for cert in chain:
        issuer = _issuer(cert, chain)
        for url in dict.fromkeys(ocsp_urls(cert)):
            if issuer is not None:
                out.append(_ocsp(archive, url, cert, issuer))
            elif cert.issuer != cert.subject:
                out.append({**_about(url, cert), "error": "its issuer is not in the chain"})
    return out


def _event(
    archive: Archive, size: int, root: bytes, note: bytes, reply: StampedReply
) -> dict[str, Any]:
    token = archive.blobs.put(io.BytesIO(reply.response))
    request = archive.blobs.put(io.BytesIO(reply.request))
    bundle = b"".join(c.public_bytes(Encoding.PEM) for c in reply.chain)
    chain = archive.blobs.put(io.BytesIO(bundle))
    return {
        "v": 1,
        "type": CHECKPOINT_TIMESTAMPED,
        "at": rfc3339(utc_now()),
        "sha256": token.sha256,
        "size": token.size,
        "checkpoint": {
            "size": size,
            "root": root.hex(),
            "note_sha256": hashlib.sha256(note).hexdigest(),
        },
        "tsa": reply.tsa,
        "request": {"sha256": request.sha256, "size": request.size},
        "stamp": reply.stamp.as_json(),
        "chain": {
            "sha256": chain.sha256,
            "size": chain.size,
            "subjects": [c.subject.rfc4514_string() for c in reply.chain],
        },
        "revocation": _revocation(archive, reply.chain),
        "actor": Actor.current().as_json(),
    }


def timestamp_checkpoint(
    archive: Archive,
    tsa_urls: list[str],
    *,
    chains: dict[str, list[x509.Certificate]] | None = None,
    roots: list[x509.Certificate] | None = None,
    timeout: float = 30.0,
) -> tuple[list[Timestamped], list[str]]:
    """Sign a checkpoint now and have each TSA stamp it; (stamps logged, problems).

    *chains*: per TSA URL, its certificate chain (when it does not embed it all).
    *roots*: trusted roots (default: each chain's self-signed certificates, else the
    system trust store).
    """
    checkpoint, _ = archive.checkpoint()
    note = archive.log.read_checkpoint(checkpoint.size)
    done: list[Timestamped] = []
    problems: list[str] = []
    for url in tsa_urls:
        try:
            reply = request_timestamp(
                note, url, chain=(chains or {}).get(url), roots=roots, timeout=timeout
            )
        except TimestampError as exc:
            problems.append(str(exc))
            logger.warning("%s", exc)
            continue
        event = _event(archive, checkpoint.size, checkpoint.root, note, reply)
        failed = archive.blobs.sync()
        if failed:
            raise next(iter(failed.values()))
        logged = archive.append_events([event])[0]
        done.append(Timestamped(url, checkpoint.size, logged.index, event))
    return done, problems


def check_timestamp(
    event: dict[str, Any], note: bytes, token: bytes, chain_pem: bytes
) -> str | None:
    """Why a logged ``checkpoint.timestamped`` no longer holds, or None when it does."""
    if hashlib.sha256(note).hexdigest() != event["checkpoint"]["note_sha256"]:
        return "the checkpoint it stamps is not the one stored"
    nonce = event["stamp"].get("nonce")
    try:
        certs = load_certificates(chain_pem, "chain") if chain_pem else []
        verify_timestamp(token, note, chain=certs, nonce=None if nonce is None else int(nonce))
    except TimestampError as exc:
        return str(exc)
    return None

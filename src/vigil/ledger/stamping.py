"""Timestamp the archive's latest checkpoint with RFC 3161 authorities, and check it later.

For each TSA: the request and the reply (DER, as sent and received), the
certificate chain (the TSA's embedded certificates and the chain given for it, as
one PEM bundle) and the revocation data the chain points to (each certificate
revocation list its CRL distribution points serve, fetched now: what was
available at the time) are stored as blobs, and a ``checkpoint.timestamped`` event
names them with what the token says. Nothing is logged for a TSA whose reply does
not verify fully (`vigil.ledger.timestamps`).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

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

__all__ = ["CHECKPOINT_TIMESTAMPED", "Timestamped", "crl_urls", "timestamp_checkpoint"]

CHECKPOINT_TIMESTAMPED = "checkpoint.timestamped"
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


def _revocation(archive: Archive, chain: list[x509.Certificate]) -> list[dict[str, Any]]:
    """Each CRL the chain points to, stored as fetched now; or why it could not be."""
    out: list[dict[str, Any]] = []
    for url in dict.fromkeys(u for cert in chain for u in crl_urls(cert)):
        try:
            reply = requests.get(url, timeout=15)
            reply.raise_for_status()
            data = reply.content
            if b"-----BEGIN X509 CRL-----" in data:
                x509.load_pem_x509_crl(data)
            else:
                x509.load_der_x509_crl(data)
        except (requests.RequestException, ValueError) as exc:
            out.append({"url": url, "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        blob = archive.blobs.put(io.BytesIO(data))
        out.append({"url": url, "sha256": blob.sha256, "size": blob.size})
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

"""RFC 3161: the real responses in ../shared/fixtures/tsa/ verify, or fail for the right reason."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from rfc3161_client import decode_timestamp_response
from rfc3161_client._rust import parse_timestamp_request as decode_timestamp_request

from tests.conftest import FIXTURES, run_vigil
from tests.ledger.localtsa import LocalTsa
from vigil.archive import Archive
from vigil.errors import TimestampError
from vigil.events import rfc3339
from vigil.ledger.stamping import timestamp_checkpoint
from vigil.ledger.timestamps import load_certificates, request_timestamp, verify_timestamp

TSA = FIXTURES / "tsa"
HELLO = b"hello"


def chain(name: str) -> list[x509.Certificate]:
    path = TSA / name
    return load_certificates(path.read_bytes(), str(path))


def read(name: str) -> bytes:
    return (TSA / name).read_bytes()


def test_local_test_tsa_response_verifies_with_its_chain() -> None:
    stamp = verify_timestamp(
        read("test_tsa/response.tsr"), HELLO, chain=chain("test_tsa/ts_chain.pem")
    )
    assert stamp.gen_time == dt.datetime(2024, 10, 8, 15, 40, 32, tzinfo=dt.UTC)
    assert stamp.nonce == 3937359519792308179
    assert stamp.serial == 693290210947147715387173185458430793885588677084
    assert stamp.policy == "1.3.6.1.4.1.57264.2"
    assert stamp.hash_algorithm == "sha512"
    assert stamp.accuracy == "1s"
    assert "Test TSA Timestamping" in stamp.signer.subject.rfc4514_string()


@pytest.mark.parametrize(
    ("kwargs", "message", "reason"),
    [
        ({}, b"other", "Mismatch between messages"),
        ({"nonce": 0xABCD}, HELLO, "Nonce mismatch"),
    ],
)
def test_wrong_message_or_nonce_is_rejected_for_that_reason(
    kwargs: dict[str, int], message: bytes, reason: str
) -> None:
    with pytest.raises(TimestampError, match=reason):
        verify_timestamp(
            read("test_tsa/response.tsr"), message, chain=chain("test_tsa/ts_chain.pem"), **kwargs
        )


def test_a_token_from_another_tsa_does_not_chain() -> None:
    with pytest.raises(TimestampError, match="unable to get local issuer certificate"):
        verify_timestamp(
            read("test_tsa/other_response.tsr"), HELLO, chain=chain("test_tsa/ts_chain.pem")
        )


def test_injected_certificates_cannot_impersonate_the_signer() -> None:
    tsr, certs = read("test_tsa/response-injected-certs.tsr"), chain("test_tsa/ts_chain.pem")
    with pytest.raises(TimestampError, match="name provided"):
        verify_timestamp(tsr, HELLO, chain=certs, common_name="CN=Spoofed TSA")
    real = verify_timestamp(tsr, HELLO, chain=certs)
    assert "Spoofed" not in real.signer.subject.rfc4514_string()
    verify_timestamp(tsr, HELLO, chain=certs, common_name=real.signer.subject.rfc4514_string())


@pytest.mark.parametrize(
    ("name", "algorithm", "digest"),
    [
        ("response-sha256.tsr", "sha256", hashlib.sha256),
        ("response-sha384.tsr", "sha384", hashlib.sha384),
        ("response-sha512.tsr", "sha512", hashlib.sha512),
    ],
)
def test_sigstage_responses_verify(name: str, algorithm: str, digest: Any) -> None:
    stamp = verify_timestamp(read(f"sigstage/{name}"), HELLO, chain=chain("sigstage/ts_chain.pem"))
    assert stamp.hash_algorithm == algorithm
    imprint = decode_timestamp_response(read(f"sigstage/{name}")).tst_info.message_imprint
    assert imprint.message == digest(HELLO).digest()
    assert stamp.tsa_name is not None and "sigstore-tsa" in stamp.tsa_name


def test_a_response_without_embedded_certificates_verifies_with_the_chain_given() -> None:
    stamp = verify_timestamp(
        read("sigstage/response-no-embedded-cert.tsr"), HELLO, chain=chain("sigstage/ts_chain.pem")
    )
    assert stamp.gen_time == dt.datetime(2025, 6, 18, 8, 13, 2, tzinfo=dt.UTC)


def test_an_altered_signature_is_rejected() -> None:
    with pytest.raises(TimestampError, match=r"verifying certificates: .*signature failure"):
        verify_timestamp(
            read("sigstage/response-invalid-signature.tsr"),
            HELLO,
            chain=chain("sigstage/ts_chain.pem"),
        )


def test_identrust_signer_not_first_in_the_bag_and_a_der_root() -> None:
    roots = chain("identrust/ts_chain.pem")  # DER despite its name
    stamp = verify_timestamp(read("identrust/issue-104.tsr"), HELLO, roots=roots)
    assert stamp.hash_algorithm == "sha512"
    assert stamp.gen_time == dt.datetime(2025, 3, 11, 8, 52, 8, tzinfo=dt.UTC)


def test_validity_is_judged_at_gen_time_not_now() -> None:
    payload = read("sigstore.mock/payload")
    stamp = verify_timestamp(
        read("sigstore.mock/response-expired.tsr"),
        payload,
        chain=chain("sigstore.mock/ts_chain.pem"),
    )
    assert stamp.gen_time == dt.datetime(2023, 2, 1, tzinfo=dt.UTC)
    assert stamp.serial == -559038737
    assert all(
        c.not_valid_after_utc < dt.datetime.now(dt.UTC) for c in chain("sigstore.mock/ts_chain.pem")
    )


def test_garbage_and_missing_roots_are_clear_errors() -> None:
    with pytest.raises(TimestampError, match="not an RFC 3161 timestamp response"):
        verify_timestamp(b"\x30\x03\x02\x01\x00garbage", HELLO, chain=[])
    with pytest.raises(TimestampError, match="no trusted root"):
        verify_timestamp(read("test_tsa/response.tsr"), HELLO, chain=[])
    with pytest.raises(TimestampError, match="not a certificate"):
        load_certificates(b"not a certificate", "bad.pem")


# -- a real round trip with OpenSSL's TSA on 127.0.0.1 -------------------------------------


@pytest.fixture
def tsa() -> Iterator[LocalTsa]:
    with LocalTsa() as local:
        yield local


def test_round_trip_with_openssl_tsa(tsa: LocalTsa) -> None:
    message = b"tree size 7\n"
    reply = request_timestamp(message, tsa.url, chain=[tsa.root])
    assert reply.stamp.signer == tsa.certificate
    assert reply.stamp.hash_algorithm == "sha256" and reply.stamp.policy == "1.2.3.4.1"
    assert abs((reply.stamp.gen_time - dt.datetime.now(dt.UTC)).total_seconds()) < 60
    assert reply.chain == [tsa.certificate, tsa.root]
    request = decode_timestamp_request(reply.request)
    assert request.cert_req and request.nonce == reply.stamp.nonce
    assert request.message_imprint.message == hashlib.sha256(message).digest()
    # The reply as stored verifies later, offline, with the nonce we sent.
    verify_timestamp(reply.response, message, chain=reply.chain, nonce=reply.stamp.nonce)


def test_untrusted_refused_or_broken_tsas_are_clear_errors(tsa: LocalTsa) -> None:
    with pytest.raises(TimestampError, match="unable to get local issuer certificate"):
        request_timestamp(b"x", tsa.url)  # our test CA is in no trust store
    tsa.mode = "replay"
    tsa.replay = read("test_tsa/response.tsr")  # a valid token, for another message
    with pytest.raises(TimestampError, match=r"Nonce mismatch|Mismatch between messages"):
        request_timestamp(b"x", tsa.url, chain=chain("test_tsa/ts_chain.pem"))
    tsa.mode = "http500"
    with pytest.raises(TimestampError, match="HTTP 500 from the TSA"):
        request_timestamp(b"x", tsa.url, chain=[tsa.root])
    with pytest.raises(TimestampError, match="cannot reach the TSA"):
        request_timestamp(b"x", "http://127.0.0.1:9/tsa", chain=[tsa.root], timeout=2)


def test_archive_checkpoint_timestamped_stored_and_verified(
    archive: Archive, tsa: LocalTsa
) -> None:
    done, problems = timestamp_checkpoint(
        archive, [tsa.url, "http://127.0.0.1:9/tsa"], chains={tsa.url: [tsa.root]}, timeout=2
    )
    assert len(done) == 1 and len(problems) == 1 and "cannot reach" in problems[0]
    event = done[0].event
    assert event["type"] == "checkpoint.timestamped" and event["tsa"] == tsa.url
    size = event["checkpoint"]["size"]
    note = archive.log.read_checkpoint(size)
    assert event["checkpoint"]["note_sha256"] == hashlib.sha256(note).hexdigest()
    token = archive.blobs.path(event["sha256"]).read_bytes()
    verify_timestamp(token, note, chain=[tsa.root], nonce=int(event["stamp"]["nonce"]))
    crl = event["revocation"][0]
    assert crl["url"].endswith("/ca.crl")
    assert archive.blobs.path(crl["sha256"]).read_bytes() == (tsa.folder / "ca.crl").read_bytes()
    assert event["chain"]["subjects"] == [
        tsa.certificate.subject.rfc4514_string(),
        tsa.root.subject.rfc4514_string(),
    ]
    report = archive.verify()
    assert report.ok and report.timestamps == 1, report.findings
    # A third party's tool agrees: OpenSSL verifies the stored token over the stored note.
    (tsa.folder / "trusted.pem").write_bytes((tsa.folder / "root.pem").read_bytes())
    openssl = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(archive.log.checkpoint_path(size)),
         "-in", str(archive.blobs.path(event["sha256"])), "-CAfile", str(tsa.folder / "trusted.pem"),
         "-untrusted", str(archive.blobs.path(event["chain"]["sha256"]))],
        capture_output=True, text=True,
    )  # fmt: skip
    assert openssl.returncode == 0 and "Verification: OK" in openssl.stdout, openssl.stderr
    # A timestamp that no longer stamps its checkpoint is named (here: its token replaced
    # by another valid token, which breaks its blob and its stamp).
    path = archive.blobs.path(event["sha256"])
    path.chmod(0o644)
    path.write_bytes(read("test_tsa/response.tsr"))
    findings = [f for f in archive.verify().errors if f.subject == f"entry {done[0].event_index}"]
    assert findings and "timestamp by" in findings[0].message


def test_cli_timestamp(tmp_path: Path, tsa: LocalTsa) -> None:
    archive_path = tmp_path / "archive"
    Archive.init(archive_path).close()
    (tmp_path / "root.pem").write_bytes((tsa.folder / "root.pem").read_bytes())
    out = run_vigil(
        "timestamp", "--tsa", tsa.url, "--tsa-chain", tmp_path / "root.pem", "--json",
        archive_path=archive_path, check=True,
    )  # fmt: skip
    stamped = json.loads(out.stdout)
    assert stamped["stamps"][0]["tsa"] == tsa.url and stamped["problems"] == []
    verified = json.loads(run_vigil("verify", "--json", archive_path=archive_path).stdout)
    assert verified["ok"] and verified["timestamps"] == 1
    bad = run_vigil("timestamp", "--tsa", tsa.url, archive_path=archive_path)
    assert bad.returncode == 1 and "unable to get local issuer certificate" in bad.stderr


# -- OCSP: OpenSSL's own responder answers on the TSA certificate -------------------------


def stamp_answer(archive: Archive, tsa: LocalTsa) -> tuple[dict[str, Any], dict[str, Any]]:
    """Timestamp the archive with *tsa*; (the event, its one OCSP entry)."""
    done, problems = timestamp_checkpoint(archive, [tsa.url], chains={tsa.url: [tsa.root]})
    assert len(done) == 1 and problems == []
    event = done[0].event
    answers = [r for r in event["revocation"] if r["kind"] == "ocsp"]
    assert len(answers) == 1 and answers[0]["url"] == tsa.ocsp_url
    assert answers[0]["serial"] == str(tsa.certificate.serial_number)
    return event, answers[0]


def test_a_good_ocsp_answer_is_stored_with_what_it_says(archive: Archive, tsa: LocalTsa) -> None:
    event, answer = stamp_answer(archive, tsa)
    assert [r["kind"] for r in event["revocation"]] == ["crl", "ocsp"]
    blob = archive.blobs.path(answer["sha256"])
    response = ocsp.load_der_ocsp_response(blob.read_bytes())
    assert answer["size"] == blob.stat().st_size
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.serial_number == tsa.certificate.serial_number
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer["response_status"] == "successful" and answer["cert_status"] == "good"
    assert answer["this_update"] == rfc3339(response.this_update_utc)
    assert response.next_update_utc is not None  # the responder runs with -ndays 1
    assert answer["next_update"] == rfc3339(response.next_update_utc)
    assert answer["signature_verified"] is True
    assert answer["signed_by"] == tsa.responder.subject.rfc4514_string()
    # A third party's tool agrees: OpenSSL verifies the stored response and reads "good".
    openssl = subprocess.run(
        ["openssl", "ocsp", "-respin", str(blob), "-CAfile", str(tsa.folder / "root.pem"),
         "-issuer", str(tsa.folder / "root.pem"), "-cert", str(tsa.folder / "tsa.pem")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert openssl.returncode == 0 and "Response verify OK" in openssl.stderr, openssl.stderr
    assert "tsa.pem: good" in openssl.stdout
    # `vigil verify` counts the response among the timestamp's blobs, and misses it when gone.
    report = archive.verify()
    assert report.ok and report.timestamps == 1, report.findings
    assert not [f for f in report.findings if answer["sha256"] in f.subject]
    blob.unlink()
    missing = [f.message for f in archive.verify().errors]
    assert any(f"blob {answer['sha256']} is missing" in m for m in missing), missing


@pytest.mark.parametrize(
    ("signer", "verified", "said"),
    [
        ("ca", True, "CN=Vigil Test Root CA"),  # the issuer itself, named by key hash
        ("no-eku", False, "lacks extended key usage id-kp-OCSPSigning"),
    ],
)
def test_who_may_sign_an_ocsp_answer(
    archive: Archive, signer: str, verified: bool, said: str
) -> None:
    with LocalTsa(ocsp=signer) as tsa:
        _, answer = stamp_answer(archive, tsa)
    assert answer["cert_status"] == "good" and "sha256" in answer
    assert answer["signature_verified"] is verified
    assert said in answer["signed_by" if verified else "signature_problem"]


def test_a_revoked_tsa_certificate_is_recorded_revoked(archive: Archive) -> None:
    with LocalTsa(revoked=True) as tsa:
        event, answer = stamp_answer(archive, tsa)
    assert answer["cert_status"] == "revoked" and answer["signature_verified"] is True
    assert answer["revocation_reason"] == "key_compromise" and answer["revocation_time"]
    response = ocsp.load_der_ocsp_response(archive.blobs.path(answer["sha256"]).read_bytes())
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    # Revocation data is evidence beside the token, not a condition: the stamp is logged.
    assert event["stamp"]["signer"] == tsa.certificate.subject.rfc4514_string()
    assert archive.verify().ok


def test_a_dead_ocsp_responder_is_recorded_and_the_timestamp_still_logged(
    archive: Archive,
) -> None:
    with LocalTsa(ocsp="dead") as tsa:
        event, answer = stamp_answer(archive, tsa)
    assert "sha256" not in answer and "cert_status" not in answer
    assert answer["error"].startswith("ConnectionError") and "refused" in answer["error"]
    assert event["revocation"][0]["kind"] == "crl" and "sha256" in event["revocation"][0]
    report = archive.verify()
    assert report.ok and report.timestamps == 1, report.findings

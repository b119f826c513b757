"""Tests for vigil.ledger.checkpoint (C2SP tlog-checkpoint)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import CheckpointError, InvalidSignature, MalformedNote, UnverifiedNote
from vigil.ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    decode_hash,
    open_checkpoint,
    parse_decimal,
    parse_signed_checkpoint,
    sign_checkpoint,
)
from vigil.ledger.note import Signer, Verifier, open_note, parse_note, sign_note

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "note"
VECTORS: dict[str, Any] = json.loads(
    (FIXTURES / "signed_note_vectors.json").read_text(encoding="utf-8")
)
SOFA: dict[str, Any] = VECTORS["c2sp_examples"][2]
ROOT = hashlib.sha256(b"root").digest()
ROOT64 = base64.b64encode(ROOT).decode()
URLSAFE64 = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode()


def sofa_bytes() -> bytes:
    return (FIXTURES / "c2sp_checkpoint_behind_the_sofa.note").read_bytes()


def test_behind_the_sofa_parses() -> None:
    checkpoint = parse_signed_checkpoint(sofa_bytes())
    assert checkpoint.origin == SOFA["want_origin"] == "example.com/behind-the-sofa"
    assert checkpoint.size == SOFA["want_tree_size"] == 20852163
    assert checkpoint.root.hex() == SOFA["want_root_hash_hex"]
    assert base64.b64encode(checkpoint.root).decode() == SOFA["want_root_hash_b64"]
    assert checkpoint.extensions == ()
    text, sigs = parse_note(sofa_bytes())
    assert checkpoint.body() == text
    assert sigs[0].name == SOFA["signature_key_name"]
    assert sigs[0].key_id.hex() == SOFA["signature_key_id_hex"] == "033de0ae"
    assert parse_signed_checkpoint(SOFA["note"]) == checkpoint


def test_behind_the_sofa_does_not_verify_with_unrelated_keys() -> None:
    keys = VECTORS["keys"]
    verifiers = [Verifier.from_vkey(keys[k]["vkey"]) for k in keys]
    with pytest.raises(UnverifiedNote):
        open_checkpoint(sofa_bytes(), verifiers)


def test_body_format_and_round_trip() -> None:
    checkpoint = Checkpoint("example.com/log", 5, ROOT, ("ext one", "ext:two"))
    assert checkpoint.body() == f"example.com/log\n5\n{ROOT64}\next one\next:two\n"
    assert Checkpoint.parse(checkpoint.body()) == checkpoint
    empty = Checkpoint("o", 0, ROOT)
    assert empty.body() == f"o\n0\n{ROOT64}\n"
    assert Checkpoint.parse(empty.body()) == empty
    big = Checkpoint("origin with spaces+plus", MAX_TREE_SIZE, ROOT)
    assert Checkpoint.parse(big.body()) == big


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "newline"),
        (f"o\n1\n{ROOT64}", "newline"),
        ("o\n1\n", "line"),
        ("o\n", "line"),
        ("\n", "line"),
        (f"\n1\n{ROOT64}\n", "origin is empty"),
        (f"o\n\n{ROOT64}\n", "tree size"),
        (f"o\n01\n{ROOT64}\n", "leading zeros"),
        (f"o\n00\n{ROOT64}\n", "leading zeros"),
        (f"o\n-1\n{ROOT64}\n", "tree size"),
        (f"o\n+1\n{ROOT64}\n", "tree size"),
        (f"o\n 1\n{ROOT64}\n", "tree size"),
        (f"o\n1 \n{ROOT64}\n", "tree size"),
        (f"o\n0x10\n{ROOT64}\n", "tree size"),
        (f"o\n1_000\n{ROOT64}\n", "tree size"),
        (f"o\n\u0661\n{ROOT64}\n", "tree size"),  # Arabic-Indic digit one
        (f"o\n{2**64}\n{ROOT64}\n", "2**64-1"),
        ("o\n1\n\n", "root hash"),
        ("o\n1\nnot base64!\n", "root hash"),
        (f"o\n1\n{ROOT64[:-1]}\n", "root hash"),  # bad padding
        (f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", "root hash"),
        (f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n", "root hash"),
        (f"o\n1\n{ROOT64[:-2]}B=\n", "root hash"),  # non-canonical trailing bits
        (f"o\n1\n{URLSAFE64}\n", "root hash"),
        (f"o\n1\n{ROOT64}\n\n", "extension line is empty"),
        (f"o\n1\n{ROOT64}\next\n\nmore\n", "extension line is empty"),
        (f"o\x01\n1\n{ROOT64}\n", "control"),
        (f"o\n1\n{ROOT64}\next\tension\n", "extension line is malformed"),
    ],
)
def test_parse_rejects(body: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=reason.replace("*", r"\*")):
        Checkpoint.parse(body)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "a\nb"},
        {"size": -1},
        {"size": 2**64},
        {"root": b"\x00" * 31},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
    ],
)
def test_constructor_rejects(kwargs: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"origin": "o", "size": 1, "root": ROOT, **kwargs}
    with pytest.raises(CheckpointError):
        Checkpoint(**fields)


def test_helpers() -> None:
    assert parse_decimal("0", "x") == 0
    assert parse_decimal("18446744073709551615", "x") == MAX_TREE_SIZE
    assert decode_hash(ROOT64, "x") == ROOT
    with pytest.raises(CheckpointError, match=r"^thing is not"):
        parse_decimal("007", "thing")
    with pytest.raises(CheckpointError, match=r"^thing is not base64"):
        decode_hash("é", "thing")


def test_generated_key_signs_and_verifies() -> None:
    signer = Signer.generate("vigil.example/log")
    checkpoint = Checkpoint("vigil.example/log", 42, ROOT)
    signed = sign_checkpoint(checkpoint, signer)
    assert signed.startswith(checkpoint.body() + "\n\u2014 vigil.example/log ")
    got, note = open_checkpoint(signed, [signer.verifier])
    assert got == checkpoint
    assert note.text == checkpoint.body()
    assert [s.name for s in note.signatures] == ["vigil.example/log"]
    got2, _ = open_checkpoint(signed.encode(), [signer.verifier], origin="vigil.example/log")
    assert got2 == checkpoint
    assert parse_signed_checkpoint(signed) == checkpoint


def test_extensions_are_signed_and_round_trip() -> None:
    signer = Signer.generate("log")
    checkpoint = Checkpoint("log", 7, ROOT, ("timestamp 1700000000",))
    got, _ = open_checkpoint(sign_checkpoint(checkpoint, signer), [signer.verifier])
    assert got.extensions == ("timestamp 1700000000",)


def test_origin_mismatch() -> None:
    signer = Signer.generate("vigil.example/log")
    signed = sign_checkpoint(Checkpoint("vigil.example/log", 1, ROOT), signer)
    with pytest.raises(CheckpointError, match=r"does not match expected 'other\.example/log'"):
        open_checkpoint(signed, [signer.verifier], origin="other.example/log")


def test_tampered_size_or_root_fails_signature() -> None:
    signer = Signer.generate("vigil.example/log")
    checkpoint = Checkpoint("vigil.example/log", 10, ROOT)
    signed = sign_checkpoint(checkpoint, signer)
    other_root = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    for tampered in [
        signed.replace("\n10\n", "\n11\n", 1),
        signed.replace(ROOT64, other_root, 1),
        signed.replace("vigil.example/log\n", "vigil.example/lag\n", 1),
    ]:
        assert tampered != signed
        with pytest.raises(InvalidSignature):
            open_checkpoint(tampered, [signer.verifier])
        parse_signed_checkpoint(tampered)  # still well-formed


def test_unknown_key_rejected() -> None:
    signer = Signer.generate("vigil.example/log")
    other = Signer.generate("vigil.example/log")
    signed = sign_checkpoint(Checkpoint("vigil.example/log", 1, ROOT), signer)
    with pytest.raises(UnverifiedNote):
        open_checkpoint(signed, [other.verifier])


def test_cosigned_checkpoint_verifies_with_either_key() -> None:
    log = Signer.generate("vigil.example/log")
    witness = Signer.generate("witness.example")
    body = Checkpoint("vigil.example/log", 3, ROOT).body()
    signed = sign_note(body, log, witness)
    _, note = open_checkpoint(signed, [witness.verifier])
    assert [s.name for s in note.signatures] == ["witness.example"]
    assert [s.name for s in note.unverified] == ["vigil.example/log"]


def test_verified_note_with_bad_body_is_checkpoint_error() -> None:
    signer = Signer.generate("log")
    signed = sign_note("just one line\n", signer)
    assert open_note(signed, [signer.verifier]).text == "just one line\n"
    with pytest.raises(CheckpointError):
        open_checkpoint(signed, [signer.verifier])
    with pytest.raises(CheckpointError):
        parse_signed_checkpoint(signed)


def test_malformed_note_is_note_error() -> None:
    with pytest.raises(MalformedNote):
        parse_signed_checkpoint(Checkpoint("o", 1, ROOT).body())
    with pytest.raises(MalformedNote):
        open_checkpoint(Checkpoint("o", 1, ROOT).body(), [])

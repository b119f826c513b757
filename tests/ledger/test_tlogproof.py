"""Tests for vigil.ledger.tlogproof (C2SP tlog-proof@v1)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import CheckpointError, InvalidSignature
from vigil.ledger.checkpoint import Checkpoint, sign_checkpoint
from vigil.ledger.note import Signer
from vigil.ledger.tlogproof import HEADER, TlogProof

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "note"
SOFA = (FIXTURES / "c2sp_checkpoint_behind_the_sofa.note").read_text(encoding="utf-8")
HASHES = tuple(hashlib.sha256(bytes([i])).digest() for i in range(5))
H64 = [base64.b64encode(h).decode() for h in HASHES]
SIGNER = Signer.generate("vigil.example/log")
ROOT = hashlib.sha256(b"root").digest()
CHECKPOINT = sign_checkpoint(Checkpoint("vigil.example/log", 109482, ROOT), SIGNER)


def test_header() -> None:
    assert HEADER == "c2sp.org/tlog-proof@v1"


def test_format_layout() -> None:
    proof = TlogProof(index=73894, hashes=HASHES, checkpoint=SOFA, extra=b"age-v1.2.1")
    want = (
        "c2sp.org/tlog-proof@v1\n"
        f"extra {base64.b64encode(b'age-v1.2.1').decode()}\n"
        "index 73894\n" + "".join(h + "\n" for h in H64) + "\n" + SOFA
    )
    assert proof.format() == want
    assert TlogProof.parse(want) == proof
    assert TlogProof.parse(want.encode()) == proof


@pytest.mark.parametrize(
    "proof",
    [
        TlogProof(0, (), SOFA),
        TlogProof(0, (), SOFA, extra=b""),
        TlogProof(1, HASHES[:1], CHECKPOINT),
        TlogProof(2**64 - 1, HASHES, CHECKPOINT, extra=bytes(range(256))),
    ],
)
def test_round_trip(proof: TlogProof) -> None:
    text = proof.format()
    assert TlogProof.parse(text) == proof
    assert TlogProof.parse(text).format() == text


def test_no_hashes_no_extra_layout() -> None:
    assert TlogProof(0, (), SOFA).format() == f"{HEADER}\nindex 0\n\n{SOFA}"


def test_checkpoint_kept_verbatim_and_opens() -> None:
    proof = TlogProof.parse(TlogProof(7, HASHES, CHECKPOINT).format())
    assert proof.checkpoint == CHECKPOINT
    checkpoint, note = proof.open_checkpoint([SIGNER.verifier], origin="vigil.example/log")
    assert checkpoint.size == 109482
    assert checkpoint.root == ROOT
    assert [s.name for s in note.signatures] == ["vigil.example/log"]
    with pytest.raises(CheckpointError, match="does not match"):
        proof.open_checkpoint([SIGNER.verifier], origin="other")


def test_tampered_checkpoint_fails_verification() -> None:
    text = TlogProof(7, HASHES, CHECKPOINT).format().replace("\n109482\n", "\n109483\n")
    proof = TlogProof.parse(text)
    with pytest.raises(InvalidSignature):
        proof.open_checkpoint([SIGNER.verifier])


GOOD_HEAD = f"{HEADER}\nindex 5\n{H64[0]}\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no empty line"),
        (f"{HEADER}\nindex 5\n{H64[0]}\n", "no empty line"),
        (f"{HEADER}\nindex 5\n\n", "checkpoint is empty"),
        (f"c2sp.org/tlog-proof@v2\nindex 5\n\n{SOFA}", "header"),
        (f"{HEADER} \nindex 5\n\n{SOFA}", "header"),
        (f"\n{HEADER}\nindex 5\n\n{SOFA}", "header"),
        (f"{HEADER}\n\n{SOFA}", "index"),
        (f"{HEADER}\n{H64[0]}\n\n{SOFA}", "index"),
        (f"{HEADER}\nextra AAAA\n\n{SOFA}", "index"),
        (f"{HEADER}\nindex 05\n\n{SOFA}", "leading zeros"),
        (f"{HEADER}\nindex 00\n\n{SOFA}", "leading zeros"),
        (f"{HEADER}\nindex -1\n\n{SOFA}", "index"),
        (f"{HEADER}\nindex  5\n\n{SOFA}", "index"),
        (f"{HEADER}\nindex\n\n{SOFA}", "index"),
        (f"{HEADER}\nindex 5x\n\n{SOFA}", "index"),
        (f"{HEADER}\nindex {2**64}\n\n{SOFA}", "index"),
        (f"{HEADER}\nindex 5\nextra AAAA\n\n{SOFA}", "hash"),
        (f"{HEADER}\nextra !!!!\nindex 5\n\n{SOFA}", "extra"),
        (f"{HEADER}\nextra AAA\nindex 5\n\n{SOFA}", "extra"),
        (f"{HEADER}\nindex 5\n{base64.b64encode(bytes(31)).decode()}\n\n{SOFA}", "hash"),
        (f"{HEADER}\nindex 5\n{base64.b64encode(bytes(33)).decode()}\n\n{SOFA}", "hash"),
        (f"{HEADER}\nindex 5\n{H64[0][:-1]}\n\n{SOFA}", "hash"),
        (f"{HEADER}\nindex 5\n{H64[0]} \n\n{SOFA}", "hash"),
        (GOOD_HEAD + "\n" + "not a note\n", "not a signed note"),
        (GOOD_HEAD + "\n" + SOFA.replace("20852163", "020852163"), "leading zeros"),
        (GOOD_HEAD + "\n" + SOFA[:-1], "not a signed note"),
        (GOOD_HEAD.replace("\n", "\r\n") + "\r\n" + SOFA, "header"),
    ],
)
def test_parse_rejects(text: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=reason):
        TlogProof.parse(text)


def test_parse_rejects_invalid_utf8() -> None:
    with pytest.raises(CheckpointError, match="UTF-8"):
        TlogProof.parse(b"\xff" + TlogProof(0, (), SOFA).format().encode())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"index": -1},
        {"hashes": (b"\x00" * 31,)},
        {"checkpoint": ""},
        {"checkpoint": "not a note\n"},
        {"checkpoint": "o\n1\nAAAA\n\n" + SOFA.split("\n\n")[1]},
    ],
)
def test_constructor_rejects(kwargs: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"index": 0, "hashes": (), "checkpoint": SOFA, **kwargs}
    with pytest.raises(CheckpointError):
        TlogProof(**fields)

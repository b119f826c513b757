"""Tests for vigil.ledger.note against the golang/mod and C2SP signed-note vectors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import (
    AmbiguousKey,
    InvalidSignature,
    MalformedKey,
    MalformedNote,
    NoteError,
    UnverifiedNote,
)
from vigil.ledger.note import (
    ALG_ED25519,
    MAX_SIGNATURES,
    Note,
    Signature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    VerifierList,
    format_key,
    is_valid_key_name,
    key_id,
    open_note,
    parse_note,
    sign_note,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "note"
VECTORS: dict[str, Any] = json.loads(
    (FIXTURES / "signed_note_vectors.json").read_text(encoding="utf-8")
)
KEYS = VECTORS["keys"]
PETER_VKEY: str = KEYS["PeterNeumann"]["vkey"]
PETER_SKEY: str = KEYS["PeterNeumann"]["skey"]
ENOCH_VKEY: str = KEYS["EnochRoot"]["vkey"]
FOO_VKEY: str = KEYS["example.com/foo"]["vkey"]
SIGN = VECTORS["sign_vectors"][0]
TEXT: str = SIGN["text"]
SIGNED: str = SIGN["want_signed_note"]
PETER_SIG_LINE = SIGNED[len(TEXT) + 1 :]


def peter() -> Verifier:
    return Verifier.from_vkey(PETER_VKEY)


def enoch() -> Verifier:
    return Verifier.from_vkey(ENOCH_VKEY)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["PeterNeumann", "EnochRoot", "example.com/foo"])
def test_vkey_parses_and_round_trips(who: str) -> None:
    vkey = KEYS[who]["vkey"]
    verifier = Verifier.from_vkey(vkey)
    assert verifier.name == who
    assert verifier.key_id.hex() == KEYS[who]["key_id_hex"]
    assert verifier.vkey == vkey
    raw = base64.b64decode(vkey.split("+", 2)[2])
    assert raw[0] == ALG_ED25519
    assert verifier.public_key.public_bytes_raw() == raw[1:]
    assert key_id(who, raw) == verifier.key_id
    assert key_id(who, raw) == hashlib.sha256(who.encode() + b"\n" + raw).digest()[:4]
    assert verifier == Verifier.from_vkey(vkey)
    assert hash(verifier) == hash(Verifier.from_vkey(vkey))
    assert vkey in repr(verifier)


@pytest.mark.parametrize(
    "name", ["peterneumann.vkey", "enochroot.vkey", "c2sp_example_com_foo.vkey"]
)
def test_vkey_files(name: str) -> None:
    vkey = fixture_bytes(name).decode().strip()
    assert Verifier.from_vkey(vkey).vkey == vkey
    assert vkey in {PETER_VKEY, ENOCH_VKEY, FOO_VKEY}


def test_skey_parses_and_matches_vkey() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == KEYS["PeterNeumann"]["key_id_hex"]
    assert signer.skey == PETER_SKEY
    assert signer.verifier == peter()
    assert signer.verifier.vkey == PETER_VKEY
    assert "AYEKFALV" not in repr(signer)


def _proper_substrings(s: str) -> set[str]:
    return {s[i:j] for i in range(len(s) + 1) for j in range(i, len(s) + 1)} - {s}


def _plus_one_mutations(s: str) -> list[str]:
    return [s[:i] + chr(ord(s[i]) + 1) + s[i + 1 :] for i in range(len(s))]


def test_vkey_rejects_every_proper_substring() -> None:
    for bad in sorted(_proper_substrings(PETER_VKEY)):
        with pytest.raises(MalformedKey):
            Verifier.from_vkey(bad)


def test_vkey_rejects_every_plus_one_mutation() -> None:
    for bad in _plus_one_mutations(PETER_VKEY):
        with pytest.raises(MalformedKey):
            Verifier.from_vkey(bad)


@pytest.mark.parametrize(
    ("bad", "reason"),
    list(
        zip(
            VECTORS["verifier_key_rejections"]["bad_vkeys"],
            VECTORS["verifier_key_rejections"]["reasons"],
            strict=True,
        )
    ),
)
def test_vkey_rejection_vectors(bad: str, reason: str) -> None:
    with pytest.raises(MalformedKey):
        Verifier.from_vkey(bad)


def _vkey_for(name: str, raw: bytes) -> str:
    return f"{name}+{key_id(name, raw).hex()}+{base64.b64encode(raw).decode()}"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper hex
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 digits
        "PeterNeumann+c74f20a3",  # no key
        "PeterNeumann+c74f20a3+",  # empty key
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad padding
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # id mismatch
        _vkey_for("Bad Name", bytes([1]) + bytes(32)),  # space in name
        _vkey_for("Bad\u00a0Name", bytes([1]) + bytes(32)),  # Unicode space in name
        _vkey_for("Bad\x01Name", bytes([1]) + bytes(32)),  # control in name
        _vkey_for("name", bytes([2]) + bytes(32)),  # unknown algorithm
        _vkey_for("name", bytes([1]) + bytes(31)),  # short key
        _vkey_for("name", bytes([1]) + bytes(33)),  # long key
        _vkey_for("name", bytes([1])),  # algorithm byte only
    ],
)
def test_vkey_rejects_malformed(bad: str) -> None:
    with pytest.raises(MalformedKey):
        Verifier.from_vkey(bad)


def test_vkey_name_with_plus_is_a_key_id_error() -> None:
    # "a+b" splits as name "a"; the key id field "b" is then not 8 hex digits.
    with pytest.raises(MalformedKey):
        Verifier.from_vkey(_vkey_for("a+b", bytes([1]) + bytes(32)))


@pytest.mark.parametrize(
    "bad",
    [
        PETER_SKEY.replace("PRIVATE+KEY+", ""),
        PETER_SKEY.replace("PRIVATE", "private"),
        PETER_SKEY.replace("c74f20a3", "c74f20a4"),
        PETER_SKEY.replace("c74f20a3", "C74F20A3"),
        PETER_SKEY.replace("PeterNeumann", "PeterNeuman"),
        PETER_SKEY.replace("+AYEK", "+AoEK"),  # algorithm byte 0x02
        PETER_SKEY[:-1],
        PETER_VKEY,
    ],
)
def test_skey_rejects_malformed(bad: str) -> None:
    with pytest.raises(MalformedKey):
        Signer.from_skey(bad)


def test_generate_and_reload() -> None:
    signer = Signer.generate("vigil.example/test")
    again = Signer.from_skey(signer.skey)
    assert again.verifier == signer.verifier
    assert Verifier.from_vkey(signer.verifier.vkey) == signer.verifier
    message = b"hello\n"
    signature = signer.sign(message)
    assert len(signature) == 64
    assert signer.verifier.verify(message, signature)
    assert not signer.verifier.verify(b"hello!\n", signature)
    assert not signer.verifier.verify(message, signature[:-1])
    with pytest.raises(MalformedKey):
        Signer.generate("bad name")
    with pytest.raises(MalformedKey):
        Signer("", Ed25519PrivateKey.generate())


def test_key_name_validity() -> None:
    assert is_valid_key_name("example.com/log42")
    assert is_valid_key_name("ünïcödé")
    for bad in ["", "a b", "a+b", "a\tb", "a\u2003b", "a\nb", "a\x00b"]:
        assert not is_valid_key_name(bad), bad
    assert format_key("PeterNeumann", bytes.fromhex("c74f20a3")) == "PeterNeumann+c74f20a3"


# --- verifier list ----------------------------------------------------------------------


def test_verifier_list_lookups() -> None:
    spec = VECTORS["verifier_list"]
    known = VerifierList([peter(), enoch(), enoch()])
    assert len(list(known)) == 3
    for lookup in spec["lookups"]:
        kid = bytes.fromhex(lookup["hash"])
        want_error = lookup.get("want_error")
        if want_error is None:
            assert lookup["want"] == "peter verifier"
            assert known.lookup(lookup["name"], kid) == peter()
        elif want_error.startswith("ambiguous key"):
            with pytest.raises(AmbiguousKey, match=r"^ambiguous key EnochRoot\+af0cfe78$"):
                known.lookup(lookup["name"], kid)
        else:
            assert want_error == f"unknown key {format_key(lookup['name'], kid)}"
            assert known.lookup(lookup["name"], kid) is None


# --- signing ----------------------------------------------------------------------------


def test_sign_vector_byte_for_byte() -> None:
    signer = Signer.from_skey(SIGN["skey"])
    assert sign_note(SIGN["text"], signer) == SIGN["want_signed_note"]


def test_sign_matches_fixture_file() -> None:
    signed = sign_note(TEXT, Signer.from_skey(PETER_SKEY))
    assert signed.encode("utf-8") == fixture_bytes("peterneumann_signed.note")
    assert "\u2014 PeterNeumann " in signed


def test_sign_replaces_existing_signature_by_same_key() -> None:
    text, sigs = parse_note(SIGNED)
    assert sign_note(text, Signer.from_skey(PETER_SKEY), existing=sigs) == SIGNED


def test_sign_keeps_existing_signatures_first() -> None:
    _, sigs = parse_note(fixture_bytes("peter_and_enoch_signed.note"))
    enoch_sig = sigs[1]
    other = Signer.generate("witness.example")
    signed = sign_note(TEXT, Signer.from_skey(PETER_SKEY), other, existing=[enoch_sig, enoch_sig])
    _, got = parse_note(signed)
    assert [s.name for s in got] == ["EnochRoot", "PeterNeumann", "witness.example"]
    note = open_note(signed, [peter(), enoch(), other.verifier])
    assert [s.name for s in note.signatures] == ["EnochRoot", "PeterNeumann", "witness.example"]


def test_sign_with_existing_only_reproduces_note() -> None:
    data = fixture_bytes("peter_and_enoch_signed.note").decode()
    text, sigs = parse_note(data)
    assert sign_note(text, existing=sigs) == data


@pytest.mark.parametrize("text", ["", "no newline", "tab\there\n", "cr\r\n", "bad \ud800\n"])
def test_sign_rejects_bad_text(text: str) -> None:
    with pytest.raises(MalformedNote, match=r"^malformed note"):
        sign_note(text, Signer.from_skey(PETER_SKEY))


def test_sign_rejects_no_signers_and_duplicate_signers() -> None:
    with pytest.raises(MalformedNote):
        sign_note(TEXT)
    signer = Signer.from_skey(PETER_SKEY)
    with pytest.raises(AmbiguousKey):
        sign_note(TEXT, signer, signer)


def test_sign_text_with_blank_lines_and_dash_lines_round_trips() -> None:
    signer = Signer.generate("example.com/odd")
    text = "a\n\n\u2014 fake Zm9vYmFy\n\n\nend\n\n"
    note = open_note(sign_note(text, signer), [signer.verifier])
    assert note.text == text
    assert [s.name for s in note.signatures] == ["example.com/odd"]


def test_signature_line_and_validation() -> None:
    _, sigs = parse_note(SIGNED)
    assert sigs[0].line() == PETER_SIG_LINE
    assert sigs[0].key == "PeterNeumann+c74f20a3"
    assert len(sigs[0].signature) == 64
    with pytest.raises(MalformedNote):
        Signature("bad name", b"\x00" * 4, b"x")
    with pytest.raises(MalformedNote):
        Signature("name", b"\x00" * 3, b"x")
    with pytest.raises(MalformedNote):
        Signature("name", b"\x00" * 4, b"")


# --- opening: the golang/mod vectors ----------------------------------------------------


def _note_of(vector: dict[str, Any]) -> bytes | str:
    if "note" in vector:
        return str(vector["note"])
    if "note_hex" in vector:
        return bytes.fromhex(str(vector["note_hex"]))
    assert vector["note_construction"] == "text + '\\n' + peter_sig * 101"
    return TEXT + "\n" + PETER_SIG_LINE * 101


OPEN_VECTORS = VECTORS["open_vectors"]


@pytest.mark.parametrize("vector", OPEN_VECTORS, ids=[v["desc"][:50] for v in OPEN_VECTORS])
def test_open_vectors(vector: dict[str, Any]) -> None:
    note = _note_of(vector)
    vkeys = vector.get("verifier_vkeys", [PETER_VKEY])
    verifiers = [Verifier.from_vkey(v) for v in vkeys]
    want_error = vector.get("want_error")
    if want_error is None:
        opened = open_note(note, verifiers)
        assert isinstance(opened, Note)
        assert opened.text == vector.get("want_text", TEXT)
        assert [s.name for s in opened.signatures] == vector["want_verified"]
        if "want_unverified" in vector:
            assert [s.name for s in opened.unverified] == vector["want_unverified"]
        if "want_unverified_count" in vector:
            assert len(opened.unverified) == vector["want_unverified_count"]
        return
    if want_error == "malformed note":
        error: type[NoteError] = MalformedNote
    elif want_error.startswith("ambiguous key"):
        error = AmbiguousKey
    elif want_error.startswith("invalid signature"):
        error = InvalidSignature
    else:
        error = UnverifiedNote
    with pytest.raises(error) as info:
        open_note(note, verifiers)
    if error is MalformedNote:
        assert str(info.value).startswith("malformed note")
        with pytest.raises(MalformedNote):
            parse_note(note)
    else:
        assert str(info.value) == want_error


def test_open_vector_count() -> None:
    assert len(OPEN_VECTORS) == 15
    assert sum(1 for v in OPEN_VECTORS if v.get("want_error") == "malformed note") == 8


def test_unverified_error_carries_signatures() -> None:
    data = fixture_bytes("peter_and_enoch_signed.note")
    with pytest.raises(UnverifiedNoteError) as info:
        open_note(data, [])
    assert isinstance(info.value, UnverifiedNote)
    assert str(info.value) == "note has no verifiable signatures"
    assert [s.name for s in info.value.unverified] == ["PeterNeumann", "EnochRoot"]
    assert info.value.note.text == TEXT
    assert info.value.note.signatures == ()


def test_exactly_100_signatures_is_accepted() -> None:
    note = TEXT + "\n" + PETER_SIG_LINE * MAX_SIGNATURES
    opened = open_note(note, [peter()])
    assert len(opened.signatures) == 1
    assert len(parse_note(note)[1]) == 100


def test_duplicate_signatures_by_known_key_are_verified_once() -> None:
    bad = PETER_SIG_LINE[:60] + "ABCD" + PETER_SIG_LINE[60:]
    opened = open_note(TEXT + "\n" + PETER_SIG_LINE + bad, [peter()])
    assert len(opened.signatures) == 1
    with pytest.raises(InvalidSignature, match=r"PeterNeumann\+c74f20a3"):
        open_note(TEXT + "\n" + bad + PETER_SIG_LINE, [peter()])


def test_same_name_other_key_id_is_ignored() -> None:
    _, sigs = parse_note(SIGNED)
    impostor = Signature("PeterNeumann", b"\x00\x00\x00\x01", sigs[0].signature)
    opened = open_note(TEXT + "\n" + impostor.line() + PETER_SIG_LINE, [peter()])
    assert [s.key for s in opened.unverified] == ["PeterNeumann+00000001"]


def test_signature_of_wrong_length_by_known_key_is_invalid() -> None:
    short = Signature("PeterNeumann", bytes.fromhex("c74f20a3"), b"\x01" * 10)
    with pytest.raises(InvalidSignature):
        open_note(TEXT + "\n" + short.line(), [peter()])


def test_tampered_text_fails() -> None:
    with pytest.raises(InvalidSignature):
        open_note(SIGNED.replace("cryptography", "cryptograph"), [peter()])


def test_open_accepts_verifier_list_and_generators() -> None:
    assert open_note(SIGNED, VerifierList([peter()])).signatures[0].name == "PeterNeumann"
    assert open_note(SIGNED, (v for v in [peter()])).text == TEXT


@pytest.mark.parametrize(
    "note",
    [
        "",
        "\n\n",
        TEXT + "\n\u2014 PeterNeumann\n",  # no space, no signature
        TEXT + "\n\u2014 PeterNeumann \n",  # empty signature
        TEXT + "\n\u2014 PeterNeumann AAAA\n",  # fewer than 5 bytes
        TEXT + "\n\u2014 PeterNeumann x08go/ZJ!\n",  # not base64
        TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG\n",  # bad padding
        TEXT + "\n- PeterNeumann x08go/ZJkuBS9UG/Sffc\n",  # hyphen, not em dash
        TEXT + "\n\u2014  PeterNeumann x08go/ZJkuBS9UG/Sffc\n",  # empty name
        TEXT + "\n" + PETER_SIG_LINE.replace("\n", "\r\n"),  # CR
        "tab\there\n\n" + PETER_SIG_LINE,
        b"\xed\xa0\x80\n\n" + PETER_SIG_LINE.encode(),  # encoded surrogate
        "\ud800\n\n" + PETER_SIG_LINE,  # unpaired surrogate in str
        TEXT + "\n" + PETER_SIG_LINE + "\n",  # trailing blank line
    ],
)
def test_parse_rejects_malformed(note: bytes | str) -> None:
    with pytest.raises(MalformedNote, match=r"^malformed note"):
        parse_note(note)
    with pytest.raises(MalformedNote):
        open_note(note, [peter()])


def test_parse_accepts_bytes_and_str_alike() -> None:
    data = fixture_bytes("peter_and_enoch_signed.note")
    assert parse_note(data) == parse_note(data.decode())
    text, sigs = parse_note(data)
    assert text == TEXT
    assert [s.key for s in sigs] == ["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"]


# --- fixture files ----------------------------------------------------------------------


def test_peter_and_enoch_file() -> None:
    data = fixture_bytes("peter_and_enoch_signed.note")
    assert data.decode() == OPEN_VECTORS[0]["note"]
    one = open_note(data, [peter()])
    assert [s.name for s in one.signatures] == ["PeterNeumann"]
    assert [s.name for s in one.unverified] == ["EnochRoot"]
    both = open_note(data, [peter(), enoch()])
    assert [s.name for s in both.signatures] == ["PeterNeumann", "EnochRoot"]
    assert both.unverified == ()
    with pytest.raises(UnverifiedNote, match=r"^note has no verifiable signatures$"):
        open_note(data, [])


def test_peterneumann_signed_file_verifies() -> None:
    opened = open_note(fixture_bytes("peterneumann_signed.note"), [peter()])
    assert opened.text == TEXT
    assert opened.signatures[0].key_id.hex() == "c74f20a3"


def test_c2sp_example_com_foo() -> None:
    example = VECTORS["c2sp_examples"][0]
    vkey = fixture_bytes("c2sp_example_com_foo.vkey").decode().strip()
    assert vkey == example["vkey"] == FOO_VKEY
    data = fixture_bytes("c2sp_example_com_foo.note")
    assert data.decode() == example["note"]
    opened = open_note(data, [Verifier.from_vkey(vkey)])
    assert opened.text == example["want_text"]
    assert [s.name for s in opened.signatures] == example["want_verified"]
    with pytest.raises(UnverifiedNote):
        open_note(data, [peter(), enoch()])


UNRELATED = [PETER_VKEY, ENOCH_VKEY, FOO_VKEY]


def test_c2sp_quasimodo_parses_but_does_not_verify() -> None:
    example = VECTORS["c2sp_examples"][1]
    data = fixture_bytes("c2sp_quasimodo.note")
    assert data.decode() == example["note"]
    text, sigs = parse_note(data)
    assert text == example["want_text"]
    assert "\n\n" in text  # the text's own blank line is not the separator
    assert [s.name for s in sigs] == [example["signature_key_name"]]
    assert sigs[0].key_id.hex() == example["signature_key_id_hex"]
    assert len(sigs[0].signature) == 64
    with pytest.raises(UnverifiedNoteError) as info:
        open_note(data, [Verifier.from_vkey(v) for v in UNRELATED])
    assert [s.name for s in info.value.unverified] == ["quasimodo.example/salvatore"]


def test_c2sp_behind_the_sofa_parses_but_does_not_verify() -> None:
    example = VECTORS["c2sp_examples"][2]
    data = fixture_bytes("c2sp_checkpoint_behind_the_sofa.note")
    assert data.decode() == example["note"]
    text, sigs = parse_note(data)
    origin, size, root = text.splitlines()
    assert origin == example["want_origin"]
    assert int(size) == example["want_tree_size"]
    assert root == example["want_root_hash_b64"]
    assert base64.b64decode(root).hex() == example["want_root_hash_hex"]
    assert [s.name for s in sigs] == [example["signature_key_name"]]
    assert sigs[0].key_id.hex() == example["signature_key_id_hex"] == "033de0ae"
    with pytest.raises(UnverifiedNote):
        open_note(data, [Verifier.from_vkey(v) for v in UNRELATED])


def test_fixture_files_are_all_covered() -> None:
    covered = {
        "c2sp_checkpoint_behind_the_sofa.note",
        "c2sp_example_com_foo.note",
        "c2sp_example_com_foo.vkey",
        "c2sp_quasimodo.note",
        "enochroot.vkey",
        "peter_and_enoch_signed.note",
        "peterneumann.vkey",
        "peterneumann_signed.note",
        "signed_note_vectors.json",
    }
    assert {p.name for p in FIXTURES.iterdir()} == covered

"""C2SP signed notes with Ed25519 keys.

Implements https://c2sp.org/signed-note (``signed-note.md``): a note is a UTF-8 text
ending in a newline, a blank line, then one or more signature lines
``— <key name> base64(key ID || signature)``. Only signature type ``0x01``
(Ed25519, RFC 8032) is supported; its key ID is
``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``.

Keys use the text encodings of golang.org/x/mod/sumdb/note: a verifier key (vkey)
is ``<name>+<hex key ID>+base64(0x01 || public key)`` and a signer key (skey) is
``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)``.

Behaviour follows ``note.Open`` / ``note.Sign`` of that package: signatures start
after the *last* blank line; at most 100 signatures; signatures by unknown keys are
kept as unverified; a known key whose signature fails rejects the whole note; two
known keys with the same name and key ID are an error once a signature uses them;
a note without any verified signature is rejected.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from vigil.errors import (
    AmbiguousKey,
    InvalidSignature,
    MalformedKey,
    MalformedNote,
    UnverifiedNote,
)

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Note",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "VerifierList",
    "format_key",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
]

ALG_ED25519 = 0x01
"""Signature type identifier byte of Ed25519 (signed-note.md, "Signature types")."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (the limit of golang.org/x/mod/sumdb/note)."""

_SIG_PREFIX = "— "  # em dash U+2014, space
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_HEX_DIGITS = frozenset("0123456789abcdef")
# ASCII controls other than newline, and unpaired surrogates (not encodable as UTF-8).
_BAD_CHARS = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")


def key_id(name: str, alg_and_public_key: bytes) -> bytes:
    """Return the 4-byte key ID ``SHA-256(name || 0x0A || alg || public key)[:4]``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + alg_and_public_key).digest()[:4]


def format_key(name: str, key_id: bytes) -> str:
    """Return ``name+hex(key ID)``, the way keys are named in error messages."""
    return f"{name}+{key_id.hex()}"


def is_valid_key_name(name: str) -> bool:
    """Report whether *name* is a valid key name: non-empty, no spaces, no ``+``.

    Control characters and unpaired surrogates are rejected too, since such a name
    could never appear in a valid note.
    """
    return (
        name != ""
        and "+" not in name
        and not any(c.isspace() for c in name)
        and _BAD_CHARS.search(name) is None
    )


def _b64decode(text: str) -> bytes | None:
    """Decode standard base64 strictly (padding required); ``None`` when invalid."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


@dataclass(frozen=True)
class Signature:
    """One signature line of a note (verified or not).

    ``signature`` holds the signature bytes *without* the 4-byte key ID prefix.
    """

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedNote(f"malformed note: invalid key name {self.name!r}")
        if len(self.key_id) != 4:
            raise MalformedNote("malformed note: key ID must be 4 bytes")
        if not self.signature:
            raise MalformedNote(f"malformed note: empty signature by {self.key}")

    @property
    def key(self) -> str:
        """``name+hex(key ID)`` of the key that made this signature."""
        return format_key(self.name, self.key_id)

    def line(self) -> str:
        """Return the signature line ``— name base64(key ID || signature)\\n``."""
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, verified signatures and unverified ones.

    ``signatures`` holds one verified signature per key; ``unverified`` holds the
    distinct signatures by keys the caller did not supply.
    """

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = ()


class UnverifiedNoteError(UnverifiedNote):
    """:class:`~vigil.errors.UnverifiedNote` carrying the note that failed to verify."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note

    @property
    def unverified(self) -> tuple[Signature, ...]:
        """The signatures by unknown keys (deduplicated)."""
        return self.note.unverified


class Verifier:
    """An Ed25519 public key with its name and key ID; verifies note signatures."""

    __slots__ = ("_key_id", "_name", "_public_key", "_raw")

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        if not is_valid_key_name(name):
            raise MalformedKey(f"invalid key name {name!r}")
        self._name = name
        self._public_key = public_key
        self._raw = bytes([ALG_ED25519]) + public_key.public_bytes_raw()
        self._key_id = key_id(name, self._raw)

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse a verifier key ``name+hex8+base64(0x01 || public key)``.

        Raises :class:`~vigil.errors.MalformedKey` on a bad name, a key ID that is
        not 8 lowercase hex digits or does not match the key, an unknown algorithm
        byte or a key of the wrong length.
        """
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise MalformedKey("malformed verifier key: expected name+keyid+key")
        name, kid, raw = _decode_key_fields("verifier", *parts)
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw))
        if verifier.key_id != kid:
            raise MalformedKey(f"verifier key ID {kid.hex()} does not match key {name!r}")
        return verifier

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public_key

    @property
    def vkey(self) -> str:
        """The verifier key encoding ``name+hex8+base64(0x01 || public key)``."""
        return f"{format_key(self._name, self._key_id)}+{_b64encode(self._raw)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Report whether *signature* (64 bytes, no key ID) signs *message*."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            self._public_key.verify(signature, message)
        except _CryptoInvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self._name, self._raw) == (other._name, other._raw)

    def __hash__(self) -> int:
        return hash((self._name, self._raw))

    def __repr__(self) -> str:
        return f"Verifier({self.vkey!r})"


def _decode_key_fields(kind: str, name: str, hex_id: str, key64: str) -> tuple[str, bytes, bytes]:
    """Check the ``name``, ``hex8`` and ``base64(0x01 || key)`` fields of a key.

    Returns the name, the 4-byte key ID as written and the 32 raw key bytes.
    """
    if not is_valid_key_name(name):
        raise MalformedKey(f"malformed {kind} key: invalid key name {name!r}")
    if len(hex_id) != 8 or not set(hex_id) <= _HEX_DIGITS:
        raise MalformedKey(f"malformed {kind} key: key ID must be 8 lowercase hex digits")
    key = _b64decode(key64)
    if not key:
        raise MalformedKey(f"malformed {kind} key: key is not valid base64")
    if key[0] != ALG_ED25519:
        raise MalformedKey(f"malformed {kind} key: unknown algorithm 0x{key[0]:02x}")
    if len(key) != 1 + _ED25519_KEY_SIZE:
        raise MalformedKey(
            f"malformed {kind} key: Ed25519 key must be {_ED25519_KEY_SIZE} bytes, "
            f"got {len(key) - 1}"
        )
    return name, bytes.fromhex(hex_id), key[1:]


class Signer:
    """An Ed25519 private key with its name and key ID; signs notes."""

    __slots__ = ("_private_key", "_verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._verifier = Verifier(name, private_key.public_key())

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse a signer key ``PRIVATE+KEY+name+hex8+base64(0x01 || seed)``."""
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise MalformedKey("malformed signer key: expected PRIVATE+KEY+name+keyid+key")
        name, kid, seed = _decode_key_fields("signer", *parts[2:])
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        if signer.key_id != kid:
            raise MalformedKey(f"signer key ID {kid.hex()} does not match key {name!r}")
        return signer

    @classmethod
    def generate(cls, name: str) -> Signer:
        """Generate a fresh Ed25519 key named *name*."""
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    @property
    def verifier(self) -> Verifier:
        """The matching public :class:`Verifier`."""
        return self._verifier

    @property
    def skey(self) -> str:
        """The secret signer key encoding; keep it private."""
        seed = bytes([ALG_ED25519]) + self._private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{format_key(self.name, self.key_id)}+{_b64encode(seed)}"

    def sign(self, message: bytes) -> bytes:
        """Return the raw 64-byte Ed25519 signature of *message*."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"Signer({format_key(self.name, self.key_id)!r})"


class VerifierList:
    """Known verifiers, looked up by (name, key ID) like Go's ``note.VerifierList``.

    Duplicates are kept: looking up a name and key ID held by more than one
    verifier raises :class:`~vigil.errors.AmbiguousKey` (even for identical keys).
    """

    __slots__ = ("_by_key",)

    def __init__(self, verifiers: Iterable[Verifier] = ()) -> None:
        self._by_key: dict[tuple[str, bytes], list[Verifier]] = {}
        for verifier in verifiers:
            self._by_key.setdefault((verifier.name, verifier.key_id), []).append(verifier)

    def lookup(self, name: str, key_id: bytes) -> Verifier | None:
        """Return the verifier for (name, key ID), or ``None`` for an unknown key."""
        found = self._by_key.get((name, key_id))
        if not found:
            return None
        if len(found) > 1:
            raise AmbiguousKey(f"ambiguous key {format_key(name, key_id)}")
        return found[0]

    def __iter__(self) -> Iterator[Verifier]:
        for group in self._by_key.values():
            yield from group


def _check_chars(text: str) -> None:
    """Reject ASCII control characters other than newline, and unpaired surrogates."""
    if _BAD_CHARS.search(text):
        raise MalformedNote("malformed note: control character or invalid UTF-8")


def parse_note(note: bytes | str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and signature lines, without verifying.

    Raises :class:`~vigil.errors.MalformedNote` (message starting ``malformed note``)
    for invalid UTF-8, control characters, a missing blank line, no signatures, a
    missing final newline, a bad signature line or more than 100 signatures.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNote("malformed note: not valid UTF-8") from exc
    _check_chars(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("malformed note: no blank line before signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise MalformedNote("malformed note: no signatures")
    if not block.endswith("\n"):
        raise MalformedNote("malformed note: missing final newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(_SIG_PREFIX):
        raise MalformedNote(f"malformed note: not a signature line: {line[:80]!r}")
    name, _, sig64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise MalformedNote(f"malformed note: invalid key name {name!r}")
    raw = _b64decode(sig64)
    if raw is None or len(raw) < 5:
        raise MalformedNote(f"malformed note: bad signature encoding for {name!r}")
    return Signature(name, raw[:4], raw[4:])


def sign_note(text: str, *signers: Signer, existing: Sequence[Signature] = ()) -> str:
    """Sign *text* and return the encoded note ``text + "\\n" + signature lines``.

    *existing* signatures are written first, except those by a key that is also
    among *signers* (they are replaced); the new signatures follow, in order.
    """
    if not text.endswith("\n"):
        raise MalformedNote("malformed note: text must end in a newline")
    _check_chars(text)
    message = text.encode("utf-8")
    fresh: dict[tuple[str, bytes], Signature] = {}
    for signer in signers:
        ident = (signer.name, signer.key_id)
        if ident in fresh:
            raise AmbiguousKey(f"ambiguous key {format_key(*ident)}: given twice")
        fresh[ident] = Signature(signer.name, signer.key_id, signer.sign(message))
    kept: list[Signature] = []
    for sig in existing:
        if (sig.name, sig.key_id) not in fresh and sig not in kept:
            kept.append(sig)
    every = kept + list(fresh.values())
    if not every:
        raise MalformedNote("malformed note: no signers")
    if len(every) > MAX_SIGNATURES:
        raise MalformedNote(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(sig.line() for sig in every)


def open_note(note: bytes | str, verifiers: Iterable[Verifier]) -> Note:
    """Parse *note* and verify its signatures against the known *verifiers*.

    Signatures by unknown keys are returned as unverified; repeated signatures are
    dropped. Raises :class:`~vigil.errors.InvalidSignature` if a known key's
    signature fails, :class:`~vigil.errors.AmbiguousKey` if two known verifiers
    share a signature's name and key ID, and :class:`UnverifiedNoteError` (an
    :class:`~vigil.errors.UnverifiedNote`) if no signature verifies.
    """
    text, sigs = parse_note(note)
    known = verifiers if isinstance(verifiers, VerifierList) else VerifierList(verifiers)
    message = text.encode("utf-8")
    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in sigs:
        verifier = known.lookup(sig.name, sig.key_id)
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not verifier.verify(message, sig.signature):
            raise InvalidSignature(f"invalid signature for key {sig.key}")
        verified.append(sig)
    opened = Note(text, tuple(verified), tuple(unverified))
    if not verified:
        raise UnverifiedNoteError(opened)
    return opened

"""C2SP transparency-log checkpoints.

Implements https://c2sp.org/tlog-checkpoint (``tlog-checkpoint.md``): a checkpoint
is a signed note (see :mod:`vigil.ledger.note`) whose text is at least three
non-empty lines: the log **origin**, the **tree size** (ASCII decimal, no leading
zeros) and the **root hash** (standard base64 of the 32-byte RFC 6962 Merkle root),
followed by optional non-empty **extension lines**.

The text must be ignored unless a trusted key signed it, so :func:`open_checkpoint`
verifies before it parses; :func:`parse_signed_checkpoint` is for display only.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from vigil.errors import CheckpointError
from vigil.ledger.note import Note, Signer, Verifier, open_note, parse_note, sign_note

__all__ = [
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "decode_hash",
    "encode_hash",
    "open_checkpoint",
    "parse_decimal",
    "parse_signed_checkpoint",
    "sign_checkpoint",
]

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size accepted (sizes are uint64 in every C2SP implementation)."""

HASH_SIZE = 32
"""Size of a SHA-256 Merkle tree hash."""
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile("[\x00-\x1f\ud800-\udfff]")


def decode_hash(line: str, what: str) -> bytes:
    """Decode canonical standard base64 of a 32-byte hash, or raise CheckpointError."""
    try:
        raw = binascii.a2b_base64(line.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != HASH_SIZE or encode_hash(raw) != line:
        raise CheckpointError(f"{what} is not base64 of a {HASH_SIZE}-byte hash: {line[:60]!r}")
    return raw


def encode_hash(raw: bytes) -> str:
    """Standard base64 of *raw*, without a trailing newline."""
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def parse_decimal(text: str, what: str) -> int:
    """Parse an ASCII decimal with no leading zeros (``0`` allowed) up to 2**64-1."""
    if not _DECIMAL.fullmatch(text):
        raise CheckpointError(f"{what} is not a decimal without leading zeros: {text[:40]!r}")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise CheckpointError(f"{what} is larger than 2**64-1: {text}")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise CheckpointError("checkpoint origin is empty")
        if _CONTROL.search(self.origin):
            raise CheckpointError(f"checkpoint origin has control characters: {self.origin!r}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size out of range: {self.size}")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(
                f"checkpoint root hash must be {HASH_SIZE} bytes, got {len(self.root)}"
            )
        for line in self.extensions:
            if not line:
                raise CheckpointError("checkpoint extension line is empty")
            if _CONTROL.search(line):
                raise CheckpointError(f"checkpoint extension line is malformed: {line!r}")

    def body(self) -> str:
        """Return the note text ``origin\\nsize\\nbase64(root)\\n`` plus extension lines."""
        lines = [self.origin, str(self.size), encode_hash(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse checkpoint note text; raise :class:`~vigil.errors.CheckpointError`."""
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint text does not end in a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                f"checkpoint has {len(lines)} line(s); origin, size and root hash are required"
            )
        origin, size, root, *extensions = lines
        if not origin:
            raise CheckpointError("checkpoint origin is empty")
        return cls(
            origin=origin,
            size=parse_decimal(size, "checkpoint tree size"),
            root=decode_hash(root, "checkpoint root hash"),
            extensions=tuple(extensions),
        )


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """Return the signed note of *checkpoint*, signed by *signer*."""
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(
    note: bytes | str, verifiers: Iterable[Verifier], origin: str | None = None
) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint against *verifiers*, then parse it.

    Note errors (:class:`~vigil.errors.NoteError`) come from the signature check;
    :class:`~vigil.errors.CheckpointError` from the text, or when *origin* is given
    and the checkpoint's origin differs.
    """
    opened = open_note(note, verifiers)
    checkpoint = Checkpoint.parse(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} does not match expected {origin!r}"
        )
    return checkpoint, opened


def parse_signed_checkpoint(note: bytes | str) -> Checkpoint:
    """Parse a signed checkpoint WITHOUT verifying any signature (display only)."""
    text, _ = parse_note(note)
    return Checkpoint.parse(text)

"""C2SP tlog-proof@v1: an offline-verifiable proof that an entry is in a log.

Implements https://c2sp.org/tlog-proof (``tlog-proof.md``). The text is::

    c2sp.org/tlog-proof@v1
    extra <base64>              (optional, unauthenticated opaque data)
    index <N>                   (zero-based, ASCII decimal, no leading zeros)
    <base64 hash>               (zero or more: the RFC 6962 inclusion proof,
    ...                          leaf's sibling first, root's child last)
    <empty line>
    <signed checkpoint note, verbatim>

Parsing and construction check the syntax, including that the checkpoint is a
well-formed signed checkpoint (signatures unchecked). Verifying the checkpoint
signatures (:meth:`TlogProof.open_checkpoint`) and the inclusion proof is the
caller's job.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from vigil.errors import CheckpointError, NoteError
from vigil.ledger.checkpoint import (
    HASH_SIZE,
    Checkpoint,
    decode_hash,
    encode_hash,
    open_checkpoint,
    parse_decimal,
    parse_signed_checkpoint,
)
from vigil.ledger.note import Note, Verifier

__all__ = ["HEADER", "TlogProof"]

HEADER = "c2sp.org/tlog-proof@v1"
"""First line of every tlog-proof@v1."""


@dataclass(frozen=True)
class TlogProof:
    """An entry index, its inclusion proof and the signed checkpoint it proves into."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if self.index < 0:
            raise CheckpointError(f"tlog-proof index is negative: {self.index}")
        for h in self.hashes:
            if len(h) != HASH_SIZE:
                raise CheckpointError(f"tlog-proof hash must be {HASH_SIZE} bytes, got {len(h)}")
        if not self.checkpoint:
            raise CheckpointError("tlog-proof checkpoint is empty")
        try:
            parse_signed_checkpoint(self.checkpoint)
        except NoteError as exc:
            raise CheckpointError(f"tlog-proof checkpoint is not a signed note: {exc}") from exc

    def format(self) -> str:
        """Return the tlog-proof@v1 text."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {encode_hash(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(encode_hash(h) for h in self.hashes)
        return "".join(line + "\n" for line in lines) + "\n" + self.checkpoint

    @classmethod
    def parse(cls, text: bytes | str) -> TlogProof:
        """Parse a tlog-proof@v1; raise :class:`~vigil.errors.CheckpointError`."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CheckpointError("tlog-proof is not valid UTF-8") from exc
        head, sep, checkpoint = text.partition("\n\n")
        if not sep:
            raise CheckpointError("tlog-proof has no empty line before the checkpoint")
        if not checkpoint:
            raise CheckpointError("tlog-proof checkpoint is empty")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise CheckpointError(f"tlog-proof header is not {HEADER!r}: {lines[0][:60]!r}")
        pos = 1
        extra = None
        if pos < len(lines) and lines[pos].startswith("extra "):
            try:
                extra = binascii.a2b_base64(lines[pos][6:].encode("ascii"), strict_mode=True)
            except (binascii.Error, UnicodeEncodeError) as exc:
                raise CheckpointError("tlog-proof extra data is not valid base64") from exc
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise CheckpointError("tlog-proof has no 'index N' line")
        index = parse_decimal(lines[pos][6:], "tlog-proof index")
        hashes = tuple(decode_hash(line, "tlog-proof hash") for line in lines[pos + 1 :])
        return cls(index=index, hashes=hashes, checkpoint=checkpoint, extra=extra)

    def open_checkpoint(
        self, verifiers: Iterable[Verifier], origin: str | None = None
    ) -> tuple[Checkpoint, Note]:
        """Verify and parse the embedded checkpoint (see :func:`open_checkpoint`)."""
        return open_checkpoint(self.checkpoint, verifiers, origin)

"""Check one entry against a C2SP tlog-proof and a trusted verifier key, offline.

This is the whole third-party procedure for one ledger entry (docs/verification.md):

1. open the proof's checkpoint as a signed note with the trusted key; read origin,
   size and root from it (RFC 9162 tree head, C2SP tlog-checkpoint);
2. leaf hash = SHA-256(0x00 || entry bytes);
3. fold the proof's hashes into a root (RFC 9162 §2.1.3.2) for the proof's index
   and the checkpoint's size; it must equal the signed root.
"""

from __future__ import annotations

from collections.abc import Iterable

from vigil.errors import ProofError
from vigil.ledger import merkle
from vigil.ledger.checkpoint import Checkpoint, open_checkpoint
from vigil.ledger.note import Verifier
from vigil.ledger.tlogproof import TlogProof

__all__ = ["check_entry_proof"]


def check_entry_proof(
    entry: bytes,
    proof: TlogProof | str | bytes,
    verifiers: Iterable[Verifier],
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Return the signed checkpoint that provably includes *entry*; raise a `VigilError` if not."""
    if not isinstance(proof, TlogProof):
        proof = TlogProof.parse(proof)
    checkpoint, _ = open_checkpoint(proof.checkpoint, verifiers, origin=origin)
    if proof.index >= checkpoint.size:
        raise ProofError(
            f"index {proof.index} is outside the checkpoint's {checkpoint.size} entries"
        )
    merkle.verify_inclusion(
        merkle.leaf_hash(entry), proof.index, checkpoint.size, list(proof.hashes), checkpoint.root
    )
    return checkpoint

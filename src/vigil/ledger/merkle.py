"""Merkle tree maths for the evidence ledger (RFC 9162 §2.1), as pure functions.

The ledger is a Certificate-Transparency-style Merkle tree over SHA-256.

Hashing (RFC 9162 §2.1.1)
    The Merkle Tree Hash of a list of ``n`` entries ``D[n] = {d(0), ..., d(n-1)}`` is::

        MTH({})    = SHA-256()                                   (EMPTY_ROOT)
        MTH({d0})  = SHA-256(0x00 || d0)                         (leaf_hash)
        MTH(D[n])  = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) (node_hash)

    where ``k`` is the largest power of two strictly smaller than ``n``. The 0x00 / 0x01
    prefixes separate leaves from interior nodes, so no interior node can be passed off as a
    leaf (second-preimage resistance). The tree is therefore "left-full": its left subtree
    always holds a complete, aligned block of ``k`` leaves. Every node of any tree of any
    size is either a *complete aligned subtree* -- ``2**level`` leaves starting at a
    multiple of ``2**level``, identified here as ``(level, index)`` -- or lies on the right
    border of a tree whose size is not a power of two. Complete aligned subtrees never
    change once written, which is why a store keeps them and derives everything else.

Compact ranges
    A tree of ``n`` leaves is the concatenation of the complete aligned subtrees given by the
    set bits of ``n`` (largest first). Keeping only their hashes (at most ``log2 n + 1`` of
    them) is enough both to append (merge equal-sized neighbours, like a binary counter)
    and to compute the root (fold them right to left with ``node_hash``): :class:`CompactRange`.

Inclusion proofs (RFC 9162 §2.1.3)
    ``PATH(m, D[n])`` lists, bottom-up, the hashes of the siblings of the nodes on the way
    from leaf ``m`` to the root: with ``k`` as above, ``PATH(m, D[n]) = PATH(m, D[0:k]) :
    MTH(D[k:n])`` if ``m < k`` and ``PATH(m - k, D[k:n]) : MTH(D[0:k])`` otherwise
    (§2.1.3.1). Verification (§2.1.3.2) rebuilds the root from the leaf hash by walking
    ``fn = m`` and ``sn = n - 1`` up the tree: when ``fn`` is odd or equal to ``sn`` the
    sibling is on the left, otherwise on the right; when ``fn == sn`` is even the node has
    no right sibling at that level, so levels are skipped until ``fn`` is odd or zero.

Consistency proofs (RFC 9162 §2.1.4)
    ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` with ``SUBPROOF(m, D[m], true) = {}``,
    ``SUBPROOF(m, D[m], false) = {MTH(D[m])}`` and, for ``m < n``, ``SUBPROOF(m, D[0:k], b)
    : MTH(D[k:n])`` if ``m <= k`` else ``SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])``
    (§2.1.4.1). It holds just enough node hashes to compute both the old root (size ``m``)
    and the new one (size ``n``); verification (§2.1.4.2) computes both at once.

Generation functions take a :data:`SubtreeHash` callback returning ``MTH(D[start:end])``.
Every range an RFC proof asks for starts at a multiple of the largest power of two not
below its length, so :func:`subtree_hash` answers it from at most ``log2 n`` complete
aligned subtrees; an inclusion or consistency proof thus costs ``O(log² n)`` node reads.
All loops are iterative; the only recursion (in :func:`subtree_hash`) is ``O(log n)`` deep.

Generation functions raise :class:`ValueError` for out-of-range arguments (a programming
error); verification functions raise :class:`vigil.errors.ProofError` saying what is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from vigil.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "NodeHash",
    "SubtreeHash",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_of",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: int = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}): the root of the empty tree, SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

SubtreeHash = Callable[[int, int], bytes]
"""``subtree(start, end)`` returns MTH(D[start:end]) of the log's leaves."""

NodeHash = Callable[[int, int], bytes]
"""``node(level, index)`` returns the stored hash of the complete aligned subtree of
``2**level`` leaves starting at leaf ``index * 2**level`` (level 0 = leaf hashes)."""


def leaf_hash(entry: bytes) -> bytes:
    """Return the leaf hash SHA-256(0x00 || entry) of one log entry (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Return k, the largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


class CompactRange:
    """Incremental root of a growing tree in O(log n) memory (a stack of complete-subtree hashes).

    The stack holds, left to right, the hashes of the complete aligned subtrees that make up
    the first :attr:`size` leaves: one per set bit of ``size``, largest first.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The complete-subtree hashes, left (largest) to right (smallest)."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one already-hashed leaf (32 bytes); raises ValueError otherwise."""
        _check_size("leaf hash", leaf_hash)
        merged = leaf_hash
        # Like incrementing a binary counter: each trailing 1 bit of the old size is a
        # complete subtree of the same height as ``merged``, which now gets a sibling.
        carry = self._size
        while carry & 1:
            merged = node_hash(self._hashes.pop(), merged)
            carry >>= 1
        self._hashes.append(merged)
        self._size += 1

    def root(self) -> bytes:
        """Return MTH of the first :attr:`size` leaves (EMPTY_ROOT if there are none)."""
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over already-hashed leaves (EMPTY_ROOT for none); O(n) time, O(log n) memory."""
    compact = CompactRange()
    for leaf in leaf_hashes:
        compact.append(leaf)
    return compact.root()


def subtree_hash(start: int, end: int, node: NodeHash) -> bytes:
    """Return MTH(D[start:end]) using only complete aligned subtree hashes from ``node``.

    The range is split as RFC 9162 §2.1.1 splits a tree (``k`` = largest power of two below
    its length); a part that is a complete aligned subtree is read with one ``node`` call.
    For the ranges proofs use (``start`` a multiple of the largest power of two not below
    ``end - start``, e.g. any ``[0, n)``) this takes at most ``log2 n + 1`` reads; other
    ranges are still answered correctly but may need more. An empty range gives EMPTY_ROOT.
    """
    if start < 0 or end < start:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    if start == end:
        return EMPTY_ROOT
    lefts: list[bytes] = []
    while True:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            result = node(level, start >> level)
            break
        k = _split(n)
        # The left part holds k leaves and is usually aligned (one read); the recursion
        # depth is bounded by log2(n) because every call at least halves the range.
        lefts.append(subtree_hash(start, start + k, node))
        start += k
    for left in reversed(lefts):
        result = node_hash(left, result)
    return result


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PATH(index, D[size]), bottom-up (RFC 9162 §2.1.3.1)."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PROOF(size1, D[size2]), in order (RFC 9162 §2.1.4.1)."""
    ranges: list[tuple[int, int]] = []
    start, end, whole = 0, size2, True
    while True:
        if size1 == end:  # SUBPROOF(m, D[m], b): {} when b, else {MTH(D[m])}
            if not whole:
                ranges.append((start, end))
            break
        k = _split(end - start)
        if size1 - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """Return PATH(index, D[size]) (RFC 9162 §2.1.3.1): sibling hashes, leaf level first.

    ``subtree(start, end)`` must return MTH(D[start:end]); it is called once per proof
    element (``O(log size)`` times). Raises ValueError unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for a tree of size {size}")
    return [subtree(start, end) for start, end in _inclusion_ranges(index, size)]


def consistency_proof(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """Return PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1) that D[size1] is a prefix of D[size2].

    ``subtree(start, end)`` must return MTH(D[start:end]). ``size1 == size2`` gives ``[]``.
    Raises ValueError unless ``0 < size1 <= size2``.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"consistency proof needs 0 < size1 <= size2, got {size1}..{size2}")
    return [subtree(start, end) for start, end in _consistency_ranges(size1, size2)]


def _require_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


def _require_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, element in enumerate(proof):
        _require_hash(f"proof element {i}", element)


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root implied by ``proof`` for ``leaf_hash`` at ``index`` (RFC 9162 §2.1.3.2).

    Raises ProofError if the index is out of range, a hash is not 32 bytes, or the proof
    does not have the length PATH(index, D[size]) has.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} out of range for a tree of size {size}")
    _require_hash("leaf hash", leaf_hash)
    _require_proof_hashes(proof)
    want = len(_inclusion_ranges(index, size))
    if len(proof) != want:
        raise ProofError(
            f"wrong proof length {len(proof)} for index {index} in tree of size {size}, "
            f"expected {want}"
        )
    fn, sn = index, size - 1
    root = leaf_hash
    for sibling in proof:
        if sn == 0:  # unreachable after the length check; kept as in the RFC
            raise ProofError(f"inclusion proof for index {index} in tree of size {size} too long")
        if fn & 1 or fn == sn:
            root = node_hash(sibling, root)
            if not fn & 1:
                # fn == sn and even: this node is the last at its level and has no
                # right sibling, so it is carried up unchanged until fn is odd or 0.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            root = node_hash(root, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable after the length check; kept as in the RFC
        raise ProofError(f"inclusion proof for index {index} in tree of size {size} too short")
    return root


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Returns None on success and raises ProofError otherwise (RFC 9162 §2.1.3.2).
    """
    _require_hash("root hash", root)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof for index {index} in tree of size {size}: "
            f"computed root {computed.hex()}, expected {root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree (size1, root1) is a prefix of the tree (size2, root2).

    Returns None on success and raises ProofError otherwise (RFC 9162 §2.1.4.2, with the
    transparency-dev edge rules: ``size1 == 0`` is an error, ``size2 < size1`` is an error,
    and ``size1 == size2`` needs an empty proof and equal roots).
    """
    if size1 < 0:
        raise ProofError(f"negative tree size {size1}")
    if size2 < size1:
        raise ProofError(f"size2 {size2} < size1 {size1}")
    if size1 == 0:
        raise ProofError("consistency proof from an empty tree is meaningless")
    if size1 == size2:
        # Nothing to compute: the roots must simply be the same bytes. (The upstream probes
        # accept this even for roots that are not 32 bytes long, so length is not checked.)
        if proof:
            raise ProofError(
                f"consistency proof for equal sizes {size1}..{size2} must be empty, "
                f"got {len(proof)} hashes"
            )
        if root1 != root2:
            raise ProofError(
                f"trees of equal size {size1} have different roots {root1.hex()} and {root2.hex()}"
            )
        return
    _require_hash("root1", root1)
    _require_hash("root2", root2)
    _require_proof_hashes(proof)
    want = len(_consistency_ranges(size1, size2))
    if len(proof) != want:
        raise ProofError(
            f"wrong proof length {len(proof)} for sizes {size1}..{size2}, expected {want}"
        )

    # §2.1.4.2 steps 2-5: if size1 is a power of two, the old tree is itself a complete
    # subtree of the new one and its root is the implicit first element of the path.
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # unreachable after the length check; kept as in the RFC
            raise ProofError(f"consistency proof for sizes {size1}..{size2} too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable after the length check; kept as in the RFC
        raise ProofError(f"consistency proof for sizes {size1}..{size2} too short")
    if fr != root1:
        raise ProofError(
            f"consistency proof for sizes {size1}..{size2}: "
            f"computed root1 {fr.hex()}, expected {root1.hex()}"
        )
    if sr != root2:
        raise ProofError(
            f"consistency proof for sizes {size1}..{size2}: "
            f"computed root2 {sr.hex()}, expected {root2.hex()}"
        )

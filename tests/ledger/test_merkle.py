"""Tests for vigil.ledger.merkle: upstream probes, RFC 6962 constants, naive round trips."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import ProofError
from vigil.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "merkle"
TESTDATA = FIXTURES / "testdata"
CONSTANTS: dict[str, Any] = json.loads((FIXTURES / "rfc6962_constants.json").read_text())

INCLUSION_PROBES = sorted((TESTDATA / "inclusion").rglob("*.json"))
CONSISTENCY_PROBES = sorted((TESTDATA / "consistency").rglob("*.json"))


def _probe_id(path: Path) -> str:
    return path.relative_to(TESTDATA).as_posix()


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(item) for item in value or []]


# --- naive reference: straight RFC 9162 recursion over a list of leaf hashes -------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _k(n)
    return node_hash(naive_mth(leaves[:k]), naive_mth(leaves[k:]))


def naive_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [naive_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], whole), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def naive_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return naive_subproof(m, leaves, True)


def stored_nodes(leaves: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete aligned subtree hash of the tree, keyed by (level, index)."""
    nodes: dict[tuple[int, int], bytes] = {}
    level, row = 0, list(leaves)
    while row:
        for i, h in enumerate(row):
            nodes[(level, i)] = h
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
    return nodes


def store_backed(leaves: Sequence[bytes]) -> Callable[[int, int], bytes]:
    nodes = stored_nodes(leaves)

    def node(level: int, index: int) -> bytes:
        return nodes[(level, index)]

    def subtree(start: int, end: int) -> bytes:
        assert end <= len(leaves)
        return subtree_hash(start, end, node)

    return subtree


def make_leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


LEAVES = make_leaves(140)
ROOTS = [naive_mth(LEAVES[:n]) for n in range(len(LEAVES) + 1)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit), *h[1:]])


# --- upstream transparency-dev probes -----------------------------------------------------


def test_probe_files_are_all_there() -> None:
    assert len(INCLUSION_PROBES) == 98
    assert len(CONSISTENCY_PROBES) == 98
    probes = [json.loads(p.read_text()) for p in INCLUSION_PROBES + CONSISTENCY_PROBES]
    assert sum(1 for probe in probes if not probe["wantErr"]) == 12


@pytest.mark.parametrize("path", INCLUSION_PROBES, ids=_probe_id)
def test_inclusion_probe(path: Path) -> None:
    probe = json.loads(path.read_text())

    def run() -> None:
        verify_inclusion(
            _b64(probe["leafHash"]),
            probe["leafIdx"],
            probe["treeSize"],
            _proof(probe["proof"]),
            _b64(probe["root"]),
        )

    if probe["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


@pytest.mark.parametrize("path", CONSISTENCY_PROBES, ids=_probe_id)
def test_consistency_probe(path: Path) -> None:
    probe = json.loads(path.read_text())

    def run() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            _proof(probe["proof"]),
            _b64(probe["root1"]),
            _b64(probe["root2"]),
        )

    if probe["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


def test_happy_path_probes_match_generated_proofs() -> None:
    leaves = [leaf_hash(bytes.fromhex(h)) for h in CONSTANTS["leaf_inputs_hex"]]
    for path in INCLUSION_PROBES:
        probe = json.loads(path.read_text())
        if path.name == "happy-path.json":
            subtree = store_backed(leaves[: probe["treeSize"]])
            got = inclusion_proof(probe["leafIdx"], probe["treeSize"], subtree)
            assert got == _proof(probe["proof"]), path
    for path in CONSISTENCY_PROBES:
        probe = json.loads(path.read_text())
        if path.name == "happy-path.json":
            subtree = store_backed(leaves[: probe["size2"]])
            got = consistency_proof(probe["size1"], probe["size2"], subtree)
            assert got == _proof(probe["proof"]), path


# --- RFC 6962 constants ---------------------------------------------------------------------


def test_empty_root() -> None:
    assert bytes.fromhex(CONSTANTS["empty_tree_root"]) == EMPTY_ROOT
    assert root_of([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT
    assert HASH_SIZE == len(EMPTY_ROOT) == 32


def test_hasher_vectors() -> None:
    for vector in CONSTANTS["hasher_vectors"]:
        want = bytes.fromhex(vector["want"])
        if vector["function"] == "empty_root":
            assert want == EMPTY_ROOT
        elif vector["function"] == "leaf_hash":
            assert leaf_hash(bytes.fromhex(vector["input_hex"])) == want
        else:
            assert vector["function"] == "node_hash"
            left, right = bytes.fromhex(vector["left_hex"]), bytes.fromhex(vector["right_hex"])
            assert node_hash(left, right) == want


def test_collision_properties() -> None:
    h1, h2 = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert h1 != h2
    assert node_hash(h1, h2) != leaf_hash(h1 + h2)
    assert node_hash(h1, h2) != node_hash(h2, h1)
    assert leaf_hash(b"") != EMPTY_ROOT


def _constant_leaves() -> list[bytes]:
    leaves = [leaf_hash(bytes.fromhex(h)) for h in CONSTANTS["leaf_inputs_hex"]]
    assert leaves == [bytes.fromhex(h) for h in CONSTANTS["leaf_hashes"]]
    return leaves


def test_roots_by_tree_size() -> None:
    leaves = _constant_leaves()
    for size, want in CONSTANTS["roots_by_tree_size"].items():
        n = int(size)
        assert root_of(leaves[:n]).hex() == want
        assert naive_mth(leaves[:n]).hex() == want
        assert store_backed(leaves[:n])(0, n).hex() == want


def test_node_hashes_by_level() -> None:
    leaves = _constant_leaves()
    nodes = stored_nodes(leaves)

    def node(level: int, index: int) -> bytes:
        return nodes[(level, index)]

    for level, row in enumerate(CONSTANTS["node_hashes_by_level"]["levels"]):
        width = 1 << level
        for index, want in enumerate(row):
            start = index * width
            assert subtree_hash(start, start + width, node).hex() == want
            assert naive_mth(leaves[start : start + width]).hex() == want


def test_compact_range_by_tree_size() -> None:
    leaves = _constant_leaves()
    table = CONSTANTS["compact_range_by_tree_size"]
    compact = CompactRange()
    for n in range(len(leaves) + 1):
        if n:
            compact.append(leaves[n - 1])
        assert compact.size == n
        assert [h.hex() for h in compact.hashes] == table[str(n)]
        assert compact.root().hex() == CONSTANTS["roots_by_tree_size"][str(n)]


# --- round trips against the naive reference --------------------------------------------------


def test_compact_range_matches_root_of_every_size() -> None:
    compact = CompactRange()
    assert compact.root() == root_of([])
    for n, leaf in enumerate(LEAVES[:70], start=1):
        compact.append(leaf)
        assert compact.size == n
        assert compact.root() == root_of(LEAVES[:n]) == ROOTS[n]
        assert len(compact.hashes) == n.bit_count()


def test_subtree_hash_arbitrary_ranges() -> None:
    subtree = store_backed(LEAVES[:40])
    for start in range(41):
        for end in range(start, 41):
            assert subtree(start, end) == naive_mth(LEAVES[start:end])


@pytest.mark.parametrize("size", range(1, 71))
def test_inclusion_round_trip(size: int) -> None:
    leaves = LEAVES[:size]
    subtree = store_backed(leaves)
    root = ROOTS[size]
    for index in range(size):
        proof = inclusion_proof(index, size, subtree)
        assert proof == naive_path(index, leaves)
        assert root_from_inclusion_proof(leaves[index], index, size, proof) == root
        verify_inclusion(leaves[index], index, size, proof, root)

        # Any tampering must be caught.
        with pytest.raises(ProofError):
            verify_inclusion(flip(leaves[index]), index, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, proof, flip(root, 7))
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = flip(bad[i], 3)
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], index, size, bad, root)
        for other in {index - 1, index + 1, index ^ 2, index * 2, index // 2} - {index}:
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], other, size, proof, root)
        # A proof does not encode the size on its own (e.g. index 0 has the same path shape
        # in trees of 5..8 leaves); the size is bound through the root that goes with it.
        for other in {size - 1, size + 1, size * 2, size // 2} - {size}:
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], index, other, proof, ROOTS[other])
        if proof:
            with pytest.raises(ProofError, match="wrong proof length"):
                verify_inclusion(leaves[index], index, size, proof[:-1], root)
        with pytest.raises(ProofError, match="wrong proof length"):
            verify_inclusion(leaves[index], index, size, [*proof, root], root)


@pytest.mark.parametrize("size2", range(1, 41))
def test_consistency_round_trip(size2: int) -> None:
    leaves = LEAVES[:size2]
    subtree = store_backed(leaves)
    root2 = ROOTS[size2]
    for size1 in range(1, size2 + 1):
        root1 = ROOTS[size1]
        proof = consistency_proof(size1, size2, subtree)
        assert proof == naive_proof(size1, leaves)
        verify_consistency(size1, size2, proof, root1, root2)

        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, flip(root1), root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, flip(root2))
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = flip(bad[i], 5)
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, bad, root1, root2)
        for other1 in {size1 - 1, size1 + 1, size1 * 2, size1 // 2} - {size1}:
            with pytest.raises(ProofError):
                verify_consistency(other1, size2, proof, ROOTS[other1], root2)
        for other2 in {size2 - 1, size2 + 1, size2 * 2} - {size2}:
            with pytest.raises(ProofError):
                verify_consistency(size1, other2, proof, root1, ROOTS[other2])
        if proof:
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, proof[:-1], root1, root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, [*proof, root1], root1, root2)


def test_size_is_bound_only_through_the_root() -> None:
    # RFC 9162 inclusion proofs carry no separate size commitment: PATH(0, D[3]) and
    # PATH(0, D[4]) have the same shape, so the (0, 3) proof also "verifies" for size 4
    # against the size-3 root. Callers must take (size, root) together from a checkpoint.
    proof = inclusion_proof(0, 3, store_backed(LEAVES[:3]))
    verify_inclusion(LEAVES[0], 0, 4, proof, ROOTS[3])
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[0], 0, 4, proof, ROOTS[4])


# --- edge rules and messages ------------------------------------------------------------------


def test_consistency_edge_rules() -> None:
    r1, r2 = ROOTS[5], ROOTS[8]
    assert consistency_proof(5, 5, store_backed(LEAVES[:5])) == []
    verify_consistency(5, 5, [], r1, r1)
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(5, 5, [r1], r1, r1)
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(5, 5, [], r1, r2)
    with pytest.raises(ProofError, match="from an empty tree is meaningless"):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="from an empty tree is meaningless"):
        verify_consistency(0, 8, [], EMPTY_ROOT, r2)
    with pytest.raises(ProofError, match="size2 3 < size1 5"):
        verify_consistency(5, 3, [], r1, r2)
    proof = consistency_proof(6, 8, store_backed(LEAVES[:8]))
    with pytest.raises(ProofError, match=r"wrong proof length 4 for sizes 6\.\.8, expected 3"):
        verify_consistency(6, 8, [*proof, r1], ROOTS[6], r2)
    with pytest.raises(ProofError, match="proof element 1 is 9 bytes, expected 32"):
        verify_consistency(6, 8, [proof[0], b"123456789", proof[2]], ROOTS[6], r2)
    with pytest.raises(ProofError, match="root1 is 3 bytes"):
        verify_consistency(6, 8, proof, b"abc", r2)
    with pytest.raises(ProofError, match="computed root2"):
        verify_consistency(6, 8, proof, ROOTS[6], ROOTS[7])


def test_inclusion_messages() -> None:
    proof = inclusion_proof(5, 8, store_backed(LEAVES[:8]))
    root = ROOTS[8]
    with pytest.raises(ProofError, match="inclusion proof for index 5 in tree of size 8: computed"):
        verify_inclusion(LEAVES[5], 5, 8, proof, ROOTS[7])
    with pytest.raises(ProofError, match="leaf hash is 9 bytes, expected 32"):
        verify_inclusion(b"WrongLeaf", 5, 8, proof, root)
    with pytest.raises(ProofError, match="root hash is 0 bytes"):
        verify_inclusion(LEAVES[5], 5, 8, proof, b"")
    with pytest.raises(ProofError, match="proof element 0 is 31 bytes"):
        verify_inclusion(LEAVES[5], 5, 8, [proof[0][:-1], *proof[1:]], root)
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(LEAVES[5], 8, 8, proof, root)
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(LEAVES[5], -1, 8, proof, root)
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="wrong proof length 4 for index 5 in tree of size 8"):
        verify_inclusion(LEAVES[5], 5, 8, [*proof, root], root)


def test_generation_rejects_bad_arguments() -> None:
    subtree = store_backed(LEAVES[:8])
    for index, size in [(8, 8), (-1, 8), (0, 0)]:
        with pytest.raises(ValueError):
            inclusion_proof(index, size, subtree)
    for size1, size2 in [(0, 8), (0, 0), (5, 3), (-1, 3)]:
        with pytest.raises(ValueError):
            consistency_proof(size1, size2, subtree)
    with pytest.raises(ValueError):
        subtree_hash(3, 2, lambda level, index: b"")
    with pytest.raises(ValueError):
        subtree_hash(-1, 2, lambda level, index: b"")
    assert subtree_hash(4, 4, lambda level, index: b"") == EMPTY_ROOT
    with pytest.raises(ValueError, match="leaf hash is 3 bytes"):
        CompactRange().append(b"abc")


# --- performance ------------------------------------------------------------------------------


class CountingNodes:
    """A fake store: deterministic bytes for every complete aligned subtree, counting reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads = 0

    def node(self, level: int, index: int) -> bytes:
        self.reads += 1
        assert (index + 1) << level <= self.size, "read beyond the tree"
        return hashlib.sha256(f"{level}/{index}".encode()).digest()

    def subtree(self, start: int, end: int) -> bytes:
        return subtree_hash(start, end, self.node)


def test_inclusion_proof_node_reads_at_a_million() -> None:
    size = 1_000_000
    store = CountingNodes(size)
    worst = 0
    for index in (0, 1, 499_999, 524_287, 524_288, 999_998, size - 1):
        store.reads = 0
        proof = inclusion_proof(index, size, store.subtree)
        assert len(proof) <= 20
        worst = max(worst, store.reads)
    assert worst < 2000


def test_huge_trees_do_not_recurse_deeply() -> None:
    size = 2**40 + 12345
    store = CountingNodes(size)
    proof = inclusion_proof(size - 1, size, store.subtree)
    assert len(proof) == len({*proof}) and len(proof) <= 41
    store.reads = 0
    cproof = consistency_proof(2**39 + 7, size, store.subtree)
    assert store.reads < 41 * 41
    assert len(cproof) <= 2 * 41
    assert len(subtree_hash(0, size, store.node)) == HASH_SIZE

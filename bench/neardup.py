"""Near-duplicate benchmarks: exact PDQ radius queries over 1M and 10M stored hashes, and
the grouping of 1M hashes into near-duplicate clusters.

The stored hashes are realistic in the way that matters to an index: clustered. A
fifth of them are copies of 20,000 "originals" with 0-30 bits flipped (re-encodes,
crops, watermarks), the rest independent. Queries are half near copies of stored
originals, half unrelated hashes. Reference in the same run: numpy brute force (every
stored hash XORed and popcounted), which also checks that the index misses nothing.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from numpy.typing import NDArray

from vigil.search.pdqindex import PdqIndex, distances, group_rows

RADIUS = 31


def _flip(rows: NDArray[np.uint16], rng: np.random.Generator, most: int) -> NDArray[np.uint16]:
    """Copies of *rows* with up to *most* random bits flipped each."""
    out = rows.copy()
    counts = rng.integers(0, most + 1, size=len(rows))
    for k in range(most):
        chosen = np.flatnonzero(counts > k)
        bits = rng.integers(0, 256, size=len(chosen))
        out[chosen, bits // 16] ^= (1 << (bits % 16)).astype(np.uint16)
    return out


def hashes(n: int, seed: int = 2016) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
    """(*n* stored hashes, the 20,000 originals their clusters are copies of)."""
    rng = np.random.default_rng(seed)
    originals = rng.integers(0, 1 << 16, size=(20_000, 16), dtype=np.uint16)
    copies = n // 5
    stored = np.concatenate([
        _flip(originals[rng.integers(0, len(originals), size=copies)], rng, 30),
        rng.integers(0, 1 << 16, size=(n - copies, 16), dtype=np.uint16),
    ])  # fmt: skip
    rng.shuffle(stored)
    return stored, originals


def bench_neardup(n: int, queries: int = 1_000) -> dict[str, float]:
    stored, originals = hashes(n)
    rng = np.random.default_rng(7)
    near = _flip(originals[rng.integers(0, len(originals), size=queries // 2)], rng, 20)
    far = rng.integers(0, 1 << 16, size=(queries - queries // 2, 16), dtype=np.uint16)
    asked = np.concatenate([near, far])
    index = PdqIndex()
    started = time.perf_counter()
    index.add_many([str(i) for i in range(n)], stored)
    built = time.perf_counter() - started
    hexes = [row.astype(">u2").tobytes().hex() for row in asked]
    times = []
    found = 0
    for query in hexes:
        started = time.perf_counter()
        found += len(index.within(query, RADIUS))
        times.append(time.perf_counter() - started)
    brute_times = []
    for number, row in enumerate(asked[:: max(1, queries // 20)]):
        started = time.perf_counter()
        expected = np.flatnonzero(distances(stored, row) <= RADIUS)
        brute_times.append(time.perf_counter() - started)
        query = row.astype(">u2").tobytes().hex()
        got = sorted(int(key) for key, _ in index.within(query, RADIUS))
        assert got == sorted(expected.tolist()), f"query {number}: index differs from brute force"
    times.sort()
    return {
        "build_s": built,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
        "brute_ms": statistics.median(brute_times) * 1000,
        "hits_per_query": found / queries,
    }


def bench_grouping(n: int) -> dict[str, float]:
    """Seconds to group *n* clustered hashes (radius 31, every pair), and groups found."""
    stored, _ = hashes(n)
    started = time.perf_counter()
    labels = group_rows(stored, RADIUS)
    elapsed = time.perf_counter() - started
    sizes = np.bincount(labels)
    return {"seconds": elapsed, "groups": float((sizes > 1).sum()),
            "grouped": float(sizes[sizes > 1].sum())}  # fmt: skip

"""Exact near-duplicate search over PDQ hashes: every hash within a Hamming radius.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012): the 256 bits are cut into 16
chunks of 16 bits. If two hashes differ in at most ``r`` bits, by the pigeonhole
principle some chunk differs in at most ``r // 16`` bits; so looking up, in every
chunk's table, each value within that many bits of the query's chunk finds **every**
hash within ``r`` (100 % recall), and the candidates are then checked exactly. For the
standard PDQ radius 31 that is the chunk itself and its 16 one-bit neighbours: 272
lookups instead of a full scan.

The tables are numpy arrays (per chunk: the hash numbers sorted by chunk value, and
where each of the 65,536 values starts), about 80 bytes a hash; distances are counted
with a 16-bit popcount table. Hashes added after a query wait in a small list that is
scanned directly, and are merged into the tables when it grows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["PdqIndex", "distances", "group_rows", "pack"]

CHUNKS = 16
CHUNK_BITS = 16
VALUES = 1 << CHUNK_BITS
_POPCOUNT = np.array([bin(v).count("1") for v in range(VALUES)], dtype=np.uint8)
MERGE_AT = 4_096  # pending hashes scanned directly before the tables are rebuilt


def pack(hexes: Sequence[str]) -> NDArray[np.uint16]:
    """PDQ hashes (64 hex digits) as rows of 16 big-endian 16-bit chunks."""
    raw = bytes.fromhex("".join(hexes)) if hexes else b""
    return np.frombuffer(raw, dtype=">u2").astype(np.uint16).reshape(-1, CHUNKS)


def distances(rows: NDArray[np.uint16], query: NDArray[np.uint16]) -> NDArray[np.int64]:
    """Hamming distance of each packed row to the packed *query*."""
    counted: NDArray[np.int64] = _POPCOUNT[rows ^ query].sum(axis=1, dtype=np.int64)
    return counted


def _neighbours(chunk: int, flips: int) -> list[int]:
    """Every 16-bit value within *flips* bits of *chunk*."""
    found = []
    for count in range(flips + 1):
        for positions in itertools.combinations(range(CHUNK_BITS), count):
            flipped = chunk
            for bit in positions:
                flipped ^= 1 << bit
            found.append(flipped)
    return found


class PdqIndex:
    """``index.add(key, hex)``; ``index.within(hex, 31)`` → [(key, distance)], nearest first."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._rows = np.zeros((0, CHUNKS), dtype=np.uint16)  # the hashes in the tables
        self._order: list[NDArray[np.int32]] = []  # per chunk: row numbers by chunk value
        self._starts: list[NDArray[np.int64]] = []  # per chunk: where each value starts
        self._pending_keys: list[str] = []
        self._pending_hex: list[str] = []
        self._pending_rows: NDArray[np.uint16] | None = None

    def __len__(self) -> int:
        return len(self._keys) + len(self._pending_keys)

    def add(self, key: str, pdq_hex: str) -> None:
        self._pending_keys.append(key)
        self._pending_hex.append(pdq_hex)
        self._pending_rows = None

    def add_many(self, keys: Iterable[str], hexes: Iterable[str] | NDArray[np.uint16]) -> None:
        """Add many hashes at once (hex strings, or rows already `pack`ed) into the tables."""
        if isinstance(hexes, np.ndarray):
            self._merge(list(keys), hexes)
            return
        self._pending_keys += list(keys)
        self._pending_hex += list(hexes)
        self._pending_rows = None
        self._merge()

    def _merge(self, keys: list[str] | None = None, rows: NDArray[np.uint16] | None = None) -> None:
        """Move the pending hashes (and *rows*) into the tables (a rebuild: O(n log n))."""
        extra = [pack(self._pending_hex)] if self._pending_keys else []
        if rows is not None:
            extra.append(rows.astype(np.uint16, copy=False))
        if not extra:
            return
        self._rows = np.concatenate([self._rows, *extra])
        self._keys += self._pending_keys + (keys or [])
        self._pending_keys, self._pending_hex, self._pending_rows = [], [], None
        self._order, self._starts = [], []
        for chunk in range(CHUNKS):
            column = self._rows[:, chunk]
            self._order.append(np.argsort(column, kind="stable").astype(np.int32))
            counts = np.bincount(column, minlength=VALUES)
            self._starts.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    def _pending(self) -> NDArray[np.uint16]:
        if self._pending_rows is None:
            self._pending_rows = pack(self._pending_hex)
        return self._pending_rows

    def within(self, pdq_hex: str, radius: int = 31) -> list[tuple[str, int]]:
        """Every (key, distance) with distance <= *radius*: exact, nearest first."""
        if len(self._pending_keys) > MERGE_AT:
            self._merge()
        query = pack([pdq_hex])[0]
        hits: list[tuple[str, int]] = []
        if len(self._keys):
            flips = radius // CHUNKS
            if flips > 2:  # a wide radius: scanning is cheaper than the neighbourhoods
                candidates = np.arange(len(self._keys))
            else:
                slices = []
                for chunk, (order, starts) in enumerate(
                    zip(self._order, self._starts, strict=True)
                ):
                    for value in _neighbours(int(query[chunk]), flips):
                        start, end = starts[value], starts[value + 1]
                        if end > start:
                            slices.append(order[start:end])
                candidates = np.unique(np.concatenate(slices)) if slices else np.arange(0)
            found = distances(self._rows[candidates], query)
            near = found <= radius
            hits += [
                (self._keys[i], int(d)) for i, d in zip(candidates[near], found[near], strict=True)
            ]
        if self._pending_keys:
            found = distances(self._pending(), query)
            hits += [(self._pending_keys[i], int(d)) for i in np.flatnonzero(found <= radius)
                     for d in (found[i],)]  # fmt: skip
        return sorted(hits, key=lambda hit: (hit[1], hit[0]))


def _within_groups(
    keys: NDArray[np.uint16], rows: NDArray[np.uint16], radius: int,
    column: NDArray[np.uint16] | None,
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:  # fmt: skip
    """Pairs (i, j) of rows with equal *keys* and distance <= *radius*; with *column*,
    only pairs whose *column* values differ (equal ones were found unmasked)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(keys)]]))
    group_end = np.repeat(starts + sizes, sizes)  # for each position, where its group ends
    positions = np.arange(len(keys))
    step = 1
    while len(positions):
        positions = positions[positions + step < group_end[positions]]
        if not len(positions):
            break
        i, j = order[positions], order[positions + step]
        if column is not None:
            differ = column[i] != column[j]
            i, j = i[differ], j[differ]
        half = _POPCOUNT[rows[i, :8] ^ rows[j, :8]].sum(axis=1, dtype=np.int64)
        close = half <= radius  # the first 128 bits rule most pairs out
        i, j = i[close], j[close]
        near = half[close] + _POPCOUNT[rows[i, 8:] ^ rows[j, 8:]].sum(axis=1) <= radius
        yield i[near], j[near]
        step += 1


def group_rows(rows: NDArray[np.uint16], radius: int = 31) -> NDArray[np.int64]:
    """Near-duplicate groups of packed hashes (single linkage within *radius* <= 31): a
    label per row, the smallest row number of its group.

    Every pair within the radius shares, by the pigeonhole principle, a 16-bit chunk
    that differs in at most one bit; so the pairs are found by sorting each chunk's
    values with each bit masked in turn and comparing neighbours in each group of
    equal values, all in numpy. Identical hashes are joined first.
    """
    if radius > 2 * CHUNKS - 1:
        raise ValueError(f"radius {radius}: grouping supports radii up to {2 * CHUNKS - 1}")
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    labels = np.arange(len(unique), dtype=np.int64)
    masks = [0xFFFF] + (
        [0xFFFF ^ (1 << bit) for bit in range(CHUNK_BITS)] if radius >= CHUNKS else []
    )
    found_i: list[NDArray[np.int64]] = []
    found_j: list[NDArray[np.int64]] = []
    for chunk in range(CHUNKS):
        for mask in masks:
            column = unique[:, chunk]
            masked = column & np.uint16(mask) if mask != 0xFFFF else column
            exclude = column if mask != 0xFFFF else None
            for i, j in _within_groups(masked, unique, radius, exclude):
                found_i.append(i)
                found_j.append(j)
    if found_i:
        left, right = np.concatenate(found_i), np.concatenate(found_j)
        while True:  # label propagation with pointer jumping, until nothing changes
            before = labels.copy()
            smaller = np.minimum(labels[left], labels[right])
            np.minimum.at(labels, left, smaller)
            np.minimum.at(labels, right, smaller)
            labels = labels[labels]
            if np.array_equal(labels, before):
                break
    # back to the input rows: the label is the first input row of the group
    first_row = np.full(len(unique), len(rows), dtype=np.int64)
    np.minimum.at(first_row, inverse, np.arange(len(rows), dtype=np.int64))
    group_first = np.full(len(unique), len(rows), dtype=np.int64)
    np.minimum.at(group_first, labels, first_row)
    result: NDArray[np.int64] = group_first[labels[inverse]]
    return result

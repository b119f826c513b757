"""Exact near-duplicate search over PDQ hashes: every hash within a Hamming radius.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012): the 256 bits are cut into 16
chunks of 16 bits, each with its own table from chunk value to hashes. If two hashes
differ in at most ``r`` bits, by the pigeonhole principle some chunk differs in at
most ``r // 16`` bits; so looking up, in every table, each value within that many
bits of the query's chunk finds **every** hash within ``r`` (100 % recall), and the
candidates are then checked exactly. For the standard PDQ radius 31 that is the
chunk itself and its 16 one-bit neighbours: 272 lookups instead of a full scan.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable

__all__ = ["PdqIndex"]

CHUNKS = 16
CHUNK_BITS = 16
MASK = (1 << CHUNK_BITS) - 1


def _chunks(value: int) -> list[int]:
    return [(value >> (CHUNK_BITS * n)) & MASK for n in range(CHUNKS)]


def _neighbours(chunk: int, flips: int) -> Iterable[int]:
    """Every 16-bit value within *flips* bits of *chunk*."""
    for count in range(flips + 1):
        for positions in itertools.combinations(range(CHUNK_BITS), count):
            flipped = chunk
            for bit in positions:
                flipped ^= 1 << bit
            yield flipped


class PdqIndex:
    """``index.add(key, hex)``; ``index.within(hex, 31)`` → [(key, distance)], nearest first."""

    def __init__(self) -> None:
        self._tables: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(CHUNKS)]
        self._values: list[int] = []
        self._keys: list[str] = []

    def __len__(self) -> int:
        return len(self._values)

    def add(self, key: str, pdq_hex: str) -> None:
        value = int(pdq_hex, 16)
        slot = len(self._values)
        self._values.append(value)
        self._keys.append(key)
        for table, chunk in zip(self._tables, _chunks(value), strict=True):
            table[chunk].append(slot)

    def within(self, pdq_hex: str, radius: int = 31) -> list[tuple[str, int]]:
        """Every (key, distance) with distance <= *radius*: exact, nearest first."""
        query = int(pdq_hex, 16)
        flips = radius // CHUNKS
        if flips > 2:  # a wide radius: scanning is cheaper than the neighbourhoods
            candidates: Iterable[int] = range(len(self._values))
        else:
            found: set[int] = set()
            for table, chunk in zip(self._tables, _chunks(query), strict=True):
                for near in _neighbours(chunk, flips):
                    found.update(table.get(near, ()))
            candidates = found
        hits = []
        for slot in candidates:
            distance = (self._values[slot] ^ query).bit_count()
            if distance <= radius:
                hits.append((self._keys[slot], distance))
        return sorted(hits, key=lambda hit: (hit[1], hit[0]))

"""The on-disk log: appends, hash caches, crash repair, proofs from the caches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vigil.errors import LedgerError
from vigil.ledger import merkle
from vigil.ledger.log import Log


def _entries(n: int, start: int = 0) -> list[bytes]:
    return [b'{"n":%d}' % i for i in range(start, start + n)]


@pytest.fixture
def log(tmp_path: Path) -> Log:
    created = Log(tmp_path / "ledger")
    created.create()
    return created


def _append(log: Log, entries: list[bytes]) -> int:
    with log.writer() as writer:
        return writer.append(entries)


def test_append_returns_indexes_and_stores_exact_bytes(log: Log) -> None:
    assert _append(log, _entries(3)) == 0
    assert _append(log, _entries(2, 3)) == 3
    assert log.size == 5
    assert [log.entry(i) for i in range(5)] == _entries(5)
    assert log.entries_path.read_bytes() == b"".join(e + b"\n" for e in _entries(5))
    assert list(log.iter_entries()) == list(enumerate(_entries(5)))


@pytest.mark.parametrize("batches", [[1] * 37, [5, 1, 16, 3, 40], [64], [33, 31]])
def test_cached_tree_matches_the_entries_at_every_size(log: Log, batches: list[int]) -> None:
    leaves: list[bytes] = []
    for n in batches:
        entries = _entries(n, len(leaves))
        _append(log, entries)
        leaves += [merkle.leaf_hash(e) for e in entries]
        assert log.root() == merkle.root_of(leaves)
    for size in range(1, len(leaves) + 1):
        assert log.root(size) == merkle.root_of(leaves[:size])
        for index in range(0, size, 7):
            proof = log.inclusion_proof(index, size)
            merkle.verify_inclusion(leaves[index], index, size, proof, log.root(size))
    for m in range(1, len(leaves), 5):
        proof = log.consistency_proof(m, len(leaves))
        merkle.verify_consistency(m, len(leaves), proof, log.root(m), log.root())


def test_entries_with_newlines_are_refused(log: Log) -> None:
    with log.writer() as writer, pytest.raises(LedgerError, match="newline"):
        writer.append([b"a\nb"])
    assert log.size == 0


def test_torn_last_line_is_dropped_by_the_next_writer(log: Log) -> None:
    _append(log, _entries(4))
    with log.entries_path.open("ab") as f:
        f.write(b'{"n":4, "torn')  # a crash mid-append: never acknowledged
    assert [i for i, _ in log.iter_entries()] == [0, 1, 2, 3]
    assert _append(log, [b'{"n":"after"}']) == 4
    assert log.entry(4) == b'{"n":"after"}'
    assert log.entries_path.read_bytes().count(b"torn") == 0


def test_complete_entries_missing_from_the_caches_are_indexed(log: Log) -> None:
    _append(log, _entries(3))
    with log.entries_path.open("ab") as f:  # crash after the entry fsync, before the caches
        f.write(b'{"n":3}\n{"n":4}\n')
    with log.writer() as writer:
        assert writer.size == 5
    assert log.root() == merkle.root_of([merkle.leaf_hash(e) for e in _entries(5)])


@pytest.mark.parametrize(
    "damage", ["delete-all", "truncate-level", "extra-level-bytes", "truncate-offsets"]
)
def test_damaged_caches_are_rebuilt_from_the_entries(log: Log, damage: str) -> None:
    _append(log, _entries(23))
    want = log.root()
    cache = log.cache_dir
    if damage == "delete-all":
        for path in cache.iterdir():
            path.unlink()
    elif damage == "truncate-level":
        level = cache / "level-01"
        level.write_bytes(level.read_bytes()[:40])
    elif damage == "extra-level-bytes":
        with (cache / "level-02").open("ab") as f:
            f.write(b"\x00" * 45)
    else:
        offsets = cache / "offsets"
        offsets.write_bytes(offsets.read_bytes()[:-20])
    with log.writer() as writer:
        assert writer.size == 23
    assert log.root() == want
    assert [log.entry(i) for i in range(23)] == _entries(23)


def test_checkpoint_files_are_written_once(log: Log) -> None:
    path = log.write_checkpoint(7, "first\n")
    log.write_checkpoint(7, "second\n")
    assert path.read_text() == "first\n"
    assert path.name == "00000000000000000007.note"
    assert log.checkpoint_sizes() == [7]


def test_leaf_hash_is_rfc9162(log: Log) -> None:
    _append(log, [b"abc"])
    assert log.leaf_hash(0) == hashlib.sha256(b"\x00abc").digest()


def test_dropping_a_torn_line_is_logged(log: Log, caplog: pytest.LogCaptureFixture) -> None:
    _append(log, _entries(2))
    with log.entries_path.open("ab") as f:
        f.write(b'{"torn')
    with caplog.at_level("WARNING", logger="vigil.ledger.log"), log.writer():
        pass
    assert "dropped an incomplete last entry (6 bytes)" in caplog.text

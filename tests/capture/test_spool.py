"""Scratch buffers: memory first, an unnamed file past the limit, the same bytes either way."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from vigil.capture.spool import Spool


def test_small_writes_stay_in_memory(tmp_path: Path) -> None:
    spool = Spool(tmp_path, limit=1024)
    spool.write(b"HTTP/1.1 200 OK\r\n\r\n")
    spool.write(memoryview(b"body"))
    with pytest.raises(io.UnsupportedOperation):
        spool.fileno()
    assert spool.reader().read() == b"HTTP/1.1 200 OK\r\n\r\nbody"
    assert list(tmp_path.iterdir()) == []


def test_past_the_limit_the_bytes_move_to_an_unnamed_file(tmp_path: Path) -> None:
    data = os.urandom(5000)
    spool = Spool(tmp_path, limit=1024)
    for start in range(0, len(data), 700):
        spool.write(data[start : start + 700])
    assert os.fstat(spool.fileno()).st_size == len(data)  # a real file: copied in the kernel
    assert list(tmp_path.iterdir()) == []  # with no name: nothing left if the process dies
    assert spool.reader().read() == data
    spool.close()
    assert spool.closed


def test_a_spill_keeps_the_position_written_at(tmp_path: Path) -> None:
    """Bytes written after a seek back land where they do in memory, spilled or not."""
    spool = Spool(tmp_path, limit=8)
    spool.write(b"abcdef")
    spool.seek(0)
    spool.write(b"XYZWVUTSRQP")  # past the limit: spills, from position 0
    assert spool.reader().read() == b"XYZWVUTSRQP"

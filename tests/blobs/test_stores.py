"""Both blob stores keep the same contract; the filesystem one is also atomic and never rewrites."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.blobs import BlobStore, FilesystemBlobStore, MemoryBlobStore
from vigil.errors import BlobNotFound


@pytest.fixture(params=["fs", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    fs = FilesystemBlobStore(tmp_path / "blobs")
    fs.create()
    return fs


def test_put_names_blob_by_sha256_and_reads_back(store: BlobStore) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # spans several chunks
    stored = store.put(io.BytesIO(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.created
    assert stored.head == data[: 1 << 16]
    with store.open(stored.sha256) as f:
        assert f.read() == data
    assert store.exists(stored.sha256)
    assert store.size(stored.sha256) == len(data)
    assert list(store) == [stored.sha256]


def test_same_content_is_stored_once(store: BlobStore) -> None:
    first = store.put(io.BytesIO(b"same bytes"))
    second = store.put(io.BytesIO(b"same bytes"))
    assert first.sha256 == second.sha256
    assert (first.created, second.created) == (True, False)
    assert list(store) == [first.sha256]


def test_empty_blob(store: BlobStore) -> None:
    stored = store.put(io.BytesIO(b""))
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert stored.size == 0


def test_missing_blob_raises(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.open("0" * 64)
    assert not store.exists("0" * 64)


def test_fs_layout_is_fanned_out_and_read_only(tmp_path: Path) -> None:
    fs = FilesystemBlobStore(tmp_path / "blobs")
    fs.create()
    stored = fs.put(io.BytesIO(b"hello"))
    path = tmp_path / "blobs" / stored.sha256[:2] / stored.sha256[2:4] / stored.sha256
    assert path.read_bytes() == b"hello"
    assert path.stat().st_mode & 0o777 == 0o444
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []  # nothing left behind


def test_fs_never_rewrites_an_existing_blob(tmp_path: Path) -> None:
    fs = FilesystemBlobStore(tmp_path / "blobs")
    fs.create()
    stored = fs.put(io.BytesIO(b"original"))
    path = fs.path(stored.sha256)
    path.chmod(0o644)
    path.write_bytes(b"damaged!")  # simulate damage; a new put must not hide it
    again = fs.put(io.BytesIO(b"original"))
    assert not again.created
    assert path.read_bytes() == b"damaged!"


def test_fs_failed_read_leaves_nothing(tmp_path: Path) -> None:
    class Failing(io.RawIOBase):
        calls = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("device went away")
            return b"x" * 1000

    fs = FilesystemBlobStore(tmp_path / "blobs")
    fs.create()
    with pytest.raises(OSError, match="device went away"):
        fs.put(Failing())  # type: ignore[arg-type]
    assert list(fs) == []
    assert list(fs.tmp.iterdir()) == []


def test_fs_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    fs = FilesystemBlobStore(tmp_path / "blobs")
    fs.create()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (fs.tmp / f"{dead.stdout.strip()}-abc").write_bytes(b"partial")
    (fs.tmp / f"{os.getpid()}-def").write_bytes(b"ours, in progress")
    assert fs.remove_stale_temporaries() == 1
    assert [p.name for p in fs.tmp.iterdir()] == [f"{os.getpid()}-def"]


def test_fs_put_memory_stays_flat_for_a_large_stream(tmp_path: Path) -> None:
    """Storing 512 MiB must not hold it in memory (peak RSS measured in a real subprocess).

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec, so a child of a
    large pytest process would report the parent's peak.
    """
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(512 << 20)  # sparse: cheap to make, real bytes to read
    code = (
        "from pathlib import Path; from vigil.blobs import FilesystemBlobStore\n"
        f"s = FilesystemBlobStore(Path({str(tmp_path / 'blobs')!r})); s.create()\n"
        f"r = s.put(open({str(big)!r}, 'rb', buffering=0))\n"
        "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "print(r.size, hwm)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    size, peak_kib = map(int, out.stdout.split())
    assert size == 512 << 20
    assert peak_kib < 100 * 1024, f"peak RSS {peak_kib} KiB"


def test_fs_falls_back_to_streaming_where_the_kernel_cannot_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 << 20))
    calls = []

    def refuse(*args: object) -> int:
        calls.append(args)
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    fs = FilesystemBlobStore(tmp_path / "blobs")
    fs.create()
    with source.open("rb") as f:
        stored = fs.put(f)
    assert calls, "the kernel copy was tried first"
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert fs.path(stored.sha256).read_bytes() == source.read_bytes()


def test_fs_deferred_sync_makes_blobs_durable_before_sync_returns(tmp_path: Path) -> None:
    fs = FilesystemBlobStore(tmp_path / "blobs")
    fs.create()
    with fs.deferred_sync():
        first = fs.put(io.BytesIO(b"one"))
        again = fs.put(io.BytesIO(b"one"))
        assert (first.created, again.created) == (True, False)
        assert fs.sync() == {}
        assert fs.path(first.sha256).read_bytes() == b"one"
        second = fs.put(io.BytesIO(b"two"))
    assert fs.path(second.sha256).read_bytes() == b"two"  # leaving the block syncs the rest
    assert list(fs.tmp.iterdir()) == []

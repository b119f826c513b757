"""The demo behind the Quick start: an archive, sample files, verification, and a proof.

Everything happens in one folder; nothing is fetched. Run twice, it reuses the
archive and reports the samples as already held.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigil.archive import Archive
from vigil.ledger.proofcheck import check_entry_proof

__all__ = ["DemoResult", "run_demo", "write_samples"]

_STATEMENT = """\
Aleppo, December 2016.
"If we all die, remember us."
UN human-rights office: at least 82 civilians killed, including 11 women and 13 children.
"""

_CLAIMS = """\
source,date,place,claim
OHCHR,2016-12-13,eastern Aleppo,"at least 82 civilians, including 11 women and 13 children"
Reuters,2016-12-13,eastern Aleppo,"at least 79 executed"
"""


def _png(width: int, height: int) -> bytes:
    """A small valid PNG (a colour gradient), made without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 96))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def write_samples(folder: Path) -> Path:
    """Write the sample evidence files into *folder*/samples and return that folder."""
    samples = folder / "samples"
    (samples / "photos").mkdir(parents=True, exist_ok=True)
    files = {
        samples / "statement.txt": _STATEMENT.encode("utf-8"),
        samples / "claims.csv": _CLAIMS.encode("utf-8"),
        samples / "photos" / "street.png": _png(64, 48),
        samples / "photos" / "street-copy.png": _png(64, 48),
    }
    for path, data in files.items():
        if not path.exists():
            path.write_bytes(data)
    return samples


@dataclass(frozen=True)
class DemoResult:
    archive: Path
    ok: bool
    proof_dir: Path


def run_demo(folder: Path, say: Callable[[str], None] = print) -> DemoResult:
    """Create (or reuse) an archive in *folder*, add the samples, verify, prove one item."""
    folder = folder.resolve()
    samples = write_samples(folder)
    archive_path = folder / "archive"
    if (archive_path / "vigil.toml").exists():
        archive = Archive.open(archive_path)
        say(f"1. Reusing the archive at {archive_path}")
    else:
        archive = Archive.init(archive_path)
        say(f"1. Created an archive at {archive_path}")
    with archive:
        say(f"   verifier key: {archive.verifier.vkey}")
        say(f"2. Adding the sample files in {samples}")
        for result in archive.add_paths([samples]):
            ident = f"{result.item.id} {result.item.sha256[:16]}" if result.item else result.message
            say(f"   {result.status:7} {Path(result.path).relative_to(folder)}  {ident}")
        report = archive.verify()
        say(
            f"3. Verified: {'OK' if report.ok else 'FAILED'} ({report.entries} entries, "
            f"{report.blobs} blobs re-hashed, {report.checkpoints} signed checkpoints)"
        )
        for finding in report.findings:
            say(f"   {finding}")
        first = archive.items(limit=1)[0]
        proof_dir = folder / "proof"
        written = archive.write_proofs(first.id, proof_dir)
        entry_path, proof_path = written[0], written[1]
        checkpoint = check_entry_proof(
            entry_path.read_bytes(), proof_path.read_text(encoding="utf-8"), [archive.verifier]
        )
        say(f"4. Proof that {first.name} ({first.sha256[:16]}…) is in the log, in {proof_dir}:")
        say(f"   {entry_path.name}: {entry_path.read_text(encoding='utf-8')}")
        say(f"   {proof_path.name}:")
        for line in proof_path.read_text(encoding="utf-8").splitlines():
            say(f"     {line}")
        vkey = archive_path / "keys" / "verifier.vkey"
        say(f"   checked offline against the key: included at tree size {checkpoint.size}.")
        say(f"   Check it yourself: vigil verify-proof {entry_path} {proof_path} --key {vkey}")
    return DemoResult(archive_path, report.ok, proof_dir)

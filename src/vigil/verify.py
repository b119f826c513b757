"""Verify an archive from its files alone: blobs, ledger entries, checkpoints, keys.

The database is not read (design invariant 3), so this is also what a third party
runs on a copy of the folder. Every problem becomes a `Finding` naming the item,
entry, checkpoint or blob concerned; nothing stops at the first problem.

What is checked:

1. every line of ``ledger/entries.jsonl`` is a canonical-JSON event; its leaf hash
   is recomputed and the tree rebuilt (RFC 9162) in one pass;
2. every checkpoint's signature verifies with the archive key (and with a key the
   caller trusts, if given); its origin is the archive's; its root equals the root
   recomputed from the first ``size`` entries. Two checkpoints whose roots are both
   recomputed from the same entries are consistent by construction; the stored
   consistency proof between successive checkpoints is checked as well;
3. every blob's bytes hash to its name, and every blob an event names is present
   with the size the event states;
4. every RFC 3161 timestamp (``checkpoint.timestamped``) still stamps the stored
   checkpoint note and verifies (signature, signer, EKU, nonce, chain at genTime)
   against the chain stored with it, whose root is named in the event.

Damage is localised with the leaf-hash cache written at append time: an entry whose
recomputed leaf hash differs from the cached one is named. If checkpoints still
match, the cache (not the evidence) is what changed, and `vigil reindex` mends it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vigil.blobs.fs import FilesystemBlobStore
from vigil.errors import LedgerCorrupt, LedgerError, NoteError, ProofError, VigilError
from vigil.events import DERIVATIVE_ADDED, ITEM_ADDED, decode_event
from vigil.ledger import merkle
from vigil.ledger.checkpoint import Checkpoint, open_checkpoint
from vigil.ledger.log import Log
from vigil.ledger.note import Verifier
from vigil.ledger.stamping import CHECKPOINT_TIMESTAMPED, check_timestamp

__all__ = ["Finding", "Progress", "VerifyReport", "verify_archive"]

Severity = Literal["error", "warning", "info"]
Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): phase is "entries", "checkpoints" or "blobs"."""


@dataclass(frozen=True)
class Finding:
    severity: Severity
    subject: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"severity": self.severity, "subject": self.subject, "message": self.message}

    def __str__(self) -> str:
        return f"{self.severity}: {self.subject}: {self.message}"


@dataclass
class VerifyReport:
    entries: int = 0
    items: int = 0
    checkpoints: int = 0
    blobs: int = 0
    bytes_hashed: int = 0
    timestamps: int = 0  # RFC 3161 tokens that verify
    latest_checkpoint: int | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def add(self, severity: Severity, subject: str, message: str) -> None:
        self.findings.append(Finding(severity, subject, message))

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "items": self.items,
            "checkpoints": self.checkpoints,
            "blobs": self.blobs,
            "bytes_hashed": self.bytes_hashed,
            "timestamps": self.timestamps,
            "latest_checkpoint": self.latest_checkpoint,
            "findings": [f.as_json() for f in self.findings],
        }


@dataclass
class _Blob:
    size: int
    items: list[str]


def _item_label(item: str, name: str) -> str:
    return f"item {item} ({name})"


def verify_archive(
    root: Path, *, trusted_key: Verifier | None = None, progress: Progress | None = None
) -> VerifyReport:
    """Check the archive at *root*; see the module docstring."""
    report = VerifyReport()
    log = Log(root / "ledger")
    try:
        archive_key = Verifier.from_vkey((root / "keys" / "verifier.vkey").read_text().strip())
    except (OSError, NoteError) as exc:
        report.add("error", "keys/verifier.vkey", f"unusable verifier key: {exc}")
        return report
    if trusted_key is not None and trusted_key.vkey != archive_key.vkey:
        report.add("error", "keys/verifier.vkey", "differs from the key you trust (--key)")
    verifiers = [trusted_key or archive_key]

    sizes = log.checkpoint_sizes()
    stamps: list[tuple[int, dict[str, Any]]] = []
    roots, blobs, leaf_mismatch = _check_entries(log, set(sizes), report, progress, stamps)
    _check_checkpoints(log, sizes, roots, verifiers, leaf_mismatch, report, progress)
    store = FilesystemBlobStore(root / "blobs")
    _check_blobs(store, blobs, report, progress)
    _check_timestamps(log, store, stamps, report)
    return report


def _check_entries(
    log: Log,
    sizes: set[int],
    report: VerifyReport,
    progress: Progress | None,
    stamps: list[tuple[int, dict[str, Any]]],
) -> tuple[dict[int, bytes], dict[str, _Blob], list[int]]:
    roots: dict[int, bytes] = {}
    blobs: dict[str, _Blob] = defaultdict(lambda: _Blob(-1, []))
    leaf_mismatch: list[int] = []
    tree = merkle.CompactRange()
    if 0 in sizes:
        roots[0] = tree.root()
    cached = _open_cache(log)
    total = log.entries_path.stat().st_size
    done = 0
    try:
        for index, raw in log.iter_entries():
            leaf = merkle.leaf_hash(raw)
            tree.append(leaf)
            if cached is not None:
                stored = cached.read(merkle.HASH_SIZE)
                if stored and stored != leaf:
                    leaf_mismatch.append(index)
            if index + 1 in sizes:
                roots[index + 1] = tree.root()
            _check_event(index, raw, blobs, report, stamps)
            done += len(raw) + 1
            if progress is not None and index % 4096 == 0:
                progress("entries", done, total)
    finally:
        if cached is not None:
            cached.close()
    report.entries = tree.size
    if done < total:
        report.add(
            "warning",
            f"entry {tree.size}",
            "incomplete last line (an append cut short, never acknowledged); "
            "the next write removes it",
        )
    if progress is not None:
        progress("entries", total, total)
    return roots, blobs, leaf_mismatch


def _open_cache(log: Log) -> Any:
    try:
        return (log.cache_dir / "level-00").open("rb")
    except OSError:
        return None


def _check_event(
    index: int,
    raw: bytes,
    blobs: dict[str, _Blob],
    report: VerifyReport,
    stamps: list[tuple[int, dict[str, Any]]],
) -> None:
    try:
        event = decode_event(index, raw)
    except LedgerCorrupt as exc:
        report.add("error", f"entry {index}", str(exc).removeprefix(f"entry {index}: "))
        return
    if event.type == CHECKPOINT_TIMESTAMPED:
        data = event.data
        label = f"the timestamp in entry {index} ({data.get('tsa')})"
        parts = [data, data.get("request", {}), data.get("chain", {})]
        for part in parts + [r for r in data.get("revocation", []) if "sha256" in r]:
            if "sha256" in part and "size" in part:
                blobs[str(part["sha256"])].size = int(part["size"])
                blobs[str(part["sha256"])].items.append(label)
        stamps.append((index, data))
        return
    if event.type in (ITEM_ADDED, DERIVATIVE_ADDED):
        report.items += 1
        blob = blobs[event.sha256]
        label = _item_label(event.item or "?", str(event.data.get("name", "")))
        if blob.size >= 0 and blob.size != event.data.get("size"):
            report.add("error", f"entry {index}", f"{label}: size disagrees with earlier events")
        blob.size = int(event.data.get("size", -1))
        blob.items.append(label)


def _check_checkpoints(
    log: Log,
    sizes: list[int],
    roots: dict[int, bytes],
    verifiers: list[Verifier],
    leaf_mismatch: list[int],
    report: VerifyReport,
    progress: Progress | None,
) -> None:
    good: list[Checkpoint] = []
    previous = 0
    for n, size in enumerate(sizes):
        subject = f"checkpoint {log.checkpoint_path(size).name}"
        if progress is not None:
            progress("checkpoints", n, len(sizes))
        try:
            checkpoint, _ = open_checkpoint(log.read_checkpoint(size), verifiers)
        except (VigilError, OSError, UnicodeDecodeError) as exc:
            report.add("error", subject, f"does not verify: {exc}")
            continue
        report.checkpoints += 1
        if checkpoint.origin != verifiers[0].name:
            report.add(
                "error",
                subject,
                f"origin {checkpoint.origin!r} is not the key's {verifiers[0].name!r}",
            )
        elif checkpoint.size != size:
            report.add(
                "error", subject, f"file name says size {size}, content says {checkpoint.size}"
            )
        elif size > report.entries:
            report.add(
                "error",
                subject,
                f"signed for {size} entries but the ledger holds {report.entries}: "
                "entries are missing",
            )
        elif roots.get(size) != checkpoint.root:
            damaged = [i for i in leaf_mismatch if previous <= i < size] or leaf_mismatch
            where = (
                ", ".join(f"entry {i}" for i in damaged[:20])
                if damaged
                else f"one of entries {previous}..{size - 1}"
            )
            report.add("error", subject, f"root does not match the entries: {where} altered")
        else:
            good.append(checkpoint)
        previous = size
    _check_consistency(log, good, leaf_mismatch, report)
    covered = sizes[-1] if sizes else 0
    report.latest_checkpoint = sizes[-1] if sizes else None
    for index in leaf_mismatch:
        if index >= covered:
            report.add(
                "error",
                f"entry {index}",
                "its bytes no longer match the leaf hash recorded when it was appended "
                "(not yet covered by a checkpoint)",
            )
    if leaf_mismatch and all(i < covered for i in leaf_mismatch) and len(good) == len(sizes):
        report.add(
            "warning",
            "ledger/cache",
            "leaf-hash cache differs from the entries; run `vigil reindex`",
        )
    if report.entries > covered:
        report.add(
            "info",
            "ledger",
            f"{report.entries - covered} entries after the latest checkpoint are not yet signed "
            "(`vigil checkpoint` signs them)",
        )


def _check_consistency(
    log: Log, good: list[Checkpoint], leaf_mismatch: list[int], report: VerifyReport
) -> None:
    if leaf_mismatch:
        return  # proofs come from the cache, which is known to differ
    for old, new in itertools.pairwise(good):
        if old.size == 0:
            continue
        try:
            proof = log.consistency_proof(old.size, new.size)
            merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
        except (ProofError, LedgerError, OSError) as exc:
            report.add("error", f"checkpoints {old.size}..{new.size}", f"not consistent: {exc}")


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_blobs(
    store: FilesystemBlobStore,
    blobs: dict[str, _Blob],
    report: VerifyReport,
    progress: Progress | None,
) -> None:
    for stray in store.stray_files():
        report.add(
            "warning", f"blobs/{stray.relative_to(store.root)}", "not a blob (unexpected file)"
        )
    names = list(store)
    total = len(names)
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        hashed = pool.map(lambda name: (name, _hash_file(store.path(name))), names)
        for n, (name, (actual, size)) in enumerate(hashed):
            report.blobs += 1
            report.bytes_hashed += size
            if progress is not None:
                progress("blobs", n + 1, total)
            known = blobs.get(name)
            who = "; ".join(known.items[:5]) if known else "no item"
            if actual != name:
                report.add("error", f"blob {name}", f"damaged: bytes now hash to {actual} ({who})")
            elif known is not None and known.size != size:
                report.add("error", f"blob {name}", f"size {size}, events say {known.size} ({who})")
            elif known is None:
                report.add(
                    "info", f"blob {name}", "stored but named by no event (an add cut short)"
                )
    present = set(names)
    for sha256, known in blobs.items():
        if sha256 not in present:
            for label in known.items:
                report.add("error", label, f"blob {sha256} is missing")


def _check_timestamps(
    log: Log,
    store: FilesystemBlobStore,
    stamps: list[tuple[int, dict[str, Any]]],
    report: VerifyReport,
) -> None:
    """Each RFC 3161 token still stamps its checkpoint and verifies against its stored chain."""
    for index, data in stamps:
        size = int(data.get("checkpoint", {}).get("size", -1))
        try:
            note = log.read_checkpoint(size)
            token = store.open(str(data["sha256"])).read()
            chain = store.open(str(data["chain"]["sha256"])).read()
        except (OSError, KeyError, VigilError) as exc:
            report.add("error", f"entry {index}", f"timestamp by {data.get('tsa')}: {exc}")
            continue
        why = check_timestamp(data, note, token, chain)
        if why is not None:
            report.add("error", f"entry {index}", f"timestamp by {data.get('tsa')}: {why}")
        else:
            report.timestamps += 1

"""`vigil export`: a WACZ 1.1.1 evidence package that proves itself, offline.

Layout (every file two levels deep, as the WACZ validator wants):

* ``archive/<item>.warc.gz``: the WARC files of web captures, byte for byte;
* ``indexes/index.cdx``: a CDXJ index of their records; ``pages/pages.jsonl``: the
  captured pages (so standard replay tools open the package);
* ``files/<item>.<ext>``: every other original (media, posts, segments, documents),
  byte for byte;
* ``items/<item>.item``: each item's metadata (JSON), what it claims apart from what we
  observed, and its custody (every ledger event naming it, oldest first);
* ``proofs/<n>.entry`` and ``proofs/<n>.tlog-proof``: for every ledger entry of every
  item, its exact bytes (canonical JSON) and a C2SP tlog-proof against one signed
  checkpoint (not ``.json``: Frictionless would read such files as descriptors);
* ``vigil/checkpoint.note``, ``vigil/verifier.vkey``: that checkpoint and the key;
  ``timestamps/<n>.tsr``, ``.pem`` and ``.event``: RFC 3161 tokens of that checkpoint
  (if any), the chain each was verified against, and its ledger event;
* ``report/report.html`` and ``report/report.pdf`` (WeasyPrint): a human-readable
  report, per item its hashes, capture circumstances, tools and custody;
* ``datapackage.json`` (SHA-256 of every file) and ``datapackage-digest.json``, whose
  hash is signed with the archive's Ed25519 key (see `docs/packages.md`).

With ``public=True`` stream keys are left out and identifying metadata (paths,
operator, host) is removed from the item descriptions (design invariant 6); the
ledger entries and proofs, which are what they are, are then left out too: the
files are then vouched for by the signed datapackage alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdxj_indexer.main import CDXJIndexer
from sqlalchemy import select

from vigil import __version__
from vigil.access import log_reads, withheld
from vigil.db.index import ItemRow
from vigil.db.schema import events
from vigil.errors import InputError
from vigil.export.clientip import mask_in
from vigil.export.public import copy_event, is_warc, public_copy
from vigil.export.report import PdfJob, render_report
from vigil.ledger.checkpoint import Checkpoint, open_checkpoint
from vigil.ledger.stamping import CHECKPOINT_TIMESTAMPED
from vigil.ledger.tlogproof import TlogProof
from vigil.redact import REDACTED

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["ExportResult", "export_package"]

WACZ_VERSION = "1.1.1"
WARC_TYPES = ("application/warc", "application/x-gzip", "application/gzip")


@dataclass
class ExportResult:
    path: Path
    items: list[str] = field(default_factory=list)
    entries: int = 0
    checkpoint_size: int = 0
    timestamps: int = 0
    left_out: list[str] = field(default_factory=list)
    why_left_out: dict[str, str] = field(default_factory=dict)
    sealed_read: list[str] = field(default_factory=list)  # sealed items handed out (logged)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "items": self.items, "entries": self.entries,
                "checkpoint": self.checkpoint_size, "timestamps": self.timestamps,
                "left_out": [{"item": i, "why": self.why_left_out.get(i, "")}
                             for i in self.left_out],
                "sealed_read": self.sealed_read, "problems": self.problems}  # fmt: skip


def _select(archive: Archive, refs: list[str]) -> list[ItemRow]:
    """The items named, what was captured with or derived from them, and what they came from."""
    chosen: dict[str, ItemRow] = {}
    todo = [archive.item(ref) for ref in refs]
    while todo:
        row = todo.pop()
        if row.id in chosen:
            continue
        chosen[row.id] = row
        todo += archive.index.children(row.id)
        if row.parent_id and row.parent_id not in chosen:
            todo.append(archive.item(row.parent_id))
    return sorted(chosen.values(), key=lambda r: r.added_index)


def _suffix(row: ItemRow) -> str:
    name = row.name.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
    return ext if ext.isalnum() and len(ext) <= 8 else "bin"


_PRIVATE_CLAIMS = {"geo", "gps", "location", "latitude", "longitude", "camera", "author_id",
                   "symlink_target", "mtime", "ctime", "birthtime", "created"}  # fmt: skip
_NAMED_BY_URL = {"page", "post", "media", "text", "screenshot"}  # names from public URLs


def _public_view(description: dict[str, Any]) -> dict[str, Any]:
    """Without what identifies the people who captured, hold or appear in it (invariant
    6): no local path, capture context or custody; no place, camera, author id or file
    times among the claims; no local file name; and for a redacted copy not the
    original's hash or size either (they would confirm a guessed original)."""
    out = dict(description)
    for key in ("path", "observed", "custody"):
        out.pop(key, None)
    out["claimed"] = {k: v for k, v in (out.get("claimed") or {}).items()
                      if k not in _PRIVATE_CLAIMS}  # fmt: skip
    if out.get("kind") not in _NAMED_BY_URL:
        out["name"] = out["file"].rsplit("/", 1)[-1]
    if "redacted" in out:
        out.pop("sha256", None)
        out.pop("size", None)
    masked: dict[str, Any] = mask_in(out)  # platform URLs signed with the capturer's address
    return masked


class _Writer:
    """Writes zip members and remembers each one's SHA-256 and size for datapackage.json."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.resources: list[dict[str, Any]] = []

    def add(self, path: str, data: bytes, *, store: bool = False) -> None:
        info = zipfile.ZipInfo(path, date_time=dt.datetime.now(dt.UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED if store else zipfile.ZIP_DEFLATED
        self.zf.writestr(info, data)
        self._note(path, hashlib.sha256(data).hexdigest(), len(data))

    def add_blob(self, path: str, archive: Archive, sha256: str) -> None:
        info = zipfile.ZipInfo(path, date_time=dt.datetime.now(dt.UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED  # WARCs and media: stored, never recompressed
        digest, size = hashlib.sha256(), 0
        with archive.blobs.open(sha256) as src, self.zf.open(info, "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        if digest.hexdigest() != sha256:
            raise InputError(f"blob {sha256} is damaged (run vigil verify): not exported")
        self._note(path, sha256, size)

    def _note(self, path: str, sha256: str, size: int) -> None:
        name = path.lower().replace("/", "-")
        self.resources.append({"name": name, "path": path, "hash": f"sha256:{sha256}",
                               "bytes": size})  # fmt: skip


@dataclass
class _Plan:
    """What goes into one package, decided before anything is written."""

    archive: Archive
    rows: list[ItemRow]
    described: list[dict[str, Any]]
    warcs: list[tuple[str, str]]  # (item id, SHA-256 of the WARC the package holds)
    checkpoint: Checkpoint
    note: str
    stamps: list[tuple[int, dict[str, Any]]]
    report: str
    public: bool
    title: str | None


def export_package(
    archive: Archive,
    refs: list[str],
    out: Path,
    *,
    public: bool = False,
    title: str | None = None,
    include_sealed: bool = False,
) -> ExportResult:
    """Write the package for the items *refs* (and those captured with them) to *out*.

    Sealed items, what derives from them and the WARCs holding them are left out
    (`vigil.access`) unless *include_sealed*, which logs a ``sealed.read`` event for
    each (never in a *public* package). Written to a temporary name and renamed: a
    failed export leaves nothing behind.
    """
    if not refs:
        raise InputError("nothing to export: name at least one item")
    if public and include_sealed:
        raise InputError("a public package never holds sealed items: drop --include-sealed")
    rows = _select(archive, refs)
    result = ExportResult(out)
    held = withheld(archive, rows)
    if public:  # decryption keys of recorded streams stay home too
        held.update({r.id: "a stream decryption key" for r in rows if r.kind == "key"})
    if held and not include_sealed:
        result.left_out = [r.id for r in rows if r.id in held]
        result.why_left_out = held
        rows = [r for r in rows if r.id not in held]
        if not rows:
            raise InputError("nothing to export: every item chosen is sealed or withheld")
    elif held:
        reads = [r for r in rows if r.id in held]
        log_reads(archive, reads, purpose=f"exported to {out.name}")
        result.sealed_read = [r.id for r in reads]
    all_stamps = _stamp_events(archive)
    checkpoint, note = _checkpoint_for(
        archive, rows, {d["checkpoint"]["size"] for _, d in all_stamps}
    )
    warcs = [r for r in rows if is_warc(archive, r)]
    copies = {r.id: r for r in rows}  # original -> what the package holds for it
    if public:  # redacted copies in place of media; what has none is left out (invariant 6)
        copies, rows = _public_copies(archive, rows, warcs, result)
        warcs = [r for r in warcs if r in rows]
    described = [_describe(archive, row, copies[row.id], row in warcs, public) for row in rows]
    stamps = [(i, d) for i, d in all_stamps if d["checkpoint"]["size"] == checkpoint.size]
    report = render_report(archive.origin, described, checkpoint.size, len(stamps))
    warc_files = [(w.id, copies[w.id].sha256) for w in warcs]
    plan = _Plan(archive, rows, described, warc_files, checkpoint, note, stamps, report, public,
                 title)  # fmt: skip
    result.checkpoint_size, result.timestamps = checkpoint.size, len(stamps)
    tmp = out.with_name(f".{out.name}.partial")
    with tempfile.TemporaryDirectory(prefix="vigil-export-") as scratch:
        pdf_job = PdfJob(report, Path(scratch))  # renders while the originals are copied
        try:
            with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
                writer = _Writer(zf)
                result.entries = _write_evidence(writer, plan)
                pdf = pdf_job.result()
                if pdf is None:
                    result.problems.append("no PDF report: WeasyPrint or Pango is missing")
                else:
                    writer.add("report/report.pdf", pdf, store=True)
                _write_datapackage(writer, plan)
        except BaseException:  # nothing half-written is left under any name
            pdf_job.process.kill()
            tmp.unlink(missing_ok=True)
            raise
    tmp.replace(out)
    result.items = [r.id for r in rows]
    return result


def _write_evidence(writer: _Writer, plan: _Plan) -> int:
    """Originals, indexes, item descriptions, proofs, checkpoint, key, timestamps, report;
    returns how many ledger entries were proven."""
    archive, size = plan.archive, plan.checkpoint.size
    for description in plan.described:
        writer.add_blob(description["file"], archive, description["exported"]["sha256"])
    writer.add("indexes/index.cdx", _cdxj(archive, plan.warcs))
    writer.add("pages/pages.jsonl", _pages(plan.rows, plan.title))
    proven = 0
    for row, description in zip(plan.rows, plan.described, strict=True):
        if not plan.public:
            for index in archive.index.item_event_indexes(row.id):
                if index < size:
                    _write_proof(writer, archive, index, size, plan.note)
                    proven += 1
        writer.add(f"items/{row.id}.item", _json(description))
    writer.add("vigil/checkpoint.note", plan.note.encode())
    writer.add("vigil/verifier.vkey", (archive.verifier.vkey + "\n").encode())
    _write_timestamps(writer, archive, plan.stamps)
    writer.add("report/report.html", plan.report.encode())
    return proven


def _write_datapackage(writer: _Writer, plan: _Plan) -> None:
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    package: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": plan.title or f"Vigil evidence package ({len(plan.rows)} items)",
        "created": created,
        "software": f"vigil {__version__}",
        "resources": writer.resources,
        "vigilPublic": plan.public,  # True: no ledger entries or proofs (they identify people)
    }
    pages = [r for r in plan.rows if r.kind == "page" and r.url]
    if pages:
        package["mainPageURL"] = pages[0].url
    datapackage = _json(package)
    zf = writer.zf
    zf.writestr("datapackage.json", datapackage, compress_type=zipfile.ZIP_DEFLATED)
    digest = _json(_digest(plan.archive, datapackage, created))
    zf.writestr("datapackage-digest.json", digest, compress_type=zipfile.ZIP_DEFLATED)


def _checkpoint_for(
    archive: Archive, rows: list[ItemRow], stamped_sizes: set[int]
) -> tuple[Checkpoint, str]:
    """The latest RFC 3161-stamped checkpoint that covers every entry of the items, if
    any (so its timestamps travel with the package); else a checkpoint signed now."""
    needed = max((i for r in rows for i in archive.index.item_event_indexes(r.id)), default=-1)
    stamped = sorted((size for size in stamped_sizes if size > needed), reverse=True)
    if stamped:
        note = archive.log.read_checkpoint(stamped[0]).decode("utf-8")
        checkpoint, _ = open_checkpoint(note, [archive.verifier], origin=archive.origin)
        return checkpoint, note
    return archive.checkpoint()


def _public_copies(
    archive: Archive, rows: list[ItemRow], warcs: list[ItemRow], result: ExportResult
) -> tuple[dict[str, ItemRow], list[ItemRow]]:
    """For a public package: each original's public copy, and the originals kept."""
    copies: dict[str, ItemRow] = {}
    for row in rows:
        if row.kind == REDACTED:  # it stands in for its original: not a second entry
            continue
        copy, why = public_copy(archive, row, row in warcs)
        if copy is None:
            result.left_out.append(row.id)
            result.why_left_out[row.id] = why
        else:
            copies[row.id] = copy
    kept = [r for r in rows if r.id in copies]
    if not kept:
        raise InputError("nothing to export: no item chosen has a public copy")
    return copies, kept


def _describe(
    archive: Archive, row: ItemRow, copy: ItemRow, is_warc: bool, public: bool
) -> dict[str, Any]:
    custody = archive.index.item_events(row.id)
    description = {
        **row.as_json(),
        "file": f"archive/{row.id}.warc.gz" if is_warc else f"files/{row.id}.{_suffix(copy)}",
        "exported": {"sha256": copy.sha256, "size": copy.size, "media_type": copy.media_type},
        "custody": [{"entry": i, "event": json.loads(e)} for i, e in custody],
    }
    if copy.id != row.id:  # a redacted copy: which, made how, what it covers
        event = copy_event(archive, copy)
        description["redacted"] = {"item": copy.id, "tool": event.get("tool"),
                                   "result": event.get("result", {})}  # fmt: skip
    return _public_view(description) if public else description


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _digest(archive: Archive, datapackage: bytes, created: str) -> dict[str, Any]:
    """WACZ signing's anonymous form, with Ed25519: the signature is over the hash string."""
    digest = "sha256:" + hashlib.sha256(datapackage).hexdigest()
    signature = archive.signer.sign(digest.encode("ascii"))
    public = archive.verifier.public_key.public_bytes_raw()
    return {
        "path": "datapackage.json",
        "hash": digest,
        "signedData": {
            "hash": digest,
            "created": created,
            "software": f"vigil {__version__}",
            "algorithm": "Ed25519",
            "publicKey": base64.b64encode(public).decode(),
            "signature": base64.b64encode(signature).decode(),
            "vkey": archive.verifier.vkey,
        },
    }


def _write_proof(writer: _Writer, archive: Archive, index: int, size: int, note: str) -> None:
    entry = archive.log.entry(index)
    proof = TlogProof(index=index, hashes=tuple(archive.log.inclusion_proof(index, size)),
                      checkpoint=note)  # fmt: skip
    writer.add(f"proofs/{index}.entry", entry)
    writer.add(f"proofs/{index}.tlog-proof", proof.format().encode("utf-8"))


def _stamp_events(archive: Archive) -> list[tuple[int, dict[str, Any]]]:
    """Every ``checkpoint.timestamped`` event: (entry, event)."""
    with archive.index.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.idx, events.c.entry).where(events.c.type == CHECKPOINT_TIMESTAMPED)
        ).all()
    return [(int(idx), json.loads(entry)) for idx, entry in rows]


def _write_timestamps(writer: _Writer, archive: Archive, stamps: list[tuple[int, Any]]) -> None:
    for idx, data in stamps:
        with archive.blobs.open(data["sha256"]) as f:
            writer.add(f"timestamps/{idx}.tsr", f.read())
        with archive.blobs.open(data["chain"]["sha256"]) as f:
            writer.add(f"timestamps/{idx}.pem", f.read())
        writer.add(f"timestamps/{idx}.event", _json(data))


def _cdxj(archive: Archive, warcs: list[tuple[str, str]]) -> bytes:
    lines: list[str] = []
    for item_id, sha256 in warcs:
        out = io.StringIO()
        path = archive.blobs.path(sha256)
        CDXJIndexer(output=out, inputs=[str(path)], filename=f"{item_id}.warc.gz").process_all()
        lines += [line for line in out.getvalue().splitlines() if line and not line.startswith("!")]
    return ("\n".join(sorted(lines)) + "\n").encode() if lines else b""


def _pages(rows: list[ItemRow], title: str | None) -> bytes:
    header = {"format": "json-pages-1.0", "id": "pages", "title": title or "Captured pages"}
    lines = [json.dumps(header)]
    for row in rows:
        if row.kind == "page" and row.url:
            lines.append(json.dumps({"id": row.id, "url": row.url, "ts": row.added_at,
                                     "title": row.name}))  # fmt: skip
    return ("\n".join(lines) + "\n").encode()

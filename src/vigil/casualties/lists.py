"""`vigil casualties import`: a list of the dead (CSV or XLSX) kept and read row by row.

1. The file is stored first, byte for byte, as a ``casualty-list`` item (claimed: the
   source that published it).
2. It is decoded (a UTF-8 BOM is honoured; UTF-8, else Windows-1256, the common Arabic
   code page, else the ``--encoding`` given) and its columns mapped to record fields
   (`vigil.casualties.records.FIELDS`) by ``--map column=field`` or by a header that
   already is a field name.
3. Every row is checked: accepted rows become victim records, the others are
   rejected with their reasons (impossible ages and dates, an unknown sex, no name,
   the same row twice). Both, with every raw row verbatim, form the ``victim-records``
   derivative of the list (a JSON-lines blob), logged with the counts.

Nothing is dropped without a reason, and a file that cannot be read at all stores
nothing but the file itself is never half-imported: the events are logged together.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil import __version__
from vigil.casualties.records import FIELDS, check_row
from vigil.errors import InputError
from vigil.events import DERIVATIVE_ADDED, ITEM_ADDED, Actor, canonical_json, rfc3339, utc_now
from vigil.ids import new_item_id

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["ListImport", "import_list", "read_rows"]

SAMPLE = 100  # rejections listed in the event (all are in the blob)


@dataclass
class ListImport:
    list_item: str
    records_item: str
    source: str
    rows: int
    accepted: int
    encoding: str
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"list_item": self.list_item, "records_item": self.records_item,
                "source": self.source, "rows": self.rows, "accepted": self.accepted,
                "rejected": len(self.rejected), "encoding": self.encoding,
                "rejections": self.rejected}  # fmt: skip


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot be read as {encoding}: {exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8 (with BOM)"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1256", errors="replace")
    letters = [c for c in text if c.isalpha()]
    arabic = sum("\u0621" <= c <= "\u064a" for c in letters)
    if "\ufffd" not in text and letters and arabic >= 0.3 * len(letters):
        return text, "windows-1256"  # mostly Arabic letters: the common Arabic code page
    raise InputError(
        f"{path}: neither UTF-8 nor Windows-1256 Arabic; give its encoding with --encoding"
    )


def read_rows(
    path: Path, data: bytes, encoding: str | None
) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, encoding) of a CSV or XLSX file."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise InputError(f"{path}: not a readable XLSX workbook ({exc})") from None
        sheet = book.worksheets[0]
        cells = [[_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
        book.close()
        encoding_used = "xlsx"
    else:
        text, encoding_used = _decode(path, data, encoding)
        try:
            cells = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    if not cells or not any(cells[0]):
        raise InputError(f"{path}: no header row")
    header = [h.strip() for h in cells[0]]
    return header, cells[1:], encoding_used


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return str(value)


def _mapping(path: Path, header: list[str], given: dict[str, str]) -> dict[str, str]:
    """Record field -> column name."""
    unknown = sorted(set(given.values()) - set(FIELDS))
    if unknown:
        raise InputError(
            f"--map: unknown field(s) {', '.join(unknown)}; fields: {', '.join(FIELDS)}"
        )
    missing = sorted(set(given) - set(header))
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(header)})"
        )
    mapping = {fld: col for col, fld in given.items()}
    for column in header:  # a header that is a field name maps itself
        if column in FIELDS and column not in mapping and column not in given:
            mapping[column] = column
    if not mapping:
        raise InputError(f"{path}: no column maps to a record field; use --map column=field")
    return mapping


def import_list(
    archive: Archive, path: Path, source: str, mapping: dict[str, str] | None = None,
    *, encoding: str | None = None, unknown: tuple[str, ...] = (), today: dt.date | None = None,
) -> ListImport:  # fmt: skip
    """Store *path* and its checked records (see the module text). *unknown*: values the
    list uses for "not known" (such as ``-1`` for an age), read as empty."""
    if not source.strip():
        raise InputError("--source: name the organisation or document the list comes from")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    header, rows, used = read_rows(path, data, encoding)
    fields = _mapping(path, header, mapping or {})
    lines: list[bytes] = []
    rejected: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], int] = {}
    accepted = 0
    for number, cells in enumerate(rows, start=2):
        if not any(c.strip() for c in cells):
            continue  # a blank line is no row
        raw = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)}
        if len(cells) > len(header):
            raw["_extra"] = json.dumps(cells[len(header) :], ensure_ascii=False)
        values = {fld: raw.get(col, "") for fld, col in fields.items()}
        values = {fld: "" if v.strip() in unknown else v for fld, v in values.items()}
        record, problems = check_row(values, today)
        key = tuple(cells)
        if key in seen:
            problems.append(f"the same row as row {seen[key]}")
        seen.setdefault(key, number)
        entry = {"row": number, "raw": raw, "record": record, "rejected": problems}
        lines.append(canonical_json(entry))
        if problems:
            rejected.append({"row": number, "reasons": problems})
        else:
            accepted += 1
    return _store(archive, path, data, source, fields, used, lines, accepted, rejected,
                  list(unknown))  # fmt: skip


def _store(
    archive: Archive, path: Path, data: bytes, source: str, fields: dict[str, str],
    encoding: str, lines: list[bytes], accepted: int, rejected: list[dict[str, Any]],
    unknown: list[str],
) -> ListImport:  # fmt: skip
    original = archive.blobs.put(io.BytesIO(data))
    records = archive.blobs.put(io.BytesIO(b"\n".join(lines) + b"\n"))
    actor = Actor.current().as_json()
    now = rfc3339(utc_now())
    list_id, records_id = new_item_id(), new_item_id()
    summary = {"source": source, "rows": len(lines), "accepted": accepted, "unknown": unknown,
               "rejected": len(rejected), "encoding": encoding, "mapping": fields,
               "rejections_sample": rejected[:SAMPLE]}  # fmt: skip
    archive.append_events([
        {"v": 1, "type": ITEM_ADDED, "kind": "casualty-list", "at": now, "item": list_id,
         "sha256": original.sha256, "size": original.size, "media_type": _media_type(path),
         "name": path.name, "path": str(path.resolve()), "claimed": {"source": source},
         "actor": actor},
        {"v": 1, "type": DERIVATIVE_ADDED, "kind": "victim-records", "at": now,
         "item": records_id, "of": list_id, "sha256": records.sha256, "size": records.size,
         "media_type": "application/jsonl", "name": f"{path.stem}.records.jsonl",
         "tool": f"vigil {__version__}", "result": summary, "actor": actor},
    ])  # fmt: skip
    archive.checkpoint()
    return ListImport(list_id, records_id, source, len(lines), accepted, encoding, rejected)


def _media_type(path: Path) -> str:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "text/csv"

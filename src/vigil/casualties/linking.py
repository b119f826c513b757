"""Record linkage in the archive: runs, review decisions and persons, all as evidence.

* A **linkage run** (`run_linkage`) scores the accepted records of every imported list
  (`vigil.casualties.linkage`) and stores the result as a ``casualty-linkage`` item:
  a JSON-lines blob whose first line holds the trained model (every m and u
  probability), the lists and the record count, and whose other lines are the scored
  pairs ``[uid, uid, probability]``. A record's uid is ``<records item>:<row>``: the
  ``victim-records`` derivative and the row of the original file.
* A **review decision** (`review`) is a ``casualty.reviewed`` event naming the pair,
  ``accept`` or ``reject``, the reviewer and the reason. Decisions outlive runs: they
  apply to whatever run is current. A **split** is logged as rejections of the
  record's pairs with the rest of its person.
* **Persons** (`linked_persons`) are computed, not stored: the latest run's pairs and
  every decision, grouped by `vigil.casualties.persons.group_persons`. So the same
  ledger always gives the same persons, and anyone can recompute them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vigil import __version__
from vigil.casualties.linkage import score_pairs
from vigil.casualties.mse import CaptureTable
from vigil.casualties.persons import Linked, group_persons
from vigil.db.schema import events, items
from vigil.enrich.runner import derivatives_of
from vigil.errors import InputError
from vigil.events import ITEM_ADDED, Actor, rfc3339, utc_now
from vigil.ids import new_item_id

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["REVIEWED", "STRATA", "Records", "Run", "current_run", "latest_run", "linked_persons",
           "load_records", "membership", "review", "run_linkage", "split"]  # fmt: skip

REVIEWED = "casualty.reviewed"
LINK, WITHIN, REVIEW = 0.5, 0.99, 0.2  # default thresholds (docs/linkage.md)


@dataclass
class Records:
    rows: list[tuple[str, str, dict[str, Any]]]  # uid, source, record
    lists: list[str]  # records items, import order

    def source_of(self) -> dict[str, str]:
        return {uid: source for uid, source, _r in self.rows}

    def by_uid(self) -> dict[str, dict[str, Any]]:
        return {uid: record for uid, _s, record in self.rows}


@dataclass
class Run:
    item: str
    lists: list[str]
    records: int
    pairs: list[tuple[str, str, float]]
    header: dict[str, Any]


def load_records(archive: Archive) -> Records:
    """The accepted records of every imported list."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    lists: list[str] = []
    for _list, event in derivatives_of(archive, "victim-records"):
        lists.append(event["item"])
        source = event["result"]["source"]
        with archive.blobs.open(event["sha256"]) as f:
            for line in f:
                entry = json.loads(line)
                if not entry["rejected"]:
                    rows.append((f"{event['item']}:{entry['row']}", source, entry["record"]))
    return Records(rows, lists)


def run_linkage(
    archive: Archive, *, threshold: float = REVIEW, backend: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Run:  # fmt: skip
    """Score every candidate pair of the archive's records and store the run."""
    records = load_records(archive)
    if len(records.rows) < 2:
        raise InputError("nothing to link: import at least one list (vigil casualties import)")
    scored = score_pairs(records.rows, threshold=threshold, backend=backend, progress=progress)
    header = {"lists": records.lists, "records": scored.records, "threshold": threshold,
              "backend": scored.backend, "model": scored.model}  # fmt: skip
    lines = [json.dumps(header, ensure_ascii=False, sort_keys=True)]
    lines += [json.dumps([a, b, round(p, 6)]) for a, b, p in scored.pairs]
    blob = archive.blobs.put(io.BytesIO(("\n".join(lines) + "\n").encode("utf-8")))
    item = new_item_id()
    import splink

    archive.append_events([{
        "v": 1, "type": ITEM_ADDED, "kind": "casualty-linkage", "at": rfc3339(utc_now()),
        "item": item, "sha256": blob.sha256, "size": blob.size,
        "media_type": "application/jsonl", "name": "linkage.jsonl",
        "tool": f"vigil {__version__}; splink {splink.__version__} ({scored.backend})",
        "linkage": {"lists": records.lists, "records": scored.records,
                    "pairs": len(scored.pairs), "threshold": threshold},
        "actor": Actor.current().as_json(),
    }])  # fmt: skip
    archive.checkpoint()
    return Run(item, records.lists, scored.records, scored.pairs, header)


def latest_run(archive: Archive) -> Run | None:
    query = (select(items.c.id, items.c.sha256).where(items.c.kind == "casualty-linkage")
             .order_by(items.c.added_index.desc()).limit(1))  # fmt: skip
    with archive.index.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    with archive.blobs.open(row.sha256) as f:
        header = json.loads(f.readline())
        pairs = [(str(a), str(b), float(p)) for a, b, p in map(json.loads, f)]
    return Run(row.id, header["lists"], header["records"], pairs, header)


def current_run(
    archive: Archive, *, rerun: bool = False, backend: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Run, Records]:  # fmt: skip
    """The latest linkage run, made anew when lists were imported since (or *rerun*)."""
    records = load_records(archive)
    run = latest_run(archive)
    if rerun or run is None or run.lists != records.lists:
        run = run_linkage(archive, backend=backend, progress=progress)
    return run, records


def decisions(archive: Archive) -> Iterator[dict[str, Any]]:
    """Every review decision, oldest first."""
    query = select(events.c.entry).where(events.c.type == REVIEWED).order_by(events.c.idx)
    with archive.index.engine.connect() as conn:
        for (entry,) in conn.execute(query):
            yield json.loads(entry)


def _decision_map(archive: Archive) -> dict[tuple[str, str], str]:
    latest: dict[tuple[str, str], str] = {}
    for event in decisions(archive):  # a later decision on the same pair replaces an earlier
        a, b = sorted(event["pair"])
        latest[(a, b)] = event["decision"]
    return latest


def linked_persons(
    archive: Archive, run: Run, records: Records, *, link: float = LINK, within: float = WITHIN,
    review_above: float = REVIEW,
) -> Linked:  # fmt: skip
    return group_persons(records.source_of(), records.source_of(), run.pairs, link=link,
                         review=review_above, within=within,
                         decisions=_decision_map(archive))  # fmt: skip


def review(
    archive: Archive, pairs: list[tuple[str, str]], decision: str, *, reviewer: str, reason: str,
) -> int:  # fmt: skip
    """Log *decision* ("accept" or "reject") on each pair of record uids."""
    if decision not in ("accept", "reject"):
        raise InputError(f"decision {decision!r}: accept or reject")
    if not reviewer.strip() or not reason.strip():
        raise InputError("a review decision needs --reviewer and --reason")
    run = latest_run(archive)
    if run is None:
        raise InputError("no linkage run yet: run vigil casualties link first")
    known = load_records(archive).source_of()
    for a, b in pairs:
        for uid in (a, b):
            if uid not in known:
                raise InputError(f"record {uid!r}: no such record (see vigil casualties link)")
        if a == b:
            raise InputError(f"record {a}: a pair needs two records")
    actor = Actor.current().as_json()
    now = rfc3339(utc_now())
    archive.append_events([
        {"v": 1, "type": REVIEWED, "at": now, "item": run.item, "sha256": _sha(archive, run),
         "pair": sorted((a, b)), "decision": decision, "reviewer": reviewer, "reason": reason,
         "actor": actor} for a, b in pairs
    ])  # fmt: skip
    archive.checkpoint()
    return len(pairs)


def split(archive: Archive, uid: str, *, reviewer: str, reason: str) -> int:
    """Take record *uid* out of its person: reject its pairs with the others there."""
    run = latest_run(archive)
    if run is None:
        raise InputError("no linkage run yet: run vigil casualties link first")
    records = load_records(archive)
    linked = linked_persons(archive, run, records)
    person = next((p for p in linked.persons if uid in p), None)
    if person is None:
        raise InputError(f"record {uid!r}: no such record")
    others = [(uid, other) for other in person if other != uid]
    if not others:
        raise InputError(f"record {uid}: already a person of its own")
    return review(archive, others, "reject", reviewer=reviewer, reason=f"split: {reason}")


def _sha(archive: Archive, run: Run) -> str:
    return archive.item(run.item).sha256


STRATA = ("month", "year", "place")


def membership(
    linked: Linked, records: Records, *, by: str | None = None
) -> dict[str, CaptureTable]:
    """The capture table (who is on which list) of the linked persons, whole or by
    stratum: the month or year of death, or the place (governorate, else place of death),
    as the person's records give it (the first that states it); "unknown" otherwise."""
    if by is not None and by not in STRATA:
        raise InputError(f"--by {by!r}: one of {', '.join(STRATA)}")
    source_of, record_of = records.source_of(), records.by_uid()
    lists = sorted(set(source_of.values()))
    if len(lists) < 2:
        raise InputError(f"estimation needs at least two lists; the archive has {len(lists)}")
    tables: dict[str, dict[tuple[int, ...], int]] = {}
    for person in linked.persons:
        on = {source_of[u] for u in person}
        pattern = tuple(int(name in on) for name in lists)
        stratum = "all" if by is None else _stratum([record_of[u] for u in person], by)
        counts = tables.setdefault(stratum, {})
        counts[pattern] = counts.get(pattern, 0) + 1
    return {s: CaptureTable(lists, c) for s, c in sorted(tables.items())}


def _stratum(found: list[dict[str, Any]], by: str) -> str:
    for record in found:
        if by in ("month", "year") and record.get("date_of_death"):
            return str(record["date_of_death"])[: 7 if by == "month" else 4]
        if by == "place" and (record.get("governorate") or record.get("place_of_death")):
            return str(record.get("governorate") or record["place_of_death"])
    return "unknown"

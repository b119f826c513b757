"""`vigil casualties stats`: the documented dead, counted from the accepted records of
every imported list, and the incident-level claims beside them (never added in)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vigil.enrich.runner import derivatives_of

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["CasualtyStats", "casualty_stats"]


@dataclass
class CasualtyStats:
    records: int = 0
    rejected: int = 0
    lists: list[dict[str, Any]] = field(default_factory=list)
    by: dict[str, Counter[str]] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)
    persons: int | None = None
    overlap: list[dict[str, Any]] | None = None  # which lists recorded whom
    linkage_run: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "records": self.records, "rejected": self.rejected, "lists": self.lists,
            **{f"by_{name}": dict(sorted(c.items())) for name, c in self.by.items()},
            "persons": self.persons, "source_overlap": self.overlap,
            "linkage_run": self.linkage_run,
            "note": "records are counted per list; persons and source overlap come from the "
                    "latest linkage run (vigil casualties link), null when there is none or "
                    "lists were imported since",
            "claims": self.claims,
        }  # fmt: skip


def casualty_stats(archive: Archive) -> CasualtyStats:
    stats = CasualtyStats()
    for name in ("source", "sex", "age_group", "status", "month_of_death", "place"):
        stats.by[name] = Counter()
    for _list, event in derivatives_of(archive, "victim-records"):
        result = event["result"]
        counts = {k: result[k] for k in ("accepted", "rejected")}
        stats.lists.append({"source": result["source"], "records_item": event["item"], **counts})
        stats.rejected += result["rejected"]
        with archive.blobs.open(event["sha256"]) as f:
            for line in f:
                entry = json.loads(line)
                if entry["rejected"]:
                    continue
                record = entry["record"]
                stats.records += 1
                stats.by["source"][result["source"]] += 1
                stats.by["sex"][record.get("sex", "unknown")] += 1
                stats.by["age_group"][record.get("age_group", "unknown")] += 1
                stats.by["status"][record.get("status", "not stated")] += 1
                stats.by["month_of_death"][str(record.get("date_of_death", "unknown"))[:7]] += 1
                place = record.get("governorate") or record.get("place_of_death") or "unknown"
                stats.by["place"][place] += 1
    _overlap(archive, stats)
    for item in archive.items():
        if item.kind == "casualty-claim":
            stats.claims.append({"id": item.id, **item.claimed})
    return stats


def _overlap(archive: Archive, stats: CasualtyStats) -> None:
    """Persons by the set of lists naming them, from the latest linkage run if current."""
    from vigil.casualties.linking import latest_run, linked_persons, load_records

    run = latest_run(archive)
    records = load_records(archive)
    if run is None or run.lists != records.lists:
        return
    linked = linked_persons(archive, run, records)
    source_of = records.source_of()
    patterns: Counter[tuple[str, ...]] = Counter(
        tuple(sorted({source_of[u] for u in person})) for person in linked.persons
    )
    stats.persons, stats.linkage_run = len(linked.persons), run.item
    stats.overlap = [{"lists": list(k), "persons": n} for k, n in patterns.most_common()]

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

    def as_json(self) -> dict[str, Any]:
        return {
            "records": self.records, "rejected": self.rejected, "lists": self.lists,
            **{f"by_{name}": dict(sorted(c.items())) for name, c in self.by.items()},
            "source_overlap": None,
            "note": "records are counted per list: the same person on two lists counts twice "
                    "until the lists are linked (record linkage is not in this release)",
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
    for item in archive.items():
        if item.kind == "casualty-claim":
            stats.claims.append({"id": item.id, **item.claimed})
    return stats

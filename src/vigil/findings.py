"""Verification findings: what an analyst established about an item, and how.

The Berkeley Protocol on Digital Open Source Investigations (OHCHR and UC Berkeley,
2022) verifies an item in three analyses, each recorded with its method so another
investigator can repeat it:

* **technical** analysis of the file: metadata, provenance (C2PA), signs of editing;
* **source** analysis: who made and who posted it, their history and reliability;
* **content** analysis: what it shows, and in particular where (**location**, e.g.
  geolocation against satellite imagery) and when (**time**, e.g. shadows, weather,
  other uploads).

A finding is one ``finding.recorded`` event naming the item: the ``aspect`` (one of
`ASPECTS`), the ``result`` (`RESULTS`: the claim is *confirmed*, *disputed*, or the
check was *inconclusive*), the ``method`` (what was done, in words), an optional
``value`` (the place or time established) and optional ``evidence`` (ids of other
items relied on, e.g. a satellite image). The analyst is the event's actor. Findings
are never edited: a later finding on the same aspect supersedes an earlier one in the
summary, and both stay in the item's custody, its packages and their reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vigil.db.schema import events
from vigil.errors import InputError
from vigil.events import Actor, rfc3339, utc_now

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["ASPECTS", "FINDING", "RESULTS", "findings", "record_finding", "summary"]

FINDING = "finding.recorded"
ASPECTS = ("technical", "source", "content", "location", "time")
RESULTS = ("confirmed", "disputed", "inconclusive")


def record_finding(
    archive: Archive, ref: str, *, aspect: str, result: str, method: str,
    value: str | None = None, evidence: Iterable[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """Log one finding about the item *ref*; returns the event as logged."""
    if aspect not in ASPECTS:
        raise InputError(f"aspect {aspect!r}: use one of {', '.join(ASPECTS)}")
    if result not in RESULTS:
        raise InputError(f"result {result!r}: use one of {', '.join(RESULTS)}")
    if not method.strip():
        raise InputError("a finding needs its method: what was done, so it can be repeated")
    row = archive.item(ref)
    relied = [archive.item(e) for e in evidence]
    if any(r.id == row.id for r in relied):
        raise InputError(f"{row.id}: an item is not evidence for a finding about itself")
    event: dict[str, Any] = {
        "v": 1, "type": FINDING, "at": rfc3339(utc_now()), "item": row.id,
        "sha256": row.sha256, "aspect": aspect, "result": result, "method": method.strip(),
        "actor": Actor.current().as_json(),
    }  # fmt: skip
    if value:
        event["value"] = value
    if relied:
        event["evidence"] = [{"item": r.id, "sha256": r.sha256} for r in relied]
    [logged] = archive.append_events([event])
    archive.checkpoint()
    return {"entry": logged.index, **event}


def findings(archive: Archive, ref: str | None = None) -> list[dict[str, Any]]:
    """Every finding (about *ref* only, if given), oldest first, each with its entry."""
    query = select(events.c.idx, events.c.entry).where(events.c.type == FINDING)
    if ref is not None:
        query = query.where(events.c.item_id == archive.item(ref).id)
    with archive.index.engine.connect() as conn:
        rows = conn.execute(query.order_by(events.c.idx)).all()
    return [{"entry": int(idx), **json.loads(entry)} for idx, entry in rows]


def summary(found: list[dict[str, Any]]) -> dict[str, str]:
    """Aspect -> the result of its latest finding."""
    latest: dict[str, str] = {}
    for finding in found:
        latest[finding["aspect"]] = finding["result"]
    return {aspect: latest[aspect] for aspect in ASPECTS if aspect in latest}

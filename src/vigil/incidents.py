"""Incidents: what happened, when and where, and the evidence that documents it.

An incident ("shelling of al-Quds hospital, 2016-12-12, eastern Aleppo") is an
``incident`` item: its blob is the description as canonical JSON (title, date or
date range, place, text), so it has a SHA-256, a ledger entry and a custody like any
evidence. Items are tied to it by ``incident.linked`` events (who, why) and untied by
``incident.unlinked``; the latest decision on a pair counts. `vigil export --incident`
packages the incident with every item tied to it.

This is the first part of mission point 4 (verify and organise): claims, verification
findings and roles build on it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vigil.db.index import ItemRow
from vigil.db.schema import events, items
from vigil.errors import InputError
from vigil.events import Actor, rfc3339, utc_now

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["LINKED", "UNLINKED", "Incident", "add_incident", "incident", "incidents", "tie"]

LINKED, UNLINKED = "incident.linked", "incident.unlinked"


@dataclass
class Incident:
    row: ItemRow
    description: dict[str, Any]
    members: list[str]  # item ids, in the order they were tied

    def as_json(self) -> dict[str, Any]:
        return {"id": self.row.id, "sha256": self.row.sha256, **self.description,
                "items": self.members}  # fmt: skip


def _when(text: str) -> str:
    """YYYY-MM-DD, or a range YYYY-MM-DD/YYYY-MM-DD, checked."""
    try:
        days = [dt.date.fromisoformat(part) for part in text.split("/")]
    except ValueError:
        raise InputError(f"--date {text!r}: use YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD") from None
    if len(days) > 2 or (len(days) == 2 and days[1] < days[0]):
        raise InputError(f"--date {text!r}: one day, or a range whose end is not before its start")
    return "/".join(d.isoformat() for d in days)


def add_incident(
    archive: Archive, title: str, *, date: str | None = None, place: str | None = None,
    description: str | None = None,
) -> ItemRow:  # fmt: skip
    if not title.strip():
        raise InputError("an incident needs a title")
    found = {"title": title.strip(), "date": _when(date) if date else None, "place": place,
             "description": description}  # fmt: skip
    found = {k: v for k, v in found.items() if v}
    return archive.add_record("incident", "incident.json", found, claimed=found)


def _incident_row(archive: Archive, ref: str) -> ItemRow:
    row = archive.item(ref)
    if row.kind != "incident":
        raise InputError(f"{ref}: item {row.id} is a {row.kind}, not an incident")
    return row


def tie(
    archive: Archive, incident_ref: str, refs: Iterable[str], *, note: str = "",
    untie: bool = False,
) -> list[str]:  # fmt: skip
    """Tie (or untie) items to an incident; returns the ids whose tie changed."""
    row = _incident_row(archive, incident_ref)
    chosen = [archive.item(ref) for ref in refs]
    if not chosen:
        raise InputError("name at least one item")
    if any(c.id == row.id for c in chosen):
        raise InputError(f"{row.id}: an incident is not evidence of itself")
    current = set(_members(archive, row.id))
    changing = [c for c in chosen if (c.id in current) == untie]
    if changing:
        actor, now = Actor.current().as_json(), rfc3339(utc_now())
        archive.append_events([{
            "v": 1, "type": UNLINKED if untie else LINKED, "at": now, "item": row.id,
            "sha256": row.sha256, "member": c.id, "member_sha256": c.sha256, "note": note,
            "actor": actor} for c in changing])  # fmt: skip
        archive.checkpoint()
    return [c.id for c in changing]


def _members(archive: Archive, incident_id: str) -> list[str]:
    query = (select(events.c.entry).where(events.c.item_id == incident_id)
             .where(events.c.type.in_((LINKED, UNLINKED))).order_by(events.c.idx))  # fmt: skip
    tied: dict[str, bool] = {}
    with archive.index.engine.connect() as conn:
        for (entry,) in conn.execute(query):
            event = json.loads(entry)
            tied.pop(event["member"], None)  # re-tied items move to the end
            tied[event["member"]] = event["type"] == LINKED
    return [member for member, is_tied in tied.items() if is_tied]


def incident(archive: Archive, ref: str) -> Incident:
    row = _incident_row(archive, ref)
    return Incident(row, dict(row.claimed), _members(archive, row.id))


def incidents(archive: Archive) -> list[Incident]:
    query = select(items.c.id).where(items.c.kind == "incident").order_by(items.c.added_index)
    with archive.index.engine.connect() as conn:
        ids = [i for (i,) in conn.execute(query)]
    return [incident(archive, i) for i in ids]

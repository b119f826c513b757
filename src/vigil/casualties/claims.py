"""Incident-level claims: "at least 82 civilians, including 11 women and 13 children".

A claim is a count without names, from a named source, about a date and place. It is
stored as a ``casualty-claim`` item (its blob: the claim as canonical JSON) so that it
has a SHA-256, a ledger entry and a custody like any evidence, and is counted apart
from victim records, never merged into them.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from vigil.db.index import ItemRow
from vigil.events import ITEM_ADDED, Actor, canonical_json, rfc3339, utc_now
from vigil.ids import new_item_id

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["store_claim"]


def store_claim(
    archive: Archive, *, source: str, killed: int, women: int | None = None,
    children: int | None = None, when: str | None = None, place: str | None = None,
    quote: str | None = None,
) -> ItemRow:  # fmt: skip
    claim = {"source": source, "killed": killed, "women": women, "children": children,
             "date": when, "place": place, "quote": quote}  # fmt: skip
    claim = {k: v for k, v in claim.items() if v is not None}
    blob = archive.blobs.put(io.BytesIO(canonical_json(claim)))
    [logged] = archive.append_events([{
        "v": 1, "type": ITEM_ADDED, "kind": "casualty-claim", "at": rfc3339(utc_now()),
        "item": new_item_id(), "sha256": blob.sha256, "size": blob.size,
        "media_type": "application/json", "name": "claim.json", "claimed": claim,
        "actor": Actor.current().as_json(),
    }])  # fmt: skip
    archive.checkpoint()
    return ItemRow.from_event(logged)

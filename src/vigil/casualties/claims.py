"""Incident-level claims: "at least 82 civilians, including 11 women and 13 children".

A claim is a count without names, from a named source, about a date and place. It is
stored as a ``casualty-claim`` item (its blob: the claim as canonical JSON) so that it
has a SHA-256, a ledger entry and a custody like any evidence, and is counted apart
from victim records, never merged into them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vigil.db.index import ItemRow

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
    return archive.add_record("casualty-claim", "claim.json", claim, claimed=claim)

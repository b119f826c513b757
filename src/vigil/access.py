"""Sealed items: evidence that could endanger a witness, held but not handed out.

Design invariant 6: witnesses come first. An item is **sealed** by an ``item.sealed``
event (who, why) and unsealed by an ``item.unsealed`` event; the latest of the two
decides. Sealing never touches the blob or the ledger entries before it: the item
stays provable, it is only withheld.

What a seal withholds (`withheld`): the item, everything derived from or captured
under it (its descendants), and the WARC it came from, whose records hold its bytes.
Exports leave all of these out, and say which and why. Handing sealed items out
anyway (`vigil export --include-sealed`) is a **read of sealed material**, logged as a
``sealed.read`` event per item before a byte is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from vigil.db.index import ItemRow
from vigil.db.schema import events
from vigil.errors import InputError
from vigil.events import Actor, rfc3339, utc_now

if TYPE_CHECKING:
    from vigil.archive import Archive

__all__ = ["SEALED", "SEALED_READ", "UNSEALED", "log_reads", "seal", "seal_reasons", "sealed_ids",
           "withheld"]  # fmt: skip

SEALED, UNSEALED, SEALED_READ = "item.sealed", "item.unsealed", "sealed.read"


def _log(archive: Archive, rows: Sequence[ItemRow], kind: str, **fields: str) -> None:
    actor = Actor.current().as_json()
    now = rfc3339(utc_now())
    archive.append_events([{"v": 1, "type": kind, "at": now, "item": row.id,
                            "sha256": row.sha256, **fields, "actor": actor}
                           for row in rows])  # fmt: skip
    archive.checkpoint()


def seal(archive: Archive, refs: Iterable[str], *, reason: str, unseal: bool = False) -> list[str]:
    """Seal (or unseal) the items *refs*; returns the ids whose state changed."""
    if not reason.strip():
        raise InputError("--reason: say why (it is kept in the ledger)")
    rows = [archive.item(ref) for ref in refs]
    if not rows:
        raise InputError("name at least one item")
    current = sealed_ids(archive)
    changing = [r for r in rows if (r.id in current) == unseal]
    if changing:
        _log(archive, changing, UNSEALED if unseal else SEALED, reason=reason)
    return [r.id for r in changing]


def sealed_ids(archive: Archive) -> set[str]:
    """The items sealed now (the latest seal or unseal of each decides)."""
    query = (select(events.c.item_id, events.c.type)
             .where(events.c.type.in_((SEALED, UNSEALED))).order_by(events.c.idx))  # fmt: skip
    state: dict[str, bool] = {}
    with archive.index.engine.connect() as conn:
        for item_id, kind in conn.execute(query):
            state[item_id] = kind == SEALED
    return {item for item, is_sealed in state.items() if is_sealed}


def withheld(archive: Archive, rows: Sequence[ItemRow]) -> dict[str, str]:
    """Item id -> why it is withheld, for the items of *rows* a seal covers."""
    sealed = sealed_ids(archive)
    if not sealed:
        return {}
    by_id = {r.id: r for r in rows}
    why: dict[str, str] = {}
    for item in sealed:
        why[item] = "sealed"
        todo = [item]
        while todo:  # descendants, whether chosen or not
            for child in archive.index.children(todo.pop()):
                if child.id not in why:
                    why[child.id] = f"derived from sealed item {item}"
                    todo.append(child.id)
        parent = by_id[item].parent_id if item in by_id else archive.item(item).parent_id
        if parent and archive.item(parent).kind == "warc":
            why.setdefault(parent, f"its records hold sealed item {item}")
    return {r.id: why[r.id] for r in rows if r.id in why}


def log_reads(archive: Archive, rows: Sequence[ItemRow], purpose: str) -> None:
    """Record that sealed *rows* are being read (handed out) and why."""
    if rows:
        _log(archive, rows, SEALED_READ, purpose=purpose)


def seal_reasons(archive: Archive, item_id: str) -> list[dict[str, str]]:
    """The seal and unseal decisions on one item, oldest first (for `vigil sealed`)."""
    query = (select(events.c.entry).where(events.c.item_id == item_id)
             .where(events.c.type.in_((SEALED, UNSEALED))).order_by(events.c.idx))  # fmt: skip
    with archive.index.engine.connect() as conn:
        found = [json.loads(entry) for (entry,) in conn.execute(query)]
    return [{"type": e["type"], "at": e["at"], "reason": e["reason"],
             "user": e["actor"]["user"]} for e in found]  # fmt: skip

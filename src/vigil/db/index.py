"""The index: rows derived from ledger events, and the queries the CLI and API need.

`apply` is the only way rows get written, whether during an append, a catch-up
after a crash, or a full `vigil reindex`, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError

from vigil.db.schema import (
    checkpoints,
    events,
    items,
    meta,
    near_clusters,
    search_items,
    search_texts,
)
from vigil.errors import AmbiguousItem, DatabaseError, ItemNotFound
from vigil.events import DERIVATIVE_ADDED, ITEM_ADDED, Event
from vigil.ledger.checkpoint import Checkpoint

__all__ = ["Index", "ItemRow", "lock_progress", "set_progress"]


@dataclass(frozen=True)
class ItemRow:
    """An item as the index holds it."""

    id: str
    sha256: str
    size: int
    media_type: str
    name: str
    path: str
    added_index: int
    added_at: str
    claimed: dict[str, Any]
    observed: dict[str, Any]
    kind: str = "file"
    url: str | None = None
    parent_id: str | None = None

    @classmethod
    def from_event(cls, ev: Event) -> ItemRow:
        """The row an ``item.added`` event creates."""
        return _row(_item_row(ev))

    def brief(self) -> dict[str, Any]:
        """What a capture reports of each item it made."""
        return {"id": self.id, "sha256": self.sha256, "kind": self.kind, "url": self.url,
                "size": self.size}  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "name": self.name,
            "path": self.path,
            "added_index": self.added_index,
            "added_at": self.added_at,
            "claimed": self.claimed,
            "observed": self.observed,
            "kind": self.kind,
            "url": self.url,
            "parent_id": self.parent_id,
        }


if TYPE_CHECKING:
    from alembic.config import Config

HEAD_REVISION = "0005"
"""The newest migration in ``vigil/db/migrations/versions`` (a test holds the two equal).

An index already there is opened without importing Alembic, which costs every
command about a third of a second."""


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "vigil.db:migrations")
    config.attributes["connection"] = connection
    return config


class Index:
    """Rows derived from the ledger, in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- lifecycle ----------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (cheap when already there)."""
        try:
            if self.revision() == HEAD_REVISION:
                return
            from alembic import command

            with self.engine.begin() as conn:
                command.upgrade(_alembic_config(conn), "head")
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot prepare the index database: {_one_line(exc)}") from exc

    def revision(self) -> str | None:
        """The schema revision Alembic recorded, or None for a database it never touched."""
        with self.engine.connect() as conn:
            if not sa_inspect(conn).has_table("alembic_version"):
                return None
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            found = list(versions)
        return found[0] if len(found) == 1 else None

    def bind(self, origin: str) -> None:
        """Tie an empty database to the archive *origin*; refuse another archive's database."""
        with self.engine.begin() as conn:
            current = conn.execute(select(meta.c.value).where(meta.c.key == "origin")).scalar()
            if current is None:
                conn.execute(insert(meta).values(key="origin", value=origin))
                conn.execute(insert(meta).values(key="ledger_size", value="0"))
            elif current != origin:
                raise DatabaseError(
                    f"the index database belongs to archive {current!r}, not {origin!r}"
                )

    def ledger_size(self, conn: Connection | None = None) -> int:
        """How many ledger entries the index has applied."""
        if conn is None:
            with self.engine.connect() as own:
                return self.ledger_size(own)
        value = conn.execute(select(meta.c.value).where(meta.c.key == "ledger_size")).scalar()
        return int(value or 0)

    def clear(self, conn: Connection) -> None:
        """Delete every derived row (before a rebuild), the search index's too."""
        for table in (items, events, checkpoints, search_texts, search_items, near_clusters):
            conn.execute(delete(table))
        if conn.dialect.name == "sqlite":
            conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('delete-all')"))
        conn.execute(update(meta).where(meta.c.key == "ledger_size").values(value="0"))
        conn.execute(delete(meta).where(meta.c.key.in_(["search_size", "clusters_size"])))

    # -- writing ------------------------------------------------------------------

    def apply(self, conn: Connection, applied: Sequence[Event]) -> None:
        """Add the rows for *applied* (consecutive events continuing the index)."""
        if not applied:
            return
        expected = self.ledger_size(conn)
        if applied[0].index != expected:
            raise DatabaseError(f"index holds {expected} entries, cannot apply {applied[0].index}")
        event_rows = []
        item_rows = []
        for ev in applied:
            event_rows.append(
                {
                    "idx": ev.index,
                    "type": ev.type,
                    "item_id": ev.item,
                    "sha256": ev.sha256,
                    "at": ev.at,
                    "entry": ev.raw.decode("utf-8"),
                }
            )
            if ev.type in (ITEM_ADDED, DERIVATIVE_ADDED):
                item_rows.append(_item_row(ev))
        conn.execute(insert(events), event_rows)
        if item_rows:
            conn.execute(insert(items), item_rows)
        new_size = str(applied[-1].index + 1)
        conn.execute(update(meta).where(meta.c.key == "ledger_size").values(value=new_size))

    def add_checkpoint(self, conn: Connection, checkpoint: Checkpoint, note: str) -> None:
        exists = conn.execute(
            select(checkpoints.c.size).where(checkpoints.c.size == checkpoint.size)
        ).first()
        if exists is None:
            conn.execute(
                insert(checkpoints).values(
                    size=checkpoint.size, root=checkpoint.root.hex(), note=note
                )
            )

    # -- reading ------------------------------------------------------------------

    def item(self, ref: str) -> ItemRow:
        """The item with id *ref*, or whose SHA-256 starts with *ref* (unique)."""
        ref = ref.strip()
        with self.engine.connect() as conn:
            row = conn.execute(select(items).where(items.c.id == ref.upper())).first()
            if row is not None:
                return _row(row._mapping)
            if len(ref) < 4 or any(c not in "0123456789abcdef" for c in ref.lower()):
                raise ItemNotFound(
                    f"no item with id {ref!r} (a SHA-256 prefix needs 4+ hex digits)"
                )
            rows = conn.execute(
                select(items).where(items.c.sha256.startswith(ref.lower())).limit(11)
            ).all()
        if not rows:
            raise ItemNotFound(f"no item with id or SHA-256 prefix {ref!r}")
        if len(rows) > 1:
            ids = ", ".join(r._mapping["id"] for r in rows[:10])
            raise AmbiguousItem(f"{ref!r} matches several items ({ids}): give more digits or an id")
        return _row(rows[0]._mapping)

    def items(self, limit: int | None = None, offset: int = 0) -> list[ItemRow]:
        query = select(items).order_by(items.c.added_index).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_row(r._mapping) for r in conn.execute(query)]

    def count_items(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items)).scalar() or 0)

    def find_by_content(self, conn: Connection, sha256: str, path: str) -> str | None:
        """Id of an item that already holds *sha256* added from *path*, if any."""
        query = select(items.c.id).where(items.c.sha256 == sha256, items.c.path == path).limit(1)
        found = conn.execute(query).scalar()
        return None if found is None else str(found)

    def children(self, item_id: str) -> list[ItemRow]:
        """Items captured with or derived from *item_id*, oldest first."""
        query = select(items).where(items.c.parent_id == item_id).order_by(items.c.added_index)
        with self.engine.connect() as conn:
            return [_row(r._mapping) for r in conn.execute(query)]

    def find_child(self, parent_id: str, sha256: str) -> str | None:
        """Id of an item with *sha256* whose parent is *parent_id*, if any."""
        query = select(items.c.id).where(items.c.parent_id == parent_id, items.c.sha256 == sha256)
        with self.engine.connect() as conn:
            found = conn.execute(query.limit(1)).scalar()
        return None if found is None else str(found)

    def item_event_indexes(self, item_id: str) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events.c.idx).where(events.c.item_id == item_id).order_by(events.c.idx)
            )
            return [int(r[0]) for r in rows]

    def item_events(self, item_id: str) -> list[tuple[int, str]]:
        """(ledger index, entry text) of every event naming the item, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events.c.idx, events.c.entry)
                .where(events.c.item_id == item_id)
                .order_by(events.c.idx)
            )
            return [(int(r[0]), str(r[1])) for r in rows]

    def checkpoint_sizes(self) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(checkpoints.c.size).order_by(checkpoints.c.size))
            return [int(r[0]) for r in rows]


def lock_progress(conn: Connection, key: str) -> int:
    """How far a derived index (*key* in ``meta``) has read the ledger; takes the write lock
    on that row first, so two processes never catch up the same entries at once."""
    touched = conn.execute(update(meta).where(meta.c.key == key).values(value=meta.c.value))
    if not touched.rowcount:
        conn.execute(insert(meta).values(key=key, value="0"))
        return 0
    return int(conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar() or 0)


def set_progress(conn: Connection, key: str, size: int) -> None:
    conn.execute(update(meta).where(meta.c.key == key).values(value=str(size)))


def _one_line(exc: SQLAlchemyError) -> str:
    """The driver's own message, on one line (without SQLAlchemy's background link)."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def _item_row(ev: Event) -> dict[str, Any]:
    d = ev.data
    return {
        "id": ev.item,
        "sha256": ev.sha256,
        "size": int(d["size"]),
        "media_type": str(d["media_type"]),
        "name": str(d["name"]),
        "path": d.get("path"),
        "added_index": ev.index,
        "added_at": ev.at,
        "claimed": d.get("claimed", {}),
        "observed": {"at": ev.at, **d["actor"]},
        "kind": str(d.get("kind", "file")),
        "url": d.get("url"),
        "parent_id": d.get("of") or d.get("parent"),
    }


def _row(m: Any) -> ItemRow:
    return ItemRow(
        id=m["id"],
        sha256=m["sha256"],
        size=int(m["size"]),
        media_type=m["media_type"],
        name=m["name"],
        path=m["path"],
        added_index=int(m["added_index"]),
        added_at=m["added_at"],
        claimed=dict(m["claimed"]),
        observed=dict(m["observed"]),
        kind=m["kind"],
        url=m["url"],
        parent_id=m["parent_id"],
    )

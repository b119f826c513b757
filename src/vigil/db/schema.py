"""Tables of the index database (SQLAlchemy Core).

Everything here is derived from the ledger (design invariant 3): `Index.rebuild`
can drop every row and recreate it from ``ledger/entries.jsonl`` and the
checkpoint files. Change the schema only through a new Alembic revision in
``migrations/versions/``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "checkpoints",
    "events",
    "items",
    "meta",
    "metadata",
    "near_clusters",
    "search_items",
    "search_texts",
    "source_state",
]

metadata = MetaData()

items = Table(
    "items",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=True),
    Column("added_index", BigInteger, nullable=False, unique=True),
    Column("added_at", String(32), nullable=False),
    Column("claimed", JSON, nullable=False),
    Column("observed", JSON, nullable=False),
    Column("kind", String(32), nullable=False, server_default="file"),
    Column("url", Text, nullable=True),
    Column("parent_id", String(26), nullable=True),
)
Index("ix_items_parent_sha256", items.c.parent_id, items.c.sha256)
Index("ix_items_sha256_path", items.c.sha256, items.c.path)

events = Table(
    "events",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    Column("item_id", String(26), nullable=True, index=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("at", String(32), nullable=False),
    Column("entry", Text, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", String(64), nullable=False),
    Column("note", Text, nullable=False),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source_id", String(64), primary_key=True),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("content_sha256", String(64), nullable=True),
    Column("last_success", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("next_run", Float, nullable=False, server_default="0"),
    Column("captured", Integer, nullable=False, server_default="0"),
)
"""Polling state of watched sources: not evidence, and not rebuilt by reindex (losing it
only means every source is polled again at once)."""

search_texts = Table(
    "search_texts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", String(26), nullable=False, index=True),
    Column("origin_idx", BigInteger, nullable=False),
    Column("field", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("norm", Text, nullable=False),
    Column("language", String(16), nullable=True),
    Column("facets", Text, nullable=False, server_default=""),
)
"""Each text an event gives an item (post text, page text, title, author, file name),
as received and normalised (`vigil.search.arabic`); the full-text index covers ``norm``
(SQLite: the FTS5 table ``search_fts``; PostgreSQL: the generated column ``tsv``).
``facets``: the item's filter values as tokens (`vigil.search.facets`), for FTS5."""

search_items = Table(
    "search_items",
    metadata,
    Column("item_id", String(26), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("platform", String(64), nullable=True),
    Column("source", Text, nullable=True),
    Column("posted", String(32), nullable=True),
    Column("captured", String(32), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
)
"""What search filters on, per item: claimed (platform, source, posted, place) and
observed (captured); a child item takes its post's claims when it has none."""

near_clusters = Table(
    "near_clusters",
    metadata,
    Column("item_id", String(26), primary_key=True),
    Column("cluster", String(26), nullable=False, index=True),
    Column("kind", String(16), nullable=False, server_default="image"),
)
"""Near-duplicate groups, kept up to date as results arrive (`vigil.search.clusterstore`):
``kind`` image (PDQ, radius 31, single linkage) or video (vPDQ, 80 % of frames); each
item with its group's smallest item id."""

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

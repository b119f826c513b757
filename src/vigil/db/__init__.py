"""The index database (SQLite by default, PostgreSQL at scale): a rebuildable view of the ledger."""

from vigil.db.engine import make_engine, normalise_url
from vigil.db.index import Index, ItemRow

__all__ = ["Index", "ItemRow", "make_engine", "normalise_url"]

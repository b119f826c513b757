"""Alembic migrations upgrade an existing index without losing rows, on both backends."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from vigil.db.engine import make_engine, sqlite_url
from vigil.db.index import Index, _alembic_config


def test_upgrade_from_0001_keeps_items(tmp_path: Path, database_url: str | None) -> None:
    engine = make_engine(database_url or sqlite_url(tmp_path / "old.db"))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.execute(
            sa.text(
                "INSERT INTO items (id, sha256, size, media_type, name, path, added_index, added_at, claimed, observed) "
                "VALUES ('01OLD', :sha, 3, 'text/plain', 'a.txt', '/evidence/a.txt', 0, 't', '{}', '{}')"
            ),
            {"sha": "a" * 64},
        )
    index = Index(engine)
    index.migrate()
    row = index.item("01OLD")
    assert (row.kind, row.path, row.url, row.parent_id) == ("file", "/evidence/a.txt", None, None)
    index.migrate()  # idempotent at head
    engine.dispose()

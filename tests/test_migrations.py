"""Alembic migrations upgrade an existing index without losing rows, on both backends."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from vigil.db.engine import make_engine, sqlite_url
from vigil.db.index import HEAD_REVISION, Index, _alembic_config


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


def test_head_revision_is_the_newest_migration(tmp_path: Path) -> None:
    """`Index.migrate` skips Alembic when the index is at HEAD_REVISION: it must be the head."""
    from alembic.script import ScriptDirectory

    engine = make_engine(sqlite_url(tmp_path / "head.db"))
    with engine.begin() as conn:
        head = ScriptDirectory.from_config(_alembic_config(conn)).get_current_head()
    assert head == HEAD_REVISION
    index = Index(engine)
    assert index.revision() is None  # a database Alembic never touched
    index.migrate()
    assert index.revision() == HEAD_REVISION
    engine.dispose()


def test_an_index_behind_head_is_upgraded_without_alembic_preloaded(tmp_path: Path) -> None:
    """The fast path reads the recorded revision; one behind is still upgraded."""
    engine = make_engine(sqlite_url(tmp_path / "behind.db"))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0004")
    index = Index(engine)
    assert index.revision() == "0004"
    index.migrate()
    assert index.revision() == HEAD_REVISION
    with engine.connect() as conn:
        assert sa.inspect(conn).has_table("near_clusters")
    engine.dispose()

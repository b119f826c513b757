"""Full-text search: the texts of items (normalised) and the fields search filters on.

SQLite gets an FTS5 index over ``search_texts.norm`` and ``facets`` (filter values as
tokens, so FTS5 intersects them with the words; external content); PostgreSQL a
generated ``tsvector`` column (configuration ``simple``: the text is already
normalised by Vigil, so both engines see the same tokens) with a GIN index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_texts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(26), nullable=False, index=True),
        sa.Column("origin_idx", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("norm", sa.Text, nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("facets", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "search_items",
        sa.Column("item_id", sa.String(26), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("platform", sa.String(64), nullable=True),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("posted", sa.String(32), nullable=True),
        sa.Column("captured", sa.String(32), nullable=False),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
    )
    op.create_index("ix_search_items_posted", "search_items", ["posted"])
    op.create_index("ix_search_items_captured", "search_items", ["captured"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(norm, facets, content='search_texts',"
            " content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
        )
    else:
        op.execute(
            "ALTER TABLE search_texts ADD COLUMN tsv tsvector"
            " GENERATED ALWAYS AS (to_tsvector('simple', norm)) STORED"
        )
        op.execute("CREATE INDEX ix_search_texts_tsv ON search_texts USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_items")
    op.drop_table("search_texts")

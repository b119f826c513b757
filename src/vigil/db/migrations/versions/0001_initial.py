"""Initial index: items, events, checkpoints, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("added_index", sa.BigInteger, nullable=False, unique=True),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("claimed", sa.JSON, nullable=False),
        sa.Column("observed", sa.JSON, nullable=False),
    )
    op.create_index("ix_items_sha256", "items", ["sha256"])
    op.create_index("ix_items_sha256_path", "items", ["sha256", "path"])
    op.create_table(
        "events",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(26), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
    )
    op.create_index("ix_events_item_id", "events", ["item_id"])
    op.create_index("ix_events_sha256", "events", ["sha256"])
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("meta", "checkpoints", "events", "items"):
        op.drop_table(table)

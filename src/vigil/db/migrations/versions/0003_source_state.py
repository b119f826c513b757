"""Polling state of watched sources (ETag, Last-Modified, content hash, errors, schedule).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("etag", sa.Text, nullable=True),
        sa.Column("last_modified", sa.Text, nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("last_success", sa.String(32), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_run", sa.Float, nullable=False, server_default="0"),
        sa.Column("captured", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("source_state")

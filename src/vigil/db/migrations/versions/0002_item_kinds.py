"""Item kinds, source URLs and parent links (web captures and derivatives).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=False, server_default="file"))
        batch.add_column(sa.Column("url", sa.Text, nullable=True))
        batch.add_column(sa.Column("parent_id", sa.String(26), nullable=True))
        batch.alter_column("path", existing_type=sa.Text, nullable=True)
        batch.create_index("ix_items_parent_sha256", ["parent_id", "sha256"])


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_index("ix_items_parent_sha256")
        batch.alter_column("path", existing_type=sa.Text, nullable=False)
        batch.drop_column("parent_id")
        batch.drop_column("url")
        batch.drop_column("kind")

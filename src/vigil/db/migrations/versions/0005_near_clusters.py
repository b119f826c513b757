"""Near-duplicate clusters (images by PDQ, videos by vPDQ) kept up to date as results arrive.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "near_clusters",
        sa.Column("item_id", sa.String(26), primary_key=True),
        sa.Column("cluster", sa.String(26), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False, server_default="image"),
    )


def downgrade() -> None:
    op.drop_table("near_clusters")

"""The cluster's write fence: one row (id 1) with the lease token of the leader that owns the
store, 0 until a leader claims it (`acd.storage.fence`). A single node never reads it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    fence = op.create_table(
        "cluster_fence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("token", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.bulk_insert(fence, [{"id": 1, "token": 0}])


def downgrade() -> None:
    op.drop_table("cluster_fence")

"""Durable agent state: one row per agent with what a restart needs to restore it.

Revision ID: 0002
Revises: 0001
Create Date: 2024-07-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "acd_agent_states",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("pause_reason", sa.Text, nullable=True),
        sa.Column("idle_since", sa.Float, nullable=True),
        sa.Column("pending", sa.String(10), nullable=True),
        sa.Column("pending_reason", sa.Text, nullable=True),
        sa.Column("wrap_until", sa.Float, nullable=True),
        sa.Column("rona_until", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("acd_agent_states")

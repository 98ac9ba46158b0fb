"""The supervisors' monitor audit log (listen / whisper / barge on an agent's call).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "acd_monitor_log",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("token", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("call_id", sa.String(150), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
    )
    op.create_index("ix_acd_monitor_log_at", "acd_monitor_log", ["at"])
    op.create_index("ix_acd_monitor_log_agent_id", "acd_monitor_log", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_acd_monitor_log_agent_id", "acd_monitor_log")
    op.drop_index("ix_acd_monitor_log_at", "acd_monitor_log")
    op.drop_table("acd_monitor_log")

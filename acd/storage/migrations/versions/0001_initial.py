"""Initial schema: configuration (queues, agents, API tokens, meta) and records.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "acd_queues",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "acd_agents",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("skills", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "acd_api_tokens",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("agent_id", sa.String(100), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "acd_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "acd_call_records",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(150), nullable=False),
        sa.Column("leg", sa.Integer, nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("arrived", sa.Float, nullable=False),
        sa.Column("entered", sa.Float, nullable=False),
        sa.Column("offered", sa.Float, nullable=True),
        sa.Column("answered", sa.Float, nullable=True),
        sa.Column("ended", sa.Float, nullable=True),
        sa.Column("agent_id", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("exit_reason", sa.String(64), nullable=True),
        sa.Column("wait", sa.Float, nullable=True),
        sa.Column("talk", sa.Float, nullable=True),
        sa.Column("wrap_up", sa.Float, nullable=True),
        sa.Column("rona_count", sa.Integer, nullable=False),
        sa.Column("caller_data", sa.Text, nullable=True),
        sa.Column("callback_requested", sa.Boolean, nullable=False),
        sa.Column("exit_key", sa.String(8), nullable=True),
        sa.Column("overflowed_to", sa.String(100), nullable=True),
        sa.Column("hung_up_by", sa.String(10), nullable=True),
        sa.Column("sl_threshold", sa.Float, nullable=False),
        sa.Column("short_abandon", sa.Float, nullable=False),
    )
    op.create_index("ix_acd_call_records_call_id", "acd_call_records", ["call_id"])
    op.create_index("ix_acd_call_records_queue", "acd_call_records", ["queue"])
    op.create_index("ix_acd_call_records_entered", "acd_call_records", ["entered"])
    op.create_index("ix_acd_call_records_agent_id", "acd_call_records", ["agent_id"])
    op.create_table(
        "acd_agent_intervals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(100), nullable=True),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=True),
    )
    op.create_index("ix_acd_agent_intervals_agent_id", "acd_agent_intervals", ["agent_id"])
    op.create_index("ix_acd_agent_intervals_start", "acd_agent_intervals", ["start"])


def downgrade() -> None:
    op.drop_table("acd_agent_intervals")
    op.drop_table("acd_call_records")
    op.drop_table("acd_meta")
    op.drop_table("acd_api_tokens")
    op.drop_table("acd_agents")
    op.drop_table("acd_queues")

"""Adoptable call records: an accepted callback's dial string and the call's own skills, so a
restarted controller can adopt a callback whose caller has hung up (no channel holds it).

Revision ID: 0003
Revises: 0002
Create Date: 2024-07-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("acd_call_records") as batch:
        batch.add_column(sa.Column("callback_to", sa.String(200), nullable=True))
        batch.add_column(sa.Column("extra_skills", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acd_call_records") as batch:
        batch.drop_column("extra_skills")
        batch.drop_column("callback_to")

"""The moment each stored agent entered its state, so its time in state survives a restart.
Rows stored before have none (NULL): their restore counts the state from the restart.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("acd_agent_states", sa.Column("state_since", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acd_agent_states") as batch:
        batch.drop_column("state_since")

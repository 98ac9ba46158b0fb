"""A blind transfer on the call records: the visit it ends names the target queue
(`transferred_to`), the visit it opens says whether the caller kept its place (`kept_place`)
and carries the agent's note (`transfer_note`). Rows stored before have none (NULL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ("transferred_to", "kept_place", "transfer_note")


def upgrade() -> None:
    op.add_column("acd_call_records", sa.Column("transferred_to", sa.String(100), nullable=True))
    op.add_column("acd_call_records", sa.Column("kept_place", sa.Boolean, nullable=True))
    op.add_column("acd_call_records", sa.Column("transfer_note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acd_call_records") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)

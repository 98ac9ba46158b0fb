"""Token hashes: `secret_hash` holds a salted scrypt hash for the configured (person-chosen)
token, longer than a SHA-256 hex digest. The rows stay; the configured token's old SHA-256 row
is replaced at the next start (it is stored again at every start).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("acd_api_tokens") as batch:
        batch.alter_column(
            "secret_hash",
            existing_type=sa.String(64),
            type_=sa.String(255),
            existing_nullable=False,
        )


def downgrade() -> None:
    # The slow hashes do not fit any more: those rows go (the next start stores the
    # configured token again).
    op.execute("DELETE FROM acd_api_tokens WHERE secret_hash LIKE 'scrypt$%'")
    with op.batch_alter_table("acd_api_tokens") as batch:
        batch.alter_column(
            "secret_hash",
            existing_type=sa.String(255),
            type_=sa.String(64),
            existing_nullable=False,
        )

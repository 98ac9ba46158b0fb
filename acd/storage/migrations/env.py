"""Alembic environment: always online, on the connection `Database.migrate()` hands over."""

from __future__ import annotations

from alembic import context

from acd.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode lets later revisions work on both backends.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

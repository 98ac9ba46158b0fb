"""Insert-or-update by primary key, with each backend's native statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    await upsert_many(conn, table, tuple(key), [{**key, **values}])


async def upsert_many(
    conn: AsyncConnection, table: Table, key: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Upsert `rows` (all with the same columns, `key` among them) by `key`: on SQLite and
    PostgreSQL one statement executed for all rows at once (the driver's executemany), so a
    batch costs one round of statement compilation, not one per row. Each key must appear
    at most once in `rows` (coalesce first: the last write of a row is the one to keep)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        stmt = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
        columns = [name for name in rows[0] if name not in key]
        excluded = stmt.excluded
        upserting = (
            stmt.on_conflict_do_update(
                index_elements=list(key), set_={name: excluded[name] for name in columns}
            )
            if columns
            else stmt.on_conflict_do_nothing(index_elements=list(key))
        )
        await conn.execute(upserting, [dict(row) for row in rows])
        return
    for row in rows:  # any other backend: fine for the single writer that owns each key
        where = [table.c[name] == row[name] for name in key]
        values = {name: value for name, value in row.items() if name not in key}
        result = await conn.execute(update(table).where(*where).values(**values))
        if result.rowcount == 0:
            await conn.execute(insert(table).values(dict(row)))

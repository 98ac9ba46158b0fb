"""Insert-or-update by primary key, with each backend's native statement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    row = {**key, **values}
    dialect = conn.dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(row)
        await conn.execute(pg.on_conflict_do_update(index_elements=list(key), set_=dict(values)))
    elif dialect == "sqlite":
        lite = sqlite.insert(table).values(row)
        await conn.execute(lite.on_conflict_do_update(index_elements=list(key), set_=dict(values)))
    else:  # any other backend: fine for the single writer that owns each key
        where = [table.c[name] == value for name, value in key.items()]
        result = await conn.execute(update(table).where(*where).values(**values))
        if result.rowcount == 0:
            await conn.execute(insert(table).values(row))

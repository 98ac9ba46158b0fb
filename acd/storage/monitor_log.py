"""The supervisors' monitor audit log at rest (table `acd_monitor_log`).

Rows are plain mappings of the table's columns: the use case (`acd.service.monitor`) owns
their meaning. A request is rare and must be on record before the supervisor's phone rings,
so each write is its own transaction, awaited by the request (no batching); a cluster node's
writes go through its fence like every other writer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.storage.fence import WriteFence, begin_write
from acd.storage.tables import monitor_log

COLUMNS = tuple(column.name for column in monitor_log.columns)


class MonitorLogStore:
    def __init__(self, engine: AsyncEngine, fence: WriteFence | None = None) -> None:
        self._engine = engine
        self._fence = fence

    async def add(self, row: Mapping[str, Any]) -> None:
        async with begin_write(self._engine, self._fence) as conn:
            await conn.execute(insert(monitor_log).values({c: row[c] for c in COLUMNS}))

    async def set_result(self, entry_id: str, result: str) -> None:
        async with begin_write(self._engine, self._fence) as conn:
            await conn.execute(
                update(monitor_log).where(monitor_log.c.id == entry_id).values(result=result)
            )

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` rows, newest first."""
        query = select(monitor_log).order_by(monitor_log.c.at.desc(), monitor_log.c.id.desc())
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.limit(limit))
            return [dict(row._mapping) for row in rows]

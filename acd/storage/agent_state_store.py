"""The durable agent states at rest: one `StoredAgentState` per agent (`acd_agent_states`).

The store only keeps rows; what they mean and when they are written is `acd.recovery`'s.
`state` is an `AgentState` value (`logged_out`, `available`, `paused`, `reserved`, `busy`,
`wrap_up`); times are epoch seconds like every other table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.storage.fence import WriteFence, begin_write
from acd.storage.tables import agent_states
from acd.storage.upsert import upsert_many


@dataclass(frozen=True, slots=True)
class StoredAgentState:
    agent_id: str
    state: str
    pause_reason: str | None
    idle_since: float | None
    pending: str | None  # "pause" or "logout" asked for during a call, still to apply
    pending_reason: str | None
    wrap_until: float | None
    rona_until: float | None
    updated_at: float  # when the change was made (the engine's clock), not when written
    #: When the agent entered `state` (the router's state_since); None in a row stored
    #: before it was kept.
    state_since: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_FIELDS = tuple(f.name for f in fields(StoredAgentState))


class AgentStateStore:
    """With a `fence` (a cluster node, `acd.storage.fence`), `save` checks it first and
    raises `StoreFenced` when another leader owns the store."""

    def __init__(self, engine: AsyncEngine, fence: WriteFence | None = None) -> None:
        self._engine = engine
        self._fence = fence

    async def save(self, rows: Sequence[StoredAgentState]) -> None:
        """Upsert by agent id, in one transaction and one executemany; when an agent comes
        more than once, its last row wins. Runtime: one statement for the whole batch."""
        if not rows:
            return
        latest = {row.agent_id: row.to_dict() for row in rows}
        async with begin_write(self._engine, self._fence) as conn:
            await upsert_many(conn, agent_states, ("agent_id",), list(latest.values()))

    async def load(self) -> list[StoredAgentState]:
        """Every stored row, by agent id."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(agent_states).order_by(agent_states.c.agent_id))
            return [_stored(row) for row in rows]


def _stored(row: Row[Any]) -> StoredAgentState:
    m = row._mapping
    return StoredAgentState(**{name: m[name] for name in _FIELDS})

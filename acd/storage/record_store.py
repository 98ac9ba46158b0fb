"""Call records and agent state intervals at rest.

A `CallRecord` is one call's visit to one queue (a "leg"); `leg` counts from 0 and grows by
one per overflow. Outcomes: `answered`, `abandoned` (lost: the caller left after the queue's
short-abandon threshold), `short_abandoned`, `overflowed` (moved on to `overflowed_to`),
`exited` (left the ACD without an agent: `exit_reason` is `timeout`, `exit_key` (the caller
pressed its queue's exit key), `join_empty`, `leave_empty`, `queue_removed`, `unknown_queue`).
None while the call is still waiting.

A record the controller did not see end: `abandoned` with `exit_reason` `lost_unobserved`
(a waiting or ringing caller whose channel was gone when the controller looked again; wait
up to that moment) or `answered` with `exit_reason` `ended_unobserved` (talk up to that
moment); see `acd.recovery`. `interrupted` was written by versions before re-adoption
(still open at a restart) and is never written now.

`open_calls` gives what a previous run left open (`ended` null: waiting, ringing or
talking), for the call records to re-open when the call is adopted. `callback_to` (dial
string) and `extra_skills` (ACD_SKILLS form) keep an accepted callback adoptable.

A blind transfer opens a new leg too: the leg it ends stays `answered` with `transferred_to`
(the target queue); the one it opens has `kept_place` (None on legs no transfer opened) and
the agent's `transfer_note`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.storage.fence import WriteFence, begin_write
from acd.storage.tables import agent_intervals, call_records
from acd.storage.upsert import upsert_many


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str  # row key, unique per leg
    call_id: str
    leg: int
    queue: str
    priority: int
    arrived: float  # entered the ACD
    entered: float  # entered this queue (= arrived on leg 0)
    sl_threshold: float
    short_abandon: float
    offered: float | None = None  # first offer to an agent in this queue
    answered: float | None = None
    ended: float | None = None  # caller hung up, left or moved on
    agent_id: str | None = None
    outcome: str | None = None
    exit_reason: str | None = None
    wait: float | None = None  # entered → answered / abandoned / exited / overflowed
    talk: float | None = None
    wrap_up: float | None = None
    rona_count: int = 0
    caller_data: str | None = None
    callback_requested: bool = False
    exit_key: str | None = None
    overflowed_to: str | None = None
    hung_up_by: str | None = None  # "caller", "agent" or None (unknown)
    callback_to: str | None = None  # where to call the caller back (accepted callback)
    extra_skills: str | None = None  # the call's own requirements, `skill:level,...`
    # A blind transfer (migration 0008): the visit it ends has `transferred_to` (the target
    # queue), the one it opens `kept_place` (None: not opened by a transfer) and the note.
    transferred_to: str | None = None
    kept_place: bool | None = None
    transfer_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class AgentInterval:
    id: str
    agent_id: str
    state: str
    reason: str | None
    start: float
    end: float | None = None  # None: still in this state

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_CALL_FIELDS = tuple(f.name for f in fields(CallRecord))
_INTERVAL_FIELDS = tuple(f.name for f in fields(AgentInterval))


def _call(row: Row[Any]) -> CallRecord:
    m = row._mapping
    return CallRecord(**{name: m[name] for name in _CALL_FIELDS})


def _interval(row: Row[Any]) -> AgentInterval:
    m = row._mapping
    return AgentInterval(**{name: m[name] for name in _INTERVAL_FIELDS})


class RecordStore:
    """With a `fence` (a cluster node, `acd.storage.fence`), every write checks it first and
    raises `StoreFenced` when another leader owns the store."""

    def __init__(self, engine: AsyncEngine, fence: WriteFence | None = None) -> None:
        self._engine = engine
        self._fence = fence

    async def save(
        self, calls: Sequence[CallRecord] = (), intervals: Sequence[AgentInterval] = ()
    ) -> None:
        """Upsert (by id) in one transaction: one executemany per table. When an id comes
        more than once, its last version wins (as if they were written in the order given)."""
        if not calls and not intervals:
            return
        call_rows = {record.id: record.to_dict() for record in calls}
        interval_rows = {interval.id: interval.to_dict() for interval in intervals}
        async with begin_write(self._engine, self._fence) as conn:
            await upsert_many(conn, call_records, ("id",), list(call_rows.values()))
            await upsert_many(conn, agent_intervals, ("id",), list(interval_rows.values()))

    async def call_legs(self, call_id: str) -> list[CallRecord]:
        query = select(call_records).where(call_records.c.call_id == call_id)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.order_by(call_records.c.entered, call_records.c.leg))
            return [_call(row) for row in rows]

    async def get_call(self, call_id: str) -> CallRecord | None:
        """The latest leg of the call (its current or final queue), or None."""
        legs = await self.call_legs(call_id)
        return legs[-1] if legs else None

    async def calls_entered(self, start: float, end: float) -> list[CallRecord]:
        """Legs that entered their queue in [start, end), in entry order."""
        query = select(call_records).where(
            call_records.c.entered >= start, call_records.c.entered < end
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.order_by(call_records.c.entered, call_records.c.id))
            return [_call(row) for row in rows]

    async def calls_answered(self, start: float, end: float) -> list[CallRecord]:
        """Answered legs whose answer fell in [start, end) (per-agent reporting)."""
        query = select(call_records).where(
            call_records.c.answered >= start, call_records.c.answered < end
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.order_by(call_records.c.answered, call_records.c.id))
            return [_call(row) for row in rows]

    async def all_calls(self) -> list[CallRecord]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(call_records).order_by(call_records.c.entered))
            return [_call(row) for row in rows]

    async def calls_finished_since(self, since: float) -> list[CallRecord]:
        """Legs answered or ended at or after `since` (the rolling service-level window)."""
        query = select(call_records).where(
            or_(call_records.c.answered >= since, call_records.c.ended >= since)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.order_by(call_records.c.entered))
            return [_call(row) for row in rows]

    async def intervals_overlapping(self, start: float, end: float) -> list[AgentInterval]:
        """Intervals that intersect [start, end); open ones count as running on."""
        query = select(agent_intervals).where(
            agent_intervals.c.start < end,
            or_(agent_intervals.c.end.is_(None), agent_intervals.c.end > start),
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.order_by(agent_intervals.c.start))
            return [_interval(row) for row in rows]

    async def open_calls(self) -> list[CallRecord]:
        """Records not ended yet (waiting, ringing, talking when the last run stopped), the
        latest leg of each call, in entry order. At most one leg of a call is ever open."""
        query = select(call_records).where(call_records.c.ended.is_(None))
        async with self._engine.connect() as conn:
            rows = await conn.execute(query.order_by(call_records.c.entered, call_records.c.leg))
            latest = {record.call_id: record for record in map(_call, rows)}
        return list(latest.values())

    async def close_open_intervals(self, at: float) -> int:
        """Agent intervals a previous run left open end at `at` (the agents come back with
        new intervals through the restore). Returns how many."""
        async with begin_write(self._engine, self._fence) as conn:
            result = await conn.execute(
                update(agent_intervals)
                .where(agent_intervals.c.end.is_(None), agent_intervals.c.start <= at)
                .values(end=at)
            )
        return result.rowcount

    async def close_open(self, at: float) -> tuple[int, int]:
        """Close everything a previous run left open: intervals end at `at`, calls still in
        progress become `interrupted`. Returns (calls, intervals) closed. Not used by `acd
        serve` since calls are re-adopted (`open_calls`); kept for tools that want the old
        end-everything behaviour on a store no controller will adopt from."""
        async with begin_write(self._engine, self._fence) as conn:
            intervals = await conn.execute(
                update(agent_intervals)
                .where(agent_intervals.c.end.is_(None), agent_intervals.c.start <= at)
                .values(end=at)
            )
            unfinished = call_records.c.outcome.is_(None)
            calls = await conn.execute(
                update(call_records).where(unfinished).values(outcome="interrupted", ended=at)
            )
            # Answered calls whose hangup the previous run never saw end there too.
            await conn.execute(
                update(call_records)
                .where(and_(call_records.c.answered.is_not(None), call_records.c.ended.is_(None)))
                .values(ended=at)
            )
        return calls.rowcount, intervals.rowcount

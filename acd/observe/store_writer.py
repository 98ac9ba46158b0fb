"""The records at rest: the store as an output of the batch writer, and reading it back.

`StoreWriter` keeps the latest snapshot of every call record and agent interval a happening
carried (several changes of one row within a batch become one upsert) and saves them in one
transaction when the writer drains it. A batch the database refuses is split until the
refused rows stand alone (`acd.storage.rejects`): the others are stored, the refused ones set
aside in the dead letters (`acd.storage.dead_letters`; every later snapshot of a refused row
is refused and set aside too, the last line of an id is its final state). When the database
is unavailable the rows go back under anything newer and the error is raised, so the writer
retries: nothing is lost while the process runs; what a bounded stop could not store is set
aside as well (`give_up`). A batch the write fence refuses (`acd.storage.fence.StoreFenced`:
another leader owns the store, and writes these rows itself) is dropped: not set aside, not
retried; one warning per writer, and `fenced_rows` counts the rows.

`StoredCalls` answers the API's `GET /calls/{id}` for finished calls: it flushes the writer
first (for at most `READ_WAIT` seconds: the database may be down), so a call that ended a
moment ago is there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from acd.observe.happenings import AgentIntervalChanged, RecordHappening
from acd.observe.writer import Flushable
from acd.storage.dead_letters import DeadLetters
from acd.storage.fence import StoreFenced
from acd.storage.record_store import AgentInterval, CallRecord
from acd.storage.rejects import describe, save_apart

log = logging.getLogger(__name__)

#: How long a read waits for the writer before answering from what is stored.
READ_WAIT = 5.0

_Row = CallRecord | AgentInterval


class RowStore(Protocol):
    """The part of `acd.storage.record_store.RecordStore` the writer uses."""

    async def save(
        self, calls: Sequence[CallRecord] = (), intervals: Sequence[AgentInterval] = ()
    ) -> None: ...


class LegStore(Protocol):
    async def call_legs(self, call_id: str) -> list[CallRecord]: ...


class StoreWriter:
    def __init__(self, store: RowStore, dead_letters: DeadLetters | None = None) -> None:
        self._store = store
        self._dead_letters = dead_letters if dead_letters is not None else DeadLetters(None)
        self._calls: dict[str, CallRecord] = {}  # latest snapshot per row id, in first order
        self._intervals: dict[str, AgentInterval] = {}
        self.fenced_rows = 0  # rows dropped because another leader owns the store

    def __repr__(self) -> str:
        return "StoreWriter(call records and agent intervals)"

    def on_record(self, happening: RecordHappening) -> None:
        if isinstance(happening, AgentIntervalChanged):
            for interval in (happening.closed, happening.opened):
                if interval is not None:
                    self._intervals[interval.id] = interval
        else:
            self._calls[happening.record.id] = happening.record

    def seal(self) -> None:
        """Nothing to cut: a drain saves all it holds, at least what the outputs after it
        (the queue_log) sealed."""

    def pending(self) -> int:
        return len(self._calls) + len(self._intervals)

    async def drain(self) -> None:
        calls, self._calls = self._calls, {}
        intervals, self._intervals = self._intervals, {}
        if not calls and not intervals:
            return
        try:
            rows: list[_Row] = [*calls.values(), *intervals.values()]
            refused = await save_apart(self._save, rows)
        except StoreFenced as fenced:  # the new leader owns the store: drop, never retry
            if not self.fenced_rows:
                log.warning("call records and agent intervals no longer stored: %s", fenced)
            self.fenced_rows += len(rows)
            return
        except BaseException:
            # Back under anything buffered meanwhile (newer snapshots win), to be retried.
            self._calls = {**calls, **self._calls}
            self._intervals = {**intervals, **self._intervals}
            raise
        for row, error in refused:
            self._dead_letters.put(_kind(row), row.to_dict(), describe(error))

    def give_up(self, reason: str) -> None:
        rows: list[_Row] = [*self._calls.values(), *self._intervals.values()]
        self._calls, self._intervals = {}, {}
        for row in rows:
            self._dead_letters.put(_kind(row), row.to_dict(), reason)

    def close(self) -> None:
        self._dead_letters.close()  # the store belongs to the Database, which closes it

    async def _save(self, rows: Sequence[_Row]) -> None:
        await self._store.save(
            [row for row in rows if isinstance(row, CallRecord)],
            [row for row in rows if isinstance(row, AgentInterval)],
        )


def _kind(row: _Row) -> str:
    return "call_record" if isinstance(row, CallRecord) else "agent_interval"


class StoredCalls:
    def __init__(self, store: LegStore, writer: Flushable) -> None:
        self._store = store
        self._writer = writer

    async def get_call(self, call_id: str) -> Mapping[str, object] | None:
        """The stored record of a call: its latest visit's fields plus every visit as `legs`."""
        if not await self._writer.flush_within(READ_WAIT):
            log.warning("call %s read from the store with records not yet written", call_id)
        legs = await self._store.call_legs(call_id)
        if not legs:
            return None
        return {**legs[-1].to_dict(), "legs": [leg.to_dict() for leg in legs]}

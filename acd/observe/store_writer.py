"""The records at rest: the store as an output of the batch writer, and reading it back.

`StoreWriter` keeps the latest snapshot of every call record and agent interval a happening
carried (several changes of one row within a batch become one upsert) and saves them in one
transaction when the writer drains it. When saving fails the rows go back under anything
newer and the error is raised, so the writer retries: nothing is lost while the process runs.

`StoredCalls` answers the API's `GET /calls/{id}` for finished calls: it flushes the writer
first, so a call that ended a moment ago is there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from acd.observe.happenings import AgentIntervalChanged, RecordHappening
from acd.observe.writer import Flushable
from acd.storage.record_store import AgentInterval, CallRecord


class RowStore(Protocol):
    """The part of `acd.storage.record_store.RecordStore` the writer uses."""

    async def save(
        self, calls: Sequence[CallRecord] = (), intervals: Sequence[AgentInterval] = ()
    ) -> None: ...


class LegStore(Protocol):
    async def call_legs(self, call_id: str) -> list[CallRecord]: ...


class StoreWriter:
    def __init__(self, store: RowStore) -> None:
        self._store = store
        self._calls: dict[str, CallRecord] = {}  # latest snapshot per row id, in first order
        self._intervals: dict[str, AgentInterval] = {}

    def __repr__(self) -> str:
        return "StoreWriter(call records and agent intervals)"

    def on_record(self, happening: RecordHappening) -> None:
        if isinstance(happening, AgentIntervalChanged):
            for interval in (happening.closed, happening.opened):
                if interval is not None:
                    self._intervals[interval.id] = interval
        else:
            self._calls[happening.record.id] = happening.record

    def pending(self) -> int:
        return len(self._calls) + len(self._intervals)

    async def drain(self) -> None:
        calls, self._calls = self._calls, {}
        intervals, self._intervals = self._intervals, {}
        if not calls and not intervals:
            return
        try:
            await self._store.save(list(calls.values()), list(intervals.values()))
        except BaseException:
            # Back under anything buffered meanwhile (newer snapshots win), to be retried.
            self._calls = {**calls, **self._calls}
            self._intervals = {**intervals, **self._intervals}
            raise

    def close(self) -> None:
        pass  # the store belongs to the Database, which closes it


class StoredCalls:
    def __init__(self, store: LegStore, writer: Flushable) -> None:
        self._store = store
        self._writer = writer

    async def get_call(self, call_id: str) -> Mapping[str, object] | None:
        """The stored record of a call: its latest visit's fields plus every visit as `legs`."""
        await self._writer.flush()
        legs = await self._store.call_legs(call_id)
        if not legs:
            return None
        return {**legs[-1].to_dict(), "legs": [leg.to_dict() for leg in legs]}

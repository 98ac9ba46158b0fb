"""The queue_log never tells what the store does not hold: the batch writer drains the store
first and holds the queue_log back while the store fails; a cluster node that lost the lead
appends no line (the new leader logs those calls)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acd.observe.happenings import RecordHappening, VisitOpened
from acd.observe.queue_log import QueueLog, QueueLogWriter
from acd.observe.writer import BatchWriter
from acd.storage.record_store import CallRecord


def _opened(call_id: str, at: float) -> VisitOpened:
    return VisitOpened(at, CallRecord(call_id, call_id, 0, "q", 0, at, at, 0.0, 0.0), 1)


class FlakyStore:
    """An output that fails while `down` (the database unavailable), keeping its rows."""

    def __init__(self) -> None:
        self.down = True
        self.rows: list[RecordHappening] = []
        self.stored: list[RecordHappening] = []

    def on_record(self, happening: RecordHappening) -> None:
        self.rows.append(happening)

    def pending(self) -> int:
        return len(self.rows)

    def seal(self) -> None:
        pass

    async def drain(self) -> None:
        if self.down:
            raise ConnectionError("database unavailable")
        self.stored += self.rows
        self.rows = []

    def give_up(self, reason: str) -> None:
        pass

    def close(self) -> None:
        pass


async def test_the_queue_log_waits_for_the_store(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    store = FlakyStore()
    writer = BatchWriter([store, QueueLogWriter(QueueLog(path))], delay=0.01, retry=0.05)
    writer.on_record(_opened("c1", 1.0))
    assert not await writer.flush_within(0.3)
    assert not path.exists() or path.read_text() == ""  # nothing told before it is stored
    store.down = False
    assert await writer.flush_within(2.0)
    assert len(store.stored) == 1
    assert "|c1|" in path.read_text()
    await writer.close()


async def test_a_shut_gate_appends_no_line(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    leading = [True]
    output = QueueLogWriter(QueueLog(path), gate=lambda: leading[0])
    output.on_record(_opened("c1", 1.0))
    await output.drain()
    leading[0] = False
    output.on_record(_opened("c2", 2.0))
    await output.drain()
    output.on_record(_opened("c3", 3.0))
    output.give_up("stopping")  # a stop after losing the lead appends nothing either
    output.close()
    text = path.read_text()
    assert "|c1|" in text
    assert "|c2|" not in text
    assert "|c3|" not in text
    assert output.dropped == 2


class SlowStore(FlakyStore):
    """Saves what it holds when the drain starts, then waits (a round trip) before it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.saving = asyncio.Event()
        self.release = asyncio.Event()

    async def drain(self) -> None:
        batch, self.rows = self.rows, []
        self.saving.set()
        await self.release.wait()
        self.stored += batch


async def test_a_line_recorded_while_the_store_saves_waits_for_its_row(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    store = SlowStore()
    writer = BatchWriter([store, QueueLogWriter(QueueLog(path))], delay=0.01, retry=0.05)
    writer.on_record(_opened("c1", 1.0))
    await asyncio.wait_for(store.saving.wait(), 2.0)
    writer.on_record(_opened("c2", 2.0))  # the engine goes on while the save is in flight
    store.saving.clear()
    store.release.set()  # the first save is in ...
    store.release.clear()  # ... the next one waits
    await asyncio.wait_for(store.saving.wait(), 2.0)  # the next batch: c2's row
    text = path.read_text()
    assert "|c1|" in text
    assert "|c2|" not in text  # its row was not in the batch that was stored
    store.release.set()
    assert await writer.flush_within(2.0)
    assert "|c2|" in path.read_text()
    await writer.close()

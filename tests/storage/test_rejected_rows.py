"""One row the database refuses never stops the others (issue #11): the batch writer splits
the refused batch, stores every other row, and sets the refused one aside (dead-letter file,
counter, log); a database that is down is retried, never set aside; a stop is bounded, and
what it could not store is set aside too. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from acd.observe import store_writer
from acd.observe.happenings import AgentIntervalChanged, VisitOpened
from acd.observe.metrics import Metrics
from acd.observe.store_writer import StoredCalls, StoreWriter
from acd.observe.writer import BatchWriter
from acd.router.model import AgentState
from acd.storage import Database
from acd.storage.dead_letters import DeadLetters
from acd.storage.record_store import AgentInterval, CallRecord
from acd.storage.rejects import rejected

BOUND = 5.0  # every wait of these tests; the old writer waited forever


def visit(call_id: str, *, priority: int = 0, queue: str = "q") -> VisitOpened:
    record = CallRecord(call_id, call_id, 0, queue, priority, 1.0, 1.0, 20.0, 5.0)
    return VisitOpened(1.0, record, 1)


def interval(agent_id: str, reason: str) -> AgentIntervalChanged:
    opened = AgentInterval(f"i-{agent_id}", agent_id, "paused", reason, 1.0)
    return AgentIntervalChanged(
        1.0, agent_id, AgentState.AVAILABLE, None, AgentState.PAUSED, reason, None, opened
    )


class Rig:
    def __init__(self, store: Any, path: Path, **writer: float) -> None:
        self.metrics = Metrics()
        self.path = path / "dead_letters.jsonl"
        self.store = StoreWriter(store, DeadLetters(self.path, self.metrics.dead_lettered))
        self.writer = BatchWriter([self.store], retry=0.01, **writer)

    def dead(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def counted(self, kind: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "acd_records_dead_lettered_total", {"kind": kind}
        )


# --- what each backend raises ------------------------------------------------------------------

POISONS = {
    "priority beyond 64 bits": (visit("poison", priority=2**70), "both"),
    "a lone surrogate": (visit("poison", queue="q\udc80"), "both"),
    "priority beyond 32 bits": (visit("poison", priority=2**40), "postgresql"),
    "call id too long": (visit("p" + "x" * 200), "postgresql"),
    "NUL in a string": (visit("poison", queue="q\x00"), "postgresql"),
}


@pytest.mark.parametrize("poison", list(POISONS))
async def test_one_refused_row_is_set_aside_and_the_others_stored(
    database: Database, tmp_path: Path, poison: str
) -> None:
    happening, backends = POISONS[poison]
    refused = backends in ("both", database.backend)
    rig = Rig(database.records, tmp_path)
    calls = StoredCalls(database.records, rig.writer)
    for call_id in ("a", "b"):
        rig.writer.on_record(visit(call_id))
    rig.writer.on_record(happening)
    for call_id in ("c", "d"):
        rig.writer.on_record(visit(call_id))

    async with asyncio.timeout(BOUND):  # /calls/{id} answers
        for call_id in ("a", "b", "c", "d"):
            assert await calls.get_call(call_id) is not None, call_id
        poisoned = await calls.get_call(happening.record.call_id)
        await rig.writer.close()

    stored = {record.call_id for record in await database.records.all_calls()}
    if not refused:  # SQLite takes it: stored like the others, nothing set aside
        assert poisoned is not None
        assert stored == {"a", "b", "c", "d", happening.record.call_id}
        assert rig.dead() == []
        return
    assert poisoned is None
    assert stored == {"a", "b", "c", "d"}
    dead = rig.dead()
    assert [d["kind"] for d in dead] == ["call_record"]
    assert dead[0]["row"]["call_id"] == happening.record.call_id
    assert dead[0]["row"]["priority"] == happening.record.priority  # kept whole
    assert dead[0]["reason"]
    assert rig.counted("call_record") == 1
    assert rig.counted("agent_interval") == 0


async def test_a_refused_interval_is_set_aside_beside_stored_calls(
    database: Database, tmp_path: Path
) -> None:
    if database.backend == "sqlite":  # SQLite keeps any string: make it refuse one
        async with database.engine.begin() as conn:
            await conn.execute(sa.text(POISON_TRIGGER.format(table="acd_agent_intervals")))
    rig = Rig(database.records, tmp_path)
    rig.writer.on_record(visit("a"))
    rig.writer.on_record(interval("1001", "poison" * 30))  # longer than the 100 of PostgreSQL
    rig.writer.on_record(interval("1002", "lunch"))
    async with asyncio.timeout(BOUND):
        await rig.writer.close()
    assert [r.call_id for r in await database.records.all_calls()] == ["a"]
    stored = await database.records.intervals_overlapping(0.0, 10.0)
    assert [i.agent_id for i in stored] == ["1002"]
    assert [(d["kind"], d["row"]["agent_id"]) for d in rig.dead()] == [("agent_interval", "1001")]
    assert rig.counted("agent_interval") == 1


POISON_TRIGGER = """CREATE TRIGGER poison BEFORE INSERT ON {table}
    WHEN NEW.reason LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"""


async def test_many_refused_rows_in_a_big_batch(database: Database, tmp_path: Path) -> None:
    rig = Rig(database.records, tmp_path)
    for n in range(200):
        rig.writer.on_record(visit(f"c{n}", priority=2**70 if n % 50 == 7 else n))
    async with asyncio.timeout(BOUND * 2):
        await rig.writer.close()
    assert len(await database.records.all_calls()) == 196
    assert sorted(d["row"]["call_id"] for d in rig.dead()) == ["c107", "c157", "c57", "c7"]
    assert rig.counted("call_record") == 4


# --- unavailable is not refused ----------------------------------------------------------------


def _operational() -> Exception:
    return sqlalchemy.exc.OperationalError("INSERT", {}, Exception("database is locked"))


class FlakyStore:
    """Down (an unavailable error) for `failures` saves, then a working store."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or _operational()
        self.saved: list[CallRecord] = []

    async def save(
        self, calls: Sequence[CallRecord] = (), intervals: Sequence[AgentInterval] = ()
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise self.error
        self.saved.extend(calls)


@pytest.mark.parametrize(
    "error",
    [_operational(), ConnectionRefusedError(111, "Connect call failed"), TimeoutError()],
    ids=["operational", "connection refused", "timeout"],
)
async def test_a_database_down_is_retried_and_nothing_set_aside(
    tmp_path: Path, error: Exception
) -> None:
    store = FlakyStore(failures=3, error=error)
    rig = Rig(store, tmp_path)
    rig.writer.on_record(visit("a"))
    rig.writer.on_record(visit("b"))
    async with asyncio.timeout(BOUND):
        await rig.writer.flush()
        await rig.writer.close()
    assert [r.call_id for r in store.saved] == ["a", "b"]
    assert rig.dead() == []
    assert rig.counted("call_record") == 0


async def test_an_unreachable_postgresql_is_unavailable_not_refused() -> None:
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(Exception) as raised:
            await database.records.save([visit("a").record])
        assert not rejected(raised.value)
    finally:
        await database.close()


async def test_a_locked_sqlite_is_unavailable_not_refused(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
    try:  # never migrated: no table, an OperationalError like a locked or unreadable file
        with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
            await database.records.save([visit("a").record])
        assert not rejected(raised.value)
    finally:
        await database.close()


# --- bounded stop and reads --------------------------------------------------------------------


async def test_a_stop_with_the_database_down_is_bounded_and_sets_the_rows_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(FlakyStore(failures=10**9), tmp_path, close_timeout=0.5)
    rig.writer.on_record(visit("a"))
    rig.writer.on_record(interval("1001", "lunch"))
    async with asyncio.timeout(BOUND):
        await rig.writer.close()
    assert sorted((d["kind"], d["reason"]) for d in rig.dead()) == [
        ("agent_interval", "not written within 0.5 s of the stop"),
        ("call_record", "not written within 0.5 s of the stop"),
    ]
    assert rig.counted("call_record") == 1
    assert any("setting the last rows aside" in r.getMessage() for r in caplog.records)


class RefusingStore:
    """A database that refuses every row (an integrity error for each)."""

    async def save(
        self, calls: Sequence[CallRecord] = (), intervals: Sequence[AgentInterval] = ()
    ) -> None:
        raise sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("CHECK constraint failed"))

    async def call_legs(self, call_id: str) -> list[CallRecord]:
        return []


async def test_a_stop_with_the_database_refusing_everything_is_bounded(tmp_path: Path) -> None:
    rig = Rig(RefusingStore(), tmp_path)
    for n in range(20):
        rig.writer.on_record(visit(f"c{n}"))
    async with asyncio.timeout(BOUND):
        await rig.writer.close()
    assert len(rig.dead()) == 20
    assert {d["reason"] for d in rig.dead()} == {
        "IntegrityError: (builtins.Exception) CHECK constraint failed"
    }


class DownLegs(FlakyStore):
    async def call_legs(self, call_id: str) -> list[CallRecord]:
        return []


async def test_a_read_waits_a_bounded_time_for_a_database_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(store_writer, "READ_WAIT", 0.3)
    store = DownLegs(failures=10**9)
    rig = Rig(store, tmp_path, close_timeout=0.1)
    calls = StoredCalls(store, rig.writer)
    rig.writer.on_record(visit("a"))
    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(BOUND):
            assert await calls.get_call("a") is None
            await rig.writer.close()
    assert any("not yet written" in r.getMessage() for r in caplog.records)


class _DriverError(Exception):
    """What asyncpg's errors carry, as SQLAlchemy wraps them (`orig.sqlstate`)."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "refused"),
    [
        ("22000", True),  # data exception (asyncpg: argument out of range)
        ("22001", True),  # string too long
        ("22021", True),  # NUL / bad encoding
        ("23505", True),  # unique violation
        ("23514", True),  # check violation
        ("08006", False),  # connection failure
        ("57P01", False),  # admin shutdown
        ("53100", False),  # disk full
        ("40001", False),  # serialization failure
        ("42P01", False),  # undefined table: the deployment, not the row
    ],
)
def test_postgresql_errors_by_sqlstate(sqlstate: str, refused: bool) -> None:
    error = sqlalchemy.exc.DBAPIError("INSERT", {}, _DriverError(sqlstate))
    assert rejected(error) is refused

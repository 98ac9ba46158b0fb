"""The store's write fence across a leader takeover (`acd.storage.fence`), on SQLite and on the
real PostgreSQL server: the leader that claimed last is the only one whose writes get in, an
old leader's batch in flight commits before the new leader's claim returns, a fenced batch is
dropped (neither dead-lettered nor retried), and a single node issues no fence query."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from acd.engine import Engine
from acd.observe.happenings import VisitOpened
from acd.observe.store_writer import StoreWriter
from acd.observe.writer import BatchWriter
from acd.recovery.agent_states import AgentStateWriter
from acd.router import events as ev
from acd.router.router import Router
from acd.storage import Database, StoredAgentState
from acd.storage.dead_letters import DeadLetters
from acd.storage.fence import StoreFenced, WriteFence, begin_write
from acd.storage.record_store import AgentInterval, CallRecord
from acd.storage.tables import call_records, cluster_fence
from acd.storage.upsert import upsert_many

OpenNode = Callable[..., Awaitable[Database]]  # the `open_node` fixture (conftest.py)

T0 = 1_700_000_000.0
BOUND = 5.0  # every wait of these tests


def fence(node: Database) -> WriteFence:
    assert node.fence is not None
    return node.fence


def call(call_id: str) -> CallRecord:
    return CallRecord(call_id, call_id, 0, "q", 0, T0, T0, 20.0, 5.0)


def agent_row(agent_id: str) -> StoredAgentState:
    return StoredAgentState(agent_id, "available", None, T0, None, None, None, None, T0)


async def call_ids(database: Database) -> list[str]:
    return sorted(record.id for record in await database.records.all_calls())


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """Every SQL statement the database's engine sends while inside."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def test_migration_creates_the_fence_row_unclaimed(open_node: OpenNode) -> None:
    database = await open_node(fenced=False)
    async with database.engine.connect() as conn:
        rows = (await conn.execute(sa.select(cluster_fence))).all()
    assert [tuple(row) for row in rows] == [(1, 0)]


async def test_the_later_claim_owns_the_store(open_node: OpenNode) -> None:
    old, new = await open_node(), await open_node()
    await fence(old).claim(1)
    await old.records.save([call("before")], [AgentInterval("i1", "a1", "available", None, T0)])
    await old.agent_states.save([agent_row("a1")])

    await fence(new).claim(2)
    with pytest.raises(StoreFenced) as fenced:
        await old.records.save([call("after")])
    assert (fenced.value.holder, fenced.value.stored) == (1, 2)
    with pytest.raises(StoreFenced):
        await old.agent_states.save([agent_row("a2")])
    with pytest.raises(StoreFenced):
        await old.records.close_open_intervals(T0 + 10)
    assert await call_ids(new) == ["before"]
    assert [row.agent_id for row in await new.agent_states.load()] == ["a1"]
    assert [i.end for i in await new.records.intervals_overlapping(T0, T0 + 1)] == [None]

    await new.records.save([call("by-new")])
    await new.agent_states.save([agent_row("a3")])
    assert await call_ids(new) == ["before", "by-new"]
    assert [row.agent_id for row in await new.agent_states.load()] == ["a1", "a3"]


async def test_a_claim_below_the_stored_token_is_refused(open_node: OpenNode) -> None:
    old, new = await open_node(), await open_node()
    await fence(old).claim(1)
    await fence(new).claim(2)
    with pytest.raises(StoreFenced):
        await fence(old).claim(1)
    assert fence(old).holder_token is None
    await fence(new).claim(2)  # its own token again: still the owner
    async with new.engine.connect() as conn:
        assert (await conn.execute(sa.select(cluster_fence.c.token))).scalar_one() == 2
    with pytest.raises(StoreFenced):
        await old.records.save([call("late")])
    await new.records.save([call("new")])
    assert await call_ids(new) == ["new"]


async def test_no_claim_no_write_and_no_query(open_node: OpenNode) -> None:
    standby = await open_node()
    with statements(standby) as sent:
        with pytest.raises(StoreFenced):
            await standby.records.save([call("c1")])
        with pytest.raises(StoreFenced):
            await standby.agent_states.save([agent_row("a1")])
    assert sent == []
    leader = await open_node()
    await fence(leader).claim(1)
    await leader.records.save([call("c2")])
    fence(leader).release()  # stepped down
    with pytest.raises(StoreFenced):
        await leader.records.save([call("c3")])
    assert await call_ids(leader) == ["c2"]


async def test_a_single_node_issues_no_fence_query(open_node: OpenNode) -> None:
    single = await open_node(fenced=False)
    assert single.fence is None
    with statements(single) as sent:
        await single.records.save([call("c1")])
        await single.agent_states.save([agent_row("a1")])
        await single.records.close_open_intervals(T0)
    assert sent
    assert not [s for s in sent if "cluster_fence" in s]
    assert await call_ids(single) == ["c1"]


async def test_each_fenced_write_checks_the_fence_first(open_node: OpenNode) -> None:
    leader = await open_node()
    await fence(leader).claim(1)
    with statements(leader) as sent:
        await leader.records.save([call("c1")])
        await leader.agent_states.save([agent_row("a1")])
    checks = [s for s in sent if "cluster_fence" in s]
    assert len(checks) == 2
    if leader.backend == "postgresql":
        assert all("FOR SHARE" in s for s in checks)
    assert "cluster_fence" in sent[0]  # before the rows, in the same transaction


# The ordering comes from PostgreSQL's FOR SHARE; SQLite has none (see acd.storage.fence).
@pytest.mark.postgres
@pytest.mark.parametrize("open_node", ["postgres"], indirect=True)
async def test_a_claim_waits_for_the_old_leaders_batch_in_flight(open_node: OpenNode) -> None:
    old, new = await open_node(), await open_node()
    await fence(old).claim(1)
    holding, commit = asyncio.Event(), asyncio.Event()
    order: list[str] = []
    old_pid: list[int] = []

    async def old_batch() -> None:
        async with begin_write(old.engine, fence(old)) as conn:
            old_pid.append((await conn.execute(sa.text("select pg_backend_pid()"))).scalar_one())
            await upsert_many(conn, call_records, ("id",), [call("in-flight").to_dict()])
            holding.set()
            await commit.wait()
        order.append("old batch committed")

    async def claim() -> None:
        await fence(new).claim(2)
        order.append("claimed")

    batch = asyncio.create_task(old_batch())
    claiming: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(BOUND):
            await holding.wait()
            claiming = asyncio.create_task(claim())
            await blocked_by(new, old_pid[0])  # the server says the claim waits for the batch
            assert not claiming.done()
            commit.set()
            await asyncio.gather(batch, claiming)
    finally:  # a failure leaves no transaction open (the schema's drop would wait for it)
        commit.set()
        await asyncio.gather(batch, *([claiming] if claiming else []), return_exceptions=True)
    assert order == ["old batch committed", "claimed"]
    assert await call_ids(new) == ["in-flight"]
    with pytest.raises(StoreFenced):
        await old.records.save([call("after")])


@pytest.mark.postgres
@pytest.mark.parametrize("open_node", ["postgres"], indirect=True)
async def test_an_old_leader_stuck_in_its_batch_holds_no_claim_up(open_node: OpenNode) -> None:
    """Stopped (SIGSTOP, a partition) inside a batch, the old leader holds FOR SHARE until the
    server ends its session, idle in the transaction for `STUCK_WRITER_TIMEOUT`: the claim
    then goes through and the stuck batch is rolled back."""
    old, new = await open_node(), await open_node()
    await fence(old).claim(1)
    holding, resumed = asyncio.Event(), asyncio.Event()

    async def stuck_batch() -> None:
        async with begin_write(old.engine, fence(old)) as conn:
            await upsert_many(conn, call_records, ("id",), [call("stuck").to_dict()])
            holding.set()
            await resumed.wait()  # the process is stopped: not before the claim is through

    batch = asyncio.create_task(stuck_batch())
    try:
        async with asyncio.timeout(BOUND):
            await holding.wait()
            await fence(new).claim(2)
    finally:
        resumed.set()
        [outcome] = await asyncio.gather(batch, return_exceptions=True)
    assert isinstance(outcome, sa.exc.DBAPIError)  # its commit: the session is gone
    assert await call_ids(new) == []
    assert fence(new).holder_token == 2


async def blocked_by(database: Database, pid: int) -> None:
    """Return once some backend waits for a lock `pid` holds. PostgreSQL tells no one when a
    backend starts waiting, so this asks until it says so (the caller bounds the wait); each
    question in a transaction of its own, since pg_stat_activity holds still within one."""
    query = sa.text("select count(*) from pg_stat_activity where :pid = any(pg_blocking_pids(pid))")
    async with database.engine.connect() as conn:
        while True:
            blocked = (await conn.execute(query, {"pid": pid})).scalar_one()
            await conn.rollback()
            if blocked:
                return
            await asyncio.sleep(0.01)


class CountingStore:
    """The records' store, counting the attempts."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.attempts = 0

    async def save(
        self, calls: Sequence[CallRecord] = (), intervals: Sequence[AgentInterval] = ()
    ) -> None:
        self.attempts += 1
        await self._database.records.save(calls, intervals)


async def test_the_records_writer_drops_a_fenced_batch(
    open_node: OpenNode, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = await open_node(), await open_node()
    await fence(old).claim(1)
    store = CountingStore(old)
    dead_letters = tmp_path / "dead_letters.jsonl"
    output = StoreWriter(store, DeadLetters(dead_letters))
    writer = BatchWriter([output], retry=0.01)
    try:
        writer.on_record(VisitOpened(T0, call("kept"), 1))
        async with asyncio.timeout(BOUND):
            await writer.flush()
        await fence(new).claim(2)
        attempts = store.attempts
        with caplog.at_level(logging.WARNING):
            for batch in (("d1", "d2"), ("d3",)):
                for call_id in batch:
                    writer.on_record(VisitOpened(T0, call(call_id), 1))
                async with asyncio.timeout(BOUND):
                    await writer.flush()
        assert store.attempts == attempts + 2  # one try per batch: not retried
        assert (output.fenced_rows, output.pending()) == (3, 0)
        fenced_logs = [r for r in caplog.records if "no longer stored" in r.getMessage()]
        assert len(fenced_logs) == 1
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        await writer.close()
    assert not dead_letters.exists() or dead_letters.read_text() == ""
    assert await call_ids(new) == ["kept"]


class CountingAgentStates:
    def __init__(self, database: Database) -> None:
        self._database = database
        self.attempts = 0

    async def save(self, rows: Sequence[StoredAgentState]) -> None:
        self.attempts += 1
        await self._database.agent_states.save(rows)

    async def load(self) -> list[StoredAgentState]:
        return await self._database.agent_states.load()


async def test_the_agent_state_writer_drops_a_fenced_batch(
    open_node: OpenNode, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = await open_node(), await open_node()
    await fence(old).claim(1)
    store = CountingAgentStates(old)
    router = Router()
    for agent_id in ("a1", "a2", "a3"):
        router.handle(ev.AgentUpserted(T0, agent_id))
    engine = Engine(router, lambda: T0)
    dead_letters = tmp_path / "dead_letters.jsonl"
    writer = AgentStateWriter(router, store, delay=0.0, dead_letters=DeadLetters(dead_letters))
    engine.add_listener(writer)
    engine.start()
    try:
        await engine.submit(lambda now: ev.AgentLoggedIn(now, "a1"))
        async with asyncio.timeout(BOUND):
            await writer.flush()
        await fence(new).claim(2)
        attempts = store.attempts
        with caplog.at_level(logging.WARNING):
            for agent_id in ("a2", "a3"):
                await engine.submit(partial(ev.AgentLoggedIn, agent_id=agent_id))
                async with asyncio.timeout(BOUND):
                    await writer.flush()
        assert store.attempts == attempts + 2  # one try per batch: not retried
        assert (writer.fenced_rows, writer.pending()) == (2, 0)
        fenced_logs = [r for r in caplog.records if "no longer stored" in r.getMessage()]
        assert len(fenced_logs) == 1
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        await engine.stop()
        async with asyncio.timeout(BOUND):
            await writer.close()
    assert not dead_letters.exists() or dead_letters.read_text() == ""
    assert [row.agent_id for row in await new.agent_states.load()] == ["a1"]

"""Durable agent state end to end: a real Router, Engine and SQLite Database; a second
router and engine built on the same database file play the restarted controller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import pytest

from acd.engine import Engine, EventFactory
from acd.recovery import agent_states
from acd.recovery.agent_states import BATCH_DELAY, AgentStateWriter, restore_agent_states
from acd.router import events as ev
from acd.router.decisions import Decision, OfferCall
from acd.router.model import AgentState, AgentView, QueueConfig, RonaAction, frozen_skills
from acd.router.router import Router
from acd.storage import Database, StoredAgentState

T0 = 1_700_000_000.0
A = AgentState

QUEUES = (
    QueueConfig("support", frozen_skills({"support": 1}), wrap_up=5.0, max_wait=None),
    QueueConfig("vip", frozen_skills({"vip": 1}), wrap_up=60.0, max_wait=None),
    QueueConfig("sales", frozen_skills({"sales": 1}), max_wait=None, rona_action=RonaAction.PAUSE),
)
AGENTS = {
    # Idle order a9, a5, a1: the reverse of their id order, which breaks ties.
    "a9": {"support": 1},
    "a5": {"support": 1},
    "a1": {"support": 1},
    "p1": {"support": 1},  # paused for lunch
    "w1": {"vip": 1},  # in wrap-up
    "b1": {"vip": 1},  # busy, asked for a pause during the call
    "r1": {"sales": 1},  # paused by ring-no-answer
    "o1": {"support": 1},  # logged in, then out
    "n1": {"support": 1},  # never logged in
}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Controller:
    """What `acd/compose.py` builds, reduced to what durable agent state needs."""

    database: Database
    router: Router
    engine: Engine
    writer: AgentStateWriter
    clock: Clock

    async def send(self, at: float, make: EventFactory) -> list[Decision]:
        self.clock.now = T0 + at
        return await self.engine.submit(make)

    async def stop(self) -> None:
        await self.engine.stop()
        await self.writer.close()
        await self.database.close()


async def start(path: Path, at: float, *, restore: bool = False) -> Controller:
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    clock = Clock(T0 + at)
    router = Router()
    for queue in QUEUES:  # as compose's _restore does from the configuration store
        router.handle(ev.QueueUpserted(clock(), queue))
    for agent_id, skills in AGENTS.items():
        router.handle(ev.AgentUpserted(clock(), agent_id, frozen_skills(skills)))
    if restore:
        await restore_agent_states(router, database.agent_states, clock())
    engine = Engine(router, clock)
    writer = AgentStateWriter(router, database.agent_states)
    engine.add_listener(writer)
    engine.start()
    return Controller(database, router, engine, writer, clock)


@pytest.fixture
async def first(tmp_path: Path) -> AsyncIterator[Controller]:
    """The first run: every kind of durable state, then flushed and stopped (no flush on
    the way out would be needed for what was written within the batch delay)."""
    c = await start(tmp_path / "acd.sqlite3", 0)
    try:
        for at, agent_id in ((10, "a9"), (11, "a5"), (12, "a1"), (13, "p1"), (15, "w1")):
            await c.send(at, partial(ev.AgentLoggedIn, agent_id=agent_id))
        await c.send(14, lambda now: ev.AgentPaused(now, "p1", "lunch"))
        # w1 answers a vip call and wraps up until 18 + 60.
        await c.send(16, lambda now: ev.CallArrived(now, "c1", "vip"))
        await c.send(16, lambda now: ev.OfferAnswered(now, "c1", "w1"))
        await c.send(17, lambda now: ev.AgentLoggedIn(now, "b1"))
        await c.send(18, lambda now: ev.CallEnded(now, "c1"))
        # b1 takes the next vip call and asks for a pause while on it.
        await c.send(19, lambda now: ev.CallArrived(now, "c2", "vip"))
        await c.send(19, lambda now: ev.OfferAnswered(now, "c2", "b1"))
        await c.send(20, lambda now: ev.AgentPaused(now, "b1", "meeting"))
        # r1 does not answer a sales call: paused "rona".
        await c.send(21, lambda now: ev.AgentLoggedIn(now, "r1"))
        await c.send(22, lambda now: ev.CallArrived(now, "c3", "sales"))
        await c.send(23, lambda now: ev.OfferFailed(now, "c3", "r1"))
        await c.send(24, lambda now: ev.AgentLoggedIn(now, "o1"))
        await c.send(25, lambda now: ev.AgentLoggedOut(now, "o1"))
        await c.writer.flush()
        yield c
    finally:
        await c.stop()


def view(c: Controller, agent_id: str) -> AgentView:
    found = c.router.agent(agent_id)
    assert found is not None
    return found


def durable(v: AgentView) -> tuple[object, ...]:
    return (v.state, v.pause_reason, v.idle_since, v.pending, v.pending_reason, v.wrap_until)


async def test_what_the_first_run_stored(first: Controller) -> None:
    rows = {row.agent_id: row for row in await first.database.agent_states.load()}
    assert set(rows) == set(AGENTS) - {"n1"}  # an agent that never changed has no row
    b1 = rows["b1"]
    # The pause asked during the call made no state change, yet it is stored.
    assert (b1.state, b1.pending, b1.pending_reason) == ("busy", "pause", "meeting")
    w1 = rows["w1"]
    assert (w1.state, w1.idle_since, w1.wrap_until) == ("wrap_up", T0 + 15, T0 + 78)
    assert (rows["p1"].state, rows["p1"].pause_reason) == ("paused", "lunch")
    assert (rows["r1"].state, rows["r1"].pause_reason) == ("paused", "rona")
    assert (rows["o1"].state, rows["o1"].idle_since) == ("logged_out", None)
    assert [rows[a].idle_since for a in ("a9", "a5", "a1")] == [T0 + 10, T0 + 11, T0 + 12]
    assert rows["o1"].updated_at == T0 + 25
    # The moment each entered its state: b1 busy since its answer, not since its pause request.
    assert {a: rows[a].state_since for a in ("a9", "p1", "w1", "b1", "r1", "o1")} == {
        "a9": T0 + 10,
        "p1": T0 + 15,  # paused at 14 after a step at 15: the router's latest now
        "w1": T0 + 18,
        "b1": T0 + 19,
        "r1": T0 + 23,
        "o1": T0 + 25,
    }


async def test_a_restarted_controller_restores_every_agent(
    first: Controller, tmp_path: Path
) -> None:
    before = {agent_id: view(first, agent_id) for agent_id in AGENTS}
    await first.stop()  # the first run is gone; what it stored is all the second one has

    second = await start(tmp_path / "acd.sqlite3", 50, restore=True)
    try:
        for agent_id in ("a9", "a5", "a1", "p1", "w1", "r1", "o1", "n1"):
            assert durable(view(second, agent_id)) == durable(before[agent_id]), agent_id
        # Time in state survives the restart: each in its state since the stored moment.
        for agent_id in ("a9", "a5", "a1", "p1", "w1", "r1"):
            since = view(second, agent_id).state_since
            assert since == before[agent_id].state_since, agent_id
        assert view(second, "p1").state_since == T0 + 15
        # b1's call went with the first run: its pending pause applied at the restart.
        b1 = view(second, "b1")
        assert (b1.state, b1.pause_reason, b1.idle_since, b1.pending) == (
            A.PAUSED,
            "meeting",
            T0 + 17,
            None,
        )
        assert view(second, "b1").state_since == T0 + 50  # settled at the restart
        # Longest idle first, as before the restart (a router that lost idle_since would
        # pick a1 first: the ids break the tie).
        offered = []
        for n in range(3):
            decisions = await second.send(
                51 + n, partial(ev.CallArrived, call_id=f"s{n}", queue="support")
            )
            offered += [d.agent_id for d in decisions if isinstance(d, OfferCall)]
        assert offered == ["a9", "a5", "a1"]
        # w1's wrap-up still ends at 78, and then it is idle since then.
        assert second.router.next_deadline() == T0 + 78
        await second.send(79, ev.Tick)
        w1 = view(second, "w1")
        assert (w1.state, w1.idle_since) == (A.AVAILABLE, T0 + 78)
        # What the restore changed is stored again (b1 is paused now, not busy).
        await second.writer.flush()
        rows = {row.agent_id: row for row in await second.database.agent_states.load()}
        assert (rows["b1"].state, rows["b1"].pending) == ("paused", None)
        assert (rows["w1"].state, rows["a9"].state) == ("available", "reserved")
    finally:
        await second.stop()


async def test_a_wrap_up_that_ended_while_the_controller_was_down(
    first: Controller, tmp_path: Path
) -> None:
    await first.stop()
    second = await start(tmp_path / "acd.sqlite3", 500, restore=True)
    try:
        assert view(second, "w1").state is A.WRAP_UP
        await second.send(500, ev.Tick)  # the engine's first Tick
        w1 = view(second, "w1")
        assert (w1.state, w1.idle_since) == (A.AVAILABLE, T0 + 78)
    finally:
        await second.stop()


async def test_a_pending_request_of_a_stored_wrap_up_applies_when_it_ends(
    tmp_path: Path,
) -> None:
    path = tmp_path / "acd.sqlite3"
    c = await start(path, 0)
    await c.send(1, lambda now: ev.AgentLoggedIn(now, "w1"))
    await c.send(2, lambda now: ev.CallArrived(now, "c1", "vip"))
    await c.send(2, lambda now: ev.OfferAnswered(now, "c1", "w1"))
    await c.send(3, lambda now: ev.CallEnded(now, "c1"))
    await c.send(4, lambda now: ev.AgentLoggedOut(now, "w1"))  # deferred: in wrap-up
    await c.writer.flush()
    await c.stop()

    second = await start(path, 10, restore=True)
    try:
        w1 = view(second, "w1")
        assert (w1.state, w1.pending, w1.wrap_until) == (A.WRAP_UP, "logout", T0 + 63)
        await second.send(63, ev.Tick)
        assert view(second, "w1").state is A.LOGGED_OUT
    finally:
        await second.stop()


async def test_a_change_is_stored_within_the_batch_delay_without_a_flush(
    tmp_path: Path,
) -> None:
    c = await start(tmp_path / "acd.sqlite3", 0)
    try:
        await c.send(1, lambda now: ev.AgentLoggedIn(now, "a1"))
        changed = time.monotonic()
        rows: list[StoredAgentState] = []
        while not rows and time.monotonic() - changed < 5:
            await asyncio.sleep(0.01)
            rows = await c.database.agent_states.load()
        elapsed = time.monotonic() - changed
        assert [(r.agent_id, r.state) for r in rows] == [("a1", "available")]
        # The batch delay, plus the write itself (and slack for a loaded machine).
        assert elapsed <= BATCH_DELAY + 0.5, elapsed
    finally:
        await c.stop()


@dataclass
class FlakyStore:
    """A store that fails its first `failures` writes (the database is down)."""

    failures: int = 0
    batches: list[list[StoredAgentState]] = field(default_factory=list)
    rows: dict[str, StoredAgentState] = field(default_factory=dict)

    async def save(self, rows: Sequence[StoredAgentState]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is down")
        self.batches.append(list(rows))
        self.rows.update((row.agent_id, row) for row in rows)

    async def load(self) -> list[StoredAgentState]:
        return [self.rows[k] for k in sorted(self.rows)]


def engine_with(store: FlakyStore, delay: float = BATCH_DELAY) -> tuple[Engine, AgentStateWriter]:
    router = Router()
    router.handle(ev.QueueUpserted(T0, QUEUES[0]))
    for agent_id in ("a1", "a2"):
        router.handle(ev.AgentUpserted(T0, agent_id, frozen_skills({"support": 1})))
    engine = Engine(router, lambda: T0)
    writer = AgentStateWriter(router, store, delay=delay)
    engine.add_listener(writer)
    engine.start()
    return engine, writer


async def test_changes_of_one_agent_coalesce_into_one_row_per_batch() -> None:
    store = FlakyStore()
    engine, writer = engine_with(store, delay=30.0)  # only flush() writes
    try:
        await engine.submit(lambda now: ev.AgentLoggedIn(now, "a1"))
        await engine.submit(lambda now: ev.AgentPaused(now, "a1", "lunch"))
        await engine.submit(lambda now: ev.AgentLoggedIn(now, "a2"))
        await engine.submit(lambda now: ev.AgentPaused(now, "a1", "coffee"))
        await engine.submit(lambda now: ev.AgentPaused(now, "ghost", "x"))  # rejected
        await engine.submit(lambda now: ev.AgentReachabilityChanged(now, "a2", False))
        assert store.batches == []
        await writer.flush()
        [batch] = store.batches
        assert sorted((r.agent_id, r.state, r.pause_reason) for r in batch) == [
            ("a1", "paused", "coffee"),
            ("a2", "available", None),
        ]
        # Nothing changed since: nothing is written again.
        await engine.submit(lambda now: ev.AgentPaused(now, "a1", "coffee"))
        await writer.flush()
        assert [len(b) for b in store.batches] == [2]
    finally:
        await engine.stop()
        await writer.close()


async def test_a_failing_store_is_retried_and_newer_rows_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agent_states, "RETRY_FIRST", 0.01)
    store = FlakyStore(failures=2)
    engine, writer = engine_with(store, delay=0.0)
    try:
        await engine.submit(lambda now: ev.AgentLoggedIn(now, "a1"))
        await asyncio.sleep(0)  # the writer's first attempt fails
        # on_step keeps going while the store is down.
        await engine.submit(lambda now: ev.AgentPaused(now, "a1", "lunch"))
        await engine.submit(lambda now: ev.AgentRemoved(now, "a2"))
        await asyncio.wait_for(writer.flush(), 5)
        assert store.failures == 0
        assert {(r.agent_id, r.state, r.pause_reason) for r in await store.load()} == {
            ("a1", "paused", "lunch"),
            ("a2", "logged_out", None),  # removed: stored as logged out
        }
        assert writer.pending() == 0
    finally:
        await engine.stop()
        await writer.close()


async def test_close_gives_up_on_a_store_that_stays_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agent_states, "RETRY_FIRST", 0.01)
    store = FlakyStore(failures=10**6)
    router = Router()
    router.handle(ev.AgentUpserted(T0, "a1"))
    writer = AgentStateWriter(router, store, delay=0.0, close_timeout=0.2)
    engine = Engine(router, lambda: T0)
    engine.add_listener(writer)
    engine.start()
    await engine.submit(lambda now: ev.AgentLoggedIn(now, "a1"))
    await engine.stop()
    started = time.monotonic()
    await writer.close()
    assert time.monotonic() - started < 2
    assert writer.pending() == 1


async def test_restore_goes_longest_idle_first_and_skips_what_it_cannot_restore() -> None:
    """A call already waiting when agents are restored goes to the longest idle of them."""
    store = FlakyStore()
    stored = StoredAgentState(
        "a1", "available", None, T0 + 12, None, None, None, None, T0, state_since=T0 + 12
    )
    await store.save(
        [
            stored,
            replace(stored, agent_id="a2", idle_since=T0 + 10),
            replace(stored, agent_id="ghost"),  # no longer configured
            replace(stored, agent_id="a3", state="dancing"),  # unreadable
            replace(stored, agent_id="a4", state="logged_out", idle_since=None),
            replace(stored, agent_id="a5", state="busy", pending="logout"),
            replace(stored, agent_id="a6", state="paused"),  # no reason: refused
        ]
    )
    router = Router()
    router.handle(ev.QueueUpserted(T0, QUEUES[0]))
    for agent_id in ("a1", "a2", "a3", "a4", "a5", "a6"):
        router.handle(ev.AgentUpserted(T0, agent_id, frozen_skills({"support": 1})))
    router.handle(ev.CallArrived(T0 + 20, "c1", "support"))

    assert await restore_agent_states(router, store, T0 + 30) == 2
    a2 = router.agent("a2")
    assert a2 is not None
    assert (a2.state, a2.call_id) == (A.RESERVED, "c1")
    states = {v.id: v.state for v in router.agents()}
    assert states == {
        "a1": A.AVAILABLE,
        "a2": A.RESERVED,
        "a3": A.LOGGED_OUT,
        "a4": A.LOGGED_OUT,
        "a5": A.LOGGED_OUT,
        "a6": A.LOGGED_OUT,
    }
    # The rows the restore changed are written back; the others are left as they were.
    rows = {row.agent_id: row for row in await store.load()}
    assert (rows["a2"].state, rows["a5"].state, rows["a5"].pending) == (
        "reserved",
        "logged_out",
        None,
    )
    assert rows["a1"] == stored
    assert (rows["ghost"].state, rows["a3"].state) == ("available", "dancing")


async def test_a_row_stored_without_state_since_counts_from_the_restore() -> None:
    """A row from before state_since was stored; the restore writes its moment back."""
    store = FlakyStore()
    await store.save([StoredAgentState("a1", "paused", "lunch", T0, None, None, None, None, T0)])
    router = Router()
    router.handle(ev.QueueUpserted(T0, QUEUES[0]))
    router.handle(ev.AgentUpserted(T0, "a1", frozen_skills({"support": 1})))
    assert await restore_agent_states(router, store, T0 + 30) == 1
    a1 = router.agent("a1")
    assert a1 is not None
    assert (a1.state, a1.state_since) == (A.PAUSED, T0 + 30)
    [row] = await store.load()
    assert (row.state, row.state_since) == ("paused", T0 + 30)

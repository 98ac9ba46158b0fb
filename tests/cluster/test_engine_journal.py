"""The engine's append-before-apply path (a cluster leader): the journal is an I/O edge, so
a recording journal stands in for Redis here; tests/cluster/test_node_journal.py runs the
real JournalWriter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from acd.engine import Engine, EngineHalted
from acd.router.decisions import EventRejected
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallArrived,
    Event,
    QueueUpserted,
    Tick,
)
from acd.router.model import AgentState, QueueConfig
from acd.router.router import Router


class RecordingJournal:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.batches: list[list[Event]] = []
        self.known_at_append: list[bool] = []
        self.stepped_after: list[int] = []
        self.fail_with: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def append(self, events: Sequence[Event]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(list(events))
        self.known_at_append.append(self.router.agent("1001") is not None)

    def stepped(self, router: Router) -> None:
        self.stepped_after.append(len(self.batches))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_inputs_are_journalled_before_the_router_sees_them() -> None:
    router = Router()
    journal = RecordingJournal(router)
    engine = Engine(router, Clock(), journal)
    engine.start()
    try:
        await engine.submit(lambda now: AgentUpserted(now, "1001", {"support": 1}))
        assert journal.batches == [[AgentUpserted(100.0, "1001", {"support": 1})]]
        assert journal.known_at_append == [False]  # appended, then applied
        assert router.agent("1001") is not None
        assert journal.stepped_after == [1]
    finally:
        await engine.stop()


async def test_what_queued_meanwhile_is_one_batch_with_one_clock_reading() -> None:
    router = Router()
    journal = RecordingJournal(router)
    clock = Clock()
    journal.gate = asyncio.Event()
    engine = Engine(router, clock, journal)
    engine.start()
    try:
        first = engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
        await asyncio.sleep(0)  # the consumer holds the first batch at the journal
        clock.now = 101.0
        later = [engine.submit(lambda now: AgentUpserted(now, "1001"))]
        later.append(engine.submit(lambda now: AgentLoggedIn(now, "1001")))
        journal.gate.set()
        await asyncio.gather(first, *later)
        assert [len(batch) for batch in journal.batches] == [1, 2]
        assert {event.now for event in journal.batches[1]} == {101.0}
        view = router.agent("1001")
        assert view is not None
        assert view.state is AgentState.AVAILABLE
    finally:
        await engine.stop()


async def test_a_due_deadline_is_journalled_as_a_tick() -> None:
    router = Router()
    journal = RecordingJournal(router)
    clock = Clock()
    engine = Engine(router, clock, journal)
    engine.start()
    try:
        await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support", max_wait=1.0)))
        await engine.submit(lambda now: CallArrived(now, "c1", "support"))
        assert router.next_deadline() == 101.0
        clock.now = 101.0
        await engine.submit(Tick)  # wakes the consumer, whose deadline is due now
        assert router.call("c1") is None  # the max wait ran
        assert journal.batches[-1] == [Tick(101.0), Tick(101.0)]
    finally:
        await engine.stop()


async def test_a_refused_batch_halts_the_engine_and_nothing_of_it_is_applied() -> None:
    router = Router()
    journal = RecordingJournal(router)
    engine = Engine(router, Clock(), journal)
    engine.start()
    try:
        await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
        journal.fail_with = RuntimeError("fenced: the lease is another node's")
        refused = engine.submit(lambda now: AgentUpserted(now, "1001"))
        with pytest.raises(EngineHalted, match="fenced"):
            await refused
        assert router.agent("1001") is None
        reason = await asyncio.wait_for(engine.wait_halted(), 1.0)
        assert "fenced" in str(reason)
        with pytest.raises(EngineHalted):
            await engine.submit(lambda now: AgentUpserted(now, "1002"))
        engine.post(lambda now: AgentUpserted(now, "1003"))
        await asyncio.sleep(0.01)
        assert router.agent("1003") is None
        assert len(journal.batches) == 1
    finally:
        await engine.stop()


async def test_a_bad_factory_fails_alone_and_the_rest_of_its_batch_goes_on() -> None:
    router = Router()
    journal = RecordingJournal(router)
    journal.gate = asyncio.Event()
    engine = Engine(router, Clock(), journal)
    engine.start()
    try:
        held = engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
        await asyncio.sleep(0)

        def broken(now: float) -> Event:
            raise ValueError("no such thing")

        bad = engine.submit(broken)
        good = engine.submit(lambda now: AgentUpserted(now, "1001"))
        journal.gate.set()
        await held
        with pytest.raises(ValueError):
            await bad
        decisions = await good
        assert not any(isinstance(d, EventRejected) for d in decisions)
        assert journal.batches[1] == [AgentUpserted(100.0, "1001")]
    finally:
        await engine.stop()

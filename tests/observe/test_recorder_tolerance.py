"""Any step stream — unknown ids, outcomes out of order, rejected events — leaves the recorder
standing, its writer draining, and its counts equal to what its own rows say."""

from __future__ import annotations

import logging
import random

import pytest
from recording_rig import Rig

from acd.router.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentUnpaused,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    CallEnded,
    Event,
    OfferAnswered,
    OfferFailed,
    QueueRemoved,
    QueueUpserted,
)
from acd.router.model import QueueConfig

QUEUES = (
    QueueConfig("a", skills={"x": 1}, max_wait=40, overflow="b", wrap_up=3),
    QueueConfig("b", skills={"y": 1}, max_wait=30, wrap_up=0),
)


def random_event(rng: random.Random, now: float) -> Event:
    call = f"c{rng.randrange(30)}"
    agent = f"{rng.randrange(4)}"
    choices: list[Event] = [
        CallArrived(now, call, rng.choice(["a", "b", "zz"])),
        CallAbandoned(now, call),
        OfferAnswered(now, call, agent),
        OfferFailed(now, call, agent),
        CallEnded(now, call),
        AgentLoggedIn(now, agent),
        AgentLoggedOut(now, agent),
        AgentPaused(now, agent, rng.choice(["", "lunch"])),
        AgentUnpaused(now, agent),
        QueueUpserted(now, rng.choice(QUEUES)),
        QueueRemoved(now, rng.choice(["a", "b"])),
    ]
    return rng.choice(choices)


async def test_random_steps_never_break_the_recorder(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20240601)
    for queue in QUEUES:
        await rig.at(0, lambda now, q=queue: QueueUpserted(now, q))
    for i in range(4):
        skills = {"x": 1, "y": 1} if i % 2 else {"x": 1}
        await rig.at(0, lambda now, a=str(i), s=skills: AgentUpserted(now, a, s))
    offset = 0.0
    for _ in range(400):
        offset += rng.choice([0.0, 0.5, 2.0, 7.0])
        rig.clock.now = rig.start + offset
        event = random_event(rng, rig.clock.now)
        await rig.engine.submit(lambda now, e=event: e)
        if rng.random() < 0.1:
            rig.recorder.caller_data(f"c{rng.randrange(30)}", "x")
            rig.recorder.callback_requested(f"c{rng.randrange(30)}")
    await rig.writer.flush()
    # The engine logs (and survives) a listener that raises: there must be no such log.
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []

    store = rig.database.records
    rows = await store.all_calls()
    assert rows, "the script produced no calls at all"
    for queue in ("a", "b"):
        mine = [r for r in rows if r.queue == queue and r.exit_reason != "unknown_queue"]
        got = rig.metrics.count
        assert got("acd_calls_offered", queue) == len(mine)
        assert got("acd_calls_answered", queue) == sum(r.answered is not None for r in mine)
        assert got("acd_calls_abandoned", queue) == sum(r.outcome == "abandoned" for r in mine)
        assert got("acd_calls_overflowed", queue) == sum(r.outcome == "overflowed" for r in mine)
    live = {c.id for c in rig.router.calls()}
    unfinished = {r.call_id for r in rows if r.outcome is None}
    assert unfinished <= live  # every call the router let go of has an outcome
    lines = rig.queue_log()
    assert all(len(line.split("|")) >= 5 for line in lines)
    assert sum("|ENTERQUEUE|" in line for line in lines) == sum(
        rig.metrics.count("acd_calls_offered", q) for q in ("a", "b")
    )

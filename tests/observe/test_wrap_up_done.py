"""An agent ending its wrap-up early (`AgentWrapUpDone`): the record's wrap-up and the handle
time are what the agent really took, the agent's interval and the queue_log follow — the real
Router, Engine, SQLite store and queue_log (`acd.compose.observe`'s wiring)."""

from __future__ import annotations

from pathlib import Path

from recording_rig import FakeClock, build_rig, close_rig

from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    AgentWrapUpDone,
    CallArrived,
    CallEnded,
    OfferAnswered,
    QueueUpserted,
)
from acd.router.model import AgentState, QueueConfig


async def test_a_wrap_up_ended_early_is_recorded_as_taken(tmp_path: Path) -> None:
    rig = await build_rig(tmp_path, FakeClock())
    try:
        await rig.at(0, lambda now: QueueUpserted(now, QueueConfig("support", wrap_up=60.0)))
        await rig.at(0, lambda now: AgentUpserted(now, "1001", {}))
        await rig.at(0, lambda now: AgentLoggedIn(now, "1001"))
        await rig.at(0, lambda now: CallArrived(now, "c1", "support"))
        await rig.at(2, lambda now: OfferAnswered(now, "c1", "1001"))
        await rig.at(32, lambda now: CallEnded(now, "c1"))  # 30 s talk, wrap-up until 92
        await rig.at(40, lambda now: AgentWrapUpDone(now, "1001"))  # done after 8 s
        agent = rig.router.agent("1001")
        assert agent is not None
        assert (agent.state, agent.idle_since) == (AgentState.AVAILABLE, rig.start + 40)
        await rig.writer.flush()
        [record] = await rig.database.records.call_legs("c1")
        assert (record.talk, record.wrap_up) == (30.0, 8.0)
        assert rig.metrics._handle.sums[("support",)] == 38.0
        intervals = await rig.database.records.intervals_overlapping(rig.start, rig.start + 99)
        wrap = [i for i in intervals if i.state == AgentState.WRAP_UP.value]
        assert [(i.start, i.end) for i in wrap] == [(rig.start + 32, rig.start + 40)]
        await rig.tick(100)  # the wrap-up's own deadline has died: nothing more happens
        assert rig.router.agent("1001") == agent
    finally:
        await close_rig(rig)

"""Records across a restart (acd.recovery): what the stopped run left open is re-opened when its
call is adopted (same record, told only what the store lacks) or ended once when nobody
adopts it; the queue_log and the counters count every call once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from recording_rig import FakeClock, Rig, build_rig, close_rig
from test_happenings import Heard

from acd.observe.happenings import AgentIntervalChanged, VisitAdopted
from acd.router.decisions import EventRejected
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    OfferAnswered,
    QueueUpserted,
)
from acd.router.model import CallState, QueueConfig

SUPPORT = QueueConfig("support", sl_threshold=20, wrap_up=0, short_abandon=5, max_wait=None)
DOWN = 30.0  # seconds between the two runs


def sample(rig: Rig, name: str, **labels: str) -> float | None:
    return rig.metrics.registry.get_sample_value(name, labels)


async def _configure(rig: Rig, offset: float) -> None:
    await rig.at(offset, lambda now: QueueUpserted(now, SUPPORT))
    for agent in ("1001", "1002"):
        await rig.at(offset, lambda now, a=agent: AgentUpserted(now, a))
        await rig.at(offset, lambda now, a=agent: AgentLoggedIn(now, a))


async def _first_run(tmp_path: Path, clock: FakeClock) -> float:
    """c1 talks to 1001, c2 rings 1002, c3 and c4 wait; then the process stops."""
    rig = await build_rig(tmp_path, clock)
    try:
        await _configure(rig, 0)
        await rig.at(1, lambda now: CallArrived(now, "c1", "support"))
        await rig.at(2, lambda now: OfferAnswered(now, "c1", "1001"))
        await rig.at(3, lambda now: CallArrived(now, "c2", "support"))  # offered to 1002
        await rig.at(4, lambda now: CallArrived(now, "c3", "support"))
        await rig.at(5, lambda now: CallArrived(now, "c4", "support"))
        await rig.tick(10)
        return rig.start
    finally:
        await close_rig(rig)


async def test_adopted_calls_keep_their_record_and_the_others_end_once(tmp_path: Path) -> None:
    clock = FakeClock()
    start = await _first_run(tmp_path, clock)
    clock.now = start + 10 + DOWN
    rig = await build_rig(tmp_path, clock)
    heard = Heard()
    rig.recorder.subscribe(heard)
    try:
        rig.start = start
        t = 10 + DOWN
        assert sorted(r.call_id for r in rig.recorder.pending_records()) == [
            "c1",
            "c2",
            "c3",
            "c4",
        ]
        assert sample(rig, "acd_calls_offered_total", queue="support") == 4
        assert sample(rig, "acd_calls_answered_total", queue="support") == 1
        await _configure(rig, t)
        # What the resync found: c1 still talking, c2 answered while nobody watched, c3
        # waiting, and c5, whose record died with the last batch, waiting too. c4 is gone.
        connected, waiting = CallState.CONNECTED, CallState.WAITING
        adopted = [
            CallAdopted(0, "c1", "support", connected, start + 1, start + 1, agent_id="1001"),
            CallAdopted(0, "c2", "support", connected, start + 3, start + 3, agent_id="1002"),
            CallAdopted(0, "c3", "support", waiting, start + 4, start + 4),
            CallAdopted(0, "c5", "support", waiting, start + 6, start + 6),
        ]
        for event in adopted:
            decisions = await rig.at(t, lambda now, e=event: replace(e, now=now))
            assert not [d for d in decisions if isinstance(d, EventRejected)], decisions
        assert rig.recorder.close_unadopted(clock.now) == 1
        assert rig.recorder.close_unadopted(clock.now) == 0
        await rig.at(t + 8, lambda now: CallEnded(now, "c1"))
        await rig.writer.flush()

        kinds = {
            call: [type(h).__name__ for h in heard.happenings
                   if not isinstance(h, AgentIntervalChanged) and h.record.call_id == call]
            for call in ("c1", "c2", "c3", "c4", "c5")
        }  # fmt: skip
        assert kinds["c1"] == ["VisitAdopted", "VisitEnded", "WrapUpEnded"]
        assert kinds["c2"] == ["VisitAdopted", "VisitAnswered"]  # its answer, told now
        assert kinds["c3"] == ["VisitAdopted", "VisitOffered"]  # 1001 free again at t + 8
        assert kinds["c4"] == ["VisitEnded"]
        assert kinds["c5"][0] == "VisitOpened"  # nothing stored: a new record
        adopted_states = [h.state for h in heard.happenings if isinstance(h, VisitAdopted)]
        assert adopted_states == [CallState.CONNECTED, CallState.CONNECTED, CallState.WAITING]

        records = rig.database.records
        stored = {c: await records.get_call(c) for c in ("c1", "c2", "c4", "c5")}
        assert None not in stored.values()
        c1, c2, c4, c5 = (r for r in stored.values() if r is not None)
        assert (c1.outcome, c1.talk, c1.exit_reason) == ("answered", pytest.approx(t + 8 - 2), None)
        assert (c2.answered, c2.wait) == (start + t, pytest.approx(t - 3))
        assert (c4.outcome, c4.exit_reason, c4.ended) == ("abandoned", "lost_unobserved", start + t)
        assert c4.wait == pytest.approx(t - 5)
        assert (c5.arrived, c5.entered) == (start + 6, start + 6)
        rows = await records.all_calls()
        assert Counter(r.call_id for r in rows) == {f"c{n}": 1 for n in range(1, 6)}

        # Every call counted once across both runs.
        assert sample(rig, "acd_calls_offered_total", queue="support") == 5
        assert sample(rig, "acd_calls_answered_total", queue="support") == 2
        assert sample(rig, "acd_calls_abandoned_total", queue="support") == 1
        lines = Counter((line.split("|")[1], line.split("|")[4]) for line in rig.queue_log())
        for call in ("c1", "c2", "c3", "c4", "c5"):
            assert lines[call, "ENTERQUEUE"] == 1, call
        assert lines["c1", "CONNECT"] == lines["c2", "CONNECT"] == 1
        assert lines["c1", "COMPLETECALLER"] == lines["c4", "ABANDON"] == 1
    finally:
        await close_rig(rig)


async def test_a_caller_who_waited_for_a_controller_counts_that_wait(rig: Rig) -> None:
    await rig.at(0, lambda now: QueueUpserted(now, SUPPORT))
    entered = rig.start + 3
    await rig.at(25, lambda now: CallArrived(now, "late", "support", entered_at=entered))
    await rig.at(26, lambda now: CallAbandoned(now, "late"))
    await rig.writer.flush()
    record = await rig.database.records.get_call("late")
    assert record is not None
    assert (record.arrived, record.entered) == (entered, entered)
    assert (record.outcome, record.wait) == ("abandoned", pytest.approx(23))


async def test_a_caller_lost_from_sight_is_never_a_short_abandon(rig: Rig) -> None:
    await rig.at(0, lambda now: QueueUpserted(now, SUPPORT))
    await rig.at(1, lambda now: CallArrived(now, "a", "support"))
    await rig.at(1, lambda now: CallArrived(now, "b", "support"))
    await rig.at(2, lambda now: CallAbandoned(now, "a", "lost_unobserved"))
    await rig.at(2, lambda now: CallAbandoned(now, "b", "asterisk_stopped"))
    await rig.writer.flush()
    for call in ("a", "b"):
        record = await rig.database.records.get_call(call)
        assert record is not None
        assert record.outcome == "abandoned"  # 1 s < short_abandon 5 s, still lost

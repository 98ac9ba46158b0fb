"""A controller restarted with calls in Asterisk adopts them (issue #10 items 2 and 6): SIGKILL
and SIGTERM of `acd serve` on the real Asterisk, a restart on the same store, and then every
call goes on where it was and ends with exactly one final record."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from .harness import (
    Caller,
    ControllerProcess,
    Probe,
    classify,
    dialplan_halves,
    eventually,
    queue,
    sim_agent,
)

pytestmark = pytest.mark.asterisk

TALK = 600.0  # the two talking calls: until the test hangs them up, after the restart
SHORT_TALK = 1.0  # the waiting ones, once answered
MAX_WAIT = 4.0


def _states(channels: list[dict[str, Any]]) -> dict[str, str]:
    return {str(c.get("Uniqueid")): classify(c) for c in dialplan_halves(channels)}


async def _scenario(
    acd: ControllerProcess, probe: Probe
) -> tuple[list[Caller], list[Caller], dict[str, dict[str, Any]]]:
    """Two calls talking (one per agent), three waiting behind them."""
    await acd.start()
    await acd.login_all()
    talking = [await probe.call("support", talk=TALK) for _ in range(2)]
    await probe.wait_channels(
        lambda chans: all(_states(chans).get(c.call_id) == "connected" for c in talking)
    )
    waiting = []
    for _ in range(3):
        waiting.append(await probe.call("support", talk=SHORT_TALK))
        await asyncio.sleep(0.05)  # distinct entry times, a known order
    live = await eventually(
        lambda: _live_if(acd, 5), what="5 live calls before the restart", within=10
    )
    return talking, waiting, {c["id"]: c for c in live}


async def _live_if(acd: ControllerProcess, count: int) -> list[dict[str, Any]] | None:
    calls = await acd.live_calls()
    return calls if len(calls) == count else None


async def _restart_and_check(
    acd: ControllerProcess,
    probe: Probe,
    sig: signal.Signals,
    talking: list[Caller],
    waiting: list[Caller],
    before: dict[str, dict[str, Any]],
) -> float:
    # The last records reach the store (a SIGKILL may lose the last 0.25 s batch: that case
    # is test_a_ringing_call_is_answered_after_a_sigkill's).
    await asyncio.sleep(0.5)
    status = await acd.kill(sig)
    assert status == (0 if sig is signal.SIGTERM else -sig), acd.log_tail()
    # Asterisk keeps every caller while no controller runs.
    states = _states(await probe.channels())
    assert [states.get(c.call_id) for c in talking] == ["connected", "connected"]
    assert [states.get(c.call_id) for c in waiting] == ["waiting"] * 3

    ready = await acd.restart()
    after = {c["id"]: c for c in await acd.live_calls()}
    assert set(after) == set(before), acd.log_tail()
    for caller in talking:
        call = after[caller.call_id]
        assert call["state"] == "connected"
        assert call["agent_id"] == before[caller.call_id]["agent_id"]
    in_order = sorted(waiting, key=lambda c: after[c.call_id]["position"])
    assert in_order == waiting, "the waiting calls keep their order"
    for caller in waiting:
        call, was = after[caller.call_id], before[caller.call_id]
        assert call["state"] == "waiting"
        assert call["position"] == was["position"]
        # Their place: the entry time the channel kept (ACD_ENTERED_AT, taken as the enter
        # AGI registered the call, a moment before the router read it), not the restart's.
        assert call["enqueued_at"] == pytest.approx(was["enqueued_at"], abs=0.5)
        # The record is the stored one: the same arrival, to the microsecond.
        assert call["caller"]["arrived"] == pytest.approx(was["caller"]["arrived"], abs=1e-6)
    agents = await acd.agent_docs()
    assert {a: (agents[a]["state"]) for a in agents} == {"2001": "busy", "2002": "busy"}
    busy_with = {after[c.call_id]["agent_id"] for c in talking}
    assert busy_with == {"2001", "2002"}
    return ready


async def _every_call_ends_once(
    acd: ControllerProcess, callers: list[Caller], talking: list[Caller], talked_for: float
) -> None:
    records = {c.call_id: await acd.finished(c.call_id, within=20) for c in callers}
    for caller in callers:
        record = records[caller.call_id]
        assert record["outcome"] == "answered", record
        assert len(record["legs"]) == 1, record
        assert record["legs"][0]["talk"] > 0, record
        assert record["legs"][0]["exit_reason"] is None, record
    for caller in talking:  # their end was seen by the new controller: real talk time
        leg = records[caller.call_id]["legs"][0]
        assert leg["talk"] >= talked_for - 0.5, leg
    await eventually(lambda: not _open_rows(acd), what="every record closed")
    counts = Counter((fields[1], fields[4]) for fields in acd.queue_log() if fields[1] != "NONE")
    for caller in callers:
        events = acd.queue_log_events(caller.call_id)
        assert counts[caller.call_id, "ENTERQUEUE"] == 1, events
        assert counts[caller.call_id, "CONNECT"] == 1, events
        completes = (
            counts[caller.call_id, "COMPLETECALLER"] + counts[caller.call_id, "COMPLETEAGENT"]
        )
        assert completes == 1, events
    rows = acd.database_rows("SELECT call_id, COUNT(*) FROM acd_call_records GROUP BY call_id")
    assert dict(rows) == {c.call_id: 1 for c in callers}


def _open_rows(acd: ControllerProcess) -> list[tuple[Any, ...]]:
    return acd.database_rows("SELECT call_id FROM acd_call_records WHERE ended IS NULL")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_calls_talking_and_waiting_survive_a_restart(
    controller_process: Callable[..., ControllerProcess], probe: Probe, sig: signal.Signals
) -> None:
    acd = controller_process(
        queues=[queue("support", announce_every=3600, ring_timeout=5)],
        agents=[sim_agent("2001"), sim_agent("2002")],
    )
    talking, waiting, before = await _scenario(acd, probe)
    ready = await _restart_and_check(acd, probe, sig, talking, waiting, before)
    print(f"{sig.name}: ready {ready:.2f} s after spawn with 5 live calls")
    # The talking callers hang up (seen by the new controller), and the waiting ones are
    # answered in their order as the agents free up.
    talked_for = time.time() - max(before[c.call_id]["queue_entered_at"] for c in talking)
    for caller in talking:
        await probe.hangup_caller(caller)
    await _every_call_ends_once(acd, talking + waiting, talking, talked_for)
    connects = [f for f in acd.queue_log() if f[4] == "CONNECT"]
    answered_order = [f[1] for f in connects if f[1] in {c.call_id for c in waiting}]
    # Two agents free up together: the first two waiting are answered first, then the third.
    assert set(answered_order[:2]) == {waiting[0].call_id, waiting[1].call_id}
    assert answered_order[2:] == [waiting[2].call_id]
    assert (await acd.agent_states()) == {"2001": "available", "2002": "available"}


async def test_a_ringing_call_is_answered_after_a_sigkill(
    controller_process: Callable[..., ControllerProcess], probe: Probe
) -> None:
    """Killed right after the offer (its record may not be stored yet): the new controller
    finds the call ringing its agent, sees the answer and the end, and records it once."""
    acd = controller_process(queues=[queue("support", ring_timeout=15)], agents=[sim_agent("2001")])
    await acd.start()
    await acd.login_all()
    caller = await probe.call("support", ring=5, talk=1)
    await probe.wait_channels(lambda chans: _states(chans).get(caller.call_id) == "ringing")
    assert await acd.kill(signal.SIGKILL) == -signal.SIGKILL
    await acd.restart()
    live = await acd.live_calls()
    # Ringing still (or, on a slow machine, answered while no controller ran).
    assert [(c["id"], c["agent_id"]) for c in live] == [(caller.call_id, "2001")]
    expected_agent = {"offered": "reserved", "connected": "busy"}[live[0]["state"]]
    assert await acd.agent_states() == {"2001": expected_agent}
    record = await acd.finished(caller.call_id, within=15)
    assert (record["outcome"], record["agent_id"]) == ("answered", "2001")
    assert len(record["legs"]) == 1
    assert record["legs"][0]["talk"] > 0
    events = acd.queue_log_events(caller.call_id)
    assert [e for e in events if e in ("ENTERQUEUE", "CONNECT")] == ["ENTERQUEUE", "CONNECT"]
    assert events.count("COMPLETECALLER") + events.count("COMPLETEAGENT") == 1, events


async def test_max_wait_and_overflow_count_from_the_entry_across_restarts(
    controller_process: Callable[..., ControllerProcess], probe: Probe
) -> None:
    """The queue's max wait runs from the moment the call entered it, not from the restart,
    and after an overflow the new queue's time runs from the overflow (ACD_QUEUE_ENTERED_AT
    on the channel)."""
    acd = controller_process(
        queues=[
            queue("support", max_wait=MAX_WAIT, overflow="sales", announce_every=3600),
            queue("sales", announce_every=3600),
        ],
        agents=[],
    )
    await acd.start()
    caller = await probe.call("support")
    live = await eventually(lambda: _live_if(acd, 1), what="the call is live")
    entered = live[0]["queue_entered_at"]
    await asyncio.sleep(0.5)
    assert await acd.kill(signal.SIGKILL) == -signal.SIGKILL
    await acd.restart()
    ready_at = time.time()

    async def in_sales() -> dict[str, Any] | None:
        calls = await acd.live_calls()
        return calls[0] if calls and calls[0]["queue"] == "sales" else None

    moved = await eventually(in_sales, what="overflowed to sales", within=8)
    overflowed_at = moved["queue_entered_at"]
    if ready_at < entered + MAX_WAIT - 0.3:
        # Back before the max wait ran out: it ran on from the entry, not from the restart.
        assert overflowed_at - entered == pytest.approx(MAX_WAIT, abs=0.3)
    else:  # a slow restart: the max wait had passed, it overflows as soon as it is adopted
        assert overflowed_at - ready_at < 0.5
    assert moved["enqueued_at"] == pytest.approx(entered, abs=0.05)  # its place is kept
    await asyncio.sleep(0.4)  # the overflow's Setvar and the records' batch
    assert await acd.kill(signal.SIGKILL) == -signal.SIGKILL
    await acd.restart()
    again = await acd.live_calls()
    assert [(c["id"], c["queue"]) for c in again] == [(caller.call_id, "sales")]
    assert again[0]["queue_entered_at"] == pytest.approx(overflowed_at, abs=0.05)
    assert again[0]["enqueued_at"] == pytest.approx(entered, abs=0.05)
    record = await acd.call(caller.call_id)
    assert record["live"] is True
    legs = acd.database_rows(
        "SELECT queue, outcome, leg FROM acd_call_records"
        f" WHERE call_id = '{caller.call_id}' ORDER BY leg"
    )
    assert legs == [("support", "overflowed", 0), ("sales", None, 1)]

"""The controller's AMI link is cut for 10 s mid-traffic, its process untouched (issue #10 item
4): a TCP relay between it and Asterisk's AMI port is severed and restored. Meanwhile a
connected call ends, a ringing one is answered, a waiting caller hangs up and a new caller
enters. After the reconnect: decisions resume, no agent is reserved or busy without a live
call, and every call ends with exactly one final record."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from acd.asterisk.testing import RunningAsterisk

from .harness import (
    AmiProxy,
    ControllerProcess,
    Probe,
    eventually,
    in_state,
    queue,
    sim_agent,
)

pytestmark = pytest.mark.asterisk

CUT = 10.0


@pytest.fixture
async def proxy(asterisk: RunningAsterisk) -> AsyncIterator[AmiProxy]:
    relay = AmiProxy(asterisk)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.close()


async def _consistent_agents(acd: ControllerProcess) -> None:
    """No agent reserved or busy without the live call that holds it."""
    live = {c["id"]: c for c in await acd.live_calls()}
    for agent_id, agent in (await acd.agent_docs()).items():
        if agent["state"] in ("reserved", "busy"):
            holding = [c for c in live.values() if c["agent_id"] == agent_id]
            assert holding, (agent_id, agent, live)
            expected = "offered" if agent["state"] == "reserved" else "connected"
            assert holding[0]["state"] == expected, (agent, holding)


async def test_ami_cut_mid_traffic(
    controller_process: Callable[..., ControllerProcess], probe: Probe, proxy: AmiProxy
) -> None:
    acd = controller_process(
        queues=[queue("support", ring_timeout=8)],
        agents=[sim_agent("2001"), sim_agent("2002")],
        ami_port=proxy.port,
    )
    await acd.start()
    await acd.login_all()
    ends = await probe.call("support", talk=600)  # talking; hung up during the cut
    await probe.wait_channels(in_state(ends.call_id, "connected"))
    answered = await probe.call("support", ring=3, talk=600)  # rings; answered during the cut
    await probe.wait_channels(in_state(answered.call_id, "ringing"))
    stays = await probe.call("support", talk=1)  # waits through the cut
    leaves = await probe.call("support", talk=1)  # hangs up during the cut
    await eventually(lambda: _count_live(acd, 4), what="4 live calls")

    await proxy.cut()
    cut_at = time.monotonic()
    await eventually(lambda: _not_ready(acd), what="not ready while AMI is cut", within=5)
    await probe.hangup_caller(leaves)
    await probe.hangup_caller(ends)
    arrives = await probe.call("support", talk=1)  # enters through FastAGI during the cut
    await eventually(lambda: _is_live(acd, arrives.call_id), what="arrival during the cut")
    await probe.gone(ends.call_id, within=CUT)  # the talking call ended unseen
    await probe.wait_channels(in_state(answered.call_id, "connected"), within=CUT)
    # While the link is down nothing is offered: no ring-no-answer for lack of a Redirect.
    assert all(a["state"] != "paused" for a in (await acd.agent_docs()).values())
    await asyncio.sleep(max(0.0, CUT - (time.monotonic() - cut_at)))
    await proxy.restore()

    await eventually(lambda: _ready(acd), what="ready after the reconnect", within=10)
    await _consistent_agents(acd)
    live = {c["id"]: c for c in await acd.live_calls()}
    assert live[answered.call_id]["state"] == "connected"  # answered while cut: reconciled
    assert ends.call_id not in live
    assert leaves.call_id not in live
    await probe.hangup_caller(answered)  # its end is seen: recorded with its talk
    callers = [ends, answered, stays, leaves, arrives]
    records = {c.call_id: await acd.finished(c.call_id, within=30) for c in callers}
    await _consistent_agents(acd)

    def leg(caller: Any) -> dict[str, Any]:
        legs = records[caller.call_id]["legs"]
        assert len(legs) == 1, legs
        return dict(legs[0])

    assert (leg(ends)["outcome"], leg(ends)["exit_reason"]) == ("answered", "ended_unobserved")
    assert leg(ends)["talk"] > 0
    assert (leg(answered)["outcome"], leg(answered)["exit_reason"]) == ("answered", None)
    # Its answer counts from the resync (nobody saw it earlier), its hang-up was seen.
    assert leg(answered)["talk"] > 0
    assert (leg(leaves)["outcome"], leg(leaves)["exit_reason"]) == (
        "abandoned",
        "lost_unobserved",
    )
    for caller in (stays, arrives):  # decisions resumed: both answered after the reconnect
        assert (leg(caller)["outcome"], leg(caller)["exit_reason"]) == ("answered", None)
        assert leg(caller)["talk"] > 0
    await eventually(lambda: not _open_rows(acd), what="every record closed")
    counts = Counter((f[1], f[4]) for f in acd.queue_log() if f[1] != "NONE")
    finals = ("COMPLETECALLER", "COMPLETEAGENT", "ABANDON")
    for caller in callers:
        events = acd.queue_log_events(caller.call_id)
        assert counts[caller.call_id, "ENTERQUEUE"] == 1, events
        assert sum(counts[caller.call_id, final] for final in finals) == 1, events
    rows = acd.database_rows("SELECT call_id, COUNT(*) FROM acd_call_records GROUP BY call_id")
    assert dict(rows) == {c.call_id: 1 for c in callers}
    states = await acd.agent_states()
    assert states == {"2001": "available", "2002": "available"}
    assert proxy.connections >= 2  # the controller did reconnect through the relay


async def _count_live(acd: ControllerProcess, count: int) -> bool:
    return len(await acd.live_calls()) == count


async def _is_live(acd: ControllerProcess, call_id: str) -> bool:
    return any(c["id"] == call_id for c in await acd.live_calls())


async def _ready(acd: ControllerProcess) -> bool:
    return (await acd.api("GET", "/readyz", token="")).status == 200


async def _not_ready(acd: ControllerProcess) -> bool:
    return not await _ready(acd)


def _open_rows(acd: ControllerProcess) -> list[tuple[Any, ...]]:
    return acd.database_rows("SELECT call_id FROM acd_call_records WHERE ended IS NULL")

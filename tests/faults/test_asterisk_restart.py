"""Asterisk restarts with calls in it (issue #10 item 5): every channel goes with it, and each
of those calls ends once. A clean stop (`core stop now`) hangs every channel up with its
events: a connected call is `answered` with its real talk, a ringing or waiting one
`abandoned`, both with exit_reason `asterisk_stopped`, and no agent is charged a
ring-no-answer. A crash (SIGKILL) tells nothing: the controller finds the calls gone after
the reconnect — connected `answered` with its talk up to then (`ended_unobserved`), ringing
or waiting `abandoned` (`lost_unobserved`). Either way the agents are offered calls again as
their devices come back (simulated agents: at once) and a new call is served at once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from acd.asterisk.testing import RunningAsterisk

from .harness import (
    ControllerProcess,
    Probe,
    eventually,
    in_state,
    queue,
    restart_asterisk,
    sim_agent,
)

pytestmark = pytest.mark.asterisk


async def _ready(acd: ControllerProcess) -> bool:
    return (await acd.api("GET", "/readyz", token="")).status == 200


OUTCOMES = {
    # how Asterisk went: (the connected call's exit_reason, the others')
    "stop": ("asterisk_stopped", "asterisk_stopped"),
    "crash": ("ended_unobserved", "lost_unobserved"),
}


@pytest.mark.parametrize("how", sorted(OUTCOMES))
async def test_asterisk_restart_with_calls_in_it(
    controller_process: Callable[..., ControllerProcess],
    probe: Probe,
    asterisk: RunningAsterisk,
    how: str,
) -> None:
    ended_why, lost_why = OUTCOMES[how]
    acd = controller_process(
        queues=[queue("support", ring_timeout=20)],
        agents=[sim_agent("2001"), sim_agent("2002")],
    )
    await acd.start()
    await acd.login_all()
    talking = await probe.call("support", talk=30)
    await probe.wait_channels(in_state(talking.call_id, "connected"))
    ringing = await probe.call("support", ring=-1)  # the agent never answers
    await probe.wait_channels(in_state(ringing.call_id, "ringing"))
    waiting = await probe.call("support")
    await eventually(lambda: _live_count(acd, 3), what="3 live calls")

    await probe.close(hangup=False)
    away = await restart_asterisk(asterisk, crash=how == "crash")
    await probe.start()
    await eventually(lambda: _ready(acd), what="ready after Asterisk is back", within=15)
    back = time.monotonic()
    assert await acd.live_calls() == []
    assert await acd.agent_states() == {"2001": "available", "2002": "available"}

    fresh = await probe.call("support", talk=1)
    await probe.wait_channels(in_state(fresh.call_id, "connected"), within=5)
    served_in = time.monotonic() - back
    print(f"{how}: Asterisk away {away:.2f} s; a new call connected {served_in:.2f} s after ready")

    callers = [talking, ringing, waiting, fresh]
    records = {c.call_id: await acd.finished(c.call_id, within=15) for c in callers}

    def leg(caller: Any) -> dict[str, Any]:
        legs = records[caller.call_id]["legs"]
        assert len(legs) == 1, legs
        return dict(legs[0])

    assert (leg(talking)["outcome"], leg(talking)["exit_reason"]) == ("answered", ended_why)
    assert leg(talking)["talk"] > 0
    for lost in (ringing, waiting):
        assert (leg(lost)["outcome"], leg(lost)["exit_reason"]) == ("abandoned", lost_why)
    assert leg(ringing)["rona_count"] == 0  # Asterisk's going is not the agent's no-answer
    assert (leg(fresh)["outcome"], leg(fresh)["exit_reason"]) == ("answered", None)
    counts = Counter((f[1], f[4]) for f in acd.queue_log() if f[1] != "NONE")
    finals = ("COMPLETECALLER", "COMPLETEAGENT", "ABANDON")
    for caller in callers:
        events = acd.queue_log_events(caller.call_id)
        assert counts[caller.call_id, "ENTERQUEUE"] == 1, events
        assert sum(counts[caller.call_id, final] for final in finals) == 1, events
    rows = acd.database_rows("SELECT call_id, COUNT(*) FROM acd_call_records GROUP BY call_id")
    assert dict(rows) == {c.call_id: 1 for c in callers}
    await eventually(
        lambda: _agents_available(acd), what="both agents available after the new call"
    )


async def _live_count(acd: ControllerProcess, count: int) -> bool:
    return len(await acd.live_calls()) == count


async def _agents_available(acd: ControllerProcess) -> bool:
    return await acd.agent_states() == {"2001": "available", "2002": "available"}

"""An accepted callback survives a SIGKILL of the controller (issue #10 item 2): the caller has
hung up, so no channel holds the call; its record keeps where to call back, and the next
start adopts it waiting, in its place, and calls back once an agent is free."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from .harness import ControllerProcess, Probe, eventually, queue, sim_agent

pytestmark = pytest.mark.asterisk

# The simulated caller of the contract: answers and stays on the line until hung up.
CALL_BACK_AT = "Local/3001@acd-sim-caller"


async def test_an_accepted_callback_survives_a_sigkill(
    controller_process: Callable[..., ControllerProcess], probe: Probe
) -> None:
    acd = controller_process(
        queues=[queue("support", callback=True, announce_every=3600)],
        agents=[sim_agent("2001")],
    )
    await acd.start()  # nobody logged in: the caller waits
    caller = await probe.call("support", variables={"ACD_CALLBACK_TO": CALL_BACK_AT})
    await eventually(lambda: _live_ids(acd), what="the call is live")
    await probe.action(
        Action="PlayDTMF", Channel=await probe.channel_name(caller.leg), Digit="1", Duration="120"
    )
    await probe.gone(caller.call_id)  # thanked, and hung up: only the store holds it now

    def stored() -> list[tuple[object, ...]]:
        return acd.database_rows(
            "SELECT callback_to, callback_requested, ended FROM acd_call_records"
            f" WHERE call_id = '{caller.call_id}'"
        )

    assert await eventually(stored, what="the callback stored") == [(CALL_BACK_AT, 1, None)]
    assert await acd.kill(signal.SIGKILL) == -signal.SIGKILL
    await acd.restart()
    live = await acd.live_calls()
    assert [(c["id"], c["state"], c["position"]) for c in live] == [(caller.call_id, "waiting", 1)]
    assert live[0]["caller"]["callback_requested"] is True

    await acd.login_all()
    # Called back at the stored number; once it answers, it rings the agent.
    dial = await probe.events.first(
        lambda m: (
            m.get("Event") == "DialBegin"
            and m.get("Uniqueid") == f"{caller.call_id}-cb1"
            and str(m.get("DestChannel", "")).startswith("Local/2001@acd-sim-agent-")
        )
    )
    assert dial is not None
    record = await acd.finished(caller.call_id, within=20)
    assert (record["outcome"], record["agent_id"]) == ("answered", "2001")
    assert len(record["legs"]) == 1
    leg = record["legs"][0]
    assert leg["callback_requested"] is True
    assert leg["talk"] > 0
    events = acd.queue_log_events(caller.call_id)
    assert events.count("ENTERQUEUE") == 1, events
    assert events.count("CONNECT") == 1, events
    assert events.count("COMPLETECALLER") + events.count("COMPLETEAGENT") == 1, events


async def _live_ids(acd: ControllerProcess) -> list[str]:
    return [c["id"] for c in await acd.live_calls()]

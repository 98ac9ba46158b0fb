"""A transferred caller survives a controller restart (issue #14 with #10's re-adoption):
`acd serve` as a process on the real Asterisk, a blind transfer through the API into a queue
nobody serves yet, SIGKILL, a restart on the same store. The restarted controller adopts the
caller in its new queue with the priority and skills the transfer gave it (the channel carries
them), a specialist who logs in afterwards answers it, and the records are the two legs."""

from __future__ import annotations

import asyncio
import signal

import pytest

from .harness import ControllerProcess, Probe, eventually, queue, sim_agent

pytestmark = pytest.mark.asterisk


async def test_a_transferred_caller_is_adopted_in_its_new_queue_after_a_sigkill(
    controller_process: type[ControllerProcess], probe: Probe
) -> None:
    acd = controller_process(
        queues=[
            queue("first", skills={"general": 1}),
            queue("second", skills={"billing": 3}, priority=3),
        ],
        agents=[
            sim_agent("2001", skills={"general": 1}),
            sim_agent("2002", skills={"billing": 5, "german": 2}),
        ],
    )
    await acd.start()
    assert (await acd.api("POST", "/agents/2001/login")).status == 200
    caller = await probe.call("first", talk=600)
    await eventually(
        lambda: _state_is(acd, caller.call_id, "connected"), what="connected", within=10
    )
    reply = await acd.api(
        "POST",
        f"/calls/{caller.call_id}/transfer",
        {"queue": "second", "skills": {"german": 2}, "note": "Kundin spricht Deutsch"},
    )
    assert reply.status == 200, reply
    assert reply.body["state"] == "waiting"  # 2002 is logged out
    await asyncio.sleep(1.0)  # past the records' 0.25 s batches

    await acd.restart(signal.SIGKILL)

    call = await eventually(
        lambda: _state_is(acd, caller.call_id, "waiting"), what="adopted waiting", within=15
    )
    assert call["queue"] == "second"
    assert call["priority"] == 3
    assert call["extra_skills"] == {"german": 2}
    assert call["requirements"] == {"billing": 3, "german": 2}
    assert (await acd.api("POST", "/agents/2002/login")).status == 200
    await eventually(
        lambda: _state_is(acd, caller.call_id, "connected", agent="2002"),
        what="the specialist answers",
        within=10,
    )
    await probe.hangup_caller(caller)
    record = await acd.finished(caller.call_id)
    legs = record["legs"]
    assert [(leg["queue"], leg["outcome"], leg["agent_id"]) for leg in legs] == [
        ("first", "answered", "2001"),
        ("second", "answered", "2002"),
    ]
    assert legs[0]["transferred_to"] == "second"
    assert legs[1]["transfer_note"] == "Kundin spricht Deutsch"
    assert acd.queue_log_events(caller.call_id).count("TRANSFER") == 1


async def _state_is(
    acd: ControllerProcess, call_id: str, state: str, agent: str | None = None
) -> dict[str, object] | None:
    reply = await acd.api("GET", f"/calls/{call_id}")
    if reply.status != 200:
        return None  # not entered yet, or the controller not up yet
    call = dict(reply.body)
    if call.get("state") != state or (agent is not None and call.get("agent_id") != agent):
        return None
    return call

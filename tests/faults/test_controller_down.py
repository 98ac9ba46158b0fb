"""A controller that is down (issue #10 item 3), with `acd serve` as a process on the real
Asterisk: callers keep waiting with music and retrying (acd-wait,down in
extensions_acd.conf), are served with the time they really entered once a controller is back,
and go to their queue's fallback (the stock app_queue of `acd-fallback`) after
`fallback_after` seconds without one. The dialplan alone, with a scripted FastAGI server:
tests/asterisk/test_dialplan_down.py."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from .harness import Caller, ControllerProcess, Probe, eventually, queue, sim_agent

pytestmark = pytest.mark.asterisk

#: How long the first caller waits with no controller at all (the issue's "outage").
OUTAGE = 21.0
#: extensions.conf's ACD_RETRY_EVERY: seconds of music between two tries of the AGI.
RETRY_EVERY = 3.0


def _caller_half(channels: Sequence[Mapping[str, Any]], caller: Caller) -> Mapping[str, Any]:
    found = [c for c in channels if c.get("Uniqueid") == caller.call_id]
    assert found, f"caller {caller.call_id} is gone"
    return found[0]


def holding(caller: Caller) -> Callable[[list[dict[str, Any]]], bool]:
    """The caller is in the wait loop without a controller, hearing music."""

    def check(channels: list[dict[str, Any]]) -> bool:
        channel = _caller_half(channels, caller)
        return (channel.get("Context"), channel.get("Exten"), channel.get("Application")) == (
            "acd-wait",
            "down",
            "MusicOnHold",
        )

    return check


async def variables(probe: Probe, caller: Caller, *names: str) -> dict[str, str]:
    """The caller's channel variables (Status; unset ones read as empty)."""
    name = str(_caller_half(await probe.channels(), caller)["Channel"])
    status = await probe.status(name, names)
    raw = status[0].get("Variable", [])
    pairs = (str(v).partition("=") for v in (raw if isinstance(raw, list) else [raw]))
    return {k: ("" if v == "(null)" else v) for k, _, v in pairs}


def hung_up(probe: Probe, caller: Caller) -> bool:
    return any(
        m.get("Event") == "Hangup" and m.get("Uniqueid") == caller.call_id
        for m in probe.events.seen
    )


def asterisk_log(probe: Probe) -> str:
    return probe.asterisk.instance.messages_log.read_text(errors="replace")


async def live_call(acd: ControllerProcess, call_id: str) -> dict[str, Any] | None:
    return next((c for c in await acd.live_calls() if c["id"] == call_id), None)


def broken_prompts(log: str) -> list[str]:
    """Asterisk's complaints about what the dialplan played or computed from empty values."""
    return [
        line
        for line in log.splitlines()
        if "SayNumber requires an argument" in line or "syntax error" in line
    ]


async def test_a_caller_entering_while_the_controller_is_down_is_served_with_its_wait(
    controller_process: Callable[..., ControllerProcess], probe: Probe
) -> None:
    log_start = len(asterisk_log(probe))
    acd = controller_process(queues=[queue("support")], agents=[sim_agent("2001")])
    caller = await probe.call("support", talk=1)
    called = time.time()
    await probe.wait_channels(holding(caller))
    music = await probe.events.first(
        lambda m: m.get("Event") == "MusicOnHoldStart" and m.get("Uniqueid") == caller.call_id
    )
    assert music["Class"] == "silent"
    own = await variables(probe, caller, "ACD_CALL_ID", "ACD_QUEUE", "ACD_ENTERED_AT")
    assert own["ACD_CALL_ID"] == caller.call_id
    assert own["ACD_QUEUE"] == "support"
    entered = float(own["ACD_ENTERED_AT"])
    assert called - 0.5 < entered < called + 1.5

    # The outage: the caller stays, hearing music, trying the enter AGI every few seconds.
    await asyncio.sleep(max(0.0, called + OUTAGE - time.time()))
    await probe.wait_channels(holding(caller), within=RETRY_EVERY)
    assert not hung_up(probe, caller)

    await acd.start()
    call = await eventually(lambda: live_call(acd, caller.call_id), within=RETRY_EVERY + 5)
    assert call["state"] == "waiting"
    # Registered with the moment it really entered (ms precision on the channel).
    assert call["enqueued_at"] == pytest.approx(entered, abs=0.01)
    assert call["arrived_at"] == pytest.approx(entered, abs=0.01)
    assert call["caller"]["arrived"] == pytest.approx(entered, abs=0.01)
    await acd.login_all()
    record = await acd.finished(caller.call_id, within=20)
    assert record["outcome"] == "answered", record
    assert record["agent_id"] == "2001"
    assert len(record["legs"]) == 1, record
    # Its recorded wait includes the outage.
    assert record["legs"][0]["wait"] >= OUTAGE, record
    assert broken_prompts(asterisk_log(probe)[log_start:]) == []


async def test_without_a_controller_a_caller_goes_to_the_queues_fallback(
    controller_process: Callable[..., ControllerProcess], probe: Probe
) -> None:
    name = "rescue"
    fallback_after = 5
    acd = controller_process(
        queues=[queue(name, fallback="acd-fallback,s,1", fallback_after=fallback_after)]
    )
    try:
        # The controller publishes the queue's fallback as Asterisk globals at its login.
        await acd.start()

        async def published() -> tuple[str, str] | None:
            target = await probe.getvar("", f"GLOBAL(ACD_FALLBACK_{name})")
            after = await probe.getvar("", f"GLOBAL(ACD_FALLBACK_AFTER_{name})")
            return (target, after) if target else None

        values = await eventually(published, within=5, what="fallback published")
        assert values == ("acd-fallback,s,1", str(fallback_after))
        assert await acd.kill(signal.SIGTERM) == 0, acd.log_tail()

        caller = await probe.call(name, talk=1)
        called = time.monotonic()

        def served_by_app_queue(channels: list[dict[str, Any]]) -> bool:
            channel = _caller_half(channels, caller)
            return channel.get("Context") == "acd-fallback" and bool(channel.get("BridgeId"))

        listing = await probe.wait_channels(
            served_by_app_queue, within=fallback_after + RETRY_EVERY + 5
        )
        waited = time.monotonic() - called
        assert fallback_after <= waited < fallback_after + RETRY_EVERY + 3, waited
        assert _caller_half(listing, caller)["Application"] == "Queue"
        assert (await variables(probe, caller, "ACD_RESULT"))["ACD_RESULT"] == "no_controller"
    finally:
        # The session's Asterisk outlives this test: no other test's callers may fall back.
        for variable in (f"ACD_FALLBACK_{name}", f"ACD_FALLBACK_AFTER_{name}"):
            await probe.action(Action="Setvar", Variable=variable, Value="")


async def test_a_caller_survives_a_sigkill_while_waiting_and_is_served_after_it(
    controller_process: Callable[..., ControllerProcess], probe: Probe
) -> None:
    log_start = len(asterisk_log(probe))
    acd = controller_process(
        queues=[queue("support", announce_every=2)], agents=[sim_agent("2001")]
    )
    await acd.start()
    caller = await probe.call("support", talk=1)
    before = await eventually(lambda: live_call(acd, caller.call_id))
    assert await acd.kill(signal.SIGKILL) == -signal.SIGKILL
    killed = time.monotonic()
    # Announcements come every 2 s: the failed ones play nothing and keep the caller waiting.
    await probe.wait_channels(holding(caller), within=5)
    retry = await variables(probe, caller, "ACD_RETRY", "ACD_ENTERED_AT")
    assert retry["ACD_RETRY"] == "acd-wait,t,1"
    assert float(retry["ACD_ENTERED_AT"]) == pytest.approx(before["enqueued_at"], abs=0.01)
    await asyncio.sleep(max(0.0, killed + 2 * RETRY_EVERY - time.monotonic()))
    await probe.wait_channels(holding(caller), within=RETRY_EVERY)
    assert not hung_up(probe, caller)

    await acd.restart()
    outage = time.monotonic() - killed
    after = await eventually(lambda: live_call(acd, caller.call_id), within=RETRY_EVERY + 5)
    assert after["enqueued_at"] == pytest.approx(before["enqueued_at"], abs=0.01)
    await acd.login_all()
    record = await acd.finished(caller.call_id, within=20)
    assert record["outcome"] == "answered", record
    assert len(record["legs"]) == 1, record
    assert record["legs"][0]["wait"] >= outage, record
    assert broken_prompts(asterisk_log(probe)[log_start:]) == []

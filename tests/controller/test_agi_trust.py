"""FastAGI trust on the real Asterisk: the real dialplan passes the instance's key and its
channels pass the live-channel check; a controller with another key serves nobody (the
caller keeps waiting in the no-controller loop); a local process with the key still cannot
speak for a channel Asterisk does not have; the key is in no log Asterisk writes."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from acd.asterisk.testing import RunningAsterisk
from acd.controller.live_channels import LiveChannelCheck, LiveChannels
from acd.router.events import CallArrived
from agi.channel import AgiChannel, AgiCommandError
from agi.server import KEY_VARIABLE, FastAgiServer

from .harness import Acd


def _server_check(acd: Acd) -> LiveChannelCheck:
    assert acd.side is not None
    check = acd.side.agi.check
    assert isinstance(check, LiveChannelCheck)
    return check


async def test_the_real_dialplan_passes_the_key_and_its_channels_are_live(
    acd: Acd, asterisk: RunningAsterisk
) -> None:
    await acd.queue("support")
    await acd.agent("2001")
    assert acd.side is not None
    server = acd.side.agi
    checks = server._refusal
    spent: list[float] = []

    async def timed(request: Any, script: str) -> tuple[str, str] | None:
        started = time.perf_counter()
        try:
            return await checks(request, script)
        finally:
            spent.append(time.perf_counter() - started)

    server._refusal = timed  # type: ignore[method-assign]
    callers = [await acd.call("support", talk=0.5) for _ in range(5)]
    assert server.refused == 0
    assert len(spent) >= len(callers)
    print(f"key + live check per request: median {sorted(spent)[len(spent) // 2] * 1e3:.2f} ms")
    arrived = {e.call_id for e in acd.steps.events(CallArrived)}
    assert arrived == {c.call_id for c in callers}  # each entered through the checks
    check = _server_check(acd)
    print(f"live-channel fallbacks (Getvar): {check.fallbacks} of {len(callers)} enters")
    for log in (asterisk.instance.messages_log, asterisk.instance.queue_log):
        if log.exists():
            assert asterisk.agi_secret not in log.read_text(errors="replace")


async def test_the_live_check_costs_a_lookup_or_one_ami_round_trip(acd: Acd) -> None:
    await acd.queue("support")
    caller = await acd.call("support")
    name = await acd.channel_of(caller.call_id)
    check = _server_check(acd)
    assert await check.is_live(caller.call_id, name)
    assert not await check.is_live(caller.call_id, name + "x")
    assert not await check.is_live(caller.call_id + "9", name)
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        assert await check.is_live(caller.call_id, name)
    hit = (time.perf_counter() - started) / rounds
    # Not seen by the registry: the AMI answers from the channel itself.
    cold = LiveChannelCheck(LiveChannels(), check.ami)
    started = time.perf_counter()
    for _ in range(rounds):
        assert await cold.is_live(caller.call_id, name)
    miss = (time.perf_counter() - started) / rounds
    assert cold.fallbacks == rounds
    assert not await cold.is_live("1.1", name)
    print(f"live check: registry {hit * 1e6:.1f} µs, AMI Getvar fallback {miss * 1e3:.2f} ms")


async def test_a_controller_with_another_key_serves_no_caller(asterisk: RunningAsterisk) -> None:
    acd = Acd(asterisk)
    acd.settings = dataclasses.replace(
        acd.settings, agi=dataclasses.replace(acd.settings.agi, secret="not-the-dialplan-s-key")
    )
    await acd.start()
    try:
        await acd.queue("support")
        caller = await acd.call("support", wait_entered=False)
        assert acd.side is not None
        # Refused = no answer: the caller waits in the no-controller loop, not sent away.
        retry = await acd.entry_variable(caller.call_id, "ACD_RETRY", within=10)
        assert retry == "acd-queue,s,enter"
        assert acd.side.agi.refused >= 1
        assert not [e for e in acd.steps.events(CallArrived) if e.call_id == caller.call_id]
    finally:
        await acd.stop()


async def test_with_the_key_a_local_process_cannot_speak_for_another_channel(
    acd: Acd, asterisk: RunningAsterisk
) -> None:
    """It knows the key (it read the file) and a live caller's channel name, but not its
    uniqueid, or it names a channel that does not exist: nothing runs."""
    await acd.queue("support", callback=True)
    caller = await acd.call("support")
    name = await acd.channel_of(caller.call_id)
    assert acd.side is not None
    refused = acd.side.agi.refused
    attempts = [
        (script, channel, uniqueid)
        for script in ("callback", "enter")
        for channel, uniqueid in ((name, "1.99"), ("PJSIP/1001-000000ff", caller.call_id))
    ]
    for script, channel, uniqueid in attempts:
        reader, writer = await asyncio.open_connection(asterisk.agi_host, asterisk.agi_port)
        env = (
            f"agi_network: yes\nagi_network_script: {script}\nagi_arg_1: support\n"
            f"agi_channel: {channel}\nagi_uniqueid: {uniqueid}\n\n"
        )
        writer.write(env.encode())
        lines: list[str] = []
        while line := await asyncio.wait_for(reader.readline(), 5):
            lines.append(line.decode())
            answer = f"200 result=1 ({asterisk.agi_secret})" if KEY_VARIABLE in lines[-1] else ""
            writer.write(((answer or "200 result=1 (PJSIP/trunk/900)") + "\n").encode())
        writer.close()
        assert lines == [f"GET VARIABLE {KEY_VARIABLE}\n"]
    assert acd.side.agi.refused == refused + len(attempts)
    assert acd.controller is not None
    assert len(acd.controller.tracker) == 1  # no call registered for the made-up channels
    call = acd.controller.tracker.get(caller.call_id)
    assert call is not None
    assert call.callback_to is None


class _Always:
    async def is_live(self, uniqueid: str, channel: str) -> bool:
        return True


async def test_an_lf_in_a_value_never_reaches_asterisk_as_a_second_command(
    acd: Acd, asterisk: RunningAsterisk
) -> None:
    """Whatever let a value with an LF through, the AGI writer sends no second command: a
    route setting `x\nEXEC Set GLOBAL(ACD_INJECTED)=1` on a real caller's channel leaves the
    global unset (read back from Asterisk)."""
    assert acd.side is not None
    await acd.side.agi.stop()  # this test's own routes answer the dialplan's enter
    tried: list[str] = []

    async def enter(request: Any) -> None:
        channel = AgiChannel(request)
        try:
            await channel.set("ACD_CALLER_NOTE", "x\nEXEC Set GLOBAL(ACD_INJECTED)=1")
        except AgiCommandError as exc:
            tried.append(str(exc))
        await channel.set("ACD_RESULT", "error")

    server = FastAgiServer(
        {"enter": enter},
        asterisk.agi_host,
        asterisk.agi_port,
        secret=asterisk.agi_secret,
        check=_Always(),
    )
    await server.start()
    try:
        await acd.queue("support")
        caller = await acd.call("support", wait_entered=False)
        exited = await acd.ami_events.first(
            lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == caller.call_id
        )
        assert exited
    finally:
        await server.stop()
    response = await acd.action(Action="Getvar", Variable="ACD_INJECTED")
    assert response.get("Value", "") in ("", "(null)"), response
    assert tried, "the route never ran"


async def test_a_callback_into_a_context_not_allowed_is_refused_by_the_real_dialplan(
    acd: Acd,
) -> None:
    """ACD_CALLBACK_TO=Local/…@some-trunk-context: the caller is told no (ACD_CALLBACK_ACCEPTED
    =0) and keeps waiting; no callback is ever originated, the agent rings the caller's own
    channel."""
    await acd.queue("support", callback=True)
    caller = await acd.call(
        "support", variables={"ACD_CALLBACK_TO": "Local/9001234567@some-trunk-context"}
    )
    await acd.dtmf(caller, "1")
    assert await acd.entry_variable(caller.call_id, "ACD_CALLBACK_ACCEPTED") == "0"
    assert acd.recorder.callbacks == []
    await acd.agent("2001")
    dial = await acd.ami_events.first(
        lambda m: (
            m.get("Event") == "DialBegin" and m.get("DestChannel", "").startswith("Local/2001@")
        )
    )
    assert dial["Uniqueid"] == caller.call_id  # not `<id>-cb1`: nothing was originated
    assert not [
        m
        for m in acd.ami_events.seen
        if m.get("Event") == "Newchannel" and "some-trunk-context" in m.get("Channel", "")
    ]


async def test_the_key_is_in_no_log_while_the_controller_is_down(
    acd: Acd, asterisk: RunningAsterisk
) -> None:
    """res_agi logs the whole AGI URL on each failed connect (every ACD_RETRY_EVERY seconds
    while no controller listens): the key is not in it."""
    assert acd.side is not None
    await acd.side.agi.stop()
    await acd.queue("support")
    caller = await acd.call("support", wait_entered=False)
    assert await acd.entry_variable(caller.call_id, "ACD_RETRY", within=10) == "acd-queue,s,enter"
    log = asterisk.instance.messages_log
    text = ""
    for _ in range(50):
        text = log.read_text(errors="replace") if log.exists() else ""
        if "agi://" in text:
            break
        await asyncio.sleep(0.1)
    assert "agi://" in text  # the failed connect was logged, URL and all
    assert asterisk.agi_secret not in text

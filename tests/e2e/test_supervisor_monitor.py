"""A supervisor listens to, whispers to and barges into an agent's call, measured on the audio
each party's phone receives: real SIP phones (pjsua2), the real Asterisk, the real controller
and its AMI link, the monitor use case over a real SQLite audit log.

Each phone plays its own tone into its calls: the caller 440 Hz, agent 1001 660 Hz, supervisor
1003 1000 Hz. Caller dials 500, the agent answers; for each mode the supervisor's phone is
called (POST /agents/1001/monitor's use case), answered, and while ChanSpy runs the caller's
and the agent's calls are recorded (what each phone receives from Asterisk, as WAV) and the
1000 Hz share of each is measured (Goertzel, `tone_level`):

    listen    neither hears the supervisor
    whisper   the agent hears the supervisor, the caller does not
    barge     both do

and each request is in the audit log with who, when, which mode, and `answered`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from controller.harness import Acd

from acd.controller.monitor import ANSWERED, MonitorDialer
from acd.router.decisions import AgentStateChanged
from acd.router.events import AgentReachabilityChanged, CallArrived, OfferAnswered
from acd.router.model import AgentState
from acd.service.monitor import MonitorService
from acd.service.tokens import Principal
from acd.storage import Database

from .softphone import SoftphoneHost, tone_level

pytestmark = pytest.mark.sip

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440, 660, 1000
#: Seconds of audio measured per mode, once the supervisor's phone has media.
LISTEN_SECONDS = 2.0
#: Share of the received energy at a frequency: heard above PRESENT, not heard below ABSENT
#: (a tone alone gives about 1, one of two tones of equal level about 0.5; see tone_level).
PRESENT, ABSENT = 0.1, 0.02


async def settle_call(acd: Acd, phones: SoftphoneHost) -> tuple[int, int, str]:
    """Agent 1001 logged in and talking to the caller: (caller handle, agent handle, call id)."""
    await acd.queue("support", wrap_up=0.0, ring_timeout=10.0)
    await acd.agent("1001", contact="PJSIP/1001", login=False)
    mark = acd.steps.mark()
    await phones.register("1001", "agent-1001", tone_hz=AGENT_HZ)
    await acd.steps.event(
        lambda e: isinstance(e, AgentReachabilityChanged) and e.agent_id == "1001" and e.reachable,
        since=mark,
    )
    await phones.register("caller", "caller-secret", tone_hz=CALLER_HZ)
    await phones.register("1003", "supervisor-1003", tone_hz=SUPERVISOR_HZ)
    since = phones.events.mark()
    login = await phones.call("1001", "*71")
    await phones.state(login, "DISCONNECTED", since=since)
    await acd.steps.decision(
        lambda d: isinstance(d, AgentStateChanged) and d.state is AgentState.AVAILABLE
    )

    since = phones.events.mark()
    caller = await phones.call("caller", "500")
    arrived = await acd.steps.event(lambda e: isinstance(e, CallArrived))
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1001", since=since
    )
    agent = incoming[2]
    await phones.answer(agent)
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.agent_id == "1001")
    await phones.state(caller, "CONFIRMED", since=since)
    await phones.state(agent, "CONFIRMED", since=since)
    return caller, agent, arrived.call_id


async def monitored(
    monitor: MonitorService,
    phones: SoftphoneHost,
    mode: str,
    legs: dict[str, int],
    out: Path,
) -> dict[str, float]:
    """One supervisor session in `mode`: the 1000 Hz share each leg received meanwhile."""
    since = phones.events.mark()
    await monitor.request(
        Principal("boss", "supervisor"), "1001", {"mode": mode, "contact": "PJSIP/1003"}
    )
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1003", since=since
    )
    supervisor = incoming[2]
    await phones.answer(supervisor)
    await phones.events.first(lambda e: e[:2] == ("media", supervisor), since=since)
    await monitor.settled()  # the Originate answered: ChanSpy is starting
    await asyncio.sleep(0.5)
    files = {name: out / f"{mode}-{name}.wav" for name in legs}
    for name, handle in legs.items():
        await phones.record(handle, files[name])
    await asyncio.sleep(LISTEN_SECONDS)
    for handle in legs.values():
        await phones.stop_recording(handle)
    await phones.hangup(supervisor)
    await phones.state(supervisor, "DISCONNECTED", since=since)
    levels = {name: tone_level(path, SUPERVISOR_HZ) for name, path in files.items()}
    others = {name: tone_level(files[name], hz) for name, hz in (("caller", AGENT_HZ),
                                                                 ("agent", CALLER_HZ))}  # fmt: skip
    print(f"{mode}: supervisor's {SUPERVISOR_HZ} Hz share {levels}; each other's {others}")
    # The recording works: each party hears the other all along.
    assert min(others.values()) > PRESENT, others
    return levels


async def test_whisper_is_heard_by_the_agent_only_barge_by_both_listen_by_neither(
    acd: Acd, phones: SoftphoneHost, tmp_path: Path
) -> None:
    assert acd.controller is not None
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'acd.db'}")
    await database.migrate()
    monitor = MonitorService(acd.router, acd.directory, database.monitor_log, acd.engine.now)
    controller = acd.controller
    monitor.attach(MonitorDialer(controller.tracker, controller.ami, acd.settings.dial.rules()))
    try:
        caller, agent, call_id = await settle_call(acd, phones)
        legs = {"caller": caller, "agent": agent}

        listen = await monitored(monitor, phones, "listen", legs, tmp_path)
        assert listen["agent"] < ABSENT, listen
        assert listen["caller"] < ABSENT, listen

        whisper = await monitored(monitor, phones, "whisper", legs, tmp_path)
        assert whisper["agent"] > PRESENT, whisper
        assert whisper["caller"] < ABSENT, whisper

        barge = await monitored(monitor, phones, "barge", legs, tmp_path)
        assert barge["agent"] > PRESENT, barge
        assert barge["caller"] > PRESENT, barge

        log = await monitor.recent(10)
        assert [(e.mode, e.token, e.agent_id, e.call_id, e.contact, e.result) for e in log] == [
            (mode, "boss", "1001", call_id, "PJSIP/1003", ANSWERED)
            for mode in ("barge", "whisper", "listen")
        ]
    finally:
        await monitor.close()
        await database.close()

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

from .softphone import SoftphoneHost, loudness, tone_level

pytestmark = pytest.mark.sip

CALLER_HZ, AGENT_HZ, OTHER_AGENT_HZ, SUPERVISOR_HZ = 440, 660, 880, 1000
#: Seconds of audio measured per mode, once the supervisor's phone has media.
LISTEN_SECONDS = 2.0
#: Share of the received energy at a frequency: heard above PRESENT, not heard below ABSENT
#: (a tone alone gives about 1, one of two tones of equal level about 0.5; see tone_level).
PRESENT, ABSENT = 0.1, 0.02
#: RMS level (of full scale) above which a recording holds sound at all (music on hold here).
AUDIBLE = 0.003


async def settle_calls(
    acd: Acd, phones: SoftphoneHost, agents: dict[str, int]
) -> dict[str, tuple[int | None, int, str]]:
    """Each agent of `agents` (id → its tone) logged in and talking to a caller of its own:
    agent id → (caller handle, agent handle, call id). The first caller is the SIP phone
    `caller`; the others are Asterisk's own (Local channels playing music on hold, handle
    None): pjsua turned a fifth live call away ("too many calls", 486) although max_calls
    is 16 in softphone.py, and two SIP callers, two agents and the supervisor are five."""
    await acd.queue("support", wrap_up=0.0, ring_timeout=10.0)
    await phones.register("caller", "caller-secret", tone_hz=CALLER_HZ)
    await phones.register("1003", "supervisor-1003", tone_hz=SUPERVISOR_HZ)
    for agent_id, tone_hz in agents.items():
        await acd.agent(agent_id, contact=f"PJSIP/{agent_id}", login=False)
        mark = acd.steps.mark()
        await phones.register(agent_id, f"agent-{agent_id}", tone_hz=tone_hz)
        await acd.steps.event(
            lambda e, a=agent_id: (
                isinstance(e, AgentReachabilityChanged) and e.agent_id == a and e.reachable
            ),
            since=mark,
        )
        since = phones.events.mark()
        login = await phones.call(agent_id, "*71")
        await phones.state(login, "DISCONNECTED", since=since)
        await acd.steps.decision(
            lambda d, a=agent_id: (
                isinstance(d, AgentStateChanged)
                and d.agent_id == a
                and d.state is AgentState.AVAILABLE
            )
        )
    calls: dict[str, tuple[int | None, int, str]] = {}
    for index in range(len(agents)):
        since, mark = phones.events.mark(), acd.steps.mark()
        caller = await phones.call("caller", "500") if index == 0 else None
        if caller is None:
            response = await acd.action(
                Action="Originate",
                Channel="Local/support@acd-inbound/n",
                Application="MusicOnHold",
                Data="default",
                Async="true",
            )
            assert response[-1]["Response"] == "Success", response
        arrived = await acd.steps.event(lambda e: isinstance(e, CallArrived), since=mark)
        incoming = await phones.events.first(
            lambda e: e[0] == "incoming" and e[1] in agents, since=since
        )
        agent_id, agent = incoming[1], incoming[2]
        await phones.answer(agent)
        await acd.steps.event(
            lambda e, a=agent_id: isinstance(e, OfferAnswered) and e.agent_id == a, since=mark
        )
        if caller is not None:
            await phones.state(caller, "CONFIRMED", since=since)
        await phones.state(agent, "CONFIRMED", since=since)
        calls[agent_id] = (caller, agent, arrived.call_id)
    return calls


async def monitored(
    monitor: MonitorService,
    phones: SoftphoneHost,
    mode: str,
    legs: dict[str, tuple[int, int | None]],
    out: Path,
    agent_id: str = "1001",
) -> dict[str, float]:
    """One supervisor session in `mode` on `agent_id`: the 1000 Hz share each of `legs` (name
    → its call's handle and the tone its other party plays, None: music) received
    meanwhile."""
    since = phones.events.mark()
    await monitor.request(
        Principal("boss", "supervisor"), agent_id, {"mode": mode, "contact": "PJSIP/1003"}
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
    for name, (handle, _) in legs.items():
        await phones.record(handle, files[name])
    await asyncio.sleep(LISTEN_SECONDS)
    for handle, _ in legs.values():
        await phones.stop_recording(handle)
    await phones.hangup(supervisor)
    await phones.state(supervisor, "DISCONNECTED", since=since)
    levels = {name: tone_level(path, SUPERVISOR_HZ) for name, path in files.items()}
    others = {
        name: tone_level(files[name], hz) if hz is not None else loudness(files[name])
        for name, (_, hz) in legs.items()
    }
    print(f"{mode}: supervisor's {SUPERVISOR_HZ} Hz share {levels}; the other party {others}")
    # The recording works: each party hears the other all along (a tone's share, or music).
    for name, (_, hz) in legs.items():
        assert others[name] > (PRESENT if hz is not None else AUDIBLE), others
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
        calls = await settle_calls(acd, phones, {"1001": AGENT_HZ})
        caller, agent, call_id = calls["1001"]
        assert caller is not None
        legs = {"caller": (caller, AGENT_HZ), "agent": (agent, CALLER_HZ)}

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


async def test_the_supervisor_spies_on_that_agent_s_call_not_on_another(
    acd: Acd, phones: SoftphoneHost, tmp_path: Path
) -> None:
    """Agents 1001 and 1002 both talking (same queue, same kind of phone): a whisper to 1001
    reaches 1001 and nobody else."""
    assert acd.controller is not None
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'acd.db'}")
    await database.migrate()
    monitor = MonitorService(acd.router, acd.directory, database.monitor_log, acd.engine.now)
    controller = acd.controller
    monitor.attach(MonitorDialer(controller.tracker, controller.ami, acd.settings.dial.rules()))
    try:
        calls = await settle_calls(acd, phones, {"1001": AGENT_HZ, "1002": OTHER_AGENT_HZ})
        caller = calls["1001"][0]
        assert caller is not None  # the SIP caller got the longest idle agent, 1001
        legs = {
            "agent 1001": (calls["1001"][1], CALLER_HZ),
            "caller of 1001": (caller, AGENT_HZ),
            "agent 1002": (calls["1002"][1], None),
        }
        heard = await monitored(monitor, phones, "whisper", legs, tmp_path, agent_id="1001")
        assert heard["agent 1001"] > PRESENT, heard
        for name in ("caller of 1001", "agent 1002"):
            assert heard[name] < ABSENT, heard
        (entry,) = await monitor.recent(10)
        assert (entry.agent_id, entry.call_id) == ("1001", calls["1001"][2])
    finally:
        await monitor.close()
        await database.close()

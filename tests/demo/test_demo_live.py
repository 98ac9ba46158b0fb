"""The demo on the real Asterisk (issue #13 item 3): `acd serve` with `[demo]` logs the
simulated agents in and offers callers at once; within seconds the API shows calls answered
by the simulated agents and callers lost after their patience. With the demo off (the
default, and ACD_DEMO_ENABLED=0 over a file that enables it) nothing is originated; while
the controller's AMI link is down the demo sends nothing and the controller stays up, and it
goes on once the link is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faults.harness import AmiProxy, ControllerProcess, Probe, eventually, queue, sim_agent

from acd.asterisk.testing import RunningAsterisk

pytestmark = pytest.mark.asterisk

#: The issue's promise: calls flow on the wallboard within seconds of the start.
WITHIN = 20.0
#: A fast demo: a caller a second, talking ~3 s. Support gets five in six of them and has two
#: agents, fewer than it needs: its callers wait and lose their patience (~2.5 s). Sales has
#: one agent, idle often enough to take breaks.
FAST_DEMO = {
    "enabled": True,
    "calls_per_minute": 60,
    "queues": {"support": 5, "sales": 1},
    "talk_mean": 3,
    "ring": 0.5,
    "patience_mean": 2.5,
    "seed": 13,
    "break_every": 2,
    "break_mean": 3,
}
QUEUES = [
    queue("support", skills={"support": 1}, short_abandon=0),
    queue("sales", skills={"sales": 1}, short_abandon=0),
]
SIM_AGENTS = ("2001", "2002", "2003")
AGENTS = [
    sim_agent("2001", skills={"support": 1}),
    sim_agent("2002", skills={"support": 1}),
    sim_agent("2003", skills={"sales": 1}),
    # A softphone agent: the demo leaves it alone (only Local/…@acd-sim-agent by default).
    {"id": "1001", "name": "Ada", "contact": "PJSIP/1001", "skills": {"support": 1}},
]


@pytest.fixture
async def probe(asterisk: RunningAsterisk) -> AsyncIterator[Probe]:
    watcher = Probe(asterisk)
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.close(hangup=True)


@pytest.fixture
async def acds() -> AsyncIterator[list[ControllerProcess]]:
    """Every ControllerProcess a test appends is stopped after it."""
    made: list[ControllerProcess] = []
    try:
        yield made
    finally:
        for process in made:
            await process.close()


def totals(stats: list[dict[str, Any]]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for row in stats:
        for name, value in row["totals"].items():
            summed[name] = summed.get(name, 0) + int(value)
    return summed


async def test_the_demo_moves_within_seconds(
    asterisk: RunningAsterisk, tmp_path: Path, probe: Probe, acds: list[ControllerProcess]
) -> None:
    acd = ControllerProcess(
        asterisk, tmp_path / "on", queues=QUEUES, agents=AGENTS, sections={"demo": FAST_DEMO}
    )
    acds.append(acd)
    await acd.start()

    async def logged_in() -> bool:
        states = await acd.agent_states()
        return all(states[a] != "logged_out" for a in SIM_AGENTS)

    await eventually(logged_in, within=5.0, what="the demo agents logged in")

    breaks: set[str] = set()
    summed: dict[str, int] = {}

    async def answered_and_lost() -> bool:
        for agent in (await acd.api("GET", "/agents")).body:
            if agent["state"] == "paused":
                breaks.add(agent["pause_reason"])
        reply = await acd.api("GET", "/stats/queues")
        assert reply.status == 200, reply
        summed.update(totals(reply.body))
        return summed.get("answered", 0) >= 3 and summed.get("abandoned", 0) >= 1 and bool(breaks)

    try:
        await eventually(answered_and_lost, within=WITHIN, every=0.25)
    except AssertionError:
        raise AssertionError(f"not all of answered, lost, a break: {summed}, {breaks}") from None
    assert summed["offered"] >= summed["answered"] + summed["abandoned"]
    assert breaks <= {"coffee", "coaching", "admin"}
    assert (await acd.agent_states())["1001"] == "logged_out"
    # Answered by the simulated agents (the queue_log's CONNECT lines name the agent).
    connects = [f for f in acd.queue_log() if f[4] == "CONNECT"]
    assert connects
    assert {f[3] for f in connects} <= set(SIM_AGENTS)
    # The callers carried invented caller data into their records.
    record = await acd.finished(connects[0][1])
    assert "customer=" in str(record.get("caller_data", "")), record
    assert "demo: about 60 callers a minute" in acd.log_text()


async def test_with_the_demo_off_nothing_is_originated(
    asterisk: RunningAsterisk, tmp_path: Path, probe: Probe, acds: list[ControllerProcess]
) -> None:
    acd = ControllerProcess(
        asterisk,
        tmp_path / "off",
        queues=QUEUES,
        agents=AGENTS,
        sections={"demo": FAST_DEMO},
        env={"ACD_DEMO_ENABLED": "0"},
    )
    acds.append(acd)
    await acd.start()
    seen_before = len(probe.events.seen)
    await asyncio.sleep(5.0)  # 10 callers at the fast demo's pace
    newchannels = [m for m in probe.events.seen[seen_before:] if m.get("Event") == "Newchannel"]
    assert newchannels == []
    assert set((await acd.agent_states()).values()) == {"logged_out"}
    assert await acd.live_calls() == []
    stats = (await acd.api("GET", "/stats/queues")).body
    assert totals(stats).get("offered", 0) == 0
    assert "demo:" not in acd.log_text()


def demo_callers(probe: Probe, since: int) -> list[str]:
    """The uniqueids of the demo callers' channels Asterisk created after event `since`."""
    return [
        str(m.get("Uniqueid"))
        for m in probe.events.seen[since:]
        if m.get("Event") == "Newchannel" and str(m.get("Uniqueid", "")).startswith("demo-")
    ]


async def test_no_caller_while_the_ami_link_is_down_and_the_demo_goes_on(
    asterisk: RunningAsterisk, tmp_path: Path, probe: Probe, acds: list[ControllerProcess]
) -> None:
    proxy = AmiProxy(asterisk)
    await proxy.start()
    try:
        acd = ControllerProcess(
            asterisk,
            tmp_path / "cut",
            queues=QUEUES,
            agents=AGENTS,
            sections={"demo": {**FAST_DEMO, "calls_per_minute": 120, "break_every": 0}},
            ami_port=proxy.port,
        )
        acds.append(acd)
        await acd.start()
        await eventually(lambda: demo_callers(probe, 0), within=10.0, what="a demo caller")
        await proxy.cut()
        await asyncio.sleep(0.5)  # an Originate already written may still make its channel
        cut_at = len(probe.events.seen)
        await asyncio.sleep(5.0)  # 10 callers at this pace
        assert demo_callers(probe, cut_at) == []
        assert acd.running
        await proxy.restore()
        restored_at = len(probe.events.seen)
        await eventually(
            lambda: demo_callers(probe, restored_at), within=10.0, what="callers again"
        )
        assert acd.running
    finally:
        await proxy.close()

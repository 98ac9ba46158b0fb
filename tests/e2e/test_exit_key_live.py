"""The exit key on the real Asterisk: a waiting caller presses another key (back to the
music, the controller not even asked), then the queue's exit key: it leaves the queue, lands in
the queue's exit_target with ACD_RESULT=exit_key, and the stored record and the queue_log line
say EXITWITHKEY; no lost call is counted.

Built as `acd serve` builds it (`acd.compose.assemble` and the real controller), SQLite and the
queue_log in tmp_path. The caller is a Local channel into acd-inbound whose far end (;1) sends
the keys (AMI PlayDTMF). The target is `acd-sim-caller,5550100,1`, a context that holds the
channel, so the test finds it there (CoreShowChannels). The test AMI user reads no `dialplan`
events, so the dialplan steps a key caused are read from Asterisk's own log (the `Executing
[...]` lines of a verbose-3 log channel the test adds).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from controller.harness import StepWatch
from watch import WAIT, Watch, ami_probe, close_probe

from acd.asterisk.testing import RunningAsterisk
from acd.compose import Assembly, assemble, start_controller
from acd.config import AgiSettings, AmiSettings, Settings, StorageSettings
from acd.router.events import CallAbandoned, CallArrived
from acd.router.model import CallState, QueueConfig

pytestmark = pytest.mark.asterisk

TARGET = ("acd-sim-caller", "5550100", "1")
_serial = itertools.count(1)


class Probe:
    """A second AMI login that sends the keys and reads where a channel is; and Asterisk's log."""

    def __init__(self, asterisk: RunningAsterisk) -> None:
        self.asterisk = asterisk
        self.events = Watch()
        self.manager: Any = None

    async def start(self) -> None:
        self.manager = await ami_probe(self.asterisk, self.events)

    async def stop(self) -> None:
        if self.manager is None:
            return
        try:
            for channel in await self.channels():
                await self.action(Action="Hangup", Channel=channel["Channel"])
        finally:
            close_probe(self.manager)

    async def action(self, **headers: Any) -> Any:
        headers.setdefault("Async", "false")
        return await asyncio.wait_for(self.manager.send_action(headers), WAIT)

    async def channels(self) -> list[Any]:
        listing = await asyncio.wait_for(
            self.manager.send_action({"Action": "CoreShowChannels"}, as_list=True), WAIT
        )
        return [m for m in listing if m.get("Event") == "CoreShowChannel"]

    async def channel(self, uniqueid: str) -> str:
        event = await self.events.first(
            lambda m: m.get("Event") == "Newchannel" and m.get("Uniqueid") == uniqueid
        )
        return str(event["Channel"])

    async def where(self, channel: str) -> tuple[str, str, str, str] | None:
        """context, exten, priority, application of a live channel (None: gone)."""
        for m in await self.channels():
            if m.get("Channel") == channel:
                return (m["Context"], m["Exten"], m["Priority"], m["Application"])
        return None

    async def reaches(self, channel: str, context: str, exten: str) -> tuple[str, ...]:
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            where = await self.where(channel)
            if where is not None and where[:2] == (context, exten):
                return where
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{channel} is at {where}, not in {context},{exten}")
            await asyncio.sleep(0.05)

    async def executed(self, log: Path, channel: str, since: int, step: str) -> list[str]:
        """The `Executing [exten@context:priority] App(channel, ...)` steps of `channel` in
        Asterisk's log from `since`, once one of them is `step` (exten@context:priority)."""
        deadline = asyncio.get_running_loop().time() + WAIT
        pattern = re.compile(r"Executing \[([^\]]+)\] (\w+)\(\"" + re.escape(channel) + '"')
        while True:
            text = _read(log)[since:]
            steps = [f"{m[1]} {m[2]}" for m in pattern.finditer(text)]
            if any(s.startswith(f"{step} ") for s in steps):
                return steps
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{channel} never ran {step}: {steps}")
            await asyncio.sleep(0.05)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _size(path: Path) -> int:
    return len(_read(path))


@pytest.fixture
def steps_log(asterisk: RunningAsterisk) -> Iterator[Path]:
    """A log channel of this test with the `Executing` lines (verbose 3), removed after it."""
    name = f"exitkey-steps-{next(_serial)}"
    asterisk.instance.cli(f"logger add channel {name} verbose(3)")
    try:
        yield asterisk.instance.log_dir / name
    finally:
        asterisk.instance.cli(f"logger remove channel {name}")


@pytest.fixture
async def probe(asterisk: RunningAsterisk) -> AsyncIterator[Probe]:
    probe = Probe(asterisk)
    await probe.start()
    try:
        yield probe
    finally:
        await probe.stop()


async def _app(asterisk: RunningAsterisk, var: Path, queue: QueueConfig) -> Assembly:
    settings = Settings(
        ami=AmiSettings(port=asterisk.ami_port, secret=asterisk.ami_secret),
        agi=AgiSettings(host=asterisk.agi_host, port=asterisk.agi_port, secret=asterisk.agi_secret),
        storage=StorageSettings(var_dir=str(var)),
        queues=(queue,),
    )
    assembly = await assemble(settings)
    try:
        await start_controller(assembly)
        await assembly.controller.wait_ready(WAIT)  # type: ignore[union-attr]
    except BaseException:
        await assembly.close()
        raise
    return assembly


@pytest.mark.parametrize(
    ("key", "other", "callback"),
    [("#", "5", True), ("1", "*", False)],  # 1 is the exit key only without callbacks
)
async def test_a_waiting_caller_leaves_by_the_exit_key_for_the_target(
    asterisk: RunningAsterisk,
    probe: Probe,
    steps_log: Path,
    tmp_path: Path,
    key: str,
    other: str,
    callback: bool,
) -> None:
    queue = QueueConfig(
        "support", exit_key=key, exit_target=",".join(TARGET), callback=callback, max_wait=None
    )
    app = await _app(asterisk, tmp_path, queue)
    steps = StepWatch()
    app.engine.add_listener(steps)
    try:
        leg = f"exitkey-{next(_serial)}"
        call_id = f"{leg};2"  # the ;2 half runs the dialplan: the ACD's call id
        response = await probe.action(
            Action="Originate",
            Channel="Local/support@acd-inbound/n",
            Application="Wait",
            Data="60",
            Async="true",
            ChannelId=leg,
            Variable=["ACD_MOH=silent"],
        )
        assert response[-1]["Response"] == "Success", response
        await steps.event(lambda e: isinstance(e, CallArrived) and e.call_id == call_id)
        caller = await probe.channel(call_id)  # the ;2 half: the dialplan runs there
        far_end = await probe.channel(leg)
        await probe.reaches(caller, "acd-wait", "s")  # waiting with music: keys are read

        # Another key: back to the music, the controller not even asked.
        since = _size(steps_log)
        await probe.action(Action="PlayDTMF", Channel=far_end, Digit=other, Duration="120")
        ran = await probe.executed(steps_log, caller, since, "s@acd-wait:2")
        assert ran[0] == f"{other}@acd-wait:1 GotoIf", ran
        assert not [s for s in ran if "exitkey@" in s or s.endswith(" AGI")], ran
        assert (await probe.where(caller) or ())[:2] == ("acd-wait", "s")
        view = app.engine.router.call(call_id)
        assert view is not None
        assert view.state is CallState.WAITING
        assert not steps.events(CallAbandoned)

        # The exit key: out of the queue, into the target.
        since = _size(steps_log)
        await probe.action(Action="PlayDTMF", Channel=far_end, Digit=key, Duration="120")
        left = await steps.event(lambda e: isinstance(e, CallAbandoned) and e.call_id == call_id)
        assert left.reason == "exit_key"
        await probe.reaches(caller, TARGET[0], TARGET[1])
        ran = await probe.executed(steps_log, caller, since, f"{TARGET[1]}@{TARGET[0]}:{TARGET[2]}")
        assert "exitkey@acd-wait:2 AGI" in ran, ran
        result = await probe.action(Action="Getvar", Channel=caller, Variable="ACD_RESULT")
        assert result.get("Value") == "exit_key"
        assert app.engine.router.call(call_id) is None

        assert app.writer is not None
        await app.writer.flush()
        record = await app.database.records.get_call(call_id)
        assert record is not None
        assert (record.outcome, record.exit_reason, record.exit_key) == ("exited", "exit_key", key)
        lines = [
            line.split("|")
            for line in (tmp_path / "queue_log").read_text().splitlines()
            if line.split("|")[1] == call_id
        ]
        assert [line[4] for line in lines] == ["ENTERQUEUE", "EXITWITHKEY"]
        assert lines[1][2:4] == ["support", "NONE"]
        assert lines[1][5:8] == [key, "1", "1"]  # key|position|origposition|waittime
        assert int(lines[1][8]) == round(record.wait or 0.0)
        assert app.metrics is not None
        registry = app.metrics.registry
        for name in ("acd_calls_abandoned_total", "acd_calls_short_abandoned_total"):
            assert registry.get_sample_value(name, {"queue": "support"}) in (None, 0.0), name
    finally:
        await app.close()


async def test_a_key_set_while_the_caller_waits_works_after_the_next_announcement(
    asterisk: RunningAsterisk, probe: Probe, tmp_path: Path
) -> None:
    """PUT /queues/support with an exit key reaches a caller already waiting: its channel
    learns the key from the next announcement (announce_every 1 s here)."""
    app = await _app(asterisk, tmp_path, QueueConfig("support", announce_every=1, max_wait=None))
    steps = StepWatch()
    app.engine.add_listener(steps)
    try:
        leg = f"exitkey-{next(_serial)}"
        call_id = f"{leg};2"
        response = await probe.action(
            Action="Originate",
            Channel="Local/support@acd-inbound/n",
            Application="Wait",
            Data="60",
            Async="true",
            ChannelId=leg,
            Variable=["ACD_MOH=silent"],
        )
        assert response[-1]["Response"] == "Success", response
        await steps.event(lambda e: isinstance(e, CallArrived) and e.call_id == call_id)
        caller = await probe.channel(call_id)
        key = await probe.action(Action="Getvar", Channel=caller, Variable="ACD_EXIT_KEY")
        assert key.get("Value") in ("", None)  # none at entry
        document = {"announce_every": 1, "max_wait": None, "exit_key": "#",
                    "exit_target": ",".join(TARGET)}  # fmt: skip
        await app.services.queues.replace("support", document)
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            key = await probe.action(Action="Getvar", Channel=caller, Variable="ACD_EXIT_KEY")
            if key.get("Value") == "#":
                break
            assert asyncio.get_running_loop().time() < deadline, "the key never reached it"
            await asyncio.sleep(0.1)
        await probe.reaches(caller, "acd-wait", "s")
        far_end = await probe.channel(leg)
        await probe.action(Action="PlayDTMF", Channel=far_end, Digit="#", Duration="120")
        left = await steps.event(lambda e: isinstance(e, CallAbandoned) and e.call_id == call_id)
        assert left.reason == "exit_key"
        await probe.reaches(caller, TARGET[0], TARGET[1])
    finally:
        await app.close()

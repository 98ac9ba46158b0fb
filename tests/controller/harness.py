"""A real controller on the real Asterisk of the `asterisk` fixture, plus a second AMI login
(the probe) to originate callers and watch what Asterisk does. Nothing here is faked."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from watch import WAIT, Watch, ami_probe, close_probe

from acd.asterisk.testing import RunningAsterisk
from acd.compose import AsteriskSide, start_asterisk_side
from acd.config import AgentSeed, AgiSettings, AmiSettings, Settings
from acd.controller import Controller
from acd.engine import Engine, Step
from acd.router.decisions import Decision
from acd.router.events import AgentLoggedIn, AgentUpserted, QueueUpserted
from acd.router.model import QueueConfig, frozen_skills
from acd.router.router import Router
from acd.service import AgentService
from acd.service.directory import AgentDirectory
from acd.service.transfer import TransferService

_serial = itertools.count(1)


class StepWatch(Watch):
    def on_step(self, step: Step) -> None:
        self.add(step)

    def decisions(self, kind: type) -> list[Any]:
        return [d for step in self.seen for d in step.decisions if isinstance(d, kind)]

    def events(self, kind: type) -> list[Any]:
        return [step.event for step in self.seen if isinstance(step.event, kind)]

    async def decision(
        self, predicate: Callable[[Decision], bool], within: float = WAIT, since: int = 0
    ) -> Any:
        step = await self.first(lambda s: any(predicate(d) for d in s.decisions), within, since)
        return next(d for d in step.decisions if predicate(d))

    async def event(
        self, predicate: Callable[[Any], bool], within: float = WAIT, since: int = 0
    ) -> Any:
        step = await self.first(lambda s: predicate(s.event), within, since)
        return step.event


@dataclass
class Caller:
    """A caller originated as Local/<queue>@acd-inbound: its ;1 half (the far end) has the
    uniqueid `leg`, the ;2 half runs the dialplan and its uniqueid is the ACD call id."""

    leg: str
    queue: str

    @property
    def call_id(self) -> str:
        return f"{self.leg};2"


@dataclass
class Recorder:
    callbacks: list[str] = field(default_factory=list)
    caller_data: dict[str, str] = field(default_factory=dict)
    hung_up_by: dict[str, str] = field(default_factory=dict)
    end_reasons: dict[str, str] = field(default_factory=dict)
    ami_connected: list[bool] = field(default_factory=list)

    def callback_requested(self, call_id: str) -> None:
        self.callbacks.append(call_id)

    def record_caller_data(self, call_id: str, text: str) -> None:
        self.caller_data[call_id] = text


class _RecorderAdapter:
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def callback_requested(self, call_id: str) -> None:
        self._recorder.callback_requested(call_id)

    def caller_data(self, call_id: str, text: str) -> None:
        self._recorder.record_caller_data(call_id, text)

    def hung_up_by(self, call_id: str, side: str) -> None:
        self._recorder.hung_up_by[call_id] = side

    def ended_because(self, call_id: str, reason: str) -> None:
        self._recorder.end_reasons[call_id] = reason

    def set_ami_connected(self, connected: bool) -> None:
        self._recorder.ami_connected.append(connected)


class Acd:
    def __init__(self, asterisk: RunningAsterisk) -> None:
        self.asterisk = asterisk
        self.settings = Settings(
            ami=AmiSettings(port=asterisk.ami_port, secret=asterisk.ami_secret),
            agi=AgiSettings(
                host=asterisk.agi_host, port=asterisk.agi_port, secret=asterisk.agi_secret
            ),
        )
        self.engine = Engine(Router())
        self.directory = AgentDirectory()
        self.agents = AgentService(self.engine, self.directory)
        self.transfers = TransferService(self.engine)
        self.steps = StepWatch()
        self.ami_events = Watch()
        self.recorder = Recorder()
        self.controller: Controller | None = None
        self.side: AsteriskSide | None = None
        self.probe: Any = None

    @property
    def router(self) -> Router:
        return self.engine.router

    async def start(self) -> None:
        self.engine.add_listener(self.steps)
        self.side = await start_asterisk_side(
            self.settings,
            self.engine,
            self.directory,
            self.agents,
            _RecorderAdapter(self.recorder),
            transfers=self.transfers,
        )
        self.controller = self.side.controller
        self.probe = await ami_probe(self.asterisk, self.ami_events)
        await self.controller.wait_ready(WAIT)

    async def stop(self) -> None:
        try:
            await self.hangup_everything()
        finally:
            if self.side is not None:
                await self.side.stop()
            if self.probe is not None:
                close_probe(self.probe)
            await self.engine.stop()

    async def action(self, **headers: Any) -> Any:
        headers.setdefault("Async", "false")  # see AmiLink._send
        return await asyncio.wait_for(self.probe.send_action(headers), WAIT)

    async def hangup_everything(self) -> None:
        listing = await asyncio.wait_for(
            self.probe.send_action({"Action": "CoreShowChannels"}, as_list=True), WAIT
        )
        names = [m["Channel"] for m in listing if m.get("Event") == "CoreShowChannel"]
        for name in names:
            await self.action(Action="Hangup", Channel=name)

    # --- configuration ------------------------------------------------------------------------

    async def queue(self, name: str, **options: Any) -> QueueConfig:
        options.setdefault("wrap_up", 0.0)
        options.setdefault("ring_timeout", 5.0)
        if "skills" in options:
            options["skills"] = frozen_skills(options["skills"])
        config = QueueConfig(name, **options)
        await self.engine.submit(lambda now: QueueUpserted(now, config))
        return config

    async def agent(
        self,
        agent_id: str,
        contact: str | None = None,
        skills: Mapping[str, int] | None = None,
        login: bool = True,
    ) -> None:
        contact = contact or f"Local/{agent_id}@acd-sim-agent"
        self.directory.put(AgentSeed(agent_id, contact=contact, skills=frozen_skills(skills)))
        await self.engine.submit(lambda now: AgentUpserted(now, agent_id, frozen_skills(skills)))
        if login:
            await self.engine.submit(lambda now: AgentLoggedIn(now, agent_id))

    # --- callers ------------------------------------------------------------------------------

    async def call(
        self,
        queue: str,
        *,
        talk: float = 1,
        ring: float = 0,
        variables: Mapping[str, str] | None = None,
        wait_entered: bool = True,
        hold: int = 120,
    ) -> Caller:
        caller = Caller(f"caller-{next(_serial)}", queue)
        values = {"__ACD_SIM_TALK": str(talk), "__ACD_SIM_RING": str(ring), **(variables or {})}
        since = self.steps.mark()
        response = await self.action(
            Action="Originate",
            Channel=f"Local/{queue}@acd-inbound/n",
            Application="Wait",
            Data=str(hold),
            Async="true",
            ChannelId=caller.leg,
            Variable=[f"{k}={v}" for k, v in values.items()],
        )
        assert response[-1]["Response"] == "Success", response
        if wait_entered:
            await self.steps.event(
                lambda e: getattr(e, "call_id", None) == caller.call_id, since=since
            )
        return caller

    async def hangup(self, caller: Caller) -> None:
        """The caller hangs up (its far end, the ;1 half, goes away)."""
        event = await self.ami_events.first(
            lambda m: m.get("Event") == "Newchannel" and m.get("Uniqueid") == caller.leg
        )
        await self.action(Action="Hangup", Channel=event["Channel"])

    async def channel_of(self, uniqueid: str) -> str:
        event = await self.ami_events.first(
            lambda m: m.get("Event") == "Newchannel" and m.get("Uniqueid") == uniqueid
        )
        return str(event["Channel"])

    async def dtmf(self, caller: Caller, digit: str) -> None:
        """The caller presses a key (sent from the far end into the dialplan half)."""
        await self.action(
            Action="PlayDTMF",
            Channel=await self.channel_of(caller.leg),
            Digit=digit,
            Duration="120",
        )

    async def getvar(self, uniqueid: str, name: str) -> str:
        response = await self.action(
            Action="Getvar", Channel=await self.channel_of(uniqueid), Variable=name
        )
        return str(response.get("Value", ""))

    async def entry_variable(self, uniqueid: str, name: str, within: float = 5.0) -> str:
        """A variable the enter AGI sets as it hands the call over, which may be a few ms
        after the CallArrived step the test waited for: read it again until it is set."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            value = await self.getvar(uniqueid, name)
            if value or asyncio.get_running_loop().time() > deadline:
                return value
            await asyncio.sleep(0.02)

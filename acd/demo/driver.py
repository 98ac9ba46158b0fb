"""The demo's driver: carries the schedule (`acd.demo.schedule`) out on a running controller.

One task sleeps until the schedule's next due time, asks it what is due (it reads the
router), and hands each action to a task of its own, kept until it ends, so nothing here
waits on Asterisk or the engine and the engine never waits on the demo:

    Arrive   Originate Local/<queue>@acd-inbound/n (Application Wait: the far end stays on
             the line), ChannelId <leg>, with __ACD_SIM_TALK / __ACD_SIM_RING for the
             simulated agent it reaches and ACD_CALLER_DATA; only while the controller is
             ready (AMI logged in and synced)
    GiveUp   Hangup of the caller's channel <leg>;2, the ACD's call id: what a caller's
             phone does, so the controller sees a caller hang up while it waits
    Pause / Unpause   the agent use cases (`AgentService`), as the API's requests do

The AMI actions go through the controller's own link, so its gate (a cluster leader's lease)
holds them too; the use cases are asked the same gate first. An Originate Asterisk refuses or
never answers is logged and counted (`counts`) and the demo goes on. At the start it waits
until the controller is ready, then logs in the demo agents that are logged out. `stop`
cancels it; the callers still in Asterisk stay there, as every caller does when the
controller stops (the next start adopts them, without their patience).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from acd.config.settings import DemoSettings
from acd.controller import Controller
from acd.controller.ami import AmiError
from acd.demo.schedule import Action, Arrive, Caller, DemoSchedule, GiveUp, Pause, Unpause
from acd.errors import DomainError
from acd.router.model import AgentState
from acd.service.agents import AgentService

log = logging.getLogger(__name__)

#: Seconds the Originate's own half of a demo caller (running Wait) stays at most; the call
#: is over long before (its agent hangs up after talking, or its patience runs out).
HOLD = 3600
#: Seconds an Originate may take to be answered (the caller's half answers at once).
ORIGINATE_WAIT = 15.0
#: Originates awaiting their answer at most; a caller due beyond it is skipped.
MAX_IN_FLIGHT = 32
#: Seconds between two "waiting for the controller" lines at the start.
READY_WAIT = 60.0
#: A simulated agent's contact (CONTRACT.md: `Local/<ext>@acd-sim-agent`, two or more digits).
SIM_AGENT_CONTACT = re.compile(r"local/[0-9]{2,}@acd-sim-agent", re.IGNORECASE)


@dataclass(slots=True)
class DemoCounts:
    #: Callers Asterisk took (their Originate answered).
    originated: int = 0
    #: Originates Asterisk refused or never answered.
    refused: int = 0
    #: Callers not sent: AMI down, not the cluster's leader, too many in flight.
    skipped: int = 0
    #: Callers hung up when their patience ran out.
    gave_up: int = 0
    #: Breaks taken.
    breaks: int = 0


def originate_action(caller: Caller) -> dict[str, str | list[str]]:
    """The Originate of one demo caller (its Variable headers are split at commas by
    Asterisk: the schedule's caller data has none)."""
    variables = {
        "__ACD_SIM_TALK": f"{caller.talk:.1f}",
        "__ACD_SIM_RING": f"{caller.ring:.1f}",
    }
    if caller.data:
        variables["ACD_CALLER_DATA"] = caller.data
    return {
        "Channel": f"Local/{caller.queue}@acd-inbound/n",
        "Application": "Wait",
        "Data": str(HOLD),
        "ChannelId": caller.leg,
        "CallerID": f'"{caller.name}" <{caller.number}>',
        "Variable": [f"{name}={value}" for name, value in variables.items()],
    }


def demo_agents(settings: DemoSettings, agents: AgentService) -> tuple[str, ...]:
    """The configured agent ids that exist, or every agent with a simulated contact."""
    if not settings.agents:
        return tuple(
            seed.id for seed in agents.directory.all() if SIM_AGENT_CONTACT.fullmatch(seed.contact)
        )
    router = agents.engine.router
    known = tuple(
        a for a in settings.agents if agents.directory.get(a) is not None or router.agent(a)
    )
    if missing := [a for a in settings.agents if a not in known]:
        log.warning("demo: no agent %s (demo.agents); left out", ", ".join(missing))
    return known


class DemoDriver:
    def __init__(
        self,
        settings: DemoSettings,
        controller: Controller,
        agents: AgentService,
        *,
        gate: Callable[[], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`gate`: whether this node may act (a cluster leader's lease); None: always."""
        self._settings = settings
        self._controller = controller
        self._agents = agents
        self._gate = gate
        self._rng = rng if rng is not None else random.Random(settings.seed)
        self._router = controller.engine.router
        self._clock = controller.engine.now
        self.counts = DemoCounts()
        self._task: asyncio.Task[None] | None = None
        self._actions: set[asyncio.Task[None]] = set()
        self._in_flight = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="acd-demo")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._actions) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._actions.clear()
        if self._task is not None:
            log.info("demo stopped: %s", self.counts)

    # --- the loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._ready()
            agents = demo_agents(self._settings, self._agents)
            await self._log_in(agents)
            now = self._clock()
            schedule = DemoSchedule(
                self._settings, agents, self._rng, now, leg=f"demo-{int(now * 1000)}"
            )
            self._announce(agents)
            while True:
                await asyncio.sleep(max(0.0, schedule.next_due() - self._clock()))
                for action in schedule.due(self._clock(), self._router):
                    self._carry_out(action)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("demo stopped by an error; the controller goes on")

    async def _ready(self) -> None:
        while True:
            try:
                await self._controller.wait_ready(within=READY_WAIT)
                return
            except TimeoutError:
                log.info("demo: waiting for the controller to be ready (AMI)")

    async def _log_in(self, agents: tuple[str, ...]) -> None:
        for agent_id in agents:
            view = self._router.agent(agent_id)
            if view is not None and view.state is not AgentState.LOGGED_OUT:
                continue
            if not self._may_act():
                return
            try:
                await self._agents.login(agent_id)
            except DomainError as exc:
                log.warning("demo: agent %s not logged in: %s", agent_id, exc.message)

    def _announce(self, agents: tuple[str, ...]) -> None:
        plan = self._settings
        queues = ", ".join(f"{q}:{w:g}" for q, w in plan.queues) or "every queue alike"
        for name, _ in plan.queues:
            if self._router.queue(name) is None:
                log.warning("demo: no queue %r (demo.queues); its callers are turned away", name)
        log.info(
            "demo: about %g callers a minute (%s), talk %g s on average, patience %s; "
            "agents %s; [demo] enabled = false (ACD_DEMO_ENABLED=0) turns it off",
            plan.calls_per_minute,
            queues,
            plan.talk_mean,
            f"{plan.patience_mean:g} s on average" if plan.patience_mean else "endless",
            ", ".join(agents) or "none",
        )

    def _may_act(self) -> bool:
        return self._gate is None or self._gate()

    def _carry_out(self, action: Action) -> None:
        if isinstance(action, Arrive):
            if not (self._controller.ready and self._may_act()):
                self.counts.skipped += 1
                return
            if self._in_flight >= MAX_IN_FLIGHT:
                self.counts.skipped += 1
                log.warning("demo: %d callers still being originated; one skipped", MAX_IN_FLIGHT)
                return
            self._in_flight += 1
            self._spawn(self._originate(action.caller))
        elif isinstance(action, GiveUp):
            if self._controller.ready and self._may_act():
                self._spawn(self._hang_up(action.caller))
        elif self._may_act():
            self._spawn(self._agent(action))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)

    # --- the actions ------------------------------------------------------------------------

    async def _originate(self, caller: Caller) -> None:
        try:
            response = await self._controller.ami.originate(
                originate_action(caller), within=ORIGINATE_WAIT
            )
        except AmiError as exc:
            if exc.unsent:
                self.counts.skipped += 1
                log.info("demo: caller %s not sent: %s", caller.leg, exc.message)
            else:
                self.counts.refused += 1
                log.warning("demo: caller %s into %s: %s", caller.leg, caller.queue, exc)
            return
        finally:
            self._in_flight -= 1
        if response.success:
            self.counts.originated += 1
        else:
            self.counts.refused += 1
            log.warning(
                "demo: Asterisk refused caller %s into %s: %s",
                caller.leg,
                caller.queue,
                response.message or "no reason given",
            )

    async def _hang_up(self, caller: Caller) -> None:
        try:
            response = await self._controller.ami.request(
                {"Action": "Hangup", "Channel": caller.call_id}
            )
        except AmiError as exc:
            log.info("demo: caller %s not hung up: %s", caller.leg, exc)
            return
        if response.success:
            self.counts.gave_up += 1
        else:  # gone meanwhile (answered and done, or it left the queue)
            log.debug("demo: caller %s not hung up: %s", caller.leg, response.message)

    async def _agent(self, action: Pause | Unpause) -> None:
        try:
            if isinstance(action, Pause):
                await self._agents.pause(action.agent_id, action.reason)
                self.counts.breaks += 1
            else:
                await self._agents.unpause(action.agent_id)
        except DomainError as exc:
            log.info("demo: %s of agent %s refused: %s", action, action.agent_id, exc.message)


def start_demo(
    settings: DemoSettings,
    controller: Controller,
    agents: AgentService,
    *,
    gate: Callable[[], bool] | None = None,
) -> DemoDriver:
    """The demo, started on `controller` (acd.compose, for a node that drives Asterisk)."""
    driver = DemoDriver(settings, controller, agents, gate=gate)
    driver.start()
    return driver

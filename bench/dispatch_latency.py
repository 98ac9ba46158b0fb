"""Dispatch latency on the real Asterisk: from the moment an agent's call ends (the agent
leg's Hangup) to the moment the next waiting caller's Dial to that agent begins (DialBegin),
both read from Asterisk's own `Timestamp:` headers.

    make bench-latency            # or: .venv/bin/python bench/dispatch_latency.py --calls 200

A throw-away Asterisk instance, the real controller (AMI + FastAGI + effects) and simulated
agents Local/<ext>@acd-sim-agent with a short talk time. Callers are topped up so a backlog
is always waiting (only dispatches with a caller waiting when the agent became free count).
Agents start at random moments within one talk cycle so they do not run in lock-step.
Prints p50 / p90 / p99 / max over the measured dispatches. The controller reacts to the first
Hangup of the agent's channel (for a Local agent, its ;2 half, known from LocalBridge): that
moment → AMI read → routing → Setvar + Redirect → dialplan → Dial. For reference it also
prints how long Asterisk takes to end the caller's leg of the finished call.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import statistics
from dataclasses import dataclass, field
from typing import Any

from panoramisk import Manager

from acd.asterisk.install import install
from acd.asterisk.testing import RunningAsterisk, start_with_free_ports
from acd.compose import start_asterisk_side
from acd.config import AgentSeed, AgiSettings, AmiSettings, Settings
from acd.engine import Engine, Step
from acd.router.decisions import OfferCall
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallEnded,
    QueueUpserted,
)
from acd.router.model import QueueConfig
from acd.router.router import Router
from acd.service import AgentService
from acd.service.directory import AgentDirectory

QUEUE = "bench"


@dataclass
class Measure:
    """What the probe saw, per agent: when its last call ended and who was waiting then."""

    agent_hangup: dict[str, float] = field(default_factory=dict)
    caller_hangup: dict[str, float] = field(default_factory=dict)
    backlog_at_end: dict[str, bool] = field(default_factory=dict)
    total: list[float] = field(default_factory=list)
    asterisk_part: list[float] = field(default_factory=list)
    #: caller call id → agent, for matching the caller leg's Hangup to its agent
    connected: dict[str, str] = field(default_factory=dict)


def agent_of(channel: str) -> str | None:
    if channel.startswith("Local/") and "@acd-sim-agent-" in channel:
        return channel[len("Local/") : channel.index("@")]
    return None


class Bench:
    def __init__(self, running: RunningAsterisk, args: argparse.Namespace) -> None:
        self.running = running
        self.args = args
        self.measure = Measure()
        self.engine = Engine(Router())
        self.directory = AgentDirectory()
        self.done = asyncio.Event()
        self.backlog_ready = asyncio.Event()
        #: agent → its current call's Local channel name without the ;1/;2 suffix
        self.current_leg: dict[str, str] = {}
        self.current_caller: dict[str, str] = {}
        self.originated = 0
        self.serial = itertools.count(1)
        self.probe: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- probe: Asterisk's view, with Asterisk's timestamps -----------------------------------

    def on_ami(self, _manager: Any, message: Any) -> None:
        event = message.get("Event")
        stamp = message.get("Timestamp")
        if not stamp:
            return
        at = float(stamp)
        if event == "Hangup":
            channel = message.get("Channel", "")
            agent = agent_of(channel)
            if agent is not None:
                # Only the legs of the agent's current call: a leg of an earlier call torn
                # down late must not count as this call's end.
                if channel.rsplit(";", 1)[0] == self.current_leg.get(agent):
                    self.measure.agent_hangup.setdefault(agent, at)  # the first half to go
            else:
                uniqueid = message.get("Uniqueid", "")
                agent = self.measure.connected.pop(uniqueid, None)
                if agent is not None and self.current_caller.get(agent) == uniqueid:
                    self.measure.caller_hangup[agent] = at
        elif event == "DialBegin" and message.get("Uniqueid"):
            agent = agent_of(message.get("DestChannel", ""))
            if agent is None:
                return
            self.measure.connected[message["Uniqueid"]] = agent
            self.current_leg[agent] = message["DestChannel"].rsplit(";", 1)[0]
            self.current_caller[agent] = message["Uniqueid"]
            ended = self.measure.agent_hangup.pop(agent, None)
            caller_ended = self.measure.caller_hangup.pop(agent, None)
            waiting = self.measure.backlog_at_end.pop(agent, False)
            if ended is not None and waiting:
                self.measure.total.append(at - ended)
                if caller_ended is not None:  # else it ended after this dial began
                    self.measure.asterisk_part.append(caller_ended - ended)
                if len(self.measure.total) >= self.args.calls:
                    self.done.set()

    # --- engine listener: keep a backlog, note whether one was waiting --------------------------

    def on_step(self, step: Step) -> None:
        if self.engine.router.waiting_count(QUEUE) >= self.args.backlog:
            self.backlog_ready.set()
        if isinstance(step.event, CallEnded):
            view_waiting = self.engine.router.waiting_count(QUEUE)
            for decision in step.decisions:
                agent = getattr(decision, "agent_id", None)
                if agent is not None:
                    self.measure.backlog_at_end[agent] = view_waiting > 0 or any(
                        isinstance(d, OfferCall) for d in step.decisions
                    )
        for decision in step.decisions:
            if isinstance(decision, OfferCall):
                self.spawn(self.originate())

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def originate(self) -> None:
        if self.done.is_set():
            return
        self.originated += 1
        await asyncio.sleep(random.uniform(0, 0.2))  # no two callers in the same instant
        variables = [
            f"__ACD_SIM_TALK={self.args.talk}",
            "__ACD_SIM_MOH=silent",
            "ACD_MOH=silent",
        ]
        await self.probe.send_action(
            {
                "Action": "Originate",
                "Channel": f"Local/{QUEUE}@acd-inbound/n",
                "Application": "Wait",
                "Data": "600",
                "Async": "true",
                "ChannelId": f"bench-{next(self.serial)}",
                "Variable": variables,
            }
        )

    async def run(self) -> None:
        settings = Settings(
            ami=AmiSettings(port=self.running.ami_port, secret=self.running.ami_secret),
            agi=AgiSettings(
                host=self.running.agi_host,
                port=self.running.agi_port,
                secret=self.running.agi_secret,
            ),
        )
        agents = AgentService(self.engine, self.directory)
        self.engine.add_listener(self)
        side = await start_asterisk_side(settings, self.engine, self.directory, agents)
        controller = side.controller
        logged_in: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.probe = Manager(
            loop=asyncio.get_running_loop(),
            host="127.0.0.1",
            port=self.running.ami_port,
            username=self.running.observer_username,
            secret=self.running.observer_secret,
            events="call",
            on_login=lambda _m: logged_in.done() or logged_in.set_result(None),
        )
        self.probe.register_event("*", self.on_ami)
        self.probe.connect()
        await asyncio.wait_for(logged_in, 10)
        await controller.wait_ready(10)
        await self.engine.submit(
            lambda now: QueueUpserted(now, QueueConfig(QUEUE, wrap_up=0.0, ring_timeout=15.0))
        )
        ids = [str(2101 + i) for i in range(self.args.agents)]
        for agent_id in ids:
            self.directory.put(AgentSeed(agent_id, contact=f"Local/{agent_id}@acd-sim-agent"))
            await self.engine.submit(lambda now, a=agent_id: AgentUpserted(now, a))
        for _ in range(self.args.backlog):
            await self.originate()
        await asyncio.wait_for(self.backlog_ready.wait(), 30)
        cycle = self.args.talk + 0.5
        for agent_id in ids:  # staggered within one talk cycle: no lock-step
            await asyncio.sleep(random.uniform(0, cycle / len(ids)))
            await self.engine.submit(lambda now, a=agent_id: AgentLoggedIn(now, a))
        await asyncio.wait_for(self.done.wait(), self.args.calls * 5)
        await side.stop()
        await self.engine.stop()
        self.probe.connect = lambda *a, **k: None
        self.probe.close()
        for task in list(self._tasks):
            task.cancel()


def report(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    quantiles = statistics.quantiles(ms, n=100, method="inclusive")
    return (
        f"{name:<28} p50 {quantiles[49]:7.2f} ms   p90 {quantiles[89]:7.2f} ms   "
        f"p99 {quantiles[98]:7.2f} ms   max {ms[-1]:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="dispatches to measure")
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--backlog", type=int, default=8, help="callers kept waiting")
    parser.add_argument("--talk", type=int, default=1, help="simulated talk seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    logging.basicConfig(level=logging.WARNING)
    running = start_with_free_ports(install().installation, "bench-latency")
    try:
        bench = Bench(running, args)
        asyncio.run(bench.run())
    finally:
        running.instance.remove()
    m = bench.measure
    print(
        f"dispatch latency over {len(m.total)} dispatches "
        f"({args.agents} agents, talk {args.talk} s, backlog {args.backlog}):"
    )
    print(report("agent hangup → DialBegin", m.total))
    print(report("  (caller leg ends after)", m.asterisk_part))
    slow = sum(1 for v in m.total if v > 0.1)
    print(f"dispatches over 100 ms: {slow} (the machine's other load shows up here)")


if __name__ == "__main__":
    main()

"""The controller: AMI client, FastAGI server and the effects layer around one Engine.

Data flow (one direction each, so event order is kept):

    AMI event ──translate──▶ fact queue ──one consumer task──▶ CallFlow ──▶ engine.post
    FastAGI route ──────────────────────────────────────────────────────▶ engine.submit
    engine step ──▶ Effects.on_step ──▶ AMI actions (kept tasks) ──failures──▶ engine.post

After every AMI (re)login the controller resynchronises before it calls itself ready: calls
whose channel vanished while the link was down are abandoned (or ended, if connected), and
the full device state list refreshes every agent's reachability.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from acd.config import Settings
from acd.controller.agi import AgiRoutes, Recorder
from acd.controller.ami import AmiError, AmiLink
from acd.controller.calls import CallTracker, Phase
from acd.controller.effects import Effects, TaskSet
from acd.controller.estimate import HandleTimes
from acd.controller.facts import (
    USED_EVENTS,
    DeviceState,
    DeviceStateChanged,
    Fact,
    translate,
)
from acd.controller.flow import CallFlow, abandoned, ended, reachability_events
from acd.controller.reachability import Reachability
from acd.directory import AgentDirectory
from acd.engine import Engine, EventFactory
from acd.router.model import CallState
from acd.service import AgentService

log = logging.getLogger(__name__)

RESYNC_TIMEOUT = 10.0


class Controller:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        directory: AgentDirectory,
        agent_service: AgentService,
        recorder: Any = None,
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self.engine = engine
        self.directory = directory
        self.tracker = CallTracker()
        self.reachability = Reachability(directory)
        self.handle_times = HandleTimes()
        self.flow = CallFlow(
            self.tracker,
            self.reachability,
            self.handle_times,
            hangup_side=lambda call_id, side: self._notify("hung_up_by", call_id, side),
        )
        self.tasks = TaskSet()
        self._facts: asyncio.Queue[Fact] = asyncio.Queue()
        self._synced = asyncio.Event()
        self._resync: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._agi_server: asyncio.Server | None = None
        self.ami = AmiLink(settings.ami, self._facts.put_nowait, self._on_login, self._on_lost)
        self.effects = Effects(self.ami, engine, self.flow, directory, self.tasks)
        routes_recorder: Recorder | None = recorder
        self.routes = AgiRoutes(
            engine, self.flow, directory, agent_service, self.handle_times, routes_recorder
        )

    # --- public surface -------------------------------------------------------------------------

    @property
    def ami_connected(self) -> bool:
        return self.ami.logged_in

    @property
    def ready(self) -> bool:
        """AMI connected and state synchronised since the last (re)connect."""
        return self.ami.logged_in and self._synced.is_set()

    async def wait_ready(self, within: float = 30.0) -> None:
        await asyncio.wait_for(self._synced.wait(), within)

    async def start(self) -> None:
        self.engine.start()
        self.engine.add_listener(self.effects)
        self._consumer = asyncio.create_task(self._consume(), name="acd-ami-facts")
        agi = self.settings.agi
        self._agi_server = await asyncio.start_server(self.routes.serve, agi.host, agi.port)
        log.info("FastAGI listening on %s:%s", agi.host, agi.port)
        self.ami.connect()

    async def stop(self) -> None:
        self.effects.active = False
        self._synced.clear()
        self.ami.close()
        self._notify("set_ami_connected", False)
        if self._agi_server is not None:
            self._agi_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._agi_server.wait_closed(), 2.0)
            self._agi_server = None
        for task in (self._resync, self._consumer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._resync = self._consumer = None
        await self.tasks.cancel_all()

    # --- AMI facts ------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            fact = await self._facts.get()
            try:
                events = self.flow.handle(fact)
            except Exception:
                log.exception("could not apply %r", fact)
                continue
            self._post(events)

    def _post(self, events: list[EventFactory]) -> None:
        for factory in events:
            self.engine.post(factory)

    # --- connection and resynchronisation ---------------------------------------------------

    def _notify(self, method: str, *args: Any) -> None:
        """Tell the call records (when there are any) what only the controller knows."""
        hook = getattr(self.recorder, method, None)
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:
            log.exception("recorder.%s failed", method)

    def _on_login(self) -> None:
        self._notify("set_ami_connected", True)
        self._synced.clear()
        if self._resync is not None:
            self._resync.cancel()
        self._resync = asyncio.get_running_loop().create_task(
            self._resync_state(), name="acd-ami-resync"
        )

    def _on_lost(self) -> None:
        self._notify("set_ami_connected", False)
        self._synced.clear()

    async def _resync_state(self) -> None:
        try:
            await self._filter_events()
            await self._resync_channels()
            await self._resync_devices()
        except AmiError as exc:
            log.warning("resync after login failed (%s); retrying at the next login", exc)
            return
        self._synced.set()
        log.info("controller ready: %d live calls tracked", len(self.tracker))

    async def _filter_events(self) -> None:
        """Ask Asterisk to send this session only the events the controller reads (a busy
        PBX sends dozens per call), plus those panoramisk itself relies on."""
        wanted = "|".join((*USED_EVENTS, "OriginateResponse", "Shutdown"))
        response = await self.ami.request(
            {"Action": "Filter", "Operation": "Add", "Filter": f"^Event: ({wanted})\r"}
        )
        if not response.success:
            log.warning("AMI event filter refused (%s): reading every event", response.message)

    async def _resync_channels(self) -> None:
        tracked_before = [call for call in self.tracker.all() if call.uniqueid is not None]
        listing = await self.ami.request_events({"Action": "CoreShowChannels"}, RESYNC_TIMEOUT)
        alive = {channel.get("Uniqueid", "") for channel in listing}
        events: list[EventFactory] = []
        for call in tracked_before:
            if self.tracker.get(call.call_id) is not call or call.uniqueid in alive:
                continue
            if call.phase is Phase.CALLBACK:
                continue
            call_id = call.call_id
            log.info("call %s: channel %s vanished while AMI was away", call_id, call.channel)
            if call.phase is Phase.CONNECTED:
                events += self.flow.finish(call, ended(call_id))
            else:
                events += self.flow.finish(call, abandoned(call_id))
        for view in self.engine.router.calls():
            if view.id in self.tracker:
                continue
            call_id = view.id
            if view.state is CallState.CONNECTED:
                events.append(ended(call_id))
            else:
                events.append(abandoned(call_id, "lost"))
        self._post(events)

    async def _resync_devices(self) -> None:
        listing = await self.ami.request_events({"Action": "DeviceStateList"}, RESYNC_TIMEOUT)
        states: dict[str, DeviceState] = {}
        for message in listing:
            fact = translate(message)
            if isinstance(fact, DeviceStateChanged):
                states[fact.device] = fact.state
        self._post(reachability_events(self.reachability.reset(states)))


async def start_controller(
    settings: Settings,
    engine: Engine,
    directory: AgentDirectory,
    agent_service: AgentService,
    recorder: Any = None,
) -> Controller:
    """Start the FastAGI server and the AMI client; returns at once (see `ready`)."""
    controller = Controller(settings, engine, directory, agent_service, recorder)
    await controller.start()
    return controller

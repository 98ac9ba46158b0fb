"""The controller: AMI client, FastAGI server and the effects layer around one Engine.

Data flow (one direction each, so event order is kept):

    AMI event ──translate──▶ fact queue ──one consumer task──▶ CallFlow ──▶ engine.post
    engine step ──▶ Effects.on_step ──▶ AMI actions (kept tasks) ──failures──▶ engine.post

The FastAGI side (`agi/`) reaches the same call tracker through `acd.service.entry`; the
composition root (`acd.compose`) wires both to one controller.

After every AMI (re)login the controller resynchronises before it calls itself ready: calls
whose channel vanished while the link was down are abandoned (or ended, if connected), and
the full device state list refreshes every agent's reachability.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from acd.config import AmiSettings
from acd.controller.ami import AmiError, AmiLink
from acd.controller.calls import CallTracker
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
from acd.controller.phases import Phase
from acd.controller.reachability import Reachability
from acd.engine import Engine, EventFactory
from acd.router.model import CallState
from acd.service.directory import AgentDirectory

log = logging.getLogger(__name__)

RESYNC_TIMEOUT = 10.0


class ControllerNotes(Protocol):
    """What the call records learn from the controller beyond the router's decisions."""

    def hung_up_by(self, call_id: str, side: str) -> None:
        """ "caller" or "agent" ended connected call `call_id` (told before CallEnded)."""

    def set_ami_connected(self, connected: bool) -> None: ...


class _NoNotes:
    def hung_up_by(self, call_id: str, side: str) -> None:
        pass

    def set_ami_connected(self, connected: bool) -> None:
        pass


class Controller:
    def __init__(
        self,
        settings: AmiSettings,
        engine: Engine,
        directory: AgentDirectory,
        notes: ControllerNotes | None = None,
    ) -> None:
        self.settings = settings
        self.notes: ControllerNotes = notes or _NoNotes()
        self.engine = engine
        self.directory = directory
        self.tracker = CallTracker()
        self.reachability = Reachability(directory)
        self.handle_times = HandleTimes()
        self.flow = CallFlow(
            self.tracker,
            self.reachability,
            self.handle_times,
            hangup_side=self.notes.hung_up_by,
        )
        self.tasks = TaskSet()
        self._facts: asyncio.Queue[Fact] = asyncio.Queue()
        self._synced = asyncio.Event()
        self._resync: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self.ami = AmiLink(settings, self._facts.put_nowait, self._on_login, self._on_lost)
        self.effects = Effects(self.ami, engine, self.flow, directory, self.tasks)

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
        self.ami.connect()

    async def stop(self) -> None:
        self.effects.active = False
        self._synced.clear()
        self.ami.close()
        self._set_ami_connected(False)
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

    def _set_ami_connected(self, connected: bool) -> None:
        try:
            self.notes.set_ami_connected(connected)
        except Exception:
            log.exception("telling the records about the AMI link failed")

    def _on_login(self) -> None:
        self._set_ami_connected(True)
        self._synced.clear()
        if self._resync is not None:
            self._resync.cancel()
        self._resync = asyncio.get_running_loop().create_task(
            self._resync_state(), name="acd-ami-resync"
        )

    def _on_lost(self) -> None:
        self._set_ami_connected(False)
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

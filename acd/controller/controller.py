"""The controller: AMI client, FastAGI server and the effects layer around one Engine.

Data flow (one direction each, so event order is kept):

    AMI event ──translate──▶ fact queue ──one consumer task──▶ CallFlow ──▶ engine.post
    engine step ──▶ Effects.on_step ──▶ AMI actions (kept tasks) ──failures──▶ engine.post

The FastAGI side (`agi/`) reaches the same call tracker through `acd.service.entry`; the
composition root (`acd.compose`) wires both to one controller.

After every AMI (re)login the controller resynchronises before it calls itself ready: it
reads every channel with its ACD_* variables (one Status action), settles the calls it tracks
against what Asterisk holds and adopts the ones it does not know (`acd.controller.adoption`),
then refreshes every agent's reachability from the full device state list and publishes
every queue's fallback for the time it may be down (`acd.controller.fallback`). The resync runs
on the fact consumer itself, so no AMI fact read after the listing is applied to a tracker
that has not seen the listing yet (a hang-up right after it finds its adopted call). Facts
read before the listing are applied after it: each is checked against the call's phase, so a
stale one changes nothing.

At the first resync it also adopts the accepted callbacks kept in the store, then runs the
`before_ready` hooks once (the composition root ends the records nobody adopted and starts
the FastAGI server there: a caller entering before that finds the FastAGI unreachable and
the dialplan keeps it waiting). Ready means all of that is done: every adoption has been
through the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from acd.config import AmiSettings
from acd.controller.adoption import Adoption, PendingCallback, Resync
from acd.controller.ami import AmiError, AmiLink
from acd.controller.calls import CallTracker, Leave
from acd.controller.effects import Effects, TaskSet
from acd.controller.estimate import HandleTimes
from acd.controller.facts import (
    DeviceState,
    DeviceStateChanged,
    Fact,
    translate,
)
from acd.controller.fallback import FallbackPublisher
from acd.controller.flow import CallFlow, reachability_events
from acd.controller.reachability import Reachability
from acd.controller.snapshot import STATUS_VARIABLES, Snapshot, read_snapshot
from acd.engine import Engine, EventFactory
from acd.router.decisions import EventRejected
from acd.router.events import Tick
from acd.router.model import CallState
from acd.service.directory import AgentDirectory

log = logging.getLogger(__name__)

RESYNC_TIMEOUT = 10.0
#: A resync that failed while the link stayed up (Asterisk slow to answer) is tried again
#: after this long; a lost link tries again at its next login anyway.
RESYNC_RETRY = 1.0

ReadyHook = Callable[[], Awaitable[None]]


class _Resync:
    """The marker `_on_login` queues behind the facts read so far: resynchronise here."""


class ControllerNotes(Protocol):
    """What the call records learn from the controller beyond the router's decisions."""

    def hung_up_by(self, call_id: str, side: str) -> None:
        """ "caller" or "agent" ended connected call `call_id` (told before CallEnded)."""

    def ended_because(self, call_id: str, reason: str) -> None:
        """Connected call `call_id` ended without a party hanging up (told before
        CallEnded): `ended_unobserved` (gone at a resync) or `asterisk_stopped`."""

    def set_ami_connected(self, connected: bool) -> None: ...


class _NoNotes:
    def hung_up_by(self, call_id: str, side: str) -> None:
        pass

    def ended_because(self, call_id: str, reason: str) -> None:
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
        *,
        gate: Callable[[], bool] | None = None,
        publish: Mapping[str, str] | None = None,
    ) -> None:
        """`gate`: every AMI action asks it first (a cluster leader's lease, `AmiLink`).
        `publish`: globals set in Asterisk after every login, before the controller is
        ready (a cluster leader's FastAGI address, `ACD_AGI`)."""
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
            end_reason=self.notes.ended_because,
        )
        self.tasks = TaskSet()
        self.resync = Resync(self.flow, directory, engine.router)
        self._facts: asyncio.Queue[Fact | _Resync] = asyncio.Queue()
        self._synced = asyncio.Event()
        self._failed = asyncio.Event()
        self.failure: BaseException | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._stopping = False
        #: Accepted callbacks kept in the store, adopted at the first resync.
        self._callbacks: Sequence[PendingCallback] = ()
        self._hooks: list[ReadyHook] = []
        self._publish = dict(publish or {})
        self._first_done = False
        self.ami = AmiLink(
            settings, self._facts.put_nowait, self._on_login, self._on_lost, gate=gate
        )
        self.effects = Effects(self.ami, engine, self.flow, directory, self.tasks)
        self.fallback = FallbackPublisher(engine.router, self.ami, self.tasks)

    # --- public surface -------------------------------------------------------------------------

    @property
    def ami_connected(self) -> bool:
        return self.ami.logged_in

    @property
    def ready(self) -> bool:
        """AMI connected and state synchronised since the last (re)connect."""
        return self.ami.logged_in and self._synced.is_set()

    async def wait_ready(self, within: float = 30.0) -> None:
        """Until ready; raises RuntimeError if a `before_ready` hook failed."""

        async def ready_or_failed() -> None:
            synced = asyncio.ensure_future(self._synced.wait())
            failed = asyncio.ensure_future(self._failed.wait())
            try:
                await asyncio.wait({synced, failed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                synced.cancel()
                failed.cancel()

        await asyncio.wait_for(ready_or_failed(), within)
        if self.failure is not None:
            raise RuntimeError(f"the controller could not get ready: {self.failure}")

    async def wait_failed(self) -> BaseException:
        """Returns (the exception) once a `before_ready` hook failed; else waits forever."""
        await self._failed.wait()
        assert self.failure is not None
        return self.failure

    def adopt_callbacks(self, callbacks: Sequence[PendingCallback]) -> None:
        """Accepted callbacks a previous run left in the store: adopted (waiting, phase
        CALLBACK) at the first resync unless Asterisk still has a channel for them."""
        self._callbacks = tuple(callbacks)

    def before_ready(self, hook: ReadyHook) -> None:
        """Run `hook` once, after the first resync and before the controller is ready (in
        the order added). A hook that raises stops the controller from becoming ready."""
        self._hooks.append(hook)

    async def start(self) -> None:
        self.engine.start()
        self.engine.add_listener(self.effects)
        self.engine.add_listener(self.fallback)
        self._consumer = asyncio.create_task(self._consume(), name="acd-ami-facts")
        self.ami.connect()

    async def stop(self) -> None:
        """Stop reading Asterisk and acting on it. Nothing is hung up or moved: the callers
        stay in Asterisk for the next start to adopt."""
        self._stopping = True
        self.effects.active = False
        self._synced.clear()
        self.ami.close()
        self._set_ami_connected(False)
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        self._consumer = None
        await self.tasks.cancel_all()

    # --- AMI facts ------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            fact = await self._facts.get()
            if isinstance(fact, _Resync):
                await self._resync_state()
                continue
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
        self._facts.put_nowait(_Resync())

    def _on_lost(self) -> None:
        self._set_ami_connected(False)
        self._synced.clear()
        if not self._stopping:
            # No offers while no Redirect can be sent (see acd.controller.reachability).
            self._post(reachability_events(self.reachability.link_lost()))

    async def _resync_state(self) -> None:
        started = time.monotonic()
        self.flow.link_up()
        try:
            snapshot, adopted = await self._resync_channels()
            await self._resync_devices()
            await self.fallback.resync()
            await self._publish_globals()
            if not self._first_done:
                await self._first_ready()
        except AmiError as exc:
            log.warning("resync after login failed (%s); trying again", exc)
            self._resync_later()
            return
        except Exception as exc:  # the consumer must go on; a hook failure is fatal, though
            log.exception("resync after login failed")
            if not self._first_done:
                self.failure = exc
                self._failed.set()
            return
        self.effects.retry_deferred(snapshot.uniqueids)
        self._synced.set()
        log.info(
            "controller ready: %d live calls tracked (%d adopted) in %.0f ms",
            len(self.tracker),
            adopted,
            (time.monotonic() - started) * 1000,
        )

    async def _publish_globals(self) -> None:
        for variable, value in self._publish.items():
            result = await self.ami.request(
                {"Action": "Setvar", "Variable": variable, "Value": value}
            )
            if not result.success:
                raise AmiError("Setvar", f"{variable}: {result.message}")

    def _resync_later(self) -> None:
        def again() -> None:
            if self.ami.logged_in and not self._stopping and not self._synced.is_set():
                self._facts.put_nowait(_Resync())

        asyncio.get_running_loop().call_later(RESYNC_RETRY, again)

    async def _first_ready(self) -> None:
        self._first_done = True
        self._callbacks = ()
        for hook in self._hooks:
            await hook()

    async def _resync_channels(self) -> tuple[Snapshot, int]:
        """Read every channel, settle the tracked calls, adopt the others (adoption.py)."""
        offers_before = self.tracker.offers
        listing = await self.ami.request_listing(
            {"Action": "Status", "Variables": ",".join(STATUS_VARIABLES)}, RESYNC_TIMEOUT
        )
        snapshot = read_snapshot(listing)
        self.flow.channels.reset(snapshot.names)
        # Let the router read what is queued for it first (a hang-up applied just before):
        # the calls it still has are then really the ones nobody tracks.
        await self.engine.submit(Tick)
        self._post(self.resync.reconcile(snapshot, offers_before))
        for call in self.resync.take_stranded():
            if call.call_id not in self.effects.deferred_requeues:  # retried after the sync
                self.effects.move_to_wait(call)
        callbacks = () if self._first_done else self._callbacks
        adoptions = self.resync.adopt(
            snapshot, self.engine.now(), callbacks, skip=self.effects.deferred_exits
        )
        adopted = await self._hand_over(adoptions)
        if snapshot.unregistered:
            log.info(
                "%d caller(s) in the ACD's dialplan have no call id yet", snapshot.unregistered
            )
        return snapshot, adopted

    async def _hand_over(self, adoptions: list[Adoption]) -> int:
        """Submit every CallAdopted in order, then wait until the router has them all; a
        call the router refuses is forgotten again (and a waiting caller sent away)."""
        submitted = [(a, self.engine.submit(a.event)) for a in adoptions]
        adopted = 0
        for adoption, future in submitted:
            try:
                decisions = await future
            except Exception as exc:  # the router failed on it: as good as refused
                decisions = [EventRejected("CallAdopted", "error", str(exc))]
            rejected = next((d for d in decisions if isinstance(d, EventRejected)), None)
            if rejected is None:
                adopted += 1
                continue
            self._refused(adoption, rejected)
        return adopted

    def _refused(self, adoption: Adoption, rejected: EventRejected) -> None:
        call = adoption.call
        log.warning(
            "call %s (%s, %s) not adopted: %s (%s)",
            call.call_id,
            adoption.state.value,
            call.channel,
            rejected.message,
            rejected.code,
        )
        agent_id = call.agent_id
        self.tracker.remove(call.call_id)
        if agent_id is not None:
            self._post(reachability_events(self.reachability.acd_call_finished(agent_id)))
        if adoption.state is CallState.WAITING and call.channel is not None:
            # Nobody would ever offer it an agent: better told now than left on hold.
            self.effects.send_away(call, Leave("error", None))

    async def _resync_devices(self) -> None:
        listing = await self.ami.request_events({"Action": "DeviceStateList"}, RESYNC_TIMEOUT)
        states: dict[str, DeviceState] = {}
        for message in listing:
            fact = translate(message)
            if isinstance(fact, DeviceStateChanged):
                states[fact.device] = fact.state
        self._post(reachability_events(self.reachability.reset(states)))

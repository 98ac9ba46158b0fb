"""After every AMI (re)login: make the live calls agree with what Asterisk holds.

Theory of operation
  A resync reads every channel once (`acd.controller.snapshot`) and then, with no await in
  between (it runs on the controller's fact consumer, so no AMI fact is applied meanwhile):

  1. `reconcile` — the calls this controller tracks:
       channel gone                 connected → CallEnded, the records told the end was not
                                    seen (`ended_unobserved`); otherwise → CallAbandoned
                                    `lost_unobserved` (the caller left while nobody watched)
       offered, now connected       answered meanwhile → OfferAnswered
       offered, back in acd-wait    the ring ended meanwhile → OfferFailed (DIALSTATUS says
                                    why; `no_answer` when it does not)
       offered or connected         agent legs not bound yet (a DialBegin missed) are bound
     Offers made after the listing was asked for are left alone: their Redirect may not
     show in it yet. The router's calls that nobody tracks end the same way as gone ones.
  2. `adopt` — the calls the router does not know (a restarted controller finds them all):
     each becomes a LiveCall (phase FOUND, then the phase the channel is in: phases.py) and
     a `CallAdopted` with its queue, priority, skills, the time it entered the ACD
     (ACD_ENTERED_AT: its place) and its current queue (ACD_QUEUE_ENTERED_AT: escalation
     and max wait). Ringing and connected calls name their agent (ACD_AGENT, else the
     contact being dialled) and bind the agent's legs so its hang-up is still attributed.
     Accepted callbacks have no channel: at the first resync they come from the store
     (`PendingCallback`) and are adopted waiting, phase CALLBACK.
     Connected and ringing calls are handed over first, then the waiting ones in entry
     order, so an agent that came back available is not offered a new call before its own
     call is adopted.

  Nothing here does I/O or reads a clock: events come back as factories for the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from acd.controller.calls import CallTracker, LiveCall
from acd.controller.flow import (
    DIAL_FAILURES,
    ENDED_UNOBSERVED,
    LOST_UNOBSERVED,
    CallFlow,
    abandoned,
    ended,
    reachability_events,
)
from acd.controller.phases import Phase, PhaseTrigger, advance
from acd.controller.snapshot import FoundCall, Seen, Snapshot
from acd.engine import EventFactory
from acd.router.events import CallAdopted, OfferAnswered, OfferFailed
from acd.router.model import CallState, CallView
from acd.service.directory import AgentDirectory

log = logging.getLogger(__name__)

_FOUND = {
    Seen.WAITING: (PhaseTrigger.FOUND_WAITING, CallState.WAITING),
    Seen.RINGING: (PhaseTrigger.FOUND_RINGING, CallState.OFFERED),
    Seen.CONNECTED: (PhaseTrigger.FOUND_CONNECTED, CallState.CONNECTED),
}


@dataclass(frozen=True, slots=True)
class PendingCallback:
    """An accepted callback kept in the store (the caller hung up: no channel holds it)."""

    call_id: str
    queue: str
    callback_to: str
    enqueued_at: float
    queue_entered_at: float
    priority: int | None
    extra_skills: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Adoption:
    call: LiveCall
    state: CallState
    event: EventFactory


class RouterCalls(Protocol):
    def call(self, call_id: str) -> CallView | None: ...

    def calls(self) -> list[CallView]: ...


class Resync:
    def __init__(
        self,
        flow: CallFlow,
        directory: AgentDirectory,
        router: RouterCalls,
    ) -> None:
        self.flow = flow
        self.tracker: CallTracker = flow.tracker
        self.directory = directory
        self.router = router
        #: Tracked WAITING calls found still bridged in acd-deliver: a transfer whose
        #: Redirect into the wait was lost with the link (the effects move them).
        self._stranded: list[LiveCall] = []

    def take_stranded(self) -> list[LiveCall]:
        """The calls the last reconcile found stranded, once."""
        stranded, self._stranded = self._stranded, []
        return stranded

    # --- 1. the calls we track ----------------------------------------------------------------

    def reconcile(self, snapshot: Snapshot, offers_before: int) -> list[EventFactory]:
        """Runtime: O(t + r) for t tracked calls and r router calls."""
        events: list[EventFactory] = []
        finished: set[str] = set()  # ended here; the router still has them until it reads it
        for call in self.tracker.all():
            if self.tracker.get(call.call_id) is not call:
                continue
            if call.phase is Phase.CALLBACK or call.uniqueid is None:
                continue  # no channel to look for
            if call.uniqueid not in snapshot.uniqueids:
                log.info(
                    "call %s: channel %s vanished while AMI was away", call.call_id, call.channel
                )
                events += self._vanished(call)
                finished.add(call.call_id)
                continue
            found = snapshot.calls.get(call.call_id)
            if found is None or found.uniqueid != call.uniqueid:
                continue
            if call.phase is Phase.OFFERED and call.offer_serial <= offers_before:
                events += self._offer_moved(call, found)
            elif call.phase is Phase.CONNECTED:
                self._bind_legs(call, found)
            elif call.phase is Phase.WAITING and found.seen is Seen.CONNECTED:
                log.info("call %s: transferred, still bridged with its agent", call.call_id)
                self._stranded.append(call)
        for view in self.router.calls():
            if view.id not in self.tracker and view.id not in finished:
                log.info("call %s: known to the router only; ended", view.id)
                events.append(self._untracked_end(view))
        return events

    def _vanished(self, call: LiveCall) -> list[EventFactory]:
        if call.phase is Phase.CONNECTED:
            self._tell_unobserved(call.call_id)
            return self.flow.finish(call, ended(call.call_id))
        return self.flow.finish(call, abandoned(call.call_id, LOST_UNOBSERVED))

    def _untracked_end(self, view: CallView) -> EventFactory:
        if view.state is CallState.CONNECTED:
            self._tell_unobserved(view.id)
            return ended(view.id)
        return abandoned(view.id, LOST_UNOBSERVED)

    def _tell_unobserved(self, call_id: str) -> None:
        self.flow.tell_end_reason(call_id, ENDED_UNOBSERVED)

    def _offer_moved(self, call: LiveCall, found: FoundCall) -> list[EventFactory]:
        call_id, agent_id = call.call_id, call.agent_id
        if agent_id is None:
            return []
        if found.seen is Seen.RINGING:
            self._bind_legs(call, found)
            return []
        if found.seen is Seen.CONNECTED:
            self._bind_legs(call, found)
            advance(call, PhaseTrigger.ANSWERED)
            log.info("call %s: answered by %s while AMI was away", call_id, agent_id)
            return [lambda now: OfferAnswered(now, call_id, agent_id)]
        reason = DIAL_FAILURES.get((found.dial_status or "").upper(), "no_answer")
        advance(call, PhaseTrigger.DIAL_FAILED)
        self.tracker.release_agent(call)
        log.info("call %s: ring of %s ended (%s) while AMI was away", call_id, agent_id, reason)
        events: list[EventFactory] = [lambda now: OfferFailed(now, call_id, agent_id, reason)]
        return events + reachability_events(self.flow.reachability.acd_call_finished(agent_id))

    def _bind_legs(self, call: LiveCall, found: FoundCall) -> None:
        if found.agent_uniqueid and call.agent_uniqueid is None:
            self.tracker.bind_agent_leg(call, found.agent_uniqueid)
        if found.agent_far_uniqueid and call.agent_far_uniqueid is None:
            self.tracker.bind_agent_far_leg(call, found.agent_far_uniqueid)

    # --- 2. the calls nobody knows ------------------------------------------------------------

    def adopt(
        self,
        snapshot: Snapshot,
        now: float,
        callbacks: Iterable[PendingCallback] = (),
        skip: Collection[str] = (),
    ) -> list[Adoption]:
        """Track every found call the router does not know (and every pending callback with
        no channel), in hand-over order. `skip`: call ids not to adopt (sent away, the
        Redirect still to be retried). Runtime: O(f log f) for f calls found."""
        pending = {callback.call_id: callback for callback in callbacks}
        adoptions: list[Adoption] = []
        for found in snapshot.calls.values():
            if self._known(found.call_id) or found.call_id in skip:
                continue
            if self.tracker.by_caller_leg(found.uniqueid) is not None:
                continue  # the channel carries another call now (it entered again)
            adoption = self._adopt_found(found, now, pending.get(found.call_id))
            if adoption is not None:
                adoptions.append(adoption)
        for callback in pending.values():
            if self._known(callback.call_id) or callback.call_id in skip:
                continue
            if callback.call_id in snapshot.calls:
                continue  # being called back right now: adopted from its channel above
            adoptions.append(self._adopt_callback(callback))
        adoptions.sort(
            key=lambda a: (a.state is CallState.WAITING, a.call.entered_at, a.call.call_id)
        )
        return adoptions

    def _known(self, call_id: str) -> bool:
        return call_id in self.tracker or self.router.call(call_id) is not None

    def _agent_of(self, found: FoundCall) -> str | None:
        if found.agent_id and self.directory.get(found.agent_id) is not None:
            return found.agent_id
        seed = self.directory.by_contact(found.agent_contact) if found.agent_contact else None
        return None if seed is None else seed.id

    def _adopt_found(
        self, found: FoundCall, now: float, callback: PendingCallback | None
    ) -> Adoption | None:
        trigger, state = _FOUND[found.seen]
        agent_id = None
        if state is not CallState.WAITING:
            agent_id = self._agent_of(found)
            if agent_id is None:
                log.warning(
                    "call %s (%s) rings or talks to an agent nobody knows (%s, %s): not adopted",
                    found.call_id,
                    found.channel,
                    found.agent_id,
                    found.agent_contact,
                )
                return None
        entered_at = found.entered_at if found.entered_at is not None else now
        queue_entered_at = found.queue_entered_at or entered_at
        call = LiveCall(
            call_id=found.call_id,
            queue=found.queue,
            entry=found.entry,
            channel=found.channel,
            uniqueid=found.uniqueid,
            phase=Phase.FOUND,
            entered_at=entered_at,
            queue_entered_at=queue_entered_at,
            callback_to=None if callback is None else callback.callback_to,
            callback_attempts=found.callback_attempt,
        )
        self.tracker.add(call)
        advance(call, trigger)
        if agent_id is not None:
            self.tracker.offer(call, agent_id)
            self._bind_legs(call, found)
            self.flow.reachability.acd_call_started(agent_id)
        event = _adopted(
            call, state, entered_at, queue_entered_at, found.priority, found.skills, agent_id
        )
        return Adoption(call, state, event)

    def _adopt_callback(self, callback: PendingCallback) -> Adoption:
        call = LiveCall(
            call_id=callback.call_id,
            queue=callback.queue,
            entry=callback.queue,
            channel=None,
            uniqueid=None,
            phase=Phase.FOUND,
            entered_at=callback.enqueued_at,
            queue_entered_at=callback.queue_entered_at,
            callback_to=callback.callback_to,
        )
        self.tracker.add(call)
        advance(call, PhaseTrigger.FOUND_CALLBACK)
        event = _adopted(
            call,
            CallState.WAITING,
            callback.enqueued_at,
            callback.queue_entered_at,
            callback.priority,
            callback.extra_skills,
            None,
        )
        return Adoption(call, CallState.WAITING, event)


def _adopted(
    call: LiveCall,
    state: CallState,
    enqueued_at: float,
    queue_entered_at: float,
    priority: int | None,
    skills: Mapping[str, int],
    agent_id: str | None,
) -> EventFactory:
    call_id, queue = call.call_id, call.queue
    return lambda now: CallAdopted(
        now,
        call_id,
        queue,
        state,
        enqueued_at,
        queue_entered_at,
        priority,
        skills,
        agent_id,
    )

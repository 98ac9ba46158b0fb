"""What each AMI fact means for the calls and agents: facts in, router events out.

No I/O and no clock: `handle(fact)` updates the channel ↔ call mapping and returns event
factories for the engine (which stamps them with its clock). The controller's single consumer
task feeds it facts in the order Asterisk sent them.

While Asterisk stops (`AsteriskStopping`, until the next resync) every channel is hung up by
Asterisk itself: a ring that ends then is not the agent's ring-no-answer (no OfferFailed, the
caller's hang-up follows), a waiting or ringing caller hung up then is abandoned with reason
`asterisk_stopped` (not the caller's choice: never a short abandon), and a connected call
ends as usual, its record saying why (`asterisk_stopped`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from acd.controller.calls import CallTracker, LiveCall
from acd.controller.estimate import HandleTimes
from acd.controller.facts import (
    AsteriskStopping,
    AttendedTransferDone,
    ChannelCreated,
    ChannelHungUp,
    ChannelRenamed,
    DeviceStateChanged,
    DialBegan,
    DialEnded,
    Fact,
    HangupRequested,
    LocalPair,
)
from acd.controller.live_channels import LiveChannels
from acd.controller.phases import Phase, PhaseTrigger, advance
from acd.controller.reachability import Reachability
from acd.engine import EventFactory
from acd.router.events import (
    AgentReachabilityChanged,
    CallAbandoned,
    CallEnded,
    CallTransferred,
    OfferAnswered,
    OfferFailed,
    TransferCompleted,
)

log = logging.getLogger(__name__)

UNTRACKED_HANGUPS_KEPT = 4096
LOCAL_PAIRS_KEPT = 4096

HangupSide = Callable[[str, str], None]
"""Told who hung up a connected call ("caller" or "agent") just before CallEnded is posted."""

EndReason = Callable[[str, str], None]
"""Told why a connected call ended when it was not a party hanging up (ENDED_UNOBSERVED,
ASTERISK_STOPPED), just before CallEnded is posted."""

#: A caller the controller found gone at a resync (when it left is unknown).
LOST_UNOBSERVED = "lost_unobserved"
#: A connected call found gone at a resync.
ENDED_UNOBSERVED = "ended_unobserved"
#: Hung up by Asterisk's own shutdown (`core stop` / `core restart`).
ASTERISK_STOPPED = "asterisk_stopped"

#: DIALSTATUS → OfferFailed reason. CANCEL is absent on purpose: Dial is cancelled when the
#: caller hangs up while the agent rings, and the caller's Hangup then says CallAbandoned.
DIAL_FAILURES = {
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "unreachable",
    "CONGESTION": "error",
    "DONTCALL": "rejected",
    "TORTURE": "rejected",
    "INVALIDARGS": "error",
}


def reachability_event(agent_id: str, reachable: bool) -> EventFactory:
    return lambda now: AgentReachabilityChanged(now, agent_id, reachable)


def reachability_events(changes: list[tuple[str, bool]]) -> list[EventFactory]:
    return [reachability_event(agent_id, reachable) for agent_id, reachable in changes]


def abandoned(call_id: str, reason: str = "hangup") -> EventFactory:
    return lambda now: CallAbandoned(now, call_id, reason)


def ended(call_id: str) -> EventFactory:
    return lambda now: CallEnded(now, call_id)


class CallFlow:
    def __init__(
        self,
        tracker: CallTracker,
        reachability: Reachability,
        handle_times: HandleTimes,
        hangup_side: HangupSide | None = None,
        end_reason: EndReason | None = None,
    ) -> None:
        self.tracker = tracker
        self.reachability = reachability
        self.handle_times = handle_times
        self.hangup_side = hangup_side
        self.end_reason = end_reason
        #: Asterisk is shutting down (see the module docstring); reset by `link_up`.
        self.asterisk_stopping = False
        #: Local channel ;1 → ;2 uniqueids, from LocalBridge (which precedes DialBegin).
        self._local_pairs: OrderedDict[str, str] = OrderedDict()
        #: Channels that hung up while no call was tracked on them, newest last. The enter
        #: AGI checks it: a caller who hangs up before its call is registered never becomes
        #: a ghost waiting call (the Hangup may be read before or after the AGI registers).
        self._untracked_hangups: OrderedDict[str, None] = OrderedDict()
        #: Every live channel, for the FastAGI server's check (acd.controller.live_channels).
        self.channels = LiveChannels()
        #: call id → the channel of its consultation, to hang up once the caller is moved
        #: (a warm transfer completed before the specialist answered).
        self.consult_hangups: dict[str, str] = {}

    def hung_up(self, uniqueid: str) -> bool:
        return uniqueid in self._untracked_hangups

    def link_up(self) -> None:
        """A new AMI session: whatever Asterisk was doing before, it runs now."""
        self.asterisk_stopping = False

    def handle(self, fact: Fact) -> list[EventFactory]:
        if isinstance(fact, ChannelCreated):
            self.channels.created(fact.uniqueid, fact.channel)
            return []
        if isinstance(fact, ChannelHungUp):
            self.channels.gone(fact.uniqueid)
            return self._hangup(fact)
        if isinstance(fact, HangupRequested):
            self._hangup_requested(fact.uniqueid)
            return []
        if isinstance(fact, DialBegan):
            return self._dial_began(fact)
        if isinstance(fact, DialEnded):
            return self._dial_ended(fact)
        if isinstance(fact, DeviceStateChanged):
            return reachability_events(self.reachability.device_changed(fact.device, fact.state))
        if isinstance(fact, LocalPair):
            self._local_pairs[fact.one_uniqueid] = fact.two_uniqueid
            if len(self._local_pairs) > LOCAL_PAIRS_KEPT:
                self._local_pairs.popitem(last=False)
            return []
        if isinstance(fact, AsteriskStopping):
            self.asterisk_stopping = True
            return []
        if isinstance(fact, AttendedTransferDone):
            return self._attended_transfer(fact)
        if isinstance(fact, ChannelRenamed):
            self.channels.renamed(fact.uniqueid, fact.new_name)
            call = self.tracker.by_caller_leg(fact.uniqueid)
            if call is not None:
                call.channel = fact.new_name
        return []

    def finish(self, call: LiveCall, factory: EventFactory) -> list[EventFactory]:
        """Forget the call and free its agent's device for reachability."""
        agent_id = call.agent_id
        self.tracker.remove(call.call_id)
        events = [factory]
        if agent_id is not None:
            events += reachability_events(self.reachability.acd_call_finished(agent_id))
        return events

    def _hangup(self, fact: ChannelHungUp) -> list[EventFactory]:
        call = self.tracker.by_caller_leg(fact.uniqueid)
        if call is not None:
            if call.phase is Phase.CALLBACK:
                # The caller hung up after asking for a callback: the call keeps its place.
                self.tracker.bind_caller(call, None, None)
                return []
            call_id = call.call_id
            if call.phase is Phase.CONNECTED:
                self._observe_talk(call, fact.timestamp)
                self._tell_side(call_id, call.hangup_requested_by or "caller")
                return self.finish(call, self._ended(call_id))
            reason = ASTERISK_STOPPED if self.asterisk_stopping else "hangup"
            return self.finish(call, abandoned(call_id, reason))
        call = self.tracker.by_agent_leg(fact.uniqueid)
        if call is not None and call.phase is Phase.CONNECTED:
            call_id = call.call_id
            self._observe_talk(call, fact.timestamp)
            self._tell_side(call_id, call.hangup_requested_by or "agent")
            return self.finish(call, self._ended(call_id))
        if call is None:
            self._untracked_hangups[fact.uniqueid] = None
            if len(self._untracked_hangups) > UNTRACKED_HANGUPS_KEPT:
                self._untracked_hangups.popitem(last=False)
        return []

    def _hangup_requested(self, uniqueid: str) -> None:
        # The bridge tears the other leg down too, and its Hangup may be read first; the
        # first leg to *request* the hangup is the one that ended the call.
        for side, call in (
            ("caller", self.tracker.by_caller_leg(uniqueid)),
            ("agent", self.tracker.by_agent_leg(uniqueid)),
        ):
            if call is not None and call.phase is Phase.CONNECTED:
                if call.hangup_requested_by is None:
                    call.hangup_requested_by = side
                return

    def _ended(self, call_id: str) -> EventFactory:
        if self.asterisk_stopping:
            self.tell_end_reason(call_id, ASTERISK_STOPPED)
        return ended(call_id)

    def tell_end_reason(self, call_id: str, reason: str) -> None:
        if self.end_reason is not None:
            try:
                self.end_reason(call_id, reason)
            except Exception:
                log.exception("end reason hook failed")

    def _tell_side(self, call_id: str, side: str) -> None:
        if self.hangup_side is not None:
            try:
                self.hangup_side(call_id, side)
            except Exception:
                log.exception("hang-up side hook failed")

    def _observe_talk(self, call: LiveCall, ended_at: float | None) -> None:
        if call.answered_at is not None and ended_at is not None:
            self.handle_times.observe(call.queue, max(0.0, ended_at - call.answered_at))

    def _attended_transfer(self, fact: AttendedTransferDone) -> list[EventFactory]:
        """A warm transfer's end, when the first agent's leg hung up (the API's complete, or
        the agent's own phone): Asterisk has put the consultation's leg into the caller's
        bridge. A consultation the specialist answered becomes the call (TransferCompleted:
        the specialist's legs are the call's agent legs from now on). One not answered yet
        cannot: the caller is handed on blind into the consultation's queue instead (the
        effects move it into the wait and then hang the consultation up), the consultation
        abandoned. Either way the first agent's leg is let go first: its Hangup follows and
        is not the call's end."""
        if fact.result.lower() != "success":
            return []
        call = self.tracker.by_agent_leg(fact.transferer_uniqueid)
        if call is None or call.phase is not Phase.CONNECTED:
            return []
        link = self.tracker.consultations.pop(call.call_id, None)
        consult = self.tracker.get(link.consult_id) if link is not None else None
        if link is None or consult is None:
            return []
        call_id, consult_id = call.call_id, consult.call_id
        first_agent = call.agent_id
        self.tracker.release_agent(call)
        events: list[EventFactory] = []
        if first_agent is not None:
            events += reachability_events(self.reachability.acd_call_finished(first_agent))
        if consult.phase is Phase.CONNECTED and consult.agent_id is not None:
            legs = (consult.agent_uniqueid, consult.agent_far_uniqueid)
            specialist, answered = consult.agent_id, consult.answered_at
            self.tracker.remove(consult_id)
            call.agent_id = specialist
            if legs[0] is not None:
                self.tracker.bind_agent_leg(call, legs[0])
            if legs[1] is not None:
                self.tracker.bind_agent_far_leg(call, legs[1])
            call.queue, call.queue_entered_at = link.queue, consult.entered_at
            call.answered_at, call.hangup_requested_by = answered, None
            return [lambda now: TransferCompleted(now, call_id, consult_id), *events]
        if consult.channel is not None:
            self.consult_hangups[call_id] = consult.channel
        self.tracker.remove(consult_id)
        queue, skills = link.queue, link.skills
        # The consultation goes first: its specialist is free again when the caller is
        # handed on, so one step offers the caller (one Redirect) instead of a Redirect into
        # the wait and, a step later, another into acd-deliver.
        return [
            lambda now: CallAbandoned(now, consult_id, "consult_cancelled"),
            lambda now: CallTransferred(now, call_id, queue, skills),
            *events,
        ]

    def _dial_began(self, fact: DialBegan) -> list[EventFactory]:
        call = self.tracker.by_caller_leg(fact.caller_uniqueid)
        if call is None or call.phase is not Phase.OFFERED or call.agent_id is None:
            return []
        call.channel = fact.caller_channel  # a called-back caller's channel is named only now
        self.tracker.bind_agent_leg(call, fact.agent_uniqueid)
        far = self._local_pairs.pop(fact.agent_uniqueid, None)
        if far is not None:
            self.tracker.bind_agent_far_leg(call, far)
        return []

    def _dial_ended(self, fact: DialEnded) -> list[EventFactory]:
        call = self.tracker.by_caller_leg(fact.caller_uniqueid)
        if call is None or call.phase is not Phase.OFFERED or call.agent_id is None:
            return []
        if call.agent_uniqueid not in (None, fact.agent_uniqueid):
            return []
        call_id, agent_id = call.call_id, call.agent_id
        status = fact.status.upper()
        if status == "ANSWER":
            advance(call, PhaseTrigger.ANSWERED)
            call.answered_at = fact.timestamp
            return [lambda now: OfferAnswered(now, call_id, agent_id)]
        if status == "CANCEL" or self.asterisk_stopping:
            return []  # the caller's Hangup follows and ends the offer
        reason = DIAL_FAILURES.get(status, "error")
        advance(call, PhaseTrigger.DIAL_FAILED)
        self.tracker.release_agent(call)
        events: list[EventFactory] = [lambda now: OfferFailed(now, call_id, agent_id, reason)]
        return events + reachability_events(self.reachability.acd_call_finished(agent_id))

"""The call records: an engine listener that turns router steps into call records and agent
state intervals, the source of truth for every definition, and tells its subscribers each
change as a typed happening (`acd.observe.happenings`).

It keeps only the live part in memory (open visits, the visit an agent is wrapping up, each
agent's open interval) and does no I/O: the store, the queue_log and the metrics are
subscribers (`writer.py`, `store_writer.py`, `queue_log.py`, `metrics_feed.py`).

Definitions (CONTRACT.md): a record is one call's visit to one queue (see
`acd.storage.record_store`). offered = entered the queue (by arrival or overflow); answered =
connected; abandoned = the caller left while waiting or ringing after the queue's
`short_abandon` seconds, earlier ones are short abandons; wait = entry into this queue →
answer, abandon, exit or overflow; talk = answer → hangup; handle = talk + wrap-up, where
wrap-up = hangup → the agent leaving WRAP_UP. An overflow ends the source visit as
`overflowed` (wait up to the overflow) and starts a new visit in the target, offered there,
whose wait counts from the overflow: each queue is measured on the time the call spent in it.
A caller who pressed the queue's exit key (CallAbandoned reason `exit_key`) is `exited`, not
abandoned: exit_reason `exit_key`, `exit_key` the key, wait up to the key.

A caller who entered while the controller was unreachable arrives with
`CallArrived.entered_at`: the record's `arrived` and `entered` are that moment, so its wait
includes the outage.

Across a restart (see `acd.recovery`): `pending(records)` hands over what the previous run
left open; a `CallAdopted` re-opens its visit from the stored record (same id and leg,
`VisitAdopted`) and tells only what the store lacks (offered, answered); with no stored
record the adopted call opens a new one. `close_unadopted(at)` ends the records no call was
adopted for, once: answered ones at `at` with their talk up to it (`ended_unobserved`),
others `abandoned` (lost) with their wait up to it (`lost_unobserved`, never a short
abandon: the caller did not choose to leave early, the ACD lost sight of it).

A blind transfer (CallRequeued) is modelled as an overflow is: the visit it ends stays
`answered` (its wait is its wait there, its talk ends at the transfer, its agent's wrap-up
follows as after a hang-up) with `transferred_to` the target queue; the next leg opens in the
target, offered there, its wait counted from the transfer (also with `kept_place`, which only
orders the caller): each queue's service level is measured on the time the caller spent in
it. A stored answered record whose call is adopted waiting, in another queue or with another
agent was transferred in a batch that died: it ends as transferred at the call's entry into
the queue it is found in, and the next leg opens there (`kept_place` None: not known).

Told by the Asterisk side (all take the router's call id; unknown ids are ignored or, where
the call may not have arrived yet, kept for its arrival):
    callback_requested(call_id, to)  the caller pressed for a callback (counted once per
                                   visit); `to` is kept in the record so it survives restarts
    caller_data(call_id, text)     ACD_CALLER_DATA, kept with the record (may precede arrival)
    hung_up_by(call_id, side)      "caller" or "agent", before posting CallEnded: chooses
                                   COMPLETECALLER / COMPLETEAGENT (unknown: COMPLETECALLER)
    ended_because(call_id, why)    the connected call ended without a party hanging up,
                                   before posting CallEnded: its exit_reason (`ended_unobserved`
                                   gone at a resync, `asterisk_stopped`)
    transfer_noted(call_id, note)  the agent's free text for a transfer of a connected call,
                                   before posting CallTransferred: kept on the visit the
                                   transfer opens (dropped when the router refuses it)
For the API: `caller_info(call_id)` of a live call.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypedDict

from acd.engine import Step
from acd.observe.happenings import (
    AgentIntervalChanged,
    CallbackRequested,
    RecordHappening,
    RecordListener,
    RingNoAnswer,
    VisitAdopted,
    VisitAnswered,
    VisitEnded,
    VisitNoted,
    VisitOffered,
    VisitOpened,
    WrapUpEnded,
)
from acd.observe.kpi import is_short_abandon
from acd.router.decisions import (
    AgentStateChanged,
    CallExited,
    CallHandedOver,
    CallOverflowed,
    CallRequeued,
    Decision,
    EventRejected,
    OfferCall,
)
from acd.router.events import (
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    CallTransferred,
    Event,
    OfferAnswered,
    OfferFailed,
    QueueUpserted,
)
from acd.router.model import AgentState, CallState, CallView, QueueConfig
from acd.router.model import skills_text as requirements_text
from acd.storage.record_store import AgentInterval, CallRecord

log = logging.getLogger(__name__)

_EARLY_LIMIT = 1000  # caller data for calls that have not arrived yet; oldest dropped beyond
#: exit_reason of a record whose end no controller saw (CallAbandoned reason / ended unseen).
#: (The same words as acd.controller.flow's, which tells them.)
LOST_UNOBSERVED = "lost_unobserved"
ENDED_UNOBSERVED = "ended_unobserved"
#: CallAbandoned reasons that are not the caller's choice: never a short abandon.
_NOT_CHOSEN = frozenset({LOST_UNOBSERVED, "asterisk_stopped"})
#: The CallAbandoned reason of a caller who pressed its queue's exit key (the word
#: acd.service.entry tells): no abandon but an exit, the caller's choice of another service
#: (`exited`, counted nowhere in the service level; app_queue's EXITWITHKEY is no ABANDON either).
EXIT_KEY = "exit_key"
#: exit_reason of a visit a warm transfer ended (its queue_log line is ATTENDEDTRANSFER).
ATTENDED_TRANSFER = "attended_transfer"


def skills_text(skills: Mapping[str, int]) -> str | None:
    """A requirement map in the ACD_SKILLS form (`skill:level,...`), None when empty."""
    return requirements_text(skills) or None


class RouterView(Protocol):
    def queue(self, name: str) -> QueueConfig | None: ...
    def call(self, call_id: str) -> CallView | None: ...
    def position(self, call_id: str) -> int | None: ...


class CallerInfo(TypedDict):
    """What the API shows of a live call beyond the router's view."""

    caller_data: str | None
    callback_requested: bool
    arrived: float
    leg: int
    transfer_note: str | None  # the note of the transfer that opened this visit


@dataclass(slots=True)
class _Consult:
    """A warm transfer's consultation, as far as the records care: whose it is and when it
    entered, was offered and answered (and by whom)."""

    call_id: str
    entered: float | None = None
    offered: float | None = None
    ring_started: float | None = None
    answered: float | None = None
    agent_id: str | None = None


@dataclass(slots=True)
class _Visit:
    record: CallRecord
    position: int
    ring_started: float | None = None


class CallRecorder:
    def __init__(
        self,
        router: RouterView | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._router = router
        self._new_id = new_id
        self._subscribers: list[RecordListener] = []
        self._configs: dict[str, QueueConfig] = {}
        self._visits: dict[str, _Visit] = {}  # live calls by call id
        self._wrapping: dict[str, _Visit] = {}  # ended calls by agent, until wrap-up ends
        self._intervals: dict[str, AgentInterval] = {}  # each agent's open interval
        self._agent_states: dict[str, tuple[AgentState, str | None]] = {}
        self._reserved_at: dict[str, float] = {}
        self._early: OrderedDict[str, str] = OrderedDict()  # caller data before arrival
        self._notes: dict[str, str] = {}  # transfer notes of connected calls, until their step
        self._consults: dict[str, _Consult] = {}  # warm transfers' consultations, by their id
        self._pending: dict[str, CallRecord] = {}  # left open by a previous run, by call id
        self._stored_open: set[str] = set()  # every call id `pending` was ever given

    def subscribe(self, listener: RecordListener) -> None:
        """Happenings go to the subscribers in the order they subscribed."""
        self._subscribers.append(listener)

    def _emit(self, happening: RecordHappening) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber.on_record(happening)
            except Exception:  # one broken output must not cost the others their record
                log.exception("record subscriber %r failed on %r", subscriber, happening)

    # --- the listener ---------------------------------------------------------------------

    def on_step(self, step: Step) -> None:
        event = step.event
        if not any(isinstance(d, EventRejected) for d in step.decisions):  # else: no change
            self._event(event, step.decisions)
            for decision in step.decisions:
                self._decision(decision, event.now)
        if isinstance(event, CallTransferred | CallEnded | CallAbandoned):
            # Told for this transfer only: a refused one (or a call gone first) leaves no
            # note for a later transfer to pick up.
            self._notes.pop(event.call_id, None)

    def _event(self, event: Event, decisions: Sequence[Decision]) -> None:
        if isinstance(event, QueueUpserted):
            self._configs[event.queue.name] = event.queue
        elif isinstance(event, CallArrived):
            unknown = any(
                isinstance(d, CallExited) and d.reason == "unknown_queue" for d in decisions
            )
            self._arrived(event, unknown)
        elif isinstance(event, CallAdopted):
            self._adopted(event)
        elif isinstance(event, OfferAnswered):
            self._answered(event)
        elif isinstance(event, OfferFailed):
            self._offer_failed(event)
        elif isinstance(event, CallAbandoned):
            self._abandoned(event)
        elif isinstance(event, CallEnded):
            self._ended(event)

    def _decision(self, decision: Decision, now: float) -> None:
        if isinstance(decision, AgentStateChanged):
            self._agent_changed(decision)
        elif isinstance(decision, OfferCall):
            self._offered(decision, now)
        elif isinstance(decision, CallOverflowed):
            self._overflowed(decision)
        elif isinstance(decision, CallRequeued):
            self._requeued(decision)
        elif isinstance(decision, CallHandedOver):
            self._handed_over(decision)
        elif isinstance(decision, CallExited):
            self._exited(decision)

    # --- calls ------------------------------------------------------------------------------

    def _config(self, queue: str) -> QueueConfig:
        config = self._router.queue(queue) if self._router is not None else None
        return config or self._configs.get(queue) or QueueConfig(queue)

    def _position(self, call_id: str) -> int:
        position = self._router.position(call_id) if self._router is not None else None
        return position or 1  # not waiting: it was offered (or turned away) at once

    def _arrived(self, event: CallArrived, unknown_queue: bool) -> None:
        consult = self._consults.get(event.call_id)
        if consult is not None:  # a warm transfer's consultation: not a caller's visit
            consult.entered = event.now
            return
        config = self._config(event.queue)
        view = self._router.call(event.call_id) if self._router is not None else None
        priority = event.priority if event.priority is not None else config.priority
        entered = event.now if event.entered_at is None else min(event.entered_at, event.now)
        record = CallRecord(
            id=self._new_id(),
            call_id=event.call_id,
            leg=0,
            queue=event.queue,
            priority=view.priority if view is not None else priority,
            arrived=entered,
            entered=entered,
            sl_threshold=config.sl_threshold,
            short_abandon=config.short_abandon,
            caller_data=self._early.pop(event.call_id, None),
            extra_skills=skills_text(event.extra_skills),
        )
        visit = _Visit(record, self._position(event.call_id))
        self._visits[event.call_id] = visit
        if not unknown_queue:  # turned away at the door: only its CallExited records it
            self._emit(VisitOpened(event.now, record, visit.position))

    # --- adoption (a restarted controller found the call again) ---------------------------

    def pending(self, records: Iterable[CallRecord]) -> None:
        """What a previous run left open (the store's `open_calls`): each waits for its
        call's `CallAdopted`, or for `close_unadopted`."""
        for record in records:
            self._pending[record.call_id] = record
            self._stored_open.add(record.call_id)

    def pending_records(self) -> list[CallRecord]:
        return list(self._pending.values())

    def _adopted(self, event: CallAdopted) -> None:
        now, call_id = event.now, event.call_id
        record = self._pending.pop(call_id, None)
        if (
            record is not None
            and record.answered is not None
            and (
                event.state is not CallState.CONNECTED
                or event.queue != record.queue
                or event.agent_id != record.agent_id
            )
        ):
            # Answered, now elsewhere: transferred, and the batch with both legs' records
            # died. The stored leg ends at its entry into where it is found; whether the
            # caller kept its place is not known.
            self._visits[call_id] = _Visit(record, self._position(call_id))
            agent = record.agent_id or ""
            self._transferred(call_id, event.queue, agent, event.queue_entered_at, None)
            visit = self._visits[call_id]
        elif record is not None and record.queue != event.queue:
            # It overflowed and the new leg's record died with the last batch: end the
            # stored leg at the overflow and go on with a new one.
            self._visits[call_id] = _Visit(record, self._position(call_id))
            self._overflowed(
                CallOverflowed(call_id, record.queue, event.queue, event.queue_entered_at)
            )
            visit = self._visits[call_id]
        elif record is not None:
            visit = self._visits[call_id] = _Visit(record, self._position(call_id))
            self._emit(VisitAdopted(now, record, event.state))
        else:
            visit = self._visits[call_id] = _Visit(self._new_record(event), self._position(call_id))
            self._emit(VisitOpened(now, visit.record, visit.position))
        agent_id = event.agent_id
        if event.state is CallState.WAITING or agent_id is None:
            return
        visit.ring_started = now
        if visit.record.offered is None:
            visit.record = replace(visit.record, offered=now)
            self._emit(VisitOffered(now, visit.record, agent_id))
        if event.state is CallState.CONNECTED and visit.record.answered is None:
            # Answered while no controller watched: the answer counts from now.
            visit.record = replace(
                visit.record,
                answered=now,
                agent_id=agent_id,
                outcome="answered",
                wait=max(0.0, now - visit.record.entered),
            )
            self._emit(VisitAnswered(now, visit.record, 0.0))

    def _new_record(self, event: CallAdopted) -> CallRecord:
        config = self._config(event.queue)
        view = self._router.call(event.call_id) if self._router is not None else None
        priority = event.priority if event.priority is not None else config.priority
        return CallRecord(
            id=self._new_id(),
            call_id=event.call_id,
            leg=0,
            queue=event.queue,
            priority=view.priority if view is not None else priority,
            arrived=event.enqueued_at,
            entered=event.queue_entered_at,
            sl_threshold=config.sl_threshold,
            short_abandon=config.short_abandon,
            extra_skills=skills_text(event.extra_skills),
        )

    def close_vanished(self, calls: Iterable[CallView], at: float) -> int:
        """A cluster's new leader: the calls its replica had (the old leader's router at its
        death) that the store never recorded and the resync did not adopt: they began and
        ended while their records were still in the old leader's last batch. Each gets its
        record, as adopted now and ended unobserved (`close_unadopted`'s rules); how many.
        Call it after the first resync and `close_unadopted`."""
        ended = 0
        for view in calls:
            if view.id in self._visits or view.id in self._stored_open:
                continue
            self._adopted(
                CallAdopted(at, view.id, view.queue, view.state, view.arrived_at,
                            max(view.arrived_at, view.queue_entered_at), view.priority,
                            view.extra_skills, view.agent_id)
            )  # fmt: skip
            self._end_unobserved(self._visits.pop(view.id).record, at)
            self._stored_open.add(view.id)  # once
            ended += 1
        return ended

    def close_unadopted(self, at: float) -> int:
        """End every pending record no call was adopted for (see the module docstring);
        how many. Runtime: O(p) for p pending records."""
        pending, self._pending = self._pending, {}
        for record in pending.values():
            self._end_unobserved(record, at)
        return len(pending)

    def _end_unobserved(self, record: CallRecord, at: float) -> None:
        if record.answered is not None:
            record = replace(
                record,
                ended=at,
                outcome="answered",
                talk=max(0.0, at - record.answered),
                exit_reason=ENDED_UNOBSERVED,
            )
        else:
            record = replace(
                record,
                ended=at,
                outcome="abandoned",
                exit_reason=LOST_UNOBSERVED,
                wait=max(0.0, at - record.entered),
            )
        self._emit(VisitEnded(at, record, 1))

    def _offered(self, offer: OfferCall, now: float) -> None:
        consult = self._consults.get(offer.call_id)
        if consult is not None:
            at = self._reserved_at.get(offer.agent_id, now)
            consult.ring_started = at
            consult.offered = consult.offered if consult.offered is not None else at
            return
        visit = self._visits.get(offer.call_id)
        if visit is None:
            return
        at = self._reserved_at.get(offer.agent_id, now)
        visit.ring_started = at
        if visit.record.offered is None:
            visit.record = replace(visit.record, offered=at)
        self._emit(VisitOffered(at, visit.record, offer.agent_id))

    def _answered(self, event: OfferAnswered) -> None:
        consult = self._consults.get(event.call_id)
        if consult is not None:
            consult.answered, consult.agent_id = event.now, event.agent_id
            return
        visit = self._visits.get(event.call_id)
        if visit is None:
            return
        record = visit.record
        visit.record = replace(
            record,
            answered=event.now,
            agent_id=event.agent_id,
            outcome="answered",
            wait=event.now - record.entered,
        )
        ring = event.now - visit.ring_started if visit.ring_started is not None else 0.0
        self._emit(VisitAnswered(event.now, visit.record, ring))

    def _offer_failed(self, event: OfferFailed) -> None:
        visit = self._visits.get(event.call_id)
        if visit is None:
            return
        visit.record = replace(visit.record, rona_count=visit.record.rona_count + 1)
        ring = 0.0 if visit.ring_started is None else event.now - visit.ring_started
        visit.ring_started = None
        self._emit(RingNoAnswer(event.now, visit.record, event.agent_id, ring))

    def _abandoned(self, event: CallAbandoned) -> None:
        if self._consults.pop(event.call_id, None) is not None:
            return  # a consultation cancelled (or left unanswered): no caller lost
        visit = self._visits.pop(event.call_id, None)
        if visit is None:
            return
        record = visit.record
        wait = max(0.0, event.now - record.entered)
        if event.reason == EXIT_KEY:
            # The key is the queue's: the controller let the caller go only for that key.
            visit.record = replace(
                record,
                ended=event.now,
                outcome="exited",
                exit_reason=EXIT_KEY,
                exit_key=self._config(record.queue).exit_key,
                wait=wait,
            )
            self._emit(VisitEnded(event.now, visit.record, visit.position))
            return
        # A caller the ACD lost sight of, or Asterisk hung up, did not choose to leave early.
        short = event.reason not in _NOT_CHOSEN and is_short_abandon(wait, record.short_abandon)
        visit.record = replace(
            record,
            ended=event.now,
            outcome="short_abandoned" if short else "abandoned",
            exit_reason=event.reason,
            wait=wait,
        )
        self._emit(VisitEnded(event.now, visit.record, visit.position))

    def _ended(self, event: CallEnded) -> None:
        if self._consults.pop(event.call_id, None) is not None:
            return  # a consultation the specialist answered, then cancelled
        visit = self._visits.get(event.call_id)
        answered = None if visit is None else visit.record.answered
        if visit is None or answered is None:
            return  # the router rejects a CallEnded for a call that is not connected
        del self._visits[event.call_id]
        visit.record = replace(visit.record, ended=event.now, talk=event.now - answered)
        self._emit(VisitEnded(event.now, visit.record, visit.position))
        if visit.record.agent_id is not None:
            self._wrapping[visit.record.agent_id] = visit

    def _wrap_up_ended(self, agent_id: str, at: float) -> None:
        visit = self._wrapping.pop(agent_id, None)
        if visit is None or visit.record.ended is None or visit.record.talk is None:
            return
        visit.record = replace(visit.record, wrap_up=max(0.0, at - visit.record.ended))
        self._emit(WrapUpEnded(at, visit.record))

    def _overflowed(self, decision: CallOverflowed) -> None:
        visit = self._visits.pop(decision.call_id, None)
        if visit is None:
            return
        record = visit.record
        visit.record = replace(
            record,
            ended=decision.at,
            outcome="overflowed",
            overflowed_to=decision.to_queue,
            wait=decision.at - record.entered,
        )
        self._emit(VisitEnded(decision.at, visit.record, visit.position))

        config = self._config(decision.to_queue)
        following = _Visit(
            replace(
                record,
                id=self._new_id(),
                leg=record.leg + 1,
                queue=decision.to_queue,
                entered=decision.at,
                sl_threshold=config.sl_threshold,
                short_abandon=config.short_abandon,
                rona_count=0,
                callback_requested=False,
            ),
            self._position(decision.call_id),
        )
        self._visits[decision.call_id] = following
        self._emit(VisitOpened(decision.at, following.record, following.position))

    def _requeued(self, decision: CallRequeued) -> None:
        self._transferred(
            decision.call_id, decision.to_queue, decision.agent_id, decision.at,
            decision.keep_place,
        )  # fmt: skip

    def _transferred(
        self,
        call_id: str,
        to_queue: str,
        agent_id: str,
        at: float,
        kept_place: bool | None,
        warm: bool = False,
    ) -> _Visit | None:
        """A blind transfer: the answered visit ends at the transfer and the agent's wrap-up
        follows it (the router put the agent in WRAP_UP first, and a wrap-up of 0 ends after
        this decision); the next leg opens in the target queue."""
        visit = self._visits.pop(call_id, None)
        if visit is None:
            return None
        record = visit.record
        visit.record = replace(
            record,
            ended=at,
            transferred_to=to_queue,
            exit_reason=ATTENDED_TRANSFER if warm else record.exit_reason,
            talk=None if record.answered is None else max(0.0, at - record.answered),
        )
        self._emit(VisitEnded(at, visit.record, visit.position))
        if agent_id:
            self._wrapping[agent_id] = visit

        config = self._config(to_queue)
        # The router's priority (the higher of the call's and the target's) and skills (the
        # transfer's merged in); a caller turned away at once (join_empty) has left it.
        view = self._router.call(call_id) if self._router is not None else None
        priority, skills = max(record.priority, config.priority), record.extra_skills
        if view is not None:
            priority, skills = view.priority, skills_text(view.extra_skills)
        following = _Visit(
            CallRecord(
                id=self._new_id(),
                call_id=record.call_id,
                leg=record.leg + 1,
                queue=to_queue,
                priority=priority,
                arrived=record.arrived,
                entered=at,
                sl_threshold=config.sl_threshold,
                short_abandon=config.short_abandon,
                caller_data=record.caller_data,
                callback_to=record.callback_to,
                extra_skills=skills,
                kept_place=kept_place,
                transfer_note=self._notes.pop(call_id, None),
            ),
            self._position(call_id),
        )
        self._visits[call_id] = following
        if not warm:
            self._emit(VisitOpened(at, following.record, following.position))
        return following

    def _handed_over(self, decision: CallHandedOver) -> None:
        """A warm transfer completed: the visit ends transferred (ATTENDEDTRANSFER), and the
        next one is what the consultation was — entered, offered and answered by the
        specialist when the consultation was — told in that order."""
        consult = self._consults.pop(decision.consult_id, None)
        following = self._transferred(
            decision.call_id, decision.queue, decision.from_agent, decision.at, None, warm=True
        )
        if following is None:
            return
        entered = (
            consult.entered
            if consult is not None and consult.entered is not None
            else (decision.at)
        )
        answered = consult.answered if consult is not None and consult.answered else decision.at
        offered = consult.offered if consult is not None and consult.offered else entered
        following.record = replace(following.record, entered=entered, offered=offered)
        self._emit(VisitOpened(entered, following.record, following.position))
        self._emit(VisitOffered(offered, following.record, decision.to_agent))
        following.record = replace(
            following.record,
            answered=answered,
            agent_id=decision.to_agent,
            outcome="answered",
            wait=max(0.0, answered - entered),
        )
        ring_started = consult.ring_started if consult is not None else None
        ring = answered - ring_started if ring_started is not None else 0.0
        self._emit(VisitAnswered(answered, following.record, ring))

    def consult_started(self, consult_id: str, call_id: str) -> None:
        """`consult_id` is the consultation of a warm transfer of `call_id`, not a caller:
        it gets no visit, record, queue_log line or count; its times make the call's next
        visit if the transfer completes (CallHandedOver). Not kept across a restart."""
        self._consults[consult_id] = _Consult(call_id)

    def _exited(self, decision: CallExited) -> None:
        visit = self._visits.pop(decision.call_id, None)
        if visit is None:
            return
        visit.record = replace(
            visit.record,
            ended=decision.at,
            outcome="exited",
            exit_reason=decision.reason,
            wait=decision.at - visit.record.entered,
        )
        self._emit(VisitEnded(decision.at, visit.record, visit.position))

    # --- agents ---------------------------------------------------------------------------

    def _agent_changed(self, change: AgentStateChanged) -> None:
        agent, state, reason, at = change.agent_id, change.state, change.pause_reason, change.at
        previous, previous_reason = self._agent_states.get(agent, (AgentState.LOGGED_OUT, None))
        self._agent_states[agent] = (state, reason)
        if state is AgentState.RESERVED:
            self._reserved_at[agent] = at
        if previous is AgentState.WRAP_UP and state is not AgentState.WRAP_UP:
            self._wrap_up_ended(agent, at)

        closed = self._intervals.pop(agent, None)
        if closed is not None:
            closed = replace(closed, end=at)
        opened = None
        if state is not AgentState.LOGGED_OUT:
            opened = self._intervals[agent] = AgentInterval(
                self._new_id(), agent, state.value, reason, at
            )
        self._emit(
            AgentIntervalChanged(
                at, agent, previous, previous_reason, state, reason, closed, opened
            )
        )

    # --- told by the Asterisk side ----------------------------------------------------------

    def callback_requested(self, call_id: str, callback_to: str | None = None) -> None:
        visit = self._visits.get(call_id)
        if visit is None or visit.record.callback_requested:
            return
        visit.record = replace(visit.record, callback_requested=True, callback_to=callback_to)
        self._emit(CallbackRequested(visit.record))

    def caller_data(self, call_id: str, text: str) -> None:
        visit = self._visits.get(call_id)
        if visit is None:
            self._keep_early(call_id, text)
            return
        visit.record = replace(visit.record, caller_data=text)
        self._emit(VisitNoted(visit.record))

    def hung_up_by(self, call_id: str, side: str) -> None:
        # Not a happening of its own: it only matters in the VisitEnded that follows.
        visit = self._visits.get(call_id)
        if visit is not None and side in ("caller", "agent"):
            visit.record = replace(visit.record, hung_up_by=side)

    def ended_because(self, call_id: str, reason: str) -> None:
        # Like hung_up_by: only the VisitEnded that follows carries it.
        visit = self._visits.get(call_id)
        if visit is not None and visit.record.answered is not None:
            visit.record = replace(visit.record, exit_reason=reason)

    def transfer_noted(self, call_id: str, note: str | None) -> None:
        # Kept aside, not on the visit: it belongs to the visit the transfer opens, and must
        # not outlive a transfer the router refuses (on_step drops it).
        visit = self._visits.get(call_id)
        if visit is None or visit.record.answered is None:
            return  # only a connected call can be transferred
        if note:
            self._notes[call_id] = note
        else:
            self._notes.pop(call_id, None)

    def _keep_early(self, call_id: str, text: str) -> None:
        self._early[call_id] = text
        while len(self._early) > _EARLY_LIMIT:
            self._early.popitem(last=False)

    # --- for the API ----------------------------------------------------------------------

    def caller_info(self, call_id: str) -> CallerInfo | None:
        visit = self._visits.get(call_id)
        if visit is None:
            return None
        record = visit.record
        return CallerInfo(
            caller_data=record.caller_data,
            callback_requested=record.callback_requested,
            arrived=record.arrived,
            leg=record.leg,
            transfer_note=record.transfer_note,
        )

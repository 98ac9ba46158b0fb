"""A blind transfer of a connected call into a queue (the API's, the agent panel's and the
softphone feature code's one use case).

`transfer(principal, call_id, body)`: the body (`TransferRequest`: a target queue and/or
extra skills, a note, keep_place) → the call is live (404 unknown_call) and connected
(409 call_not_connected) → an agent token may transfer only its own call (403 not_your_call)
→ the target queue exists (422 unknown_queue, field `queue`) → the controller is connected
and the caller's channel is bridged with the agent (503 asterisk_unavailable) → the note is
handed to the controller (ACD_TRANSFER_NOTE on the channel) and to the records → the
router's CallTransferred. What the router decided comes back: the caller waits in the
target queue, is already offered to the next agent, or left it by that queue's rules
(join_empty), as a `TransferOutcome`.

A warm transfer (`warm: true`) starts a consultation instead: the same checks, then the
controller's Atxfer on the agent's leg into `acd-consult,<number>` (the caller hears music);
the consultation's channel asks `consult_entered(number)` for what it must carry (queue,
priority, skills, caller data, note) and enters the target queue as a call of its own, known
to the records as a consultation (`consult_started`). `complete` (409 consult_not_answered
until the specialist answered) hangs the agent's leg up; `cancel` hangs the consultation up.
What Asterisk then did arrives as AttendedTransfer (acd.controller.flow).

Roles (admin, supervisor, agent) are the API's to check (api/auth.py); whose call it is, is
this module's.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from acd.config.documents import TransferRequest
from acd.controller.calls import channel_text
from acd.engine import Engine
from acd.errors import Conflict, Invalid, NotFound, NotOnCall, NotYours, Unavailable
from acd.router.decisions import CallExited, CallRequeued, OfferCall
from acd.router.events import CallTransferred
from acd.router.model import (
    CallState,
    CallView,
    frozen_skills,
    merge_requirements,
    skills_text,
)
from acd.service.common import raise_if_rejected, validated
from acd.service.tokens import Principal


class TransferLine(Protocol):
    """The controller's side (`acd.controller.transfer.ControllerTransferLine`)."""

    def bridged(self, call_id: str) -> bool:
        """The AMI link is up and the caller's channel is talking to its agent."""
        ...

    def noted(self, call_id: str, note: str) -> None:
        """The note travels on the caller's channel (ACD_TRANSFER_NOTE) from now on."""
        ...

    def call_of_agent_leg(self, uniqueid: str) -> str | None:
        """The call whose agent leg is the channel `uniqueid`, if any."""
        ...

    async def consult(self, call_id: str, number: str) -> str | None:
        """Start consultation `number` from the call's agent leg; None, or why not."""
        ...

    def consultation_entered(
        self, call_id: str, consult_id: str, queue: str, skills: Mapping[str, int]
    ) -> str | None:
        """Known from now on; the caller's channel name (its caller data is read there)."""
        ...

    async def complete(self, call_id: str) -> str | None: ...

    async def cancel(self, consult_id: str) -> str | None: ...


class TransferNotes(Protocol):
    """The records' side: the note goes with the visit the transfer opens; a consultation
    is not a caller's visit."""

    def transfer_noted(self, call_id: str, note: str) -> None: ...

    def consult_started(self, consult_id: str, call_id: str) -> None: ...


@dataclass(slots=True)
class _Consultation:
    number: str
    call_id: str
    queue: str
    skills: Mapping[str, int]
    priority: int
    note: str
    consult_id: str | None = None
    #: The router has had the consultation (so its absence now means it ended).
    seen: bool = False


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    call_id: str
    from_queue: str
    to_queue: str
    from_agent: str
    keep_place: bool
    #: waiting | offered | exited
    state: str
    #: The agent now ringing, when the router offered one at once.
    offered_to: str | None = None
    #: Why it left the target queue at once (join_empty), when it did.
    exit_reason: str | None = None
    #: A warm transfer's consultation call, once it entered the target queue.
    consult_id: str | None = None


class TransferService:
    def __init__(self, engine: Engine, notes: TransferNotes | None = None) -> None:
        self.engine = engine
        self.notes = notes
        self.line: TransferLine | None = None
        self._consultations: dict[str, _Consultation] = {}  # by number
        self._by_call: dict[str, str] = {}  # call id → number

    def attach(self, line: TransferLine) -> None:
        self.line = line

    async def transfer(self, principal: Principal, call_id: str, body: Any) -> TransferOutcome:
        request = validated(TransferRequest, body, "transfer")
        view = self.engine.router.call(call_id)
        if view is None:
            raise NotFound(f"no live call {call_id!r}", code="unknown_call")
        if view.state is not CallState.CONNECTED or view.agent_id is None:
            raise Conflict(
                f"call {call_id} is {view.state.value}: only a call talking to an agent can "
                "be transferred",
                code="call_not_connected",
            )
        if principal.role == "agent" and principal.agent_id != view.agent_id:
            raise NotYours(f"call {call_id} is not agent {principal.agent_id}'s")
        if request.warm:
            return await self._consult(view, request.queue or view.queue, request)
        return await self._transfer(
            call_id, request.queue or view.queue, request.skills, request.note, request.keep_place
        )

    # --- warm transfers ---------------------------------------------------------------------

    async def _consult(self, view: CallView, queue: str, request: Any) -> TransferOutcome:
        if request.keep_place:
            raise Invalid(
                "a consultation is ordered by its own start", code="invalid", field="keep_place"
            )
        target = self.engine.router.queue(queue)
        if target is None:
            raise Invalid(f"no queue {queue!r}", code="unknown_queue", field="queue")
        if self._current(view.id) is not None:
            raise Conflict(f"call {view.id} has a consultation already", code="consult_in_progress")
        line = self.line
        if line is None or not line.bridged(view.id):
            raise Unavailable(f"call {view.id}: Asterisk cannot start a consultation now")
        number = self._new_number()
        consultation = _Consultation(
            number,
            view.id,
            queue,
            merge_requirements(view.extra_skills, request.skills),
            max(view.priority, target.priority),
            request.note,
        )
        self._consultations[number] = consultation
        self._by_call[view.id] = number
        failure = await line.consult(view.id, number)
        if failure is not None:
            self._forget(consultation)
            raise Unavailable(f"call {view.id}: the consultation was not started: {failure}")
        assert view.agent_id is not None
        return TransferOutcome(view.id, view.queue, queue, view.agent_id, False, "consulting")

    def consult_entered(self, number: str, consult_id: str) -> dict[str, str] | None:
        """The consultation's channel (`consult_id`, entering acd-consult,<number>): what it
        carries into the target queue, or None (no such consultation: refused)."""
        consultation = self._consultations.get(number)
        if consultation is None or consultation.consult_id is not None:
            return None
        call_id = consultation.call_id
        if self.engine.router.call(call_id) is None:
            self._forget(consultation)
            return None
        consultation.consult_id = consult_id
        if self.notes is not None:
            self.notes.consult_started(consult_id, call_id)
        caller_channel = None
        if self.line is not None:
            caller_channel = self.line.consultation_entered(
                call_id, consult_id, consultation.queue, consultation.skills
            )
        return {
            "ACD_CONSULT_QUEUE": consultation.queue,
            "ACD_CONSULT_OF": call_id,
            "ACD_CONSULT_CALLER": caller_channel or "",
            "ACD_PRIORITY": str(consultation.priority),
            "ACD_SKILLS": skills_text(consultation.skills),
            "ACD_TRANSFER_NOTE": channel_text(consultation.note),
        }

    async def complete(self, principal: Principal, call_id: str) -> TransferOutcome:
        """Join the caller and the specialist; the agent leaves (its leg is hung up)."""
        consultation, view = self._own_consultation(principal, call_id)
        consult = (
            self.engine.router.call(consultation.consult_id)
            if consultation.consult_id is not None
            else None
        )
        if consult is None or consult.state is not CallState.CONNECTED:
            raise Conflict(
                f"call {call_id}: the specialist has not answered the consultation",
                code="consult_not_answered",
            )
        failure = await self._line().complete(call_id)
        if failure is not None:
            raise Unavailable(f"call {call_id}: not completed: {failure}")
        assert view.agent_id is not None
        return TransferOutcome(
            call_id,
            view.queue,
            consultation.queue,
            view.agent_id,
            False,
            "completing",
            consult.agent_id,
            None,
            consult.id,
        )

    async def cancel(self, principal: Principal, call_id: str) -> TransferOutcome:
        """End the consultation; the agent is back with the caller."""
        consultation, view = self._own_consultation(principal, call_id)
        if consultation.consult_id is None:
            raise Conflict(
                f"call {call_id}: the consultation is still being dialled",
                code="consult_not_ready",
            )
        failure = await self._line().cancel(consultation.consult_id)
        if failure is not None:
            raise Unavailable(f"call {call_id}: not cancelled: {failure}")
        self._forget(consultation)
        assert view.agent_id is not None
        return TransferOutcome(
            call_id,
            view.queue,
            consultation.queue,
            view.agent_id,
            False,
            "cancelling",
            None,
            None,
            consultation.consult_id,
        )

    def _own_consultation(
        self, principal: Principal, call_id: str
    ) -> tuple[_Consultation, CallView]:
        view = self.engine.router.call(call_id)
        if view is None:
            raise NotFound(f"no live call {call_id!r}", code="unknown_call")
        if principal.role == "agent" and principal.agent_id != view.agent_id:
            raise NotYours(f"call {call_id} is not agent {principal.agent_id}'s")
        consultation = self._current(call_id)
        if consultation is None or view.state is not CallState.CONNECTED:
            raise Conflict(f"call {call_id} has no consultation", code="no_consultation")
        return consultation, view

    def _current(self, call_id: str) -> _Consultation | None:
        """The call's consultation while it lasts (one whose call is gone is forgotten)."""
        number = self._by_call.get(call_id)
        consultation = self._consultations.get(number) if number is not None else None
        if consultation is None:
            return None
        router = self.engine.router
        call = router.call(call_id)
        consult = router.call(consultation.consult_id) if consultation.consult_id else None
        consultation.seen = consultation.seen or consult is not None
        # Gone once the router had it (between the consult AGI and its arrival it has not).
        over = call is None or (consultation.seen and consult is None)
        if over or (call is not None and call.state is not CallState.CONNECTED):
            self._forget(consultation)
            return None
        return consultation

    def _forget(self, consultation: _Consultation) -> None:
        self._consultations.pop(consultation.number, None)
        if self._by_call.get(consultation.call_id) == consultation.number:
            del self._by_call[consultation.call_id]

    def _new_number(self) -> str:
        while True:
            number = f"{secrets.randbelow(10**8):08d}"
            if number not in self._consultations:
                return number

    def _line(self) -> TransferLine:
        if self.line is None:
            raise Unavailable("this node moves no calls")
        return self.line

    async def transfer_by_code(
        self, agent_id: str, code: str, leg: str | None = None
    ) -> TransferOutcome:
        """The softphone's `*8<code>#`: the agent's connected call into the queue whose
        `transfer_code` is `code`, keeping the caller's place (it waited once already).
        `leg`: the uniqueid of the channel that keyed it — the call on that leg, never
        another call of the same agent's. Errors: agent_not_on_call, unknown_transfer_code
        (422)."""
        agent = self.engine.router.agent(agent_id)
        call_id = agent.call_id if agent is not None else None
        if leg is not None:
            call_id = self.line.call_of_agent_leg(leg) if self.line is not None else None
        view = self.engine.router.call(call_id) if call_id is not None else None
        if view is None or view.state is not CallState.CONNECTED or view.agent_id != agent_id:
            raise NotOnCall(f"agent {agent_id} is not talking to a caller")
        queue = next(
            (q.name for q in self.engine.router.queues() if code and q.transfer_code == code),
            None,
        )
        if queue is None:
            raise Invalid(
                f"no queue has transfer code {code!r}", code="unknown_transfer_code", field="code"
            )
        return await self._transfer(view.id, queue, {}, "", keep_place=True)

    async def _transfer(
        self,
        call_id: str,
        queue: str,
        skills: Mapping[str, int],
        note: str,
        keep_place: bool,
    ) -> TransferOutcome:
        if self.engine.router.queue(queue) is None:
            raise Invalid(f"no queue {queue!r}", code="unknown_queue", field="queue")
        line = self.line
        if line is None or not line.bridged(call_id):
            raise Unavailable(
                f"call {call_id}: Asterisk is not reachable or the caller is not bridged with "
                "the agent now; nothing was changed, try again"
            )
        line.noted(call_id, note)
        if self.notes is not None:
            self.notes.transfer_noted(call_id, note)
        extra = frozen_skills(skills)
        decisions = await self.engine.submit(
            lambda now: CallTransferred(now, call_id, queue, extra, keep_place)
        )
        raise_if_rejected(decisions)
        return _outcome(call_id, decisions)


def _outcome(call_id: str, decisions: list[Any]) -> TransferOutcome:
    requeued = next(
        (d for d in decisions if isinstance(d, CallRequeued) and d.call_id == call_id), None
    )
    if requeued is None:  # the router accepted it: CallRequeued is always its first call news
        raise Conflict(f"call {call_id} was not transferred", code="call_not_connected")
    offered_to = next(
        (d.agent_id for d in decisions if isinstance(d, OfferCall) and d.call_id == call_id),
        None,
    )
    exited = next(
        (d.reason for d in decisions if isinstance(d, CallExited) and d.call_id == call_id), None
    )
    state = "exited" if exited else "offered" if offered_to else "waiting"
    return TransferOutcome(
        call_id,
        requeued.from_queue,
        requeued.to_queue,
        requeued.agent_id,
        requeued.keep_place,
        state,
        offered_to,
        exited,
    )

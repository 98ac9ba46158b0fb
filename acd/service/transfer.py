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

Roles (admin, supervisor, agent) are the API's to check (api/auth.py); whose call it is, is
this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from acd.config.documents import TransferRequest
from acd.engine import Engine
from acd.errors import Conflict, Invalid, NotFound, NotOnCall, NotYours, Unavailable
from acd.router.decisions import CallExited, CallRequeued, OfferCall
from acd.router.events import CallTransferred
from acd.router.model import CallState, frozen_skills
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


class TransferNotes(Protocol):
    """The records' side: the note goes with the visit the transfer opens."""

    def transfer_noted(self, call_id: str, note: str) -> None: ...


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


class TransferService:
    def __init__(self, engine: Engine, notes: TransferNotes | None = None) -> None:
        self.engine = engine
        self.notes = notes
        self.line: TransferLine | None = None

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
        return await self._transfer(
            call_id, request.queue or view.queue, request.skills, request.note, request.keep_place
        )

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

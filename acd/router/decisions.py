"""Decisions the router emits. The effects layer carries out the ones that touch Asterisk
(`OfferCall`, `CallExited`); records, metrics and the event stream consume all of them."""

from __future__ import annotations

from dataclasses import dataclass

from acd.router.model import AgentState


@dataclass(frozen=True, slots=True)
class OfferCall:
    """Ring `agent_id` for `call_id` (the agent is now reserved) with the queue's ring timeout."""

    call_id: str
    agent_id: str
    queue: str
    ring_timeout: float


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent_id: str
    state: AgentState
    pause_reason: str | None
    idle_since: float | None
    at: float
    #: When the agent entered `state`, if not `at`: only a restore says so (the stored moment).
    state_since: float | None = None


@dataclass(frozen=True, slots=True)
class CallEscalated:
    """The call reached escalation step `step` (1-based) of its queue."""

    call_id: str
    queue: str
    step: int
    at: float


@dataclass(frozen=True, slots=True)
class CallOverflowed:
    """max_wait passed and the call moved from `from_queue` into `to_queue`."""

    call_id: str
    from_queue: str
    to_queue: str
    at: float


@dataclass(frozen=True, slots=True)
class CallRequeued:
    """A blind transfer: `agent_id` handed the connected call on from `from_queue` into
    `to_queue`, where it waits again (an OfferCall or CallExited may follow in the same
    step). The caller must hear the queue's music now, not the agent."""

    call_id: str
    from_queue: str
    to_queue: str
    agent_id: str
    keep_place: bool
    at: float


@dataclass(frozen=True, slots=True)
class CallHandedOver:
    """A warm transfer completed: `call_id` is now connected to `to_agent` in `queue`
    (the consultation `consult_id` it absorbed is gone); `from_agent` wraps up."""

    call_id: str
    consult_id: str
    queue: str
    from_agent: str
    to_agent: str
    at: float


@dataclass(frozen=True, slots=True)
class CallExited:
    """The call leaves the ACD without an agent. reason: `timeout` (max_wait, `destination`
    is the queue's overflow dialplan target or None), `join_empty`, `leave_empty`,
    `unknown_queue`, `queue_removed`."""

    call_id: str
    queue: str
    reason: str
    destination: str | None
    at: float


@dataclass(frozen=True, slots=True)
class EventRejected:
    """The event could not apply (unknown agent, call or queue; wrong state). Nothing changed.
    `code` is a stable string such as `unknown_agent`, `unknown_call`, `unknown_queue`,
    `duplicate_call`, `agent_not_logged_in`, `agent_busy`, `agent_logged_in` (a restore
    for an agent logged in already), `wrong_state`, `invalid_event`."""

    event: str
    code: str
    message: str


Decision = (
    OfferCall
    | AgentStateChanged
    | CallEscalated
    | CallOverflowed
    | CallRequeued
    | CallHandedOver
    | CallExited
    | EventRejected
)

"""Shape checks for incoming events, shared by both routers.

A malformed event is rejected with code `invalid_event` before it touches any state; the
typed constructors cannot stop a caller from passing a NaN time or a level of 42.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from acd.router import events as ev
from acd.router.model import (
    MAX_LEVEL,
    MIN_LEVEL,
    RONA_REASON,
    AgentPolicy,
    AgentState,
    CallState,
    EscalationStep,
    QueueConfig,
    RonaAction,
)


def _is_number(value: Any) -> bool:
    # type() rather than isinstance: bool is an int but not a time; x - x is nan for nan/inf.
    return type(value) in _NUMBER_TYPES and value - value == 0


_NUMBER_TYPES = (float, int)
_PLAIN_MAPPINGS = (MappingProxyType, dict)


def _is_id(value: Any) -> bool:
    return type(value) is str and value != ""


def skills_problem(skills: Any, what: str) -> str | None:
    if type(skills) not in _PLAIN_MAPPINGS and not isinstance(skills, Mapping):
        return f"{what} must be a mapping of skill name to level"
    for name, level in skills.items():
        if not _is_id(name):
            return f"{what}: skill names must be non-empty strings"
        if type(level) is not int:
            return f"{what}.{name}: level must be an integer"
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            return f"{what}.{name}: level must be {MIN_LEVEL}..{MAX_LEVEL}"
    return None


def queue_problem(queue: Any) -> str | None:
    if not isinstance(queue, QueueConfig):
        return "queue must be a QueueConfig"
    if not _is_id(queue.name):
        return "queue name must be a non-empty string"
    problem = skills_problem(queue.skills, "skills")
    if problem:
        return problem
    if isinstance(queue.priority, bool) or not isinstance(queue.priority, int):
        return "priority must be an integer"
    for name in ("wrap_up", "rona_delay"):
        value = getattr(queue, name)
        if not _is_number(value) or value < 0:
            return f"{name} must be a finite number >= 0"
    if not _is_number(queue.ring_timeout) or queue.ring_timeout <= 0:
        return "ring_timeout must be a finite number > 0"
    # A zero max wait could bounce a call between two queues forever within one Tick.
    if queue.max_wait is not None and (not _is_number(queue.max_wait) or queue.max_wait <= 0):
        return "max_wait must be None or a finite number > 0"
    if queue.overflow is not None and not _is_id(queue.overflow):
        return "overflow must be None or a non-empty string"
    if queue.primary_skill is not None and not _is_id(queue.primary_skill):
        return "primary_skill must be None or a non-empty string"
    if not isinstance(queue.policy, AgentPolicy):
        return "policy must be an AgentPolicy"
    if not isinstance(queue.rona_action, RonaAction):
        return "rona_action must be a RonaAction"
    if not isinstance(queue.join_empty, bool) or not isinstance(queue.leave_empty, bool):
        return "join_empty and leave_empty must be booleans"
    previous = 0.0
    for index, step in enumerate(queue.escalation):
        if not isinstance(step, EscalationStep):
            return f"escalation[{index}] must be an EscalationStep"
        if not _is_number(step.after) or step.after < previous:
            return "escalation steps need finite, non-negative, non-decreasing `after`"
        previous = step.after
        problem = skills_problem(step.skills, f"escalation[{index}].skills")
        if problem:
            return problem
    return None


def _call_arrived_problem(event: ev.CallArrived) -> str | None:
    priority = event.priority
    if priority is not None and type(priority) is not int:
        return "priority must be an integer or None"
    entered = event.entered_at
    if entered is not None and (not _is_number(entered) or entered > event.now):
        return "entered_at must be None or a finite number not after now"
    if not event.extra_skills:
        return None
    return skills_problem(event.extra_skills, "extra_skills")


#: The call states a CallAdopted finds a call on an agent in (any CallState can be adopted).
_ON_AN_AGENT = frozenset({CallState.OFFERED, CallState.CONNECTED})


def _adopted_problem(event: ev.CallAdopted) -> str | None:
    """A state the router itself could have had the call in: an agent exactly when it is
    offered or connected; it entered the ACD (`enqueued_at`) no later than its current queue
    (`queue_entered_at`), and both before `now`."""
    state = event.state
    if type(state) is not CallState:
        return "state must be a CallState"
    if state in _ON_AN_AGENT:
        if not _is_id(event.agent_id):
            return "agent_id must be a non-empty string when offered or connected"
    elif event.agent_id is not None:
        return "agent_id must be None for a waiting call"
    enqueued, entered = event.enqueued_at, event.queue_entered_at
    if not _is_number(enqueued) or not _is_number(entered):
        return "enqueued_at and queue_entered_at must be finite numbers"
    if not enqueued <= entered <= event.now:
        return "enqueued_at <= queue_entered_at <= now must hold"
    priority = event.priority
    if priority is not None and type(priority) is not int:
        return "priority must be an integer or None"
    return skills_problem(event.extra_skills, "extra_skills")


def _paused_problem(event: ev.AgentPaused) -> str | None:
    return None if type(event.reason) is str else "reason must be a string"


def _reachability_problem(event: ev.AgentReachabilityChanged) -> str | None:
    return None if type(event.reachable) is bool else "reachable must be a boolean"


#: The states an AgentRestored can restore, and those among them that are on a call.
_RESTORABLE = frozenset(AgentState) - {AgentState.LOGGED_OUT}
_ON_A_CALL = frozenset({AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP})
_PENDING = (None, "pause", "logout")


def _optional_time(value: Any) -> bool:
    return value is None or _is_number(value)


def _restored_problem(event: ev.AgentRestored) -> str | None:
    """The stored state must be one the router itself could have been in: a logged-in state
    with its idle_since; a pause reason exactly when PAUSED; a pending request only on a call
    (a pause with its reason); a wrap-up deadline exactly when WRAP_UP; a rona deadline only
    for a "rona" pause; a state_since finite if given."""
    state = event.state
    if type(state) is not AgentState or state not in _RESTORABLE:
        return "state must be a logged-in AgentState"
    if not _is_number(event.idle_since):
        return "idle_since must be a finite number"
    paused = state is AgentState.PAUSED
    if paused != (type(event.pause_reason) is str) or (
        not paused and event.pause_reason is not None
    ):
        return "pause_reason must be a string when paused and None otherwise"
    pending = event.pending
    if pending not in _PENDING or (pending is not None and state not in _ON_A_CALL):
        return 'pending must be None, or "pause" or "logout" while on a call'
    wants_reason = pending == "pause"
    if wants_reason != (type(event.pending_reason) is str) or (
        not wants_reason and event.pending_reason is not None
    ):
        return "pending_reason must be a string for a pending pause and None otherwise"
    wrapping = state is AgentState.WRAP_UP
    if not _optional_time(event.wrap_until) or wrapping != (event.wrap_until is not None):
        return "wrap_until must be a finite number in wrap-up and None otherwise"
    if not _optional_time(event.rona_until) or (
        event.rona_until is not None and (not paused or event.pause_reason != RONA_REASON)
    ):
        return 'rona_until must be None or a finite number for a "rona" pause'
    if not _optional_time(event.state_since):
        return "state_since must be None or a finite number"
    return None


def _transferred_problem(event: ev.CallTransferred) -> str | None:
    if type(event.keep_place) is not bool:
        return "keep_place must be a bool"
    return skills_problem(event.extra_skills, "extra_skills")


def _completed_problem(event: ev.TransferCompleted) -> str | None:
    if event.call_id == event.consult_id:
        return "consult_id must name another call"
    return None


#: Per event type: the fields that must be non-empty strings, and any further check.
_SHAPES: dict[type, tuple[tuple[str, ...], Callable[[Any], str | None] | None]] = {
    ev.Tick: ((), None),
    ev.QueueUpserted: ((), lambda e: queue_problem(e.queue)),
    ev.QueueRemoved: (("name",), None),
    ev.AgentUpserted: (("agent_id",), lambda e: skills_problem(e.skills, "skills")),
    ev.AgentRemoved: (("agent_id",), None),
    ev.AgentLoggedIn: (("agent_id",), None),
    ev.AgentLoggedOut: (("agent_id",), None),
    ev.AgentPaused: (("agent_id",), _paused_problem),
    ev.AgentUnpaused: (("agent_id",), None),
    ev.AgentWrapUpDone: (("agent_id",), None),
    ev.AgentReachabilityChanged: (("agent_id",), _reachability_problem),
    ev.AgentRestored: (("agent_id",), _restored_problem),
    ev.CallArrived: (("call_id", "queue"), _call_arrived_problem),
    ev.CallAdopted: (("call_id", "queue"), _adopted_problem),
    ev.CallAbandoned: (("call_id",), None),
    ev.OfferAnswered: (("call_id", "agent_id"), None),
    ev.OfferFailed: (("call_id", "agent_id"), None),
    ev.CallTransferred: (("call_id", "queue"), _transferred_problem),
    ev.TransferCompleted: (("call_id", "consult_id"), _completed_problem),
    ev.CallEnded: (("call_id",), None),
}


def event_problem(event: Any) -> str | None:
    """Why `event` cannot be handled, or None when its shape is fine."""
    shape = _SHAPES.get(type(event))
    if shape is None:
        return f"not a router event: {type(event).__name__}"
    now = event.now  # inlined _is_number and _is_id: this runs for every event
    if type(now) not in _NUMBER_TYPES or now - now != 0:
        return "now must be a finite number"
    id_fields, further = shape
    for name in id_fields:
        value = getattr(event, name)
        if type(value) is not str or not value:
            return f"{name} must be a non-empty string"
    return None if further is None else further(event)

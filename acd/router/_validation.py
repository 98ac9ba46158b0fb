"""Shape checks for incoming events, shared by both routers.

A malformed event is rejected with code `invalid_event` before it touches any state; the
typed constructors cannot stop a caller from passing a NaN time or a level of 42.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from acd.router import events as ev
from acd.router.model import (
    MAX_LEVEL,
    MIN_LEVEL,
    AgentPolicy,
    EscalationStep,
    QueueConfig,
    RonaAction,
)

EVENT_TYPES: tuple[type, ...] = (
    ev.Tick,
    ev.QueueUpserted,
    ev.QueueRemoved,
    ev.AgentUpserted,
    ev.AgentRemoved,
    ev.AgentLoggedIn,
    ev.AgentLoggedOut,
    ev.AgentPaused,
    ev.AgentUnpaused,
    ev.AgentReachabilityChanged,
    ev.CallArrived,
    ev.CallAbandoned,
    ev.OfferAnswered,
    ev.OfferFailed,
    ev.CallEnded,
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def skills_problem(skills: Any, what: str) -> str | None:
    if not isinstance(skills, Mapping):
        return f"{what} must be a mapping of skill name to level"
    for name, level in skills.items():
        if not _is_id(name):
            return f"{what}: skill names must be non-empty strings"
        if isinstance(level, bool) or not isinstance(level, int):
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


def event_problem(event: Any) -> str | None:
    """Why `event` cannot be handled, or None when its shape is fine."""
    if not isinstance(event, EVENT_TYPES):
        return f"not a router event: {type(event).__name__}"
    if not _is_number(getattr(event, "now", None)):
        return "now must be a finite number"
    for name in ("agent_id", "call_id"):
        if hasattr(event, name) and not _is_id(getattr(event, name)):
            return f"{name} must be a non-empty string"
    if isinstance(event, ev.QueueUpserted):
        return queue_problem(event.queue)
    if isinstance(event, ev.QueueRemoved) and not _is_id(event.name):
        return "name must be a non-empty string"
    if isinstance(event, ev.AgentUpserted):
        return skills_problem(event.skills, "skills")
    if isinstance(event, ev.AgentPaused) and not isinstance(event.reason, str):
        return "reason must be a string"
    if isinstance(event, ev.AgentReachabilityChanged) and not isinstance(event.reachable, bool):
        return "reachable must be a boolean"
    if isinstance(event, ev.CallArrived):
        if not _is_id(event.queue):
            return "queue must be a non-empty string"
        if event.priority is not None and (
            isinstance(event.priority, bool) or not isinstance(event.priority, int)
        ):
            return "priority must be an integer or None"
        return skills_problem(event.extra_skills, "extra_skills")
    return None

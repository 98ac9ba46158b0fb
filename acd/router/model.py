"""Configuration and state vocabulary shared by the router, the controller and the API.

Everything here is immutable data: the router keeps its own mutable records and hands out
snapshots (`AgentView`, `CallView`) so nothing outside it can break its indexes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: Skill levels run from 1 (novice) to 10 (expert); a requirement is a minimum level.
MIN_LEVEL = 1
MAX_LEVEL = 10

Skills = Mapping[str, int]
"""`{skill_name: level}` for an agent, `{skill_name: min_level}` for a requirement."""


def frozen_skills(skills: Mapping[str, int] | None) -> Mapping[str, int]:
    """A read-only, key-sorted copy (sorted so equal requirement sets compare and hash alike)."""
    if not skills:
        return MappingProxyType({})
    return MappingProxyType(dict(sorted(skills.items())))


def merge_requirements(*parts: Mapping[str, int]) -> dict[str, int]:
    """Union of requirement maps; where two name the same skill the higher minimum wins."""
    merged: dict[str, int] = {}
    for part in parts:
        for skill, level in part.items():
            if level > merged.get(skill, 0):
                merged[skill] = level
    return merged


def skills_text(skills: Mapping[str, int]) -> str:
    """A skills map in the ACD_SKILLS form, `skill:level,skill:level` (sorted; "" when empty):
    what a caller's channel and a call record carry."""
    return ",".join(f"{name}:{level}" for name, level in sorted(skills.items()))


def satisfies(agent_skills: Mapping[str, int], requirements: Mapping[str, int]) -> bool:
    """True when the agent has every required skill at or above its minimum level."""
    return all(agent_skills.get(skill, 0) >= level for skill, level in requirements.items())


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"  # an offer is ringing the agent
    BUSY = "busy"  # connected to a caller
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallState(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # ringing an agent
    CONNECTED = "connected"


class AgentPolicy(enum.StrEnum):
    LONGEST_IDLE = "longest_idle"
    MOST_SKILLED = "most_skilled"  # highest level in the queue's primary skill, ties longest idle


class RonaAction(enum.StrEnum):
    PAUSE = "pause"  # agent goes to paused with reason "rona" until it unpauses itself
    DELAY = "delay"  # agent is paused with reason "rona" and unpaused after `rona_delay` s


RONA_REASON = "rona"


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """From `after` seconds in the queue on, the queue's base requirements become `skills`.

    The call's own extra requirements (ACD_SKILLS) still apply on top, merged by
    `merge_requirements`.
    """

    after: float
    skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))


@dataclass(frozen=True, slots=True)
class PauseReason:
    """A pause reason a UI offers for a queue's agents: the `code` sent as the pause reason
    (what the softphone's `*73<digits>` sends too) and how to show it."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))
    priority: int = 0
    sl_threshold: float = 20.0
    wrap_up: float = 5.0
    ring_timeout: float = 15.0
    #: Seconds a call may wait in this queue before `overflow` applies; None: no limit.
    max_wait: float | None = 300.0
    #: After max_wait: the name of another queue (the call moves there, keeping its place by
    #: original entry time), a dialplan target "context,exten,priority", or None (the call
    #: leaves the ACD with ACD_RESULT=timeout and continues after AGI in the dialplan).
    overflow: str | None = None
    escalation: tuple[EscalationStep, ...] = ()
    policy: AgentPolicy = AgentPolicy.LONGEST_IDLE
    #: Skill ranked by MOST_SKILLED; None means the first (alphabetical) skill of `skills`.
    primary_skill: str | None = None
    rona_action: RonaAction = RonaAction.PAUSE
    rona_delay: float = 0.0
    #: False: a call arriving when no logged-in agent could ever serve it leaves at once.
    join_empty: bool = True
    #: True: a waiting call leaves once no logged-in agent could serve it any more.
    leave_empty: bool = False
    # The following do not affect routing; they live here so one object describes a queue.
    announce_every: float = 30.0
    callback: bool = True
    short_abandon: float = 5.0
    sl_window: float = 3600.0
    #: Where the dialplan sends a caller after `fallback_after` seconds without a reachable
    #: controller ("context,exten,priority", e.g. a context running the stock Queue() with
    #: the same agents); None or 0: keep waiting with music until the controller is back.
    fallback: str | None = None
    fallback_after: float = 0.0
    #: The service-level objective: the ratio of calls to be served within sl_threshold.
    sl_target: float = 0.8
    #: The pause reasons UIs offer this queue's agents (a pause itself stays free text).
    pause_reasons: tuple[PauseReason, ...] = ()
    #: The DTMF key ("0"-"9", "*", "#") that takes a waiting caller out of the queue to
    #: `exit_target` ("context,exten,priority"); None: no exit key. The controller carries it
    #: out (acd/service/entry.py) and tells the router with CallAbandoned(reason="exit_key").
    exit_key: str | None = None
    exit_target: str | None = None
    #: The digits an agent keys after *8 during a call to hand the caller on into this queue
    #: (a blind transfer by feature code); None: not reachable that way. Unique among queues.
    transfer_code: str | None = None

    def ranked_skill(self) -> str | None:
        if self.primary_skill is not None:
            return self.primary_skill
        return min(self.skills) if self.skills else None


@dataclass(frozen=True, slots=True)
class AgentView:
    """A snapshot of one agent as the router sees it."""

    id: str
    skills: Mapping[str, int]
    state: AgentState
    pause_reason: str | None
    idle_since: float | None
    reachable: bool
    call_id: str | None
    #: "pause" or "logout" asked for while on a call; applied when the call and wrap-up end.
    pending: str | None
    pending_reason: str | None  # the pause reason of a pending pause
    #: End of the current wrap-up (WRAP_UP only; None once it is being settled).
    wrap_until: float | None = None
    #: End of a ring-no-answer delay (PAUSED "rona" with the queue's rona_action DELAY).
    rona_until: float | None = None
    #: When the agent entered its current state (a new pause reason is a new pause; a state
    #: reached by settling counts from the settle); None for an agent never logged in.
    #: A restored state keeps the stored moment.
    state_since: float | None = None


@dataclass(frozen=True, slots=True)
class CallView:
    """A snapshot of one live call as the router sees it."""

    id: str
    queue: str
    priority: int
    extra_skills: Mapping[str, int]
    requirements: Mapping[str, int]  # effective now: current step merged with extra_skills
    state: CallState
    agent_id: str | None
    arrived_at: float  # entered the ACD
    enqueued_at: float  # ordering key; kept across ring-no-answer and overflow
    queue_entered_at: float  # entered its current queue; escalation and max_wait count from here
    step: int  # 0 = base requirements, n = escalation[n - 1]
    rona_count: int
    #: When the agent answered (OfferAnswered); None before, and for a call adopted connected
    #: (it was answered in the previous run, at a moment nobody told this one).
    answered_at: float | None = None

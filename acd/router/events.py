"""Events the router consumes. Each carries `now`: the router has no clock of its own.

`now` is seconds on one monotonic-enough scale chosen by the caller (the controller uses
wall-clock epoch seconds so records and routing agree). Events must arrive with
non-decreasing `now`; the router treats an earlier `now` as equal to the latest seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.router.model import AgentState, CallState, QueueConfig, frozen_skills


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has reached `now`: run every deadline (wrap-up end, escalation, max wait,
    rona delay) due at or before it, each as its own step in deadline order."""

    now: float


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueUpserted:
    """Create a queue or replace its configuration. Waiting calls of that queue are
    re-evaluated against the new requirements at once."""

    now: float
    queue: QueueConfig


@dataclass(frozen=True, slots=True)
class QueueRemoved:
    """Delete a queue. Its waiting and offered calls leave with reason `queue_removed`;
    connected calls finish normally."""

    now: float
    name: str


@dataclass(frozen=True, slots=True)
class AgentUpserted:
    """Create an agent (logged out) or change its skills (state kept)."""

    now: float
    agent_id: str
    skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))


@dataclass(frozen=True, slots=True)
class AgentRemoved:
    """Delete an agent. Rejected (`agent_busy`) unless it is logged out, available or paused."""

    now: float
    agent_id: str


# --- agent state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    now: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    """Logged out at once when available or paused; deferred to the end of the call and
    wrap-up when reserved, busy or in wrap-up."""

    now: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentPaused:
    """Paused at once when available (or paused: the reason changes); deferred like logout."""

    now: float
    agent_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AgentUnpaused:
    """Paused → available (idle_since = now). Also cancels a deferred pause."""

    now: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentWrapUpDone:
    """The agent ends its wrap-up now, before its deadline: as at the wrap-up's end (a
    pending pause or logout applies, else AVAILABLE with idle_since = now). Ignored in the
    other logged-in states; LOGGED_OUT: rejected `agent_not_logged_in`."""

    now: float
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentReachabilityChanged:
    """The softphone went offline/online, or the agent took/ended a call that did not come
    from the ACD. Unreachable agents keep their state and idle_since but get no offers."""

    now: float
    agent_id: str
    reachable: bool


@dataclass(frozen=True, slots=True)
class AgentRestored:
    """At start: a LOGGED_OUT agent takes back the state a previous run stored for it
    (`acd.recovery`). Rejected `agent_logged_in` when the agent is logged in here already.

    `state` AVAILABLE, PAUSED (`pause_reason`; "rona" may carry `rona_until`) or WRAP_UP
    (`wrap_until`, and a `pending` "pause" (`pending_reason`) or "logout" that applies when it
    ends; a past deadline runs at the next Tick) is restored as it was, with the stored
    `idle_since`. RESERVED or BUSY: the call went with the previous run (a call still in
    Asterisk comes back with `CallAdopted`, which finds the agent settled), so the agent is
    settled as if the call had ended at the restart: its pending request applies, else
    AVAILABLE with the stored idle_since."""

    now: float
    agent_id: str
    state: AgentState
    pause_reason: str | None
    idle_since: float
    pending: str | None = None
    pending_reason: str | None = None
    wrap_until: float | None = None
    rona_until: float | None = None
    #: When the agent entered the stored state (None: the store did not keep it; the restore's
    #: moment then). Unused for a stored RESERVED or BUSY: that agent settles now.
    state_since: float | None = None


# --- calls ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A caller entered `queue`. `priority` None means the queue's default. `extra_skills`
    (ACD_SKILLS) are merged into every step's requirements."""

    now: float
    call_id: str
    queue: str
    priority: int | None = None
    extra_skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))
    #: When the caller really entered, if earlier than `now` (it waited while the controller
    #: was unreachable): its place in the global order and its time in queue count from then
    #: (escalation step as of `now`; a max wait already past runs at the next Tick). Later
    #: than `now`, or not finite: rejected `invalid_event`.
    entered_at: float | None = None


@dataclass(frozen=True, slots=True)
class CallAdopted:
    """A call already in the ACD before this router existed (a restarted controller found it
    in Asterisk): it takes its place again as it was. WAITING keeps priority, `enqueued_at`
    (global order) and `queue_entered_at` (escalation step and max wait, recomputed from
    `now`); OFFERED is ringing `agent_id` (reserved; no OfferCall, its outcome comes as
    OfferAnswered, OfferFailed or CallAbandoned); CONNECTED is talking to `agent_id` (busy,
    wrap-up of the queue's config now; it ends with CallEnded).

    The agent must be known (`unknown_agent`) and logged out, available or paused (a pause
    becomes pending until it leaves the call), not on another call (`agent_busy`). WAITING
    is not held to join_empty (it is in already). `invalid_event` unless `agent_id` is given
    exactly for OFFERED/CONNECTED and enqueued_at <= queue_entered_at <= now. A duplicate id
    is `duplicate_call`, an unknown queue CallExited(unknown_queue) as for an arrival."""

    now: float
    call_id: str
    queue: str
    state: CallState
    enqueued_at: float
    queue_entered_at: float
    priority: int | None = None
    extra_skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller left before being connected (hung up while waiting or while an agent was
    ringing, pressed an exit key, or a callback could not reach them). An agent that was
    being offered the call returns to available with its idle_since unchanged."""

    now: float
    call_id: str
    reason: str = "hangup"


@dataclass(frozen=True, slots=True)
class OfferAnswered:
    now: float
    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """The agent did not take the offer (`no_answer`, `busy`, `rejected`, `unreachable`,
    `error`). The call goes back to its place; the queue's ring-no-answer action applies
    to the agent."""

    now: float
    call_id: str
    agent_id: str
    reason: str = "no_answer"


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """The agent on a connected call hands the caller on (a blind transfer) into `queue` (its
    own or another), with `extra_skills` merged into the call's own. The agent enters the
    call's wrap-up as after a hang-up. The caller enters `queue` as an arrival there would
    (its join_empty, escalation and max wait from `now`) at the higher of its own priority
    and the queue's; it is ordered by its first entry into the ACD when `keep_place`, else
    by `now`. Only a connected call (`wrong_state`); an unknown queue is `unknown_queue` and
    the caller stays with the agent."""

    now: float
    call_id: str
    queue: str
    extra_skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))
    keep_place: bool = False


@dataclass(frozen=True, slots=True)
class TransferCompleted:
    """A warm transfer is completed: `consult_id`, the consultation its agent made for
    `call_id` (a call of the target queue, connected to the specialist), becomes that call.
    The call's agent enters the call's wrap-up as after a hang-up; the call is connected to
    the consultation's agent from now on, in its queue, with its priority, skills, answer
    time and wrap-up. Both must be connected (`wrong_state`), unknown ids `unknown_call`."""

    now: float
    call_id: str
    consult_id: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A connected call hung up (either side). The agent enters the call's queue wrap-up."""

    now: float
    call_id: str


Event = (
    Tick
    | QueueUpserted
    | QueueRemoved
    | AgentUpserted
    | AgentRemoved
    | AgentLoggedIn
    | AgentLoggedOut
    | AgentPaused
    | AgentUnpaused
    | AgentWrapUpDone
    | AgentReachabilityChanged
    | AgentRestored
    | CallArrived
    | CallAdopted
    | CallAbandoned
    | OfferAnswered
    | OfferFailed
    | CallTransferred
    | TransferCompleted
    | CallEnded
)

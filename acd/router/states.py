"""Every agent and call state transition, in one table.

Theory of operation
  An agent has exactly one global state. A trigger (an event about the agent, or a step the
  router takes, such as offering it a call) is looked up here as `(state, trigger)` and yields
  an `Outcome`: move to `target`, defer the request until the agent leaves its call (`DEFER`,
  remembered as `pending`), cancel a deferred pause, *settle* (see below), ignore, or reject
  with a stable code. Calls work the same way with `CALL_TABLE`; a `None` target means the
  agent or call leaves the router. A new agent starts in `AGENT_START`, an accepted call in
  `CALL_START`.

  The indexed `Router` writes a state only as the `target` of the row it looked up here; what
  else a step does (timestamps, pause reasons, dispatch, deadlines) is policy, written in the
  router; the one timestamp written with the state itself is the agent's `state_since` (the
  step's moment: a target written means a state entered, an ignored or deferred row none).
  It reads these tables when it is built, so a changed row changes its decisions. The
  naive `ReferenceRouter` states the same transitions again in its own plain code and does
  not read this file: the differential tests compare the two, which is what catches a row
  here drifting from the policy in `acd.router`.

  Settling: an agent leaves its call (RETRACT: the offered call went away, abandoned or its
  queue removed; FAIL: it did not take the offer; WRAP_END; WRAP_DONE: the agent ends its
  wrap-up early; RESTORE_CALL, below). The SETTLE row's target is where it lands when
  nothing is pending. A pending request is applied as if it came right after landing there:
  a pending logout takes the LOGOUT row of the landing state, a pending pause its PAUSE row
  (both MOVE rows). Only the final state is emitted. Without a pending request, landing in
  PAUSED means the rona pause (reason "rona").

  Restoring: at start the recovery layer hands a LOGGED_OUT agent back the state a previous
  run stored for it (`AgentRestored`); the stored state picks the trigger. RESTORE_IDLE,
  RESTORE_PAUSE and RESTORE_WRAP move it there (stored idle_since, pause reason, pending
  request, wrap-up and rona-delay deadlines kept). RESTORE_CALL is for an agent stored
  RESERVED or BUSY: its call went with the previous run, so it settles from LOGGED_OUT like
  an agent leaving a call, idle_since kept (its pending request applies; a pending logout
  lands it where it already is, logged out, and emits nothing). Any logged-in state refuses
  a restore: what the running router knows wins.

  Adopting: a restarted controller hands back a call it found in Asterisk (`CallAdopted`).
  The new call record starts in CALL_START like any accepted call and the ADOPT row of the
  adopted state (ADOPT_CALL_TRIGGERS) moves it there at once: waiting, offered (ringing an
  agent) or connected. A call on an agent also takes the agent's ADOPT row
  (ADOPT_AGENT_TRIGGERS): an agent that is logged out (the store had nothing, or the restore
  has not come yet), available, paused or in wrap-up (its stored state may lag Asterisk by
  a batch: Asterisk is the truth, and the wrap-up ends there, its pending request kept) is
  moved to reserved or busy with that call; one ringing or talking on another call refuses
  (`agent_busy`). The paused agent's pause becomes its pending pause
  (applied when it leaves the call, like a pause asked during one), and an agent without
  idle_since (logged out) takes the adoption time as its idle_since.

    agent           logged_out       available  paused     reserved         busy    wrap_up
    LOGIN           available        -          -          -                -       -
    LOGOUT          -                logged_out logged_out defer            defer   defer
    PAUSE           rej              paused     paused     defer            defer   defer
    UNPAUSE         rej              -          available  cancel           cancel  cancel
    REMOVE          gone             logged_out logged_out rej              rej     rej
    OFFER           .                reserved   .          .                .       .
    ANSWER          .                .          .          busy             .       .
    RETRACT         .                .          .          settle:available .       .
    FAIL            .                .          .          settle:paused    .       .
    HANG_UP         .                .          .          .                wrap_up .
    TRANSFER        .                .          .          .                wrap_up .
    WRAP_END        .                .          .          .                .       settle:available
    WRAP_DONE       rej              -          -          -                -       settle:available
    RONA_END        .                .          available  .                .       .
    RESTORE_IDLE    available        rej        rej        rej              rej     rej
    RESTORE_PAUSE   paused           rej        rej        rej              rej     rej
    RESTORE_WRAP    wrap_up          rej        rej        rej              rej     rej
    RESTORE_CALL    settle:available rej        rej        rej              rej     rej
    ADOPT_OFFERED   reserved         reserved   reserved   rej              rej     reserved
    ADOPT_CONNECTED busy             busy       busy       rej              rej     busy

    call            waiting   offered   connected
    OFFER           offered   .         .
    ANSWER          .         connected .
    FAIL            .         waiting   .
    ABANDON         gone      gone      .
    END             .         .         gone
    TRANSFER        .         .         waiting
    HAND_OVER       .         .         connected
    MERGE           .         .         gone
    EXIT            gone      gone      .
    ESCALATE        waiting   offered   .
    OVERFLOW        waiting   .         .
    ADOPT_WAITING   waiting   .         .
    ADOPT_OFFERED   offered   .         .
    ADOPT_CONNECTED connected .         .

  (`-` ignore; `rej` rejected: PAUSE/UNPAUSE/WRAP_DONE `agent_not_logged_in`, REMOVE `agent_busy`,
  RESTORE_* `agent_logged_in`, ADOPT_* `agent_busy`; `gone` leaves the router; REMOVE of a
  logged-in agent moves it to logged_out, emitted, and then it leaves; `.` no row: an event
  meeting one is rejected `wrong_state` (for agent rows the call is checked first), a router
  step never does.) A pending logout wins over a later pause. ESCALATE and OVERFLOW keep the
  call's state (they change its requirements or queue); the router does not look them up.
  The call's ADOPT rows are met only by a fresh record, in CALL_START (waiting).
  tests/router/test_router_states.py checks both drawings against the tables.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

from acd.router.model import AgentState, CallState


# StrEnum rather than Enum: the table is looked up on every agent step, and plain Enum
# members hash through a Python-level __hash__.
class AgentTrigger(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    OFFER = "offer"
    ANSWER = "answer"
    RETRACT = "retract"  # the offered call went away without an answer from the agent
    FAIL = "fail"  # the agent did not take the offer (ring-no-answer and friends)
    HANG_UP = "hang_up"
    WRAP_END = "wrap_end"
    WRAP_DONE = "wrap_done"  # the agent ends its wrap-up early (settles as WRAP_END does)
    RONA_END = "rona_end"
    TRANSFER = "transfer"  # the agent hands its connected caller on (a blind transfer)
    REMOVE = "remove"
    # AgentRestored, by the stored state (see "Restoring" above)
    RESTORE_IDLE = "restore_idle"
    RESTORE_PAUSE = "restore_pause"
    RESTORE_WRAP = "restore_wrap"
    RESTORE_CALL = "restore_call"  # stored reserved or busy: the call is gone
    # CallAdopted of a call on this agent, by the adopted call state (see "Adopting" above)
    ADOPT_OFFERED = "adopt_offered"
    ADOPT_CONNECTED = "adopt_connected"


#: The trigger an `AgentRestored` takes, by the state it restores (stored reserved or busy:
#: RESTORE_CALL). LOGGED_OUT has none: nothing to restore.
RESTORE_TRIGGERS: Mapping[AgentState, AgentTrigger] = MappingProxyType(
    {
        AgentState.AVAILABLE: AgentTrigger.RESTORE_IDLE,
        AgentState.PAUSED: AgentTrigger.RESTORE_PAUSE,
        AgentState.WRAP_UP: AgentTrigger.RESTORE_WRAP,
        AgentState.RESERVED: AgentTrigger.RESTORE_CALL,
        AgentState.BUSY: AgentTrigger.RESTORE_CALL,
    }
)


class CallTrigger(enum.StrEnum):
    OFFER = "offer"
    ANSWER = "answer"
    FAIL = "fail"
    ABANDON = "abandon"
    END = "end"
    EXIT = "exit"  # the router sends the call out: max wait, leave-empty, queue removed
    TRANSFER = "transfer"  # its agent hands the connected call on into a queue
    HAND_OVER = "hand_over"  # a warm transfer: the call moves onto the consultation's agent
    MERGE = "merge"  # the consultation becomes the call it was made for
    ESCALATE = "escalate"
    OVERFLOW = "overflow"
    # CallAdopted, by the adopted state: a fresh record (CALL_START) takes that state at once
    ADOPT_WAITING = "adopt_waiting"
    ADOPT_OFFERED = "adopt_offered"
    ADOPT_CONNECTED = "adopt_connected"


#: The call trigger a `CallAdopted` takes, by the state it adopts the call in.
ADOPT_CALL_TRIGGERS: Mapping[CallState, CallTrigger] = MappingProxyType(
    {
        CallState.WAITING: CallTrigger.ADOPT_WAITING,
        CallState.OFFERED: CallTrigger.ADOPT_OFFERED,
        CallState.CONNECTED: CallTrigger.ADOPT_CONNECTED,
    }
)

#: The agent trigger a `CallAdopted` takes for the call's agent; WAITING has none: no agent.
ADOPT_AGENT_TRIGGERS: Mapping[CallState, AgentTrigger] = MappingProxyType(
    {
        CallState.OFFERED: AgentTrigger.ADOPT_OFFERED,
        CallState.CONNECTED: AgentTrigger.ADOPT_CONNECTED,
    }
)


class Do(enum.StrEnum):
    MOVE = "move"
    DEFER = "defer"
    CANCEL = "cancel"
    SETTLE = "settle"
    IGNORE = "ignore"
    REJECT = "reject"


S = TypeVar("S", AgentState, CallState)


@dataclass(frozen=True, slots=True)
class Outcome(Generic[S]):
    do: Do
    target: S | None = None
    code: str = ""


AgentOutcome = Outcome[AgentState]
CallOutcome = Outcome[CallState]

AGENT_START = AgentState.LOGGED_OUT
CALL_START = CallState.WAITING

_A = AgentState
_T = AgentTrigger
_IGNORE: AgentOutcome = Outcome(Do.IGNORE)
_DEFER: AgentOutcome = Outcome(Do.DEFER)
_CANCEL: AgentOutcome = Outcome(Do.CANCEL)
_AGENT_WRONG_STATE: AgentOutcome = Outcome(Do.REJECT, code="wrong_state")
_NOT_LOGGED_IN: AgentOutcome = Outcome(Do.REJECT, code="agent_not_logged_in")
_AGENT_BUSY: AgentOutcome = Outcome(Do.REJECT, code="agent_busy")
_LOGGED_IN: AgentOutcome = Outcome(Do.REJECT, code="agent_logged_in")
_RESTORES: dict[AgentTrigger, AgentOutcome] = {
    AgentTrigger.RESTORE_IDLE: Outcome(Do.MOVE, _A.AVAILABLE),
    AgentTrigger.RESTORE_PAUSE: Outcome(Do.MOVE, _A.PAUSED),
    AgentTrigger.RESTORE_WRAP: Outcome(Do.MOVE, _A.WRAP_UP),
    AgentTrigger.RESTORE_CALL: Outcome(Do.SETTLE, _A.AVAILABLE),
}
_ADOPTS: dict[AgentTrigger, AgentOutcome] = {
    AgentTrigger.ADOPT_OFFERED: Outcome(Do.MOVE, _A.RESERVED),
    AgentTrigger.ADOPT_CONNECTED: Outcome(Do.MOVE, _A.BUSY),
}
#: The states an agent can be adopted from: not on a call.
_ADOPTABLE = (_A.LOGGED_OUT, _A.AVAILABLE, _A.PAUSED, _A.WRAP_UP)

AGENT_TABLE: Mapping[tuple[AgentState, AgentTrigger], AgentOutcome] = MappingProxyType(
    {
        (_A.LOGGED_OUT, _T.LOGIN): Outcome(Do.MOVE, _A.AVAILABLE),
        (_A.LOGGED_OUT, _T.LOGOUT): _IGNORE,
        (_A.LOGGED_OUT, _T.PAUSE): _NOT_LOGGED_IN,
        (_A.LOGGED_OUT, _T.UNPAUSE): _NOT_LOGGED_IN,
        (_A.LOGGED_OUT, _T.REMOVE): Outcome(Do.MOVE, None),
        (_A.AVAILABLE, _T.LOGIN): _IGNORE,
        (_A.AVAILABLE, _T.LOGOUT): Outcome(Do.MOVE, _A.LOGGED_OUT),
        (_A.AVAILABLE, _T.PAUSE): Outcome(Do.MOVE, _A.PAUSED),
        (_A.AVAILABLE, _T.UNPAUSE): _IGNORE,
        (_A.AVAILABLE, _T.OFFER): Outcome(Do.MOVE, _A.RESERVED),
        (_A.AVAILABLE, _T.REMOVE): Outcome(Do.MOVE, _A.LOGGED_OUT),
        (_A.PAUSED, _T.LOGIN): _IGNORE,
        (_A.PAUSED, _T.LOGOUT): Outcome(Do.MOVE, _A.LOGGED_OUT),
        (_A.PAUSED, _T.PAUSE): Outcome(Do.MOVE, _A.PAUSED),
        (_A.PAUSED, _T.UNPAUSE): Outcome(Do.MOVE, _A.AVAILABLE),
        (_A.PAUSED, _T.RONA_END): Outcome(Do.MOVE, _A.AVAILABLE),
        (_A.PAUSED, _T.REMOVE): Outcome(Do.MOVE, _A.LOGGED_OUT),
        (_A.RESERVED, _T.LOGIN): _IGNORE,
        (_A.RESERVED, _T.LOGOUT): _DEFER,
        (_A.RESERVED, _T.PAUSE): _DEFER,
        (_A.RESERVED, _T.UNPAUSE): _CANCEL,
        (_A.RESERVED, _T.ANSWER): Outcome(Do.MOVE, _A.BUSY),
        (_A.RESERVED, _T.RETRACT): Outcome(Do.SETTLE, _A.AVAILABLE),
        (_A.RESERVED, _T.FAIL): Outcome(Do.SETTLE, _A.PAUSED),
        (_A.RESERVED, _T.REMOVE): _AGENT_BUSY,
        (_A.BUSY, _T.LOGIN): _IGNORE,
        (_A.BUSY, _T.LOGOUT): _DEFER,
        (_A.BUSY, _T.PAUSE): _DEFER,
        (_A.BUSY, _T.UNPAUSE): _CANCEL,
        (_A.BUSY, _T.HANG_UP): Outcome(Do.MOVE, _A.WRAP_UP),
        (_A.BUSY, _T.TRANSFER): Outcome(Do.MOVE, _A.WRAP_UP),
        (_A.BUSY, _T.REMOVE): _AGENT_BUSY,
        (_A.WRAP_UP, _T.LOGIN): _IGNORE,
        (_A.WRAP_UP, _T.LOGOUT): _DEFER,
        (_A.WRAP_UP, _T.PAUSE): _DEFER,
        (_A.WRAP_UP, _T.UNPAUSE): _CANCEL,
        (_A.WRAP_UP, _T.WRAP_END): Outcome(Do.SETTLE, _A.AVAILABLE),
        (_A.LOGGED_OUT, _T.WRAP_DONE): _NOT_LOGGED_IN,
        (_A.AVAILABLE, _T.WRAP_DONE): _IGNORE,
        (_A.PAUSED, _T.WRAP_DONE): _IGNORE,
        (_A.RESERVED, _T.WRAP_DONE): _IGNORE,
        (_A.BUSY, _T.WRAP_DONE): _IGNORE,
        (_A.WRAP_UP, _T.WRAP_DONE): Outcome(Do.SETTLE, _A.AVAILABLE),
        (_A.WRAP_UP, _T.REMOVE): _AGENT_BUSY,
        # restoring: only a logged-out agent takes its stored state back
        **{(_A.LOGGED_OUT, trigger): outcome for trigger, outcome in _RESTORES.items()},
        **{
            (state, trigger): _LOGGED_IN
            for trigger in _RESTORES
            for state in AgentState
            if state is not _A.LOGGED_OUT
        },
        # adopting a call on an agent: any agent not on a call takes it
        **{
            (state, trigger): outcome if state in _ADOPTABLE else _AGENT_BUSY
            for trigger, outcome in _ADOPTS.items()
            for state in AgentState
        },
    }
)

_C = CallState
_K = CallTrigger
_CALL_WRONG_STATE: CallOutcome = Outcome(Do.REJECT, code="wrong_state")

CALL_TABLE: Mapping[tuple[CallState, CallTrigger], CallOutcome] = MappingProxyType(
    {
        (_C.WAITING, _K.OFFER): Outcome(Do.MOVE, _C.OFFERED),
        (_C.WAITING, _K.ABANDON): Outcome(Do.MOVE, None),
        (_C.WAITING, _K.EXIT): Outcome(Do.MOVE, None),
        (_C.WAITING, _K.ESCALATE): Outcome(Do.MOVE, _C.WAITING),
        (_C.WAITING, _K.OVERFLOW): Outcome(Do.MOVE, _C.WAITING),
        (_C.OFFERED, _K.ANSWER): Outcome(Do.MOVE, _C.CONNECTED),
        (_C.OFFERED, _K.FAIL): Outcome(Do.MOVE, _C.WAITING),
        (_C.OFFERED, _K.ABANDON): Outcome(Do.MOVE, None),
        (_C.OFFERED, _K.EXIT): Outcome(Do.MOVE, None),
        (_C.OFFERED, _K.ESCALATE): Outcome(Do.MOVE, _C.OFFERED),
        (_C.CONNECTED, _K.END): Outcome(Do.MOVE, None),
        (_C.CONNECTED, _K.TRANSFER): Outcome(Do.MOVE, _C.WAITING),
        (_C.CONNECTED, _K.HAND_OVER): Outcome(Do.MOVE, _C.CONNECTED),
        (_C.CONNECTED, _K.MERGE): Outcome(Do.MOVE, None),
        # adopting: from the fresh record's CALL_START straight to the adopted state
        (CALL_START, _K.ADOPT_WAITING): Outcome(Do.MOVE, _C.WAITING),
        (CALL_START, _K.ADOPT_OFFERED): Outcome(Do.MOVE, _C.OFFERED),
        (CALL_START, _K.ADOPT_CONNECTED): Outcome(Do.MOVE, _C.CONNECTED),
    }
)

AgentRows = dict[AgentTrigger, dict[AgentState, AgentOutcome]]
CallRows = dict[CallTrigger, dict[CallState, CallOutcome]]


def agent_outcome(state: AgentState, trigger: AgentTrigger) -> AgentOutcome:
    """The outcome of `trigger` for an agent in `state`; `wrong_state` where none is defined."""
    return AGENT_TABLE.get((state, trigger), _AGENT_WRONG_STATE)


def call_outcome(state: CallState, trigger: CallTrigger) -> CallOutcome:
    """The outcome of `trigger` for a call in `state`; `wrong_state` where none is defined."""
    return CALL_TABLE.get((state, trigger), _CALL_WRONG_STATE)


def agent_rows(table: Mapping[tuple[AgentState, AgentTrigger], AgentOutcome]) -> AgentRows:
    """`table` regrouped as trigger -> state -> outcome, every pair filled in (`wrong_state`
    where the table has no row), for a hot path: `rows[trigger][state]` builds no tuple.

    Runtime complexity: O(states * triggers)."""
    return {t: {s: table.get((s, t), _AGENT_WRONG_STATE) for s in AgentState} for t in AgentTrigger}


def call_rows(table: Mapping[tuple[CallState, CallTrigger], CallOutcome]) -> CallRows:
    """`table` regrouped like `agent_rows`. Runtime complexity: O(states * triggers)."""
    return {t: {s: table.get((s, t), _CALL_WRONG_STATE) for s in CallState} for t in CallTrigger}

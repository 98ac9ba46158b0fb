"""Every agent and call state transition, in one table.

Theory of operation
  An agent has exactly one global state. A trigger (an event about the agent, or a step the
  router takes, such as offering it a call) is looked up here as `(state, trigger)` and yields
  an `Outcome`: move to a state, defer the request until the agent would otherwise become
  available (`DEFER`, remembered as `pending`), cancel a deferred pause, *settle* (apply the
  pending request if there is one, else move to `target`), ignore, or reject with a stable
  code. Calls work the same way with `CALL_TABLE`; a `None` target means the call leaves the
  router. Both routers (`Router` and the naive `ReferenceRouter`) look transitions up here and
  never decide a next state on their own, so this file is the one place to read them:

      agent     LOGIN  LOGOUT PAUSE  UNPAUSE OFFER ANSWER RETRACT FAIL   HANG_UP WRAP_END RONA_END
      out       avail  -      rej    rej     .     .      .       .      .       .        .
      avail     -      out    paused -       resv  .      .       .      .       .        .
      paused    -      out    paused avail   .     .      .       .      .       .        avail
      reserved  -      defer  defer  cancel  .     busy   settle  settle .       .        .
      busy      -      defer  defer  cancel  .     .      .       .      wrap_up .        .
      wrap_up   -      defer  defer  cancel  .     .      .       .      .       settle   .

  REMOVE: logged out → gone; available or paused → logged out, then gone; otherwise rejected
  `agent_busy`. (`-` ignore, `.` unreachable: the call is checked first, `wrong_state`.)
  RETRACT settles to AVAILABLE (the offered call left: abandoned or its queue removed), FAIL
  settles to PAUSED("rona"), WRAP_END to AVAILABLE. A pending logout wins over a later pause.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

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
    RONA_END = "rona_end"
    REMOVE = "remove"


class CallTrigger(enum.StrEnum):
    OFFER = "offer"
    ANSWER = "answer"
    FAIL = "fail"
    ABANDON = "abandon"
    END = "end"
    EXIT = "exit"  # the router sends the call out: max wait, leave-empty, queue removed
    ESCALATE = "escalate"
    OVERFLOW = "overflow"


class Do(enum.StrEnum):
    MOVE = "move"
    DEFER = "defer"
    CANCEL = "cancel"
    SETTLE = "settle"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Outcome:
    do: Do
    target: AgentState | CallState | None = None
    code: str = ""


_IGNORE = Outcome(Do.IGNORE)
_DEFER = Outcome(Do.DEFER)
_CANCEL = Outcome(Do.CANCEL)
_WRONG_STATE = Outcome(Do.REJECT, code="wrong_state")

_A = AgentState
_T = AgentTrigger

AGENT_TABLE: Mapping[tuple[AgentState, AgentTrigger], Outcome] = MappingProxyType(
    {
        (_A.LOGGED_OUT, _T.LOGIN): Outcome(Do.MOVE, _A.AVAILABLE),
        (_A.LOGGED_OUT, _T.LOGOUT): _IGNORE,
        (_A.LOGGED_OUT, _T.PAUSE): Outcome(Do.REJECT, code="agent_not_logged_in"),
        (_A.LOGGED_OUT, _T.UNPAUSE): Outcome(Do.REJECT, code="agent_not_logged_in"),
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
        (_A.RESERVED, _T.REMOVE): Outcome(Do.REJECT, code="agent_busy"),
        (_A.BUSY, _T.LOGIN): _IGNORE,
        (_A.BUSY, _T.LOGOUT): _DEFER,
        (_A.BUSY, _T.PAUSE): _DEFER,
        (_A.BUSY, _T.UNPAUSE): _CANCEL,
        (_A.BUSY, _T.HANG_UP): Outcome(Do.MOVE, _A.WRAP_UP),
        (_A.BUSY, _T.REMOVE): Outcome(Do.REJECT, code="agent_busy"),
        (_A.WRAP_UP, _T.LOGIN): _IGNORE,
        (_A.WRAP_UP, _T.LOGOUT): _DEFER,
        (_A.WRAP_UP, _T.PAUSE): _DEFER,
        (_A.WRAP_UP, _T.UNPAUSE): _CANCEL,
        (_A.WRAP_UP, _T.WRAP_END): Outcome(Do.SETTLE, _A.AVAILABLE),
        (_A.WRAP_UP, _T.REMOVE): Outcome(Do.REJECT, code="agent_busy"),
    }
)

_C = CallState
_K = CallTrigger

CALL_TABLE: Mapping[tuple[CallState, CallTrigger], Outcome] = MappingProxyType(
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
    }
)


def agent_outcome(state: AgentState, trigger: AgentTrigger) -> Outcome:
    """The outcome of `trigger` for an agent in `state`; `wrong_state` where none is defined."""
    return AGENT_TABLE.get((state, trigger), _WRONG_STATE)


def call_outcome(state: CallState, trigger: CallTrigger) -> Outcome:
    """The outcome of `trigger` for a call in `state`; `wrong_state` where none is defined."""
    return CALL_TABLE.get((state, trigger), _WRONG_STATE)

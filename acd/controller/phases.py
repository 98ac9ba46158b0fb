"""Every phase change of a live call, as the controller sees it, in one table.

Theory of operation
  The router has its own call states (`acd.router.states`); this table is about the channel
  side: what the caller's channel is doing in Asterisk, which decides how a router decision is
  carried out (hand it to the running enter AGI, Redirect the channel, or Originate a
  callback). A trigger is looked up as `(phase, trigger)`; `advance()` sets the phase from the
  table and nothing else writes `LiveCall.phase`. A pair missing from the table is a bug in the
  caller (each caller checks the phase it expects first), so `advance()` raises.

      phase      HANDED_OVER DELIVERED OFFER    CALLBACK DIAL_FAILED ANSWERED  TRANSFERRED
      entering   waiting     offered   entering .        .           .         .
      waiting    .           .         offered  callback .           .         .
      callback   .           .         offered  .        .           .         .
      offered    .           .         .        .        waiting     connected .
      connected  .           .         .        .        .           .         waiting

  Adoption (a resync found a call in Asterisk that this controller does not track yet, or a
  callback kept in the store): the call is tracked FOUND, then takes the phase its channel is
  in, in one row each. FOUND is never seen outside `acd.controller.adoption`.

      phase      FOUND_WAITING FOUND_RINGING FOUND_CONNECTED FOUND_CALLBACK
      found      waiting       offered       connected       callback

  Reconciling a call this controller tracks whose channel moved while the AMI link was down
  uses the ordinary rows: OFFERED + ANSWERED (it was answered meanwhile), OFFERED +
  DIAL_FAILED (its ring ended and it is back in the wait loop).

  ENTERING + OFFER stays ENTERING: the decision is kept as the call's directive and the enter
  AGI tells the dialplan (DELIVERED when it did). A call leaves the table by being removed from
  the tracker: hang-up, exit, or a directive to leave handed to the enter AGI.

    ENTERING   the `enter` FastAGI is still running: decisions are handed to it as a directive
               rather than carried out by Redirect, so the caller never races its own AGI.
    WAITING    in the wait loop (`acd-wait`), music on hold.
    OFFERED    sent to `acd-deliver` (or being called back) and dialling an agent.
    CONNECTED  the agent answered.
    CALLBACK   the caller asked to be called back and hung up: the call keeps its place in
               the router but has no channel until an agent is offered.
    FOUND      found by a resync, not placed yet (adoption only).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol


class Phase(enum.StrEnum):
    ENTERING = "entering"
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    CALLBACK = "callback"
    FOUND = "found"


class PhaseTrigger(enum.StrEnum):
    HANDED_OVER = "handed_over"  # the enter AGI returned with nothing decided: wait loop
    DELIVERED = "delivered"  # the enter AGI told the dialplan to dial the offered agent
    OFFER = "offer"  # the router offered an agent
    CALLBACK = "callback"  # the caller accepted a callback and hangs up
    DIAL_FAILED = "dial_failed"  # the offer did not reach the agent (Dial or Redirect failed)
    ANSWERED = "answered"  # the agent answered
    TRANSFERRED = "transferred"  # its agent handed it on into a queue (a blind transfer)
    FOUND_WAITING = "found_waiting"  # adopted: the caller is in the wait loop
    FOUND_RINGING = "found_ringing"  # adopted: the caller's Dial rings the agent
    FOUND_CONNECTED = "found_connected"  # adopted: the caller is bridged with the agent
    FOUND_CALLBACK = "found_callback"  # adopted from the store: a callback, no channel


_P = Phase
_T = PhaseTrigger

PHASE_TABLE: Mapping[tuple[Phase, PhaseTrigger], Phase] = MappingProxyType(
    {
        (_P.ENTERING, _T.HANDED_OVER): _P.WAITING,
        (_P.ENTERING, _T.DELIVERED): _P.OFFERED,
        (_P.ENTERING, _T.OFFER): _P.ENTERING,
        (_P.WAITING, _T.OFFER): _P.OFFERED,
        (_P.WAITING, _T.CALLBACK): _P.CALLBACK,
        (_P.CALLBACK, _T.OFFER): _P.OFFERED,
        (_P.OFFERED, _T.DIAL_FAILED): _P.WAITING,
        (_P.OFFERED, _T.ANSWERED): _P.CONNECTED,
        (_P.CONNECTED, _T.TRANSFERRED): _P.WAITING,
        (_P.FOUND, _T.FOUND_WAITING): _P.WAITING,
        (_P.FOUND, _T.FOUND_RINGING): _P.OFFERED,
        (_P.FOUND, _T.FOUND_CONNECTED): _P.CONNECTED,
        (_P.FOUND, _T.FOUND_CALLBACK): _P.CALLBACK,
    }
)


class PhaseError(RuntimeError):
    """A phase change the table does not define was attempted."""


class HasPhase(Protocol):
    call_id: str
    phase: Phase


def advance(call: HasPhase, trigger: PhaseTrigger) -> Phase:
    """Move `call` to the phase the table gives for `trigger`; raises `PhaseError` where the
    table has no entry (the phase is then unchanged)."""
    target = PHASE_TABLE.get((call.phase, trigger))
    if target is None:
        raise PhaseError(f"call {call.call_id}: no {trigger.value} from {call.phase.value}")
    call.phase = target
    return target

"""What the call records tell their subscribers: one typed happening per change.

`acd.observe.records.CallRecorder` is the only place that applies the definitions (offered,
answered, abandoned, short abandon, overflow, wait, talk, handle). For every change it hands a
happening to each subscriber, in order, carrying the record *as it is after the change*. A
subscriber reads `record.wait`, `record.outcome`, … and never recomputes them, so the stored
rows, the queue_log lines and the Prometheus counters agree by construction:

    VisitOpened         the call entered a queue (arrival, or the next leg of an overflow)
    VisitAdopted        a restarted controller found the call again and re-opened the stored
                        visit (same record): already counted, so only the store keeps it
    VisitOffered        an agent was reserved and dialled for it
    RingNoAnswer        that offer failed
    VisitAnswered       connected to an agent
    VisitEnded          the visit's outcome is set: answered calls at hangup, others when
                        they leave (abandon, short abandon, overflow, exit)
    WrapUpEnded         the agent left wrap-up: the answered visit has its handle time
    CallbackRequested   the caller pressed for a callback (once per visit)
    VisitNoted          something the Asterisk side told us that counts nowhere (caller data)
    AgentIntervalChanged  an agent's state changed: its open interval closed, a new one opened

A call to an unknown queue never opens a visit; it is recorded by a VisitEnded alone
(`exited`, `unknown_queue`), which nothing counts.

An adopted call whose stored visit lacks what happened meanwhile (the last batch died with a
SIGKILL, or the caller was answered while nobody watched) gets the missing happenings after
its VisitAdopted (VisitOffered, VisitAnswered), or a VisitOpened when nothing was stored: each
happening is told once per record across restarts, so the counters stay the records.

Subscribers implement `RecordListener`. They run on the engine task, so they buffer and never
block (writing is `acd.observe.writer.BatchWriter`'s job).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from acd.router.model import AgentState, CallState
from acd.storage.record_store import AgentInterval, CallRecord


@dataclass(frozen=True, slots=True)
class VisitOpened:
    at: float
    record: CallRecord
    position: int  # place in the queue at entry (1 when it was offered at once)


@dataclass(frozen=True, slots=True)
class VisitAdopted:
    at: float
    record: CallRecord  # as stored by the previous run
    state: CallState  # what the call was doing when it was found


@dataclass(frozen=True, slots=True)
class VisitOffered:
    at: float  # the ring started: the agent's reservation
    record: CallRecord
    agent_id: str


@dataclass(frozen=True, slots=True)
class RingNoAnswer:
    at: float
    record: CallRecord
    agent_id: str
    ring: float  # seconds the agent was rung (0 when the offer was not seen)


@dataclass(frozen=True, slots=True)
class VisitAnswered:
    at: float
    record: CallRecord
    ring: float  # seconds the answering agent was rung


@dataclass(frozen=True, slots=True)
class VisitEnded:
    at: float
    record: CallRecord  # `outcome` set; `talk` too when it was answered
    position: int  # the place it had at entry


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    at: float
    record: CallRecord  # `wrap_up` set


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    record: CallRecord


@dataclass(frozen=True, slots=True)
class VisitNoted:
    record: CallRecord


@dataclass(frozen=True, slots=True)
class AgentIntervalChanged:
    at: float
    agent_id: str
    previous: AgentState
    previous_reason: str | None
    state: AgentState
    reason: str | None  # the pause reason while paused
    closed: AgentInterval | None  # the interval that ended at `at` (its `end` set)
    opened: AgentInterval | None  # the one that starts (None when logging out)


VisitHappening = (
    VisitOpened
    | VisitAdopted
    | VisitOffered
    | RingNoAnswer
    | VisitAnswered
    | VisitEnded
    | WrapUpEnded
    | CallbackRequested
    | VisitNoted
)
RecordHappening = VisitHappening | AgentIntervalChanged


class RecordListener(Protocol):
    def on_record(self, happening: RecordHappening) -> None:
        """Called on the engine task in the order of the changes. Must not block; may raise
        (logged; the other subscribers still get the happening)."""

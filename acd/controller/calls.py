"""The channel ↔ call mapping: which Asterisk channel carries which ACD call.

The router knows calls only by id; everything about channels lives here. A call's id is the
UNIQUEID of the channel that entered `acd-inbound` (stable across channel renames). Its caller
leg changes when a callback is placed (the originated channel then carries the call).

Its phase (what the caller's channel is doing) changes only through `phases.advance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from acd.controller.phases import Phase
from acd.router.model import CallView, QueueConfig, skills_text


@dataclass(frozen=True, slots=True)
class Deliver:
    """Dial `contact` for `agent_id` with `ring_timeout` seconds (dialplan `acd-deliver`)."""

    agent_id: str
    contact: str
    ring_timeout: float


@dataclass(frozen=True, slots=True)
class Consultation:
    """A warm transfer's consultation: the call `consult_id` the first agent's side of
    `call_id` made into `queue` (with the transfer's extra `skills`)."""

    consult_id: str
    queue: str
    skills: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Leave:
    """Leave the ACD: ACD_RESULT=`reason`, continue at `destination` or after the wait."""

    reason: str
    destination: str | None


Directive = Deliver | Leave


@dataclass(slots=True)
class LiveCall:
    call_id: str
    queue: str
    #: The `acd-inbound` extension the caller dialled: "after the wait" is its `exit` label.
    entry: str
    channel: str | None
    uniqueid: str | None
    phase: Phase
    entered_at: float
    #: Set while ENTERING: what the enter AGI must tell the dialplan before it returns.
    directive: Directive | None = None
    agent_id: str | None = None
    agent_uniqueid: str | None = None
    #: The ;2 half when the agent's contact is a Local channel (it hangs up first).
    agent_far_uniqueid: str | None = None
    answered_at: float | None = None
    #: "caller" or "agent": whichever leg of the connected call first asked to hang up.
    hangup_requested_by: str | None = None
    #: Dial string to call the caller back (set when a callback was requested).
    callback_to: str | None = None
    callback_attempts: int = 0
    #: Entered its current queue (ACD_QUEUE_ENTERED_AT): `entered_at` until an overflow.
    queue_entered_at: float | None = None
    #: The tracker's offer count when this call was last offered (see `CallTracker.offers`).
    offer_serial: int = 0
    #: The note of the last transfer, for the next agent (ACD_TRANSFER_NOTE on the channel).
    transfer_note: str = ""


def format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def queue_entered_at(call: LiveCall) -> float:
    return call.entered_at if call.queue_entered_at is None else call.queue_entered_at


def entered_variables(call: LiveCall, queue: QueueConfig | None) -> dict[str, str]:
    """What the dialplan and a restarted controller read from the caller's channel."""
    announce_every = queue.announce_every if queue is not None else 30.0
    exit_key = queue.exit_key if queue is not None else None
    return {
        "ACD_CALL_ID": call.call_id,
        "ACD_QUEUE": call.queue,
        "ACD_ENTRY": call.entry,
        "ACD_ENTERED_AT": f"{call.entered_at:.3f}",
        "ACD_QUEUE_ENTERED_AT": f"{queue_entered_at(call):.3f}",
        # 0 means "never": WaitExten needs a number, an hour is never enough.
        "ACD_ANNOUNCE_EVERY": format_seconds(announce_every or 3600),
        # acd-wait compares a pressed key with it and asks the `exit` AGI only on a match.
        "ACD_EXIT_KEY": exit_key or "",
    }


def transfer_variables(call: LiveCall, router: RouterReads, queue_name: str) -> dict[str, str]:
    """What a transferred caller's channel must say from now on: its new queue (as
    `entered_variables`), and the priority and extra skills the transfer gave it, which a
    restarted controller reads back when it adopts the call."""
    variables = entered_variables(call, router.queue(queue_name))
    view = router.call(call.call_id)
    if view is not None:
        variables["ACD_PRIORITY"] = str(view.priority)
        variables["ACD_SKILLS"] = skills_text(view.extra_skills)
    variables["ACD_TRANSFER_NOTE"] = channel_text(call.transfer_note)
    return variables


#: Bytes of a value sent in one AMI header line: Asterisk refuses a line over 1024 bytes
#: ("line too long") and the Setvar would silently not happen.
MAX_HEADER_VALUE_BYTES = 900


def channel_text(text: str) -> str:
    """`text` as a channel variable set over AMI: cut, on a character boundary, to
    MAX_HEADER_VALUE_BYTES of UTF-8 (the records and the API keep it whole)."""
    data = text.encode()
    if len(data) <= MAX_HEADER_VALUE_BYTES:
        return text
    return data[: MAX_HEADER_VALUE_BYTES - 3].decode(errors="ignore") + "…"


class RouterReads(Protocol):
    def queue(self, name: str) -> QueueConfig | None: ...

    def call(self, call_id: str) -> CallView | None: ...


class CallTracker:
    """Live calls by id, by caller-leg uniqueid and by agent-leg uniqueid.

    Every lookup is O(1). The tracker holds no I/O and no clock.
    """

    def __init__(self) -> None:
        #: Offers made so far. A resync compares a call's `offer_serial` with the count when
        #: it asked Asterisk for the channels: a later offer may not show in that listing.
        self.offers = 0
        self._calls: dict[str, LiveCall] = {}
        self._by_uniqueid: dict[str, str] = {}
        self._by_agent_leg: dict[str, str] = {}
        #: call id → its warm transfer's consultation, once the consultation has entered.
        self.consultations: dict[str, Consultation] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def all(self) -> list[LiveCall]:
        return list(self._calls.values())

    def add(self, call: LiveCall) -> None:
        if call.call_id in self._calls:
            raise ValueError(f"call {call.call_id!r} is already tracked")
        self._calls[call.call_id] = call
        if call.uniqueid is not None:
            self._by_uniqueid[call.uniqueid] = call.call_id

    def get(self, call_id: str) -> LiveCall | None:
        return self._calls.get(call_id)

    def by_caller_leg(self, uniqueid: str) -> LiveCall | None:
        call_id = self._by_uniqueid.get(uniqueid)
        return None if call_id is None else self._calls.get(call_id)

    def by_agent_leg(self, uniqueid: str) -> LiveCall | None:
        call_id = self._by_agent_leg.get(uniqueid)
        return None if call_id is None else self._calls.get(call_id)

    def bind_caller(self, call: LiveCall, uniqueid: str | None, channel: str | None) -> None:
        if call.uniqueid is not None:
            self._by_uniqueid.pop(call.uniqueid, None)
        call.uniqueid = uniqueid
        call.channel = channel
        if uniqueid is not None:
            self._by_uniqueid[uniqueid] = call.call_id

    def offer(self, call: LiveCall, agent_id: str) -> None:
        self.release_agent(call)
        call.agent_id = agent_id
        self.offers += 1
        call.offer_serial = self.offers

    def bind_agent_leg(self, call: LiveCall, uniqueid: str) -> None:
        if call.agent_uniqueid is not None:
            self._by_agent_leg.pop(call.agent_uniqueid, None)
        call.agent_uniqueid = uniqueid
        self._by_agent_leg[uniqueid] = call.call_id

    def bind_agent_far_leg(self, call: LiveCall, uniqueid: str) -> None:
        if call.agent_far_uniqueid is not None:
            self._by_agent_leg.pop(call.agent_far_uniqueid, None)
        call.agent_far_uniqueid = uniqueid
        self._by_agent_leg[uniqueid] = call.call_id

    def release_agent(self, call: LiveCall) -> None:
        """The offer is over: forget the agent and its leg (the call stays)."""
        for leg in (call.agent_uniqueid, call.agent_far_uniqueid):
            if leg is not None:
                self._by_agent_leg.pop(leg, None)
        call.agent_id = None
        call.agent_uniqueid = None
        call.agent_far_uniqueid = None

    def remove(self, call_id: str) -> LiveCall | None:
        call = self._calls.pop(call_id, None)
        if call is None:
            return None
        if call.uniqueid is not None and self._by_uniqueid.get(call.uniqueid) == call_id:
            del self._by_uniqueid[call.uniqueid]
        self.release_agent(call)
        return call

    def _check(self) -> None:
        for uniqueid, call_id in self._by_uniqueid.items():
            assert self._calls[call_id].uniqueid == uniqueid
        for uniqueid, call_id in self._by_agent_leg.items():
            call = self._calls[call_id]
            assert uniqueid in (call.agent_uniqueid, call.agent_far_uniqueid)

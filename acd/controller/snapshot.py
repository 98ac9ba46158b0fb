"""What Asterisk holds right now, read back in one AMI action: the calls a resync finds.

`Status` without a `Channel:` returns one `Status` event per live channel, and with
`Variables:` each carries the requested channel variables (tests/faults/FINDINGS.md (b)): the
whole picture in one round trip, with no manager.conf change. (`channelvars` in manager.conf
would put the same variables on every AMI event of every channel, growing the event stream
the controller reads by a dozen lines per event for the sake of a listing it needs only after
a (re)login, so it is not used.)

A caller's channel carries the ACD_* variables the enter AGI and the offers set on it
(asterisk-config/extensions_acd.conf). Where it is in the dialplan says what it is doing:

    acd-wait                              waiting (music, announcements, callback prompt)
    acd-queue, AGI running                entering: the enter AGI owns it (never adopted)...
      ... with ACD_RESULT=no_controller   ...unless the dialplan marked it as one that may
                                          get no answer: a caller waiting for a controller
    acd-queue, after the AGI              about to wait (ACD_AGENT empty) or to ring ACD_AGENT
    acd-deliver, Dial, no BridgeID        ringing the agent (also before Dial starts)
    acd-deliver, Dial, BridgeID           connected: the agent's leg has the same BridgeID
    ACD_RESULT set, or Hangup running     leaving the ACD (never adopted)
    ACD_CALLBACK=1 outside those          a callback being originated: ringing the caller

The agent's leg of a ringing call is the `AppDial` channel with the caller's Linkedid; a
Local agent's `;2` half (which hangs up first) is found by its name. Unset variables read
`(null)` in Status; both that and an empty value mean "not set".

`read_snapshot` never raises: a channel whose headers cannot be read is skipped (logged), so
a surprise from Asterisk costs at most that channel's adoption, never the resync.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from acd.config import channel_input
from acd.config.channel_input import ChannelInputError
from acd.router.model import frozen_skills

log = logging.getLogger(__name__)

#: The variables a resync reads from every channel.
STATUS_VARIABLES = (
    "ACD_CALL_ID",
    "ACD_QUEUE",
    "ACD_ENTRY",
    "ACD_ENTERED_AT",
    "ACD_QUEUE_ENTERED_AT",
    "ACD_PRIORITY",
    "ACD_SKILLS",
    "ACD_AGENT",
    "ACD_AGENT_CONTACT",
    "ACD_CALLBACK",
    "ACD_RESULT",
    "DIALSTATUS",
)

_ACD_CONTEXTS = ("acd-deliver", "acd-wait", "acd-queue")
#: ACD_RESULT while an enter AGI runs (set before it; the AGI clears it when it answers).
NO_CONTROLLER = "no_controller"


class Seen(enum.StrEnum):
    """What a caller's channel is doing, as far as adoption cares."""

    WAITING = "waiting"
    RINGING = "ringing"
    CONNECTED = "connected"


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One `Status` event, the headers a resync reads."""

    channel: str
    uniqueid: str
    linkedid: str
    context: str
    application: str
    data: str
    bridge_id: str
    variables: Mapping[str, str]  # only the variables that are set


@dataclass(frozen=True, slots=True)
class FoundCall:
    """A caller's channel that carries an ACD call id, and what it is doing."""

    call_id: str
    queue: str
    entry: str
    channel: str
    uniqueid: str
    seen: Seen
    entered_at: float | None
    queue_entered_at: float | None
    priority: int | None
    skills: Mapping[str, int]
    agent_id: str | None
    #: The contact being dialled (ACD_AGENT_CONTACT, else the Dial's first argument).
    agent_contact: str | None
    agent_uniqueid: str | None
    agent_far_uniqueid: str | None
    dial_status: str | None
    #: n of a called-back caller's leg `<call id>-cb<n>` (0: not a callback leg).
    callback_attempt: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    #: Calls found, by call id (one channel each: the caller's dialplan side).
    calls: Mapping[str, FoundCall] = field(default_factory=dict)
    #: Every live channel's uniqueid.
    uniqueids: frozenset[str] = frozenset()
    #: Channels in the ACD's contexts without a call id (entered while no controller ran).
    unregistered: int = 0
    #: Every live channel: uniqueid → name (the FastAGI server's live-channel check).
    names: Mapping[str, str] = field(default_factory=dict)


def _text(message: Mapping[str, object], name: str) -> str:
    value = message.get(name)
    return value if isinstance(value, str) else ""


def _variables(message: Mapping[str, object]) -> dict[str, str]:
    raw = message.get("Variable")
    values: Iterable[object] = raw if isinstance(raw, list) else [] if raw is None else [raw]
    variables: dict[str, str] = {}
    for item in values:
        name, sep, value = str(item).partition("=")
        if sep and value and value != "(null)":
            variables[name.strip()] = value
    return variables


def channel_status(message: Mapping[str, object]) -> ChannelStatus | None:
    """One Status event (None for anything else, or without Channel/Uniqueid)."""
    if _text(message, "Event").lower() != "status":
        return None
    channel, uniqueid = _text(message, "Channel"), _text(message, "Uniqueid")
    if not channel or not uniqueid:
        return None
    return ChannelStatus(
        channel=channel,
        uniqueid=uniqueid,
        linkedid=_text(message, "Linkedid"),
        context=_text(message, "Context"),
        application=_text(message, "Application"),
        data=_text(message, "Data"),
        # Status spells it BridgeID; CoreShowChannel spells it BridgeId.
        bridge_id=_text(message, "BridgeID") or _text(message, "BridgeId"),
        variables=_variables(message),
    )


def parse_skills(text: str) -> Mapping[str, int]:
    """ACD_SKILLS (`skill:minlevel,skill:minlevel`, a bare `skill` is level 1) under the
    entry's rules (acd.config.channel_input). Unreadable text gives no extra skills, as at
    entry (the AGI ignores bad skills too)."""
    try:
        return frozen_skills(channel_input.skills(text))
    except ChannelInputError:
        return frozen_skills(None)


def _priority(text: str | None) -> int | None:
    """ACD_PRIORITY under the entry's rules: outside them, the queue's default (as at entry)."""
    try:
        return channel_input.priority(text or "")
    except ChannelInputError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _usable_call_id(text: str) -> bool:
    try:
        return channel_input.call_id(text) == text
    except ChannelInputError:
        return False


def _seen(status: ChannelStatus) -> Seen | None:
    """What this caller channel is doing; None when it is not ours to adopt now."""
    variables, context, application = status.variables, status.context, status.application
    result = variables.get("ACD_RESULT", "")
    # `no_controller` is the dialplan's own mark around an enter AGI that may get no answer:
    # the caller stays (acd-wait,down), it is not leaving.
    waiting_for_us = result == NO_CONTROLLER
    if (result and not waiting_for_us) or application.lower() == "hangup":
        return None  # leaving the ACD
    if context == "acd-deliver":
        return Seen.CONNECTED if status.bridge_id else Seen.RINGING
    if context == "acd-wait" or waiting_for_us:
        return Seen.WAITING
    if context == "acd-queue":
        if application.lower() == "agi":
            return None  # the enter AGI still owns the channel
        return Seen.RINGING if variables.get("ACD_AGENT") else Seen.WAITING
    if variables.get("ACD_CALLBACK") == "1":
        return Seen.RINGING  # the callback Originate still rings the caller
    return None


def _callback_attempt(call_id: str, uniqueid: str) -> int:
    prefix = f"{call_id}-cb"
    return _int(uniqueid[len(prefix) :]) or 0 if uniqueid.startswith(prefix) else 0


def _rank(status: ChannelStatus, call_id: str) -> tuple[int, int]:
    """Which of several channels carrying one call id is the caller's (an Originate sets
    its variables on both halves of a Local channel): the one in the ACD's dialplan, then
    the one whose uniqueid is the call's (or its callback leg's)."""
    in_dialplan = status.context in _ACD_CONTEXTS
    own = status.uniqueid == call_id or status.uniqueid.startswith(f"{call_id}-cb")
    return (0 if in_dialplan else 1, 0 if own else 1)


def _dialled_contact(status: ChannelStatus) -> str | None:
    contact = status.variables.get("ACD_AGENT_CONTACT")
    if contact:
        return contact
    if status.application.lower() == "dial" and status.data:
        return status.data.split(",", 1)[0] or None
    return None


def _agent_legs(
    caller: ChannelStatus, seen: Seen, channels: list[ChannelStatus]
) -> tuple[str | None, str | None]:
    agent: ChannelStatus | None = None
    if seen is Seen.CONNECTED:
        peers = [c for c in channels if c.bridge_id == caller.bridge_id and c is not caller]
        dialled = [c for c in peers if c.application.lower() == "appdial"]
        agent = (dialled or peers)[0] if peers else None
    elif seen is Seen.RINGING and caller.linkedid:
        agent = next(
            (
                c
                for c in channels
                if c.linkedid == caller.linkedid
                and c is not caller
                and c.application.lower() == "appdial"
            ),
            None,
        )
    if agent is None:
        return None, None
    far = None
    if agent.channel.startswith("Local/") and agent.channel.endswith(";1"):
        far_name = agent.channel[:-1] + "2"
        far = next((c.uniqueid for c in channels if c.channel == far_name), None)
    return agent.uniqueid, far


def _found(status: ChannelStatus, seen: Seen, channels: list[ChannelStatus]) -> FoundCall:
    variables = status.variables
    call_id = variables["ACD_CALL_ID"]
    entered_at = _float(variables.get("ACD_ENTERED_AT"))
    agent_uniqueid, far_uniqueid = _agent_legs(status, seen, channels)
    queue = variables.get("ACD_QUEUE", "")
    return FoundCall(
        call_id=call_id,
        queue=queue,
        entry=variables.get("ACD_ENTRY") or queue,
        channel=status.channel,
        uniqueid=status.uniqueid,
        seen=seen,
        entered_at=entered_at,
        queue_entered_at=_float(variables.get("ACD_QUEUE_ENTERED_AT")) or entered_at,
        priority=_priority(variables.get("ACD_PRIORITY")),
        skills=parse_skills(variables.get("ACD_SKILLS", "")),
        agent_id=variables.get("ACD_AGENT") or None,
        agent_contact=_dialled_contact(status),
        agent_uniqueid=agent_uniqueid,
        agent_far_uniqueid=far_uniqueid,
        dial_status=variables.get("DIALSTATUS") or None,
        callback_attempt=_callback_attempt(call_id, status.uniqueid),
    )


def read_snapshot(messages: Iterable[Mapping[str, object]]) -> Snapshot:
    """The Status listing → the calls found. Runtime: O(c * k) for c channels, k the channels
    sharing a bridge or Linkedid with a ringing or connected caller (a handful)."""
    channels: list[ChannelStatus] = []
    for message in messages:
        try:
            status = channel_status(message)
        except Exception:  # never let one odd channel cost the others their adoption
            log.exception("unreadable Status event skipped: %r", message)
            continue
        if status is not None:
            channels.append(status)
    chosen: dict[str, ChannelStatus] = {}
    seen_of: dict[str, Seen] = {}
    unregistered = 0
    for status in channels:
        call_id = status.variables.get("ACD_CALL_ID")
        if not call_id:
            if status.context in _ACD_CONTEXTS and status.application.lower() != "appdial":
                unregistered += 1
            continue
        if not _usable_call_id(call_id):
            # Such an id would reach AMI headers and queue_log fields; the caller enters
            # again (announce says `lost`) and gets an id of its own.
            log.warning("channel %s: ACD_CALL_ID %r not adopted", status.channel, call_id[:80])
            continue
        if not status.variables.get("ACD_QUEUE"):
            continue
        seen = _seen(status)
        if seen is None:
            continue
        current = chosen.get(call_id)
        if current is None or _rank(status, call_id) < _rank(current, call_id):
            chosen[call_id] = status
            seen_of[call_id] = seen
    calls: dict[str, FoundCall] = {}
    for call_id, status in chosen.items():
        try:
            calls[call_id] = _found(status, seen_of[call_id], channels)
        except Exception:
            log.exception("call %s: channel %s not readable; not adopted", call_id, status)
    names = {c.uniqueid: c.channel for c in channels}
    return Snapshot(calls, frozenset(names), unregistered, names)

"""Typed facts read from AMI messages: the only place AMI header names are spelled out.

`translate` turns one raw AMI event (a case-insensitive mapping of header → value, as
panoramisk delivers it) into one of the frozen facts below, or None for events the controller
does not use. It never raises: a malformed event of a kind we use is logged and dropped, so a
surprise from Asterisk can never reach the routing state as a half-filled dict.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class DeviceState(enum.StrEnum):
    """Asterisk's device states (`ast_devstate_str`), as DeviceStateChange reports them."""

    UNKNOWN = "UNKNOWN"
    NOT_INUSE = "NOT_INUSE"
    INUSE = "INUSE"
    BUSY = "BUSY"
    INVALID = "INVALID"
    UNAVAILABLE = "UNAVAILABLE"
    RINGING = "RINGING"
    RINGINUSE = "RINGINUSE"
    ONHOLD = "ONHOLD"


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    """A channel now exists (Newchannel): the FastAGI server serves only channels it saw."""

    uniqueid: str
    channel: str


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    uniqueid: str
    channel: str
    cause: int
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class HangupRequested:
    """A channel asked to hang up (HangupRequest: a SIP BYE received, for one). Unlike the
    order of the two legs' Hangup events, this names the side that ended a bridged call."""

    uniqueid: str


@dataclass(frozen=True, slots=True)
class DialBegan:
    """`caller_*` is the channel running Dial(); `agent_*` the channel being rung."""

    caller_uniqueid: str
    caller_channel: str
    agent_uniqueid: str
    agent_channel: str
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class DialEnded:
    caller_uniqueid: str
    agent_uniqueid: str
    #: DIALSTATUS: ANSWER, NOANSWER, BUSY, CONGESTION, CHANUNAVAIL, CANCEL, ...
    status: str
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class DeviceStateChanged:
    device: str
    state: DeviceState
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class ChannelRenamed:
    uniqueid: str
    new_name: str


@dataclass(frozen=True, slots=True)
class AsteriskStopping:
    """Asterisk is shutting down and hangs up every channel (a SoftHangupRequest with the
    shutdown cause, sent for each channel before any of them goes): dial failures and
    hang-ups from now on are Asterisk's doing, not an agent's or a caller's."""

    uniqueid: str


@dataclass(frozen=True, slots=True)
class LocalPair:
    """A Local channel's two halves (LocalBridge): `one` is the dialled ;1, `two` the ;2 that
    runs the dialplan. A simulated agent hangs up on its ;2 half first."""

    one_uniqueid: str
    two_uniqueid: str


@dataclass(frozen=True, slots=True)
class AttendedTransferDone:
    """An attended transfer ended (AttendedTransfer): `transferer_uniqueid` is the
    transferring channel in its first bridge (an agent's leg of a call, for a warm
    transfer); `result` Success, Fail, Invalid or Not Permitted."""

    transferer_uniqueid: str
    result: str


Fact = (
    ChannelCreated
    | ChannelHungUp
    | HangupRequested
    | DialBegan
    | DialEnded
    | DeviceStateChanged
    | ChannelRenamed
    | LocalPair
    | AsteriskStopping
    | AttendedTransferDone
)

#: SoftHangupRequest's Cause is the soft-hangup flag; AST_SOFTHANGUP_SHUTDOWN is 1 << 2 (the
#: flag `core stop` and `core restart` put on every channel).
SOFTHANGUP_SHUTDOWN = 4


class MalformedEventError(ValueError):
    pass


def _text(message: Mapping[str, Any], name: str) -> str:
    """A required header. panoramisk reads a missing header as '' and a repeated one as a
    list; both are malformed for the headers we rely on."""
    value = message.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"missing or repeated header {name!r}")
    return value


def _timestamp(message: Mapping[str, Any]) -> float | None:
    value = message.get("Timestamp")
    if not isinstance(value, str) or not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _device_state(value: str) -> DeviceState:
    try:
        return DeviceState(value.upper())
    except ValueError:
        raise MalformedEventError(f"unknown device state {value!r}") from None


def _newchannel(m: Mapping[str, Any]) -> Fact:
    return ChannelCreated(_text(m, "Uniqueid"), _text(m, "Channel"))


def _hangup(m: Mapping[str, Any]) -> Fact:
    cause_text = m.get("Cause")
    cause = int(cause_text) if isinstance(cause_text, str) and cause_text.isdigit() else 0
    return ChannelHungUp(_text(m, "Uniqueid"), _text(m, "Channel"), cause, _timestamp(m))


def _hangup_request(m: Mapping[str, Any]) -> Fact:
    return HangupRequested(_text(m, "Uniqueid"))


def _dial_begin(m: Mapping[str, Any]) -> Fact | None:
    if not m.get("Uniqueid"):  # Originate dials with no calling channel: not an ACD offer
        return None
    return DialBegan(
        _text(m, "Uniqueid"),
        _text(m, "Channel"),
        _text(m, "DestUniqueid"),
        _text(m, "DestChannel"),
        _timestamp(m),
    )


def _dial_end(m: Mapping[str, Any]) -> Fact | None:
    if not m.get("Uniqueid"):
        return None
    return DialEnded(
        _text(m, "Uniqueid"), _text(m, "DestUniqueid"), _text(m, "DialStatus"), _timestamp(m)
    )


def _device_state_change(m: Mapping[str, Any]) -> Fact:
    return DeviceStateChanged(_text(m, "Device"), _device_state(_text(m, "State")), _timestamp(m))


def _rename(m: Mapping[str, Any]) -> Fact:
    return ChannelRenamed(_text(m, "Uniqueid"), _text(m, "Newname"))


def _soft_hangup_request(m: Mapping[str, Any]) -> Fact | None:
    cause = m.get("Cause")
    if not isinstance(cause, str) or not cause.isdigit():
        return None
    if not int(cause) & SOFTHANGUP_SHUTDOWN:
        return None  # a bridge or a Dial tearing its other leg down: the Hangup says enough
    return AsteriskStopping(_text(m, "Uniqueid"))


def _local_bridge(m: Mapping[str, Any]) -> Fact:
    return LocalPair(_text(m, "LocalOneUniqueid"), _text(m, "LocalTwoUniqueid"))


def _attended_transfer(m: Mapping[str, Any]) -> Fact:
    return AttendedTransferDone(_text(m, "OrigTransfererUniqueid"), _text(m, "Result"))


_TRANSLATORS: dict[str, Callable[[Mapping[str, Any]], Fact | None]] = {
    "newchannel": _newchannel,
    "hangup": _hangup,
    "hanguprequest": _hangup_request,
    "dialbegin": _dial_begin,
    "dialend": _dial_end,
    "devicestatechange": _device_state_change,
    "rename": _rename,
    "localbridge": _local_bridge,
    "softhanguprequest": _soft_hangup_request,
    "attendedtransfer": _attended_transfer,
}

#: The AMI events the controller listens to (for event filters and documentation).
USED_EVENTS = (
    "Newchannel",
    "Hangup",
    "HangupRequest",
    "DialBegin",
    "DialEnd",
    "DeviceStateChange",
    "Rename",
    "LocalBridge",
    "SoftHangupRequest",
    "AttendedTransfer",
)


def event_filters(also: tuple[str, ...] = ()) -> list[str]:
    """AMI event filter regular expressions (POSIX extended, each on a whole event; any may
    match) that let through the events `translate` reads, plus the events named in `also`;
    manager.conf's `eventfilter` lines for the controller's user (acd.asterisk.instance). Of
    the SoftHangupRequest events (one per channel on every teardown) only the shutdown's."""
    whole = "|".join((*(e for e in USED_EVENTS if e != "SoftHangupRequest"), *also))
    # No CR/LF may appear in a config line: [[:space:]] stands for the end of a header line.
    return [
        f"^Event: ({whole})[[:space:]]",
        f"^Event: SoftHangupRequest[[:space:]].*[[:space:]]Cause: {SOFTHANGUP_SHUTDOWN}"
        "([[:space:]]|$)",
    ]


def translate(message: Mapping[str, Any]) -> Fact | None:
    """One AMI event → a fact, or None when the event is not used or is malformed."""
    try:
        name = message.get("Event")
        if not isinstance(name, str):
            return None
        translator = _TRANSLATORS.get(name.lower())
        if translator is None:
            return None
        return translator(message)
    except Exception as exc:  # never let a surprise escape into panoramisk's data_received
        log.warning("ignoring malformed AMI event (%s): %r", exc, dict(message))
        return None

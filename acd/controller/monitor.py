"""A supervisor listening to, whispering to or barging into an agent's connected call.

The supervisor's phone is called first: an AMI Originate through the controller's own link
(so a cluster leader's lease gates it, as every action) of the supervisor's contact into the
dialplan context `acd-monitor`, extension = the mode, with one channel variable,
ACD_MONITOR_TARGET = the UNIQUEID of the agent's leg of the call. When the supervisor answers,
`acd-monitor` (asterisk-config/extensions_acd.conf) checks that variable's alphabet again and
runs ChanSpy with option `u`: the argument is a uniqueid, so Asterisk spies on exactly that
channel (`ast_channel_get_by_name`), never on another channel whose name shares a prefix,
never on the next call of the same phone. Options: `q` no beep or name, `E` end when the
agent's leg hangs up, `S` end at once if it is already gone; whisper adds `w` (the supervisor
is heard by the agent only), barge `B` (heard by both the agent and the caller).

Nothing here is free text: the contact has passed the [dial] rules (checked again here), the
mode is one of three words, the uniqueid matches the live-channel alphabet (no comma, which
would end ChanSpy's argument, no `$`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from acd.config.channel_input import UNIQUEID_CHARACTERS
from acd.config.dialstrings import DialRules
from acd.controller.ami import AmiError, AmiLink
from acd.controller.calls import CallTracker
from acd.controller.phases import Phase

log = logging.getLogger(__name__)

MONITOR_CONTEXT = "acd-monitor"
MODES = ("listen", "whisper", "barge")
#: Seconds the supervisor's phone rings before the request counts as unanswered.
RING_TIMEOUT = 30.0
_UNIQUEID = re.compile(rf"{UNIQUEID_CHARACTERS}{{1,150}}")

#: Outcomes of a dial, as the audit log keeps them (`result`).
ANSWERED = "answered"  # the supervisor answered: ChanSpy runs on the agent's leg
UNANSWERED = "unanswered"  # refused, busy or not answered in RING_TIMEOUT
NOT_SENT = "not_sent"  # the AMI link was down (or this node no longer leads)
NO_RESPONSE = "no_response"  # sent, and Asterisk never told how it went


@dataclass(frozen=True, slots=True)
class AgentLeg:
    """The agent's channel in a connected call."""

    call_id: str
    uniqueid: str


def connected_leg(tracker: CallTracker, agent_id: str) -> AgentLeg | None:
    """The agent's leg of its connected call, or None (not on a call, or still ringing)."""
    for call in tracker.all():  # a supervisor's request is rare; live calls are few hundred
        connected = call.agent_id == agent_id and call.phase is Phase.CONNECTED
        if connected and call.agent_uniqueid is not None:
            return AgentLeg(call.call_id, call.agent_uniqueid)
    return None


def originate_action(
    contact: str, mode: str, leg: AgentLeg, rules: DialRules
) -> dict[str, str | list[str]]:
    """The Originate that calls the supervisor into `acd-monitor`; ValueError for anything
    outside the grammar (DialStringError for the contact)."""
    rules.check_dial(contact)
    if mode not in MODES:
        raise ValueError(f"unknown monitor mode {mode!r}")
    if _UNIQUEID.fullmatch(leg.uniqueid) is None or _UNIQUEID.fullmatch(leg.call_id) is None:
        raise ValueError("the agent's leg has no well-formed uniqueid")
    return {
        "Channel": contact,
        "Context": MONITOR_CONTEXT,
        "Exten": mode,
        "Priority": "1",
        "Timeout": str(int(RING_TIMEOUT * 1000)),
        "CallerID": f'"ACD {mode}" <{mode}>',
        # Asterisk splits Variable headers at commas: neither value can hold one.
        "Variable": [f"ACD_MONITOR_TARGET={leg.uniqueid}", f"ACD_MONITOR_CALL={leg.call_id}"],
    }


class MonitorDialer:
    """What `acd.service.monitor` needs of the controller: the agent's leg and the dial."""

    def __init__(self, tracker: CallTracker, ami: AmiLink, rules: DialRules) -> None:
        self._tracker = tracker
        self._ami = ami
        self._rules = rules

    @property
    def ready(self) -> bool:
        return self._ami.logged_in

    def agent_leg(self, agent_id: str) -> AgentLeg | None:
        return connected_leg(self._tracker, agent_id)

    async def dial(self, contact: str, mode: str, leg: AgentLeg) -> str:
        """Call the supervisor; returns once it answered or failed (one of the outcomes
        above). Raises DialStringError / ValueError before anything is sent."""
        action = originate_action(contact, mode, leg, self._rules)
        try:
            response = await self._ami.originate(action, within=RING_TIMEOUT + 10)
        except AmiError as exc:
            log.warning("monitor: %s not called: %s", contact, exc)
            return NOT_SENT if exc.unsent else NO_RESPONSE
        if not response.success:
            log.info("monitor: %s did not answer: %s", contact, response.message or "no reason")
            return UNANSWERED
        return ANSWERED

"""The supervisor's Originate (acd/controller/monitor.py): only a connected call's agent leg is
a target, and nothing outside the grammars reaches the action."""

from __future__ import annotations

import pytest

from acd.config.dialstrings import DEFAULT_RULES, DialStringError
from acd.controller.calls import CallTracker, LiveCall
from acd.controller.monitor import AgentLeg, connected_leg, originate_action
from acd.controller.phases import Phase


def tracked(tracker: CallTracker, call_id: str, agent_id: str, phase: Phase, leg: str) -> None:
    call = LiveCall(call_id, "support", "support", f"PJSIP/caller-{call_id}", call_id, phase, 0.0)
    tracker.add(call)
    tracker.offer(call, agent_id)
    tracker.bind_agent_leg(call, leg)
    call.phase = phase


def test_the_target_is_the_agent_leg_of_its_connected_call_only() -> None:
    tracker = CallTracker()
    tracked(tracker, "c1", "1001", Phase.OFFERED, "a1")  # ringing: not yet
    tracked(tracker, "c2", "1002", Phase.CONNECTED, "a2")
    assert connected_leg(tracker, "1001") is None
    assert connected_leg(tracker, "1002") == AgentLeg("c2", "a2")
    assert connected_leg(tracker, "1003") is None


def test_the_originate_enters_acd_monitor_with_the_leg_as_a_variable() -> None:
    action = originate_action("PJSIP/1003", "whisper", AgentLeg("1.2", "1.3"), DEFAULT_RULES)
    assert action == {
        "Channel": "PJSIP/1003",
        "Context": "acd-monitor",
        "Exten": "whisper",
        "Priority": "1",
        "Timeout": "30000",
        "CallerID": '"ACD whisper" <whisper>',
        "Variable": ["ACD_MONITOR_TARGET=1.3", "ACD_MONITOR_CALL=1.2"],
    }


@pytest.mark.parametrize(
    ("contact", "mode", "leg"),
    [
        ("PJSIP/1003&PJSIP/9", "listen", AgentLeg("1.2", "1.3")),
        ("Local/s@from-internal", "listen", AgentLeg("1.2", "1.3")),
        ("PJSIP/1003", "spy", AgentLeg("1.2", "1.3")),
        ("PJSIP/1003", "listen", AgentLeg("1.2", "1.3,qwB")),
        ("PJSIP/1003", "listen", AgentLeg("1.2", "${CHANNEL}")),
        ("PJSIP/1003", "listen", AgentLeg("1.2,x", "1.3")),
    ],
)
def test_nothing_outside_the_grammar_becomes_an_originate(
    contact: str, mode: str, leg: AgentLeg
) -> None:
    with pytest.raises((DialStringError, ValueError)):
        originate_action(contact, mode, leg, DEFAULT_RULES)

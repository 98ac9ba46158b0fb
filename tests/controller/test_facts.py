from __future__ import annotations

from typing import Any

import pytest
from panoramisk.message import Message

from acd.controller.facts import (
    ChannelHungUp,
    DeviceState,
    DeviceStateChanged,
    DialBegan,
    DialEnded,
    translate,
)

from .transcripts import CALL_ID, messages


def facts_of(name: str) -> list[Any]:
    return [fact for fact in map(translate, messages(name)) if fact is not None]


def test_answered_call_transcript_reads_as_dial_answer_and_hangups() -> None:
    facts = facts_of("answered")
    dials = [f for f in facts if isinstance(f, DialBegan | DialEnded)]
    # Originate's own dial (no calling channel) is not an ACD offer and is dropped.
    assert [type(f).__name__ for f in dials] == ["DialBegan", "DialEnded"]
    began, ended = dials
    assert isinstance(began, DialBegan)
    assert isinstance(ended, DialEnded)
    assert began.caller_uniqueid == CALL_ID
    assert began.agent_channel.startswith("Local/2001@acd-sim-agent-")
    assert ended.status == "ANSWER"
    assert ended.agent_uniqueid == began.agent_uniqueid
    assert began.timestamp is not None
    assert ended.timestamp is not None
    assert ended.timestamp >= began.timestamp
    hangups = [f for f in facts if isinstance(f, ChannelHungUp)]
    assert CALL_ID in {h.uniqueid for h in hangups}
    assert all(h.cause == 16 for h in hangups)  # normal clearing


def test_ring_no_answer_transcript_has_noanswer() -> None:
    ends = [f for f in facts_of("ring_no_answer") if isinstance(f, DialEnded)]
    assert [e.status for e in ends] == ["NOANSWER"]


def test_abandon_while_ringing_transcript_cancels_the_dial() -> None:
    ends = [f for f in facts_of("abandon_ringing") if isinstance(f, DialEnded)]
    assert [e.status for e in ends] == ["CANCEL"]


def test_device_states_are_typed() -> None:
    states = [f for f in facts_of("answered") if isinstance(f, DeviceStateChanged)]
    assert DeviceStateChanged(
        "Local/2001@acd-sim-agent", DeviceState.INUSE, states[0].timestamp
    ) in [DeviceStateChanged(s.device, s.state, states[0].timestamp) for s in states]
    assert {s.state for s in states} <= set(DeviceState)


@pytest.mark.parametrize(
    "headers",
    [
        {"Event": "Hangup", "Channel": "PJSIP/1001-00000001"},  # no Uniqueid
        {"Event": "DialEnd", "Uniqueid": "1.1", "DestUniqueid": "1.2"},  # no DialStatus
        {"Event": "DeviceStateChange", "Device": "PJSIP/1001", "State": "SLEEPY"},
        {"Event": "DeviceStateChange", "Device": ["PJSIP/1001", "PJSIP/1002"], "State": "INUSE"},
        {"Event": "Rename", "Uniqueid": "1.1"},
    ],
)
def test_malformed_events_of_used_kinds_are_dropped_with_a_warning(
    headers: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    assert translate(Message(headers)) is None
    assert "malformed AMI event" in caplog.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Event": "Newexten", "Channel": "x"},
        {"Event": "SomethingNewInAsterisk23"},
        {"Response": "Success"},
        {"Event": ["Hangup", "Hangup"]},
        {},
    ],
)
def test_unused_or_odd_events_are_ignored_quietly(
    headers: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    assert translate(Message(headers)) is None
    assert caplog.text == ""


def test_hangup_with_odd_cause_and_timestamp_still_counts() -> None:
    fact = translate(
        Message(
            {
                "Event": "Hangup",
                "Uniqueid": "9.9",
                "Channel": "PJSIP/x-1",
                "Cause": "n/a",
                "Timestamp": "soon",
            }
        )
    )
    assert fact == ChannelHungUp("9.9", "PJSIP/x-1", 0, None)

"""The base dialplan on a real Asterisk: simulated agents and the stock app_queue baseline."""

from __future__ import annotations

from typing import Any

import pytest
from ami_session import AmiSession

pytestmark = pytest.mark.asterisk


def _is(name: str, channel_prefix: str) -> Any:
    def match(event: Any) -> bool:
        return bool(event.event == name and event.get("Channel", "").startswith(channel_prefix))

    return match


def _stamp(event: Any) -> float:
    return float(event["Timestamp"])


async def _originate(ami: AmiSession, channel: str, variables: str, timeout_ms: int = 10000) -> Any:
    return await ami.action(
        Action="Originate",
        Channel=channel,
        Application="Wait",
        Data="30",
        Variable=variables,
        Timeout=str(timeout_ms),
        Async="true",
    )


async def test_sim_agent_answers_plays_audio_and_hangs_up_after_talk_time(
    ami: AmiSession,
) -> None:
    agent = "Local/2001@acd-sim-agent-"
    await _originate(ami, "Local/2001@acd-sim-agent", "ACD_SIM_TALK=1")
    answered = await ami.wait_for(
        lambda e: _is("Newstate", agent)(e) and e.get("ChannelStateDesc") == "Up"
    )
    music = await ami.wait_for(_is("MusicOnHoldStart", agent))
    assert music["Class"] == "default"
    hangup = await ami.wait_for(_is("Hangup", agent))
    talked = _stamp(hangup) - _stamp(answered)
    assert 0.9 <= talked < 2.5, talked


async def test_sim_agent_rings_before_answering(ami: AmiSession) -> None:
    agent = "Local/2002@acd-sim-agent-"
    await _originate(ami, "Local/2002@acd-sim-agent", "ACD_SIM_RING=1,ACD_SIM_TALK=0")
    created = await ami.wait_for(_is("Newchannel", agent))
    answered = await ami.wait_for(
        lambda e: _is("Newstate", agent)(e) and e.get("ChannelStateDesc") == "Up"
    )
    assert _stamp(answered) - _stamp(created) >= 1.0
    await ami.wait_for(_is("Hangup", agent))


async def test_sim_agent_with_ring_minus_one_never_answers(ami: AmiSession) -> None:
    agent = "Local/2003@acd-sim-agent-"
    replies = await _originate(ami, "Local/2003@acd-sim-agent", "ACD_SIM_RING=-1", 1500)
    # panoramisk returns an async Originate's replies as [Response, OriginateResponse].
    outcome = replies[-1]
    assert outcome.event == "OriginateResponse"
    assert outcome["Response"] == "Failure"
    # The agent leg went away unanswered once the originate gave up.
    hangup = await ami.wait_for(_is("Hangup", agent))
    assert hangup["ChannelStateDesc"] != "Up"


async def test_baseline_queue_connects_a_caller_to_a_sim_agent(ami: AmiSession) -> None:
    await _originate(ami, "Local/s@baseline", "__ACD_SIM_TALK=1")
    joined = await ami.wait_for(lambda e: e.event == "QueueCallerJoin")
    assert joined["Queue"] == "baseline"
    connected = await ami.wait_for(lambda e: e.event == "AgentConnect")
    assert connected["Queue"] == "baseline"
    assert connected["Interface"].startswith("Local/200")
    complete = await ami.wait_for(lambda e: e.event == "AgentComplete", within=15)
    # The members inherited __ACD_SIM_TALK=1 from the caller (the default would be 5 s).
    assert int(complete["TalkTime"]) in (1, 2), complete

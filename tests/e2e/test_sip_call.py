"""End to end with real SIP softphones (pjsua2) and the real Asterisk: nothing is faked.

Agent 1001 registers, logs in with *71, a SIP caller dials 500 (queue `support`), the agent's
phone rings and is answered, audio flows both ways (RTP packets received on both phones),
the caller hangs up, the agent wraps up and is available again; then the pause, unpause and
logout feature codes.
"""

from __future__ import annotations

import asyncio

import pytest
from controller.harness import Acd

from acd.router.decisions import AgentStateChanged, OfferCall
from acd.router.events import (
    AgentReachabilityChanged,
    CallArrived,
    CallEnded,
    OfferAnswered,
)
from acd.router.model import AgentState

from .softphone import SoftphoneHost

pytestmark = pytest.mark.sip

#: How long the two parties talk before the caller hangs up (a conversation, not a bound).
TALK_SECONDS = 1.5


def agent_state(state: AgentState) -> object:
    return lambda d: isinstance(d, AgentStateChanged) and d.agent_id == "1001" and d.state is state


async def feature_code(phones: SoftphoneHost, code: str) -> None:
    """The agent dials a feature code; Asterisk confirms and hangs up."""
    since = phones.events.mark()
    handle = await phones.call("1001", code)
    await phones.state(handle, "DISCONNECTED", since=since)


async def test_sip_agent_takes_a_sip_call_with_audio_both_ways(
    acd: Acd, phones: SoftphoneHost
) -> None:
    await acd.queue("support", wrap_up=1.0, ring_timeout=10.0)
    await acd.agent("1001", contact="PJSIP/1001", login=False)
    # Not registered yet: the ACD must not offer calls to it.
    await acd.steps.event(
        lambda e: (
            isinstance(e, AgentReachabilityChanged) and e.agent_id == "1001" and not e.reachable
        )
    )
    mark = acd.steps.mark()
    await phones.register("1001", "agent-1001")
    await acd.steps.event(
        lambda e: isinstance(e, AgentReachabilityChanged) and e.agent_id == "1001" and e.reachable,
        since=mark,
    )
    await phones.register("caller", "caller-secret")

    await feature_code(phones, "*71")
    await acd.steps.decision(agent_state(AgentState.AVAILABLE))

    since = phones.events.mark()
    caller = await phones.call("caller", "500")
    arrived = await acd.steps.event(lambda e: isinstance(e, CallArrived))
    assert arrived.queue == "support"
    offer = await acd.steps.decision(lambda d: isinstance(d, OfferCall))
    assert (offer.call_id, offer.agent_id) == (arrived.call_id, "1001")
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1001", since=since
    )
    agent_leg = incoming[2]
    await phones.answer(agent_leg)
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.agent_id == "1001")
    await phones.state(caller, "CONFIRMED", since=since)
    await phones.state(agent_leg, "CONFIRMED", since=since)

    await asyncio.sleep(TALK_SECONDS)  # the conversation
    caller_rx = await phones.rx_packets(caller)
    agent_rx = await phones.rx_packets(agent_leg)
    print(f"RTP packets received: caller {caller_rx}, agent {agent_rx}")
    assert caller_rx > 0, "the caller received no RTP from the agent"
    assert agent_rx > 0, "the agent received no RTP from the caller"

    await phones.hangup(caller)
    ended = await acd.steps.event(lambda e: isinstance(e, CallEnded))
    assert ended.call_id == arrived.call_id
    assert acd.recorder.hung_up_by == {arrived.call_id: "caller"}
    await phones.state(agent_leg, "DISCONNECTED", since=since)
    wrap = await acd.steps.decision(agent_state(AgentState.WRAP_UP))
    available = await acd.steps.decision(
        lambda d: (
            isinstance(d, AgentStateChanged)
            and d.agent_id == "1001"
            and d.state is AgentState.AVAILABLE
            and d.at > wrap.at
        )
    )
    assert available.at == wrap.at + 1.0
    assert acd.router.agent("1001").reachable

    # Pause with reason code 01, unpause, log out: each by feature code from the phone.
    await feature_code(phones, "*7301")
    paused = await acd.steps.decision(agent_state(AgentState.PAUSED))
    assert paused.pause_reason == "01"
    await feature_code(phones, "*74")
    await acd.steps.decision(
        lambda d: (
            isinstance(d, AgentStateChanged)
            and d.agent_id == "1001"
            and d.state is AgentState.AVAILABLE
            and d.at > paused.at
        )
    )
    await feature_code(phones, "*72")
    await acd.steps.decision(agent_state(AgentState.LOGGED_OUT))

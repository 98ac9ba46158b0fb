"""The whole call path on the real Asterisk: callers are Local channels into acd-inbound,
agents are simulated (Local/<ext>@acd-sim-agent)."""

from __future__ import annotations

from acd.controller.facts import USED_EVENTS
from acd.router.decisions import (
    AgentStateChanged,
    CallEscalated,
    CallExited,
    CallOverflowed,
    OfferCall,
)
from acd.router.events import (
    AgentReachabilityChanged,
    CallAbandoned,
    CallArrived,
    CallEnded,
    OfferAnswered,
    OfferFailed,
)
from acd.router.model import AgentState, CallState, EscalationStep, frozen_skills

from .harness import Acd


def offered(call_id: str, agent_id: str | None = None) -> object:
    return lambda d: (
        isinstance(d, OfferCall)
        and d.call_id == call_id
        and (agent_id is None or d.agent_id == agent_id)
    )


def state_of(agent_id: str, state: AgentState) -> object:
    return lambda d: (
        isinstance(d, AgentStateChanged) and d.agent_id == agent_id and d.state is state
    )


async def test_enter_offer_answer_end_wrap_up_available(acd: Acd) -> None:
    await acd.queue("support", wrap_up=1.0)
    await acd.agent("2001")
    caller = await acd.call("support", talk=1, variables={"ACD_CALLER_DATA": "order 42"})
    arrived = acd.steps.events(CallArrived)[-1]
    assert arrived.queue == "support"
    offer = await acd.steps.decision(offered(caller.call_id, "2001"))
    assert offer.ring_timeout == 5.0
    # Asterisk really dials the agent's contact for this caller.
    dial = await acd.ami_events.first(
        lambda m: m.get("Event") == "DialBegin" and m.get("Uniqueid") == caller.call_id
    )
    assert dial["DestChannel"].startswith("Local/2001@acd-sim-agent-")
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.call_id == caller.call_id)
    await acd.steps.event(lambda e: isinstance(e, CallEnded) and e.call_id == caller.call_id)
    wrap = await acd.steps.decision(state_of("2001", AgentState.WRAP_UP))
    available = await acd.steps.decision(
        state_of("2001", AgentState.AVAILABLE),
        since=acd.steps.seen.index(next(s for s in acd.steps.seen if wrap in s.decisions)),
    )
    assert available.at - wrap.at == 1.0  # the router's wrap-up, on the router's clock
    assert acd.router.call(caller.call_id) is None
    assert acd.recorder.caller_data == {caller.call_id: "order 42"}
    assert acd.recorder.hung_up_by == {caller.call_id: "agent"}  # the sim agent hangs up
    assert acd.recorder.ami_connected == [True]
    # The caller's channel carries the ACD's state for a restarted controller.
    assert acd.controller is not None
    assert len(acd.controller.tracker) == 0


async def test_longest_idle_agent_first_across_three_agents(acd: Acd) -> None:
    await acd.queue("support")
    for agent_id in ("2002", "2003", "2001"):  # logged in in this order: idle longest first
        await acd.agent(agent_id)
    chosen = []
    for _ in range(3):
        caller = await acd.call("support", talk=30)
        offer = await acd.steps.decision(offered(caller.call_id))
        dial = await acd.ami_events.first(
            lambda m, c=caller: m.get("Event") == "DialBegin" and m.get("Uniqueid") == c.call_id
        )
        assert dial["DestChannel"].startswith(f"Local/{offer.agent_id}@acd-sim-agent-")
        chosen.append(offer.agent_id)
    assert chosen == ["2002", "2003", "2001"]


async def test_higher_priority_is_served_first(acd: Acd) -> None:
    await acd.queue("support")
    low = await acd.call("support", variables={"ACD_PRIORITY": "0"})
    high = await acd.call("support", variables={"ACD_PRIORITY": "5"})
    middle = await acd.call("support", variables={"ACD_PRIORITY": "1"})
    bad = await acd.call("support", variables={"ACD_PRIORITY": "urgent"})  # → queue default 0
    assert [acd.router.position(c.call_id) for c in (high, middle, low, bad)] == [1, 2, 3, 4]
    await acd.agent("2001")
    order = []
    for _ in range(4):
        offer = await acd.steps.decision(
            lambda d: isinstance(d, OfferCall) and d.call_id not in order
        )
        order.append(offer.call_id)
        await acd.steps.event(
            lambda e, o=offer: isinstance(e, CallEnded) and e.call_id == o.call_id
        )
    assert order == [high.call_id, middle.call_id, low.call_id, bad.call_id]


async def test_skills_must_match_until_the_queue_escalates(acd: Acd) -> None:
    await acd.queue(
        "support",
        skills={"support": 5},
        escalation=(EscalationStep(1.0, frozen_skills({"support": 1})),),
    )
    await acd.agent("2001", skills={"support": 2})
    caller = await acd.call("support")
    escalation_step = await acd.steps.first(
        lambda s: any(
            isinstance(d, CallEscalated) and d.call_id == caller.call_id for d in s.decisions
        )
    )
    before = acd.steps.seen[: acd.steps.seen.index(escalation_step)]
    assert not [d for s in before for d in s.decisions if isinstance(d, OfferCall)]
    escalated = next(d for d in escalation_step.decisions if isinstance(d, CallEscalated))
    offer = await acd.steps.decision(offered(caller.call_id, "2001"))
    assert escalated.step == 1
    assert offer.agent_id == "2001"


async def test_caller_skills_from_acd_skills_pick_the_qualified_agent(acd: Acd) -> None:
    await acd.queue("support", skills={"support": 1})
    await acd.agent("2001", skills={"support": 5})  # idle longest, but no german
    await acd.agent("2002", skills={"support": 5, "german": 4})
    caller = await acd.call("support", variables={"ACD_SKILLS": "german:3"})
    offer = await acd.steps.decision(offered(caller.call_id))
    assert offer.agent_id == "2002"
    assert acd.router.agent("2001").state is AgentState.AVAILABLE


async def test_ring_no_answer_pauses_the_agent_and_the_call_keeps_waiting(acd: Acd) -> None:
    await acd.queue("support", ring_timeout=1.0)
    await acd.agent("2001")
    caller = await acd.call("support", ring=-1)
    failed = await acd.steps.event(
        lambda e: isinstance(e, OfferFailed) and e.call_id == caller.call_id
    )
    assert failed.reason == "no_answer"
    agent = acd.router.agent("2001")
    assert agent.state is AgentState.PAUSED
    assert agent.pause_reason == "rona"
    call = acd.router.call(caller.call_id)
    assert call.state is CallState.WAITING
    assert call.rona_count == 1
    # Asterisk put the caller back into the wait loop: music on hold again after the Dial.
    end = await acd.ami_events.first(
        lambda m: m.get("Event") == "DialEnd" and m.get("Uniqueid") == caller.call_id
    )
    assert end["DialStatus"] == "NOANSWER"
    await acd.ami_events.first(
        lambda m: m.get("Event") == "MusicOnHoldStart" and m.get("Uniqueid") == caller.call_id,
        since=acd.ami_events.seen.index(end),
    )


async def test_abandon_while_waiting(acd: Acd) -> None:
    await acd.queue("support")
    caller = await acd.call("support")
    # The caller's channel carries the ACD's own state (for re-adoption after a restart).
    assert await acd.entry_variable(caller.call_id, "ACD_CALL_ID") == caller.call_id
    assert await acd.getvar(caller.call_id, "ACD_QUEUE") == "support"
    assert float(await acd.getvar(caller.call_id, "ACD_ENTERED_AT")) > 0
    await acd.hangup(caller)
    abandoned = await acd.steps.event(
        lambda e: isinstance(e, CallAbandoned) and e.call_id == caller.call_id
    )
    assert abandoned.reason == "hangup"
    assert acd.router.call(caller.call_id) is None


async def test_abandon_while_the_agent_rings_frees_the_agent_without_penalty(acd: Acd) -> None:
    await acd.queue("support", ring_timeout=10.0)
    await acd.agent("2001")
    caller = await acd.call("support", ring=-1)
    await acd.steps.decision(offered(caller.call_id, "2001"))
    await acd.ami_events.first(
        lambda m: m.get("Event") == "DialBegin" and m.get("Uniqueid") == caller.call_id
    )
    await acd.hangup(caller)
    await acd.steps.event(lambda e: isinstance(e, CallAbandoned) and e.call_id == caller.call_id)
    assert acd.steps.events(OfferFailed) == []
    assert acd.router.agent("2001").state is AgentState.AVAILABLE


async def test_next_caller_waits_for_the_end_of_wrap_up(acd: Acd) -> None:
    await acd.queue("support", wrap_up=1.5)
    await acd.agent("2001")
    first = await acd.call("support", talk=1)
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.call_id == first.call_id)
    second = await acd.call("support", talk=1)
    ended = await acd.steps.event(lambda e: isinstance(e, CallEnded) and e.call_id == first.call_id)
    offer_step = await acd.steps.first(
        lambda s: any(isinstance(d, OfferCall) and d.call_id == second.call_id for d in s.decisions)
    )
    available = next(d for d in offer_step.decisions if isinstance(d, AgentStateChanged))
    assert available.state is AgentState.AVAILABLE
    assert available.at == ended.now + 1.5


async def test_max_wait_overflows_into_another_queue(acd: Acd) -> None:
    await acd.queue("support", max_wait=1.0, overflow="sales")
    await acd.queue("sales")
    caller = await acd.call("support")
    moved = await acd.steps.decision(
        lambda d: isinstance(d, CallOverflowed) and d.call_id == caller.call_id
    )
    assert (moved.from_queue, moved.to_queue) == ("support", "sales")
    await acd.agent("2001")
    offer = await acd.steps.decision(offered(caller.call_id, "2001"))
    assert offer.queue == "sales"
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.call_id == caller.call_id)
    assert await acd.getvar(caller.call_id, "ACD_QUEUE") == "sales"


async def test_max_wait_sends_the_caller_to_the_dialplan_overflow_target(acd: Acd) -> None:
    await acd.queue("support", max_wait=1.0, overflow="acd-inbound,sales,1")
    await acd.queue("sales")
    caller = await acd.call("support")
    exited = await acd.steps.decision(
        lambda d: isinstance(d, CallExited) and d.call_id == caller.call_id
    )
    assert (exited.reason, exited.destination) == ("timeout", "acd-inbound,sales,1")
    # The same channel enters `sales` through the dialplan: a new call of that queue (the
    # id is free again, the first call having left the ACD).
    again = await acd.steps.event(lambda e: isinstance(e, CallArrived) and e.queue == "sales")
    assert again.call_id == caller.call_id


async def test_max_wait_without_overflow_continues_after_the_wait(acd: Acd) -> None:
    await acd.queue("support", max_wait=1.0)
    caller = await acd.call("support")
    exited = await acd.steps.decision(
        lambda d: isinstance(d, CallExited) and d.call_id == caller.call_id
    )
    assert (exited.reason, exited.destination) == ("timeout", None)
    # After the wait: acd-queue's exit plays goodbye and hangs up (long before `hold`).
    await acd.ami_events.first(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == caller.call_id
    )
    assert acd.steps.events(CallAbandoned) == []


async def test_join_empty_and_unknown_queue_leave_at_once(acd: Acd) -> None:
    await acd.queue("support", join_empty=False)
    for queue, reason in (("support", "join_empty"), ("nosuchqueue", "unknown_queue")):
        caller = await acd.call(queue)
        exited = await acd.steps.decision(
            lambda d, c=caller: isinstance(d, CallExited) and d.call_id == c.call_id
        )
        assert exited.reason == reason
        await acd.ami_events.first(
            lambda m, c=caller: m.get("Event") == "Hangup" and m.get("Uniqueid") == c.call_id
        )
    assert acd.controller is not None
    assert len(acd.controller.tracker) == 0


async def test_callback_keeps_the_callers_place(acd: Acd) -> None:
    await acd.queue("support", callback=True)
    first = await acd.call("support", variables={"ACD_CALLBACK_TO": "Local/3001@acd-sim-agent"})
    second = await acd.call("support")
    await acd.dtmf(first, "1")
    # The first caller hears a thank-you and hangs up; its call keeps position 1.
    await acd.ami_events.first(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == first.call_id
    )
    assert acd.recorder.callbacks == [first.call_id]
    assert acd.router.position(first.call_id) == 1
    assert acd.steps.events(CallAbandoned) == []
    await acd.agent("2001")
    offer = await acd.steps.decision(lambda d: isinstance(d, OfferCall))
    assert offer.call_id == first.call_id
    # Asterisk calls the caller back first; once answered, that channel dials the agent.
    dial = await acd.ami_events.first(
        lambda m: m.get("Event") == "DialBegin" and m.get("Uniqueid") == f"{first.call_id}-cb1"
    )
    assert dial["DestChannel"].startswith("Local/2001@acd-sim-agent-")
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.call_id == first.call_id)
    await acd.steps.event(lambda e: isinstance(e, CallEnded) and e.call_id == first.call_id)
    await acd.steps.decision(offered(second.call_id, "2001"))


async def test_device_state_decides_reachability(acd: Acd) -> None:
    await acd.queue("support")
    # PJSIP/1001 is configured but no softphone registered: UNAVAILABLE.
    await acd.agent("1001", contact="PJSIP/1001")
    await acd.steps.event(
        lambda e: (
            isinstance(e, AgentReachabilityChanged) and e.agent_id == "1001" and not e.reachable
        )
    )
    # A device busy with a call the ACD did not place.
    await acd.action(Action="Setvar", Variable="DEVICE_STATE(Custom:agent9001)", Value="INUSE")
    await acd.agent("9001", contact="Custom:agent9001")
    await acd.steps.event(
        lambda e: (
            isinstance(e, AgentReachabilityChanged) and e.agent_id == "9001" and not e.reachable
        )
    )
    caller = await acd.call("support")
    assert acd.router.call(caller.call_id).state is CallState.WAITING
    await acd.action(Action="Setvar", Variable="DEVICE_STATE(Custom:agent9001)", Value="NOT_INUSE")
    offer = await acd.steps.decision(offered(caller.call_id))
    assert offer.agent_id == "9001"
    assert acd.router.agent("1001").reachable is False


async def test_the_controller_reads_only_the_events_it_uses(acd: Acd) -> None:
    """The AMI event filter: a whole call (enter, ring, talk, hang-up, music on hold) brings
    the controller's session only the events `facts` translates, not the dozens per call the
    probe's unfiltered session sees."""
    assert acd.controller is not None
    seen: list[str] = []
    acd.controller.ami._manager.register_event("*", lambda _m, e: seen.append(e.get("Event")))
    await acd.queue("support")
    await acd.agent("2001")
    caller = await acd.call("support", talk=0.5)
    await acd.steps.event(lambda e: isinstance(e, CallEnded) and e.call_id == caller.call_id)
    await acd.ami_events.first(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == caller.leg
    )
    allowed = {*USED_EVENTS, "OriginateResponse", "Shutdown"}
    assert seen
    assert set(seen) <= allowed, set(seen) - allowed
    # What the probe's unfiltered session got and the controller's did not (a ratio would
    # move with every event facts.py starts to read, e.g. Newchannel).
    dropped = {m.get("Event") for m in acd.ami_events.seen} - set(seen)
    assert {"Newstate", "BridgeEnter", "MusicOnHoldStart", "SoftHangupRequest"} <= dropped

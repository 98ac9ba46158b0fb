"""The call flow on recorded AMI transcripts: facts in, router events out (no network)."""

from __future__ import annotations

import pytest

from acd.config import AgentSeed
from acd.controller.calls import CallTracker, Consultation, LiveCall, Phase
from acd.controller.estimate import HandleTimes
from acd.controller.facts import (
    AsteriskStopping,
    AttendedTransferDone,
    ChannelHungUp,
    DeviceState,
    DeviceStateChanged,
    DialEnded,
    translate,
)
from acd.controller.flow import CallFlow
from acd.controller.phases import PhaseTrigger, advance
from acd.controller.reachability import Reachability
from acd.router.events import (
    AgentReachabilityChanged,
    CallAbandoned,
    CallEnded,
    CallTransferred,
    Event,
    OfferAnswered,
    OfferFailed,
    TransferCompleted,
)
from acd.service.directory import AgentDirectory

from .transcripts import CALL_ID, messages

NOW = 100.0


@pytest.fixture
def directory() -> AgentDirectory:
    directory = AgentDirectory()
    directory.put(AgentSeed("2001", contact="Local/2001@acd-sim-agent"))
    directory.put(AgentSeed("1001", contact="PJSIP/1001"))
    return directory


@pytest.fixture
def flow(directory: AgentDirectory) -> CallFlow:
    return CallFlow(CallTracker(), Reachability(directory), HandleTimes())


def track(flow: CallFlow, phase: Phase = Phase.WAITING, agent: str | None = None) -> LiveCall:
    call = LiveCall(
        CALL_ID,
        "support",
        "support",
        "Local/support@acd-inbound-00000000;2",
        CALL_ID,
        phase,
        entered_at=0.0,
    )
    flow.tracker.add(call)
    if agent is not None:
        flow.tracker.offer(call, agent)
        flow.reachability.acd_call_started(agent)
    return call


def replay(flow: CallFlow, name: str) -> list[Event]:
    events: list[Event] = []
    for message in messages(name):
        fact = translate(message)
        if fact is not None:
            events += [factory(NOW) for factory in flow.handle(fact)]
        flow.tracker._check()
    return events


def test_answered_call_is_answered_then_ended(flow: CallFlow) -> None:
    sides: list[tuple[str, str]] = []
    flow.hangup_side = lambda call_id, side: sides.append((call_id, side))
    track(flow, Phase.OFFERED, agent="2001")
    assert replay(flow, "answered") == [
        OfferAnswered(NOW, CALL_ID, "2001"),
        CallEnded(NOW, CALL_ID),
    ]
    assert len(flow.tracker) == 0
    # The simulated agent's ;2 half (known from LocalBridge) hung up first.
    assert sides == [(CALL_ID, "agent")]
    # The talk time came from Asterisk's timestamps: about the simulated agent's 1 s.
    assert 0.5 < flow.handle_times.mean_talk("support") < 3.0


def test_ring_no_answer_fails_the_offer_and_the_later_hangup_abandons(flow: CallFlow) -> None:
    call = track(flow, Phase.OFFERED, agent="2001")
    assert replay(flow, "ring_no_answer") == [
        OfferFailed(NOW, CALL_ID, "2001", "no_answer"),
        CallAbandoned(NOW, CALL_ID),
    ]
    assert call.agent_id is None


def test_caller_hanging_up_while_the_agent_rings_is_one_abandon_not_a_failed_offer(
    flow: CallFlow,
) -> None:
    track(flow, Phase.OFFERED, agent="2001")
    assert replay(flow, "abandon_ringing") == [CallAbandoned(NOW, CALL_ID)]


def test_dial_events_of_calls_not_offered_change_nothing(flow: CallFlow) -> None:
    track(flow, Phase.WAITING)  # e.g. a stale DialEnd after the controller moved on
    assert replay(flow, "answered") == [CallAbandoned(NOW, CALL_ID)]


def test_untracked_channels_are_ignored_and_remembered(flow: CallFlow) -> None:
    assert replay(flow, "answered") == []
    assert flow.hung_up(CALL_ID)
    assert not flow.hung_up("never-seen")


def test_caller_who_asked_for_a_callback_keeps_the_call_after_hanging_up(
    flow: CallFlow,
) -> None:
    call = track(flow, Phase.CALLBACK)
    assert flow.handle(ChannelHungUp(CALL_ID, call.channel or "", 16, None)) == []
    assert flow.tracker.get(CALL_ID) is call
    assert call.channel is None
    assert call.uniqueid is None
    flow.tracker._check()


def reach(flow: CallFlow, state: DeviceState, device: str = "PJSIP/1001") -> list[Event]:
    return [f(NOW) for f in flow.handle(DeviceStateChanged(device, state, None))]


def test_device_state_drives_reachability(flow: CallFlow) -> None:
    assert reach(flow, DeviceState.UNAVAILABLE) == [AgentReachabilityChanged(NOW, "1001", False)]
    assert reach(flow, DeviceState.NOT_INUSE) == [AgentReachabilityChanged(NOW, "1001", True)]
    # A call the ACD did not give the agent: no offers until it ends.
    assert reach(flow, DeviceState.INUSE) == [AgentReachabilityChanged(NOW, "1001", False)]
    assert reach(flow, DeviceState.INUSE) == []
    assert reach(flow, DeviceState.NOT_INUSE) == [AgentReachabilityChanged(NOW, "1001", True)]


def test_an_acd_call_keeps_the_agent_reachable_until_its_device_is_idle(flow: CallFlow) -> None:
    track(flow, Phase.OFFERED, agent="1001")
    assert reach(flow, DeviceState.RINGING) == []
    assert reach(flow, DeviceState.INUSE) == []
    call = flow.tracker.get(CALL_ID)
    assert call is not None
    # The call ends; the device still says INUSE for a moment.
    assert [f(NOW) for f in flow.finish(call, lambda now: CallEnded(now, CALL_ID))] == [
        CallEnded(NOW, CALL_ID)
    ]
    assert reach(flow, DeviceState.INUSE) == []
    assert reach(flow, DeviceState.NOT_INUSE) == []
    # Next time the device is busy it is not the ACD's doing.
    assert reach(flow, DeviceState.INUSE) == [AgentReachabilityChanged(NOW, "1001", False)]


def test_local_contacts_are_never_evaluated(flow: CallFlow) -> None:
    assert reach(flow, DeviceState.UNAVAILABLE, "Local/2001@acd-sim-agent") == []
    assert reach(flow, DeviceState.INUSE, "Local/2001@acd-sim-agent") == []


def test_resync_reports_every_device_agent(flow: CallFlow) -> None:
    changes = flow.reachability.reset({"PJSIP/1001": DeviceState.NOT_INUSE})
    assert changes == [("1001", True)]
    assert flow.reachability.reset({"PJSIP/1001": DeviceState.UNAVAILABLE}) == [("1001", False)]


def test_the_leg_that_requested_the_hangup_ended_the_call_whatever_hangup_is_read_first(
    flow: CallFlow,
) -> None:
    sides: list[tuple[str, str]] = []
    flow.hangup_side = lambda call_id, side: sides.append((call_id, side))
    call = track(flow, Phase.OFFERED, agent="1001")
    flow.tracker.bind_agent_leg(call, "agent-leg")
    call.phase = Phase.CONNECTED
    # The caller's BYE: HangupRequest on the caller; the bridge then tears the agent leg down
    # and that leg's Hangup can be read before the caller's.
    assert flow.handle(translate({"Event": "HangupRequest", "Uniqueid": CALL_ID})) == []
    agent_hangup = ChannelHungUp("agent-leg", "PJSIP/1001-00000001", 16, None)
    ended = [factory(NOW) for factory in flow.handle(agent_hangup)]
    assert ended[0] == CallEnded(NOW, CALL_ID)
    assert sides == [(CALL_ID, "caller")]


def _stopping(uniqueid: str = "x") -> dict[str, str]:
    return {"Event": "SoftHangupRequest", "Uniqueid": uniqueid, "Cause": "4"}


def test_only_the_shutdowns_soft_hangup_is_a_fact() -> None:
    assert translate(_stopping("u1")) == AsteriskStopping("u1")
    for cause in ("16", "32", "", "four"):
        assert translate({**_stopping(), "Cause": cause}) is None


def test_while_asterisk_stops_a_ring_that_ends_is_not_the_agents_no_answer(
    flow: CallFlow,
) -> None:
    """`core stop` hangs every channel up: the Dial ends NOANSWER, then the caller goes."""
    reasons: dict[str, str] = {}
    flow.end_reason = reasons.__setitem__
    call = track(flow, Phase.OFFERED, agent="2001")
    assert flow.handle(AsteriskStopping("x")) == []
    ended = DialEnded(CALL_ID, "agent-leg", "NOANSWER", None)
    assert flow.handle(ended) == []
    assert call.agent_id == "2001"  # still offered: its hang-up ends it
    events = [f(NOW) for f in flow.handle(ChannelHungUp(CALL_ID, "chan", 0, None))]
    assert events == [CallAbandoned(NOW, CALL_ID, "asterisk_stopped")]
    connected = track(flow, Phase.OFFERED, agent="2001")
    flow.tracker.bind_agent_leg(connected, "agent-leg")
    advance(connected, PhaseTrigger.ANSWERED)
    events = [f(NOW) for f in flow.handle(ChannelHungUp("agent-leg", "agent", 0, None))]
    assert events == [CallEnded(NOW, CALL_ID)]
    assert reasons == {CALL_ID: "asterisk_stopped"}
    # A new AMI session: Asterisk runs again, rings fail for their own reasons.
    flow.link_up()
    track(flow, Phase.OFFERED, agent="2001")
    assert [f(NOW) for f in flow.handle(ended)] == [OfferFailed(NOW, CALL_ID, "2001", "no_answer")]


def _warm(flow: CallFlow, consult_phase: Phase) -> tuple[LiveCall, LiveCall]:
    """The caller talking to 1001 (agent leg a1) and its consultation k1 (Local leg k1;2)."""
    call = LiveCall("c1", "support", "support", "PJSIP/caller-1", "c1", Phase.CONNECTED, 0.0)
    flow.tracker.add(call)
    flow.tracker.offer(call, "1001")
    flow.tracker.bind_agent_leg(call, "a1")
    consult = LiveCall(
        "k1", "billing", "billing", "Local/1@acd-consult-1;2", "k1", consult_phase, 5.0
    )
    flow.tracker.add(consult)
    if consult_phase is Phase.CONNECTED:
        flow.tracker.offer(consult, "1002")
        flow.tracker.bind_agent_leg(consult, "b1")
        consult.answered_at = 7.0
    flow.tracker.consultations["c1"] = Consultation("k1", "billing", {"german": 2})
    return call, consult


def test_a_completed_warm_transfer_moves_the_call_onto_the_specialists_legs(
    flow: CallFlow,
) -> None:
    call, _ = _warm(flow, Phase.CONNECTED)
    events = [f(NOW) for f in flow.handle(AttendedTransferDone("a1", "Success"))]
    assert events[0] == TransferCompleted(NOW, "c1", "k1")
    assert "k1" not in flow.tracker
    assert (call.agent_id, call.queue, call.answered_at) == ("1002", "billing", 7.0)
    assert flow.tracker.by_agent_leg("b1") is call
    assert flow.tracker.by_agent_leg("a1") is None
    # The first agent's Hangup that follows is not the call's end; the specialist's is.
    assert flow.handle(ChannelHungUp("a1", "PJSIP/1001-1", 16, NOW)) == []
    assert next(f(NOW) for f in flow.handle(ChannelHungUp("b1", "PJSIP/1002-1", 16, NOW))) == (
        CallEnded(NOW, "c1")
    )


def test_a_warm_transfer_left_before_the_specialist_answered_goes_on_blind(
    flow: CallFlow,
) -> None:
    call, consult = _warm(flow, Phase.WAITING)
    events = [f(NOW) for f in flow.handle(AttendedTransferDone("a1", "Success"))]
    assert events[:2] == [
        CallAbandoned(NOW, "k1", "consult_cancelled"),
        CallTransferred(NOW, "c1", "billing", {"german": 2}),
    ]
    assert flow.consult_hangups == {"c1": consult.channel}
    assert "k1" not in flow.tracker
    assert call.agent_id is None
    assert flow.handle(ChannelHungUp("a1", "PJSIP/1001-1", 16, NOW)) == []


def test_other_attended_transfers_change_nothing(flow: CallFlow) -> None:
    call, _ = _warm(flow, Phase.CONNECTED)
    assert flow.handle(AttendedTransferDone("a1", "Fail")) == []
    assert flow.handle(AttendedTransferDone("someone-else", "Success")) == []
    assert flow.tracker.consultations["c1"].consult_id == "k1"
    assert call.agent_id == "1001"
    message = {"Event": "AttendedTransfer", "OrigTransfererUniqueid": "a1", "Result": "Success"}
    assert translate(message) == AttendedTransferDone("a1", "Success")

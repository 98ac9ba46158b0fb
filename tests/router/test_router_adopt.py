"""Re-adoption (#10): CallArrived.entered_at and CallAdopted, every rule on both routers (see the
"Per event" section of `acd.router`). `Scenario.send` runs `_check()` after every step."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
from router_scenario import Scenario, offers

from acd.router import events as ev
from acd.router.decisions import (
    AgentStateChanged,
    CallEscalated,
    CallExited,
    CallOverflowed,
    Decision,
    EventRejected,
)
from acd.router.model import AgentState, AgentView, CallState, CallView, frozen_skills

A, C = AgentState, CallState


@pytest.fixture
def s(router_class: type) -> Scenario:
    scenario = Scenario(router_class)
    scenario.queue("support", {"support": 1}, wrap_up=5.0, max_wait=None)
    scenario.queue(
        "esc", {"support": 3}, max_wait=None, escalation=[(10.0, {"support": 2}), (30.0, {})]
    )
    scenario.queue("short", {"support": 1}, max_wait=20.0, overflow="support")
    scenario.queue("short_out", {"support": 1}, max_wait=20.0, overflow="ivr,s,1")
    for agent_id in ("a1", "a2", "a3"):
        scenario.agent(agent_id, {"support": 2}, login=False)
    return scenario.at(100)


def adopt(
    s: Scenario,
    call_id: str,
    state: CallState,
    enqueued: float,
    entered: float | None = None,
    agent: str | None = None,
    queue: str = "support",
    priority: int | None = None,
    extra: Mapping[str, int] | None = None,
) -> list[Decision]:
    entered = enqueued if entered is None else entered
    event = ev.CallAdopted(
        s.now, call_id, queue, state, enqueued, entered, priority, frozen_skills(extra), agent
    )
    return s.send(event)


def arrive(s: Scenario, call_id: str, queue: str, entered_at: float | None) -> list[Decision]:
    return s.send(ev.CallArrived(s.now, call_id, queue, entered_at=entered_at))


def call(s: Scenario, call_id: str) -> CallView:
    found = s.router.call(call_id)
    assert found is not None, call_id
    return found


def agent(s: Scenario, agent_id: str) -> AgentView:
    found = s.router.agent(agent_id)
    assert found is not None, agent_id
    return found


def changed(
    agent_id: str, state: AgentState, idle: float | None, at: float, reason: str | None = None
) -> AgentStateChanged:
    return AgentStateChanged(agent_id, state, reason, idle, at)


# --- CallArrived.entered_at --------------------------------------------------------------------


def test_an_arrival_that_entered_earlier_keeps_its_place_among_calls(s: Scenario) -> None:
    assert arrive(s, "c1", "support", None) == []
    assert s.at(101).send(ev.CallArrived(101, "c2", "support", entered_at=90)) == []
    c2 = call(s, "c2")
    assert (c2.arrived_at, c2.enqueued_at, c2.queue_entered_at) == (90, 90, 90)
    assert (s.router.position("c2"), s.router.position("c1")) == (1, 2)
    assert offers(s.send(ev.AgentLoggedIn(101, "a1"))) == [("c2", "a1")]


def test_an_arrival_that_entered_earlier_is_at_its_escalation_step(s: Scenario) -> None:
    # 75 + 10 <= 100 < 75 + 30: step 1 at once, without a CallEscalated for it.
    assert arrive(s, "c1", "esc", 75) == []
    c1 = call(s, "c1")
    assert (c1.step, dict(c1.requirements)) == (1, {"support": 2})
    assert s.router.next_deadline() == 105
    assert s.tick(105) == [CallEscalated("c1", "esc", 2, 105)]


def test_a_step_reached_exactly_at_now_counts(s: Scenario) -> None:
    arrive(s, "c1", "esc", 90)  # 90 + 10 == 100
    assert call(s, "c1").step == 1


def test_an_arrival_past_its_max_wait_overflows_at_the_next_tick_at_its_deadline(
    s: Scenario,
) -> None:
    assert arrive(s, "c1", "short", 70) == []  # nobody logged in: it waits, deadline 90 passed
    assert s.router.next_deadline() == 90
    assert s.tick(100) == [CallOverflowed("c1", "short", "support", 90)]
    c1 = call(s, "c1")
    assert (c1.queue, c1.enqueued_at, c1.queue_entered_at) == ("support", 70, 90)


def test_an_arrival_past_its_max_wait_times_out_at_the_next_tick(s: Scenario) -> None:
    arrive(s, "c1", "short_out", 70)
    assert s.tick(100) == [CallExited("c1", "short_out", "timeout", "ivr,s,1", 90)]
    assert s.router.call("c1") is None


def test_an_arrival_past_its_max_wait_is_still_offered_to_a_free_agent(s: Scenario) -> None:
    s.send(ev.AgentLoggedIn(100, "a1"))
    assert offers(arrive(s, "c1", "short_out", 70)) == [("c1", "a1")]
    # the offer fails: the max wait it passed runs at once, as for any failed offer
    decisions = s.at(101).send(ev.OfferFailed(101, "c1", "a1"))
    assert decisions[-1] == CallExited("c1", "short_out", "timeout", "ivr,s,1", 101)


def test_join_empty_still_applies_to_a_late_arrival(s: Scenario) -> None:
    s.queue("closed", {"support": 1}, join_empty=False)
    assert arrive(s, "c1", "closed", 50) == [CallExited("c1", "closed", "join_empty", None, 100)]


@pytest.mark.parametrize("entered_at", [100.5, math.nan, math.inf, -math.inf, True])
def test_entered_at_after_now_or_not_finite_is_invalid(s: Scenario, entered_at: float) -> None:
    [rejected] = arrive(s, "c1", "support", entered_at)
    assert isinstance(rejected, EventRejected)
    assert (rejected.event, rejected.code) == ("CallArrived", "invalid_event")
    assert s.router.calls() == []


# --- CallAdopted: waiting ------------------------------------------------------------------------


def test_an_adopted_waiting_call_is_served_before_a_call_that_arrived_earlier_here(
    s: Scenario,
) -> None:
    assert arrive(s, "c1", "support", None) == []  # router time 100, entered 100
    assert adopt(s.at(101), "c0", C.WAITING, 50, 60) == []  # router time 101, entered 50
    c0 = call(s, "c0")
    assert (c0.state, c0.priority, c0.agent_id) == (C.WAITING, 0, None)
    assert (c0.arrived_at, c0.enqueued_at, c0.queue_entered_at) == (50, 50, 60)
    assert [c.id for c in s.router.calls()] == ["c0", "c1"]
    assert offers(s.send(ev.AgentLoggedIn(101, "a1"))) == [("c0", "a1")]
    assert offers(s.send(ev.AgentLoggedIn(101, "a2"))) == [("c1", "a2")]


def test_adopted_calls_entered_at_the_same_time_keep_their_adoption_order(s: Scenario) -> None:
    adopt(s, "c2", C.WAITING, 50)
    adopt(s, "c1", C.WAITING, 50)
    adopt(s, "c3", C.WAITING, 50, priority=1)  # a higher priority still goes first
    assert [c.id for c in s.router.calls()] == ["c3", "c2", "c1"]


def test_an_adopted_waiting_call_takes_a_free_agent_at_once(s: Scenario) -> None:
    s.send(ev.AgentLoggedIn(100, "a1"))
    decisions = adopt(s, "c1", C.WAITING, 50)
    assert offers(decisions) == [("c1", "a1")]
    assert decisions[0] == changed("a1", A.RESERVED, 100, 100)


def test_an_adopted_waiting_call_counts_its_step_from_queue_entered_at(s: Scenario) -> None:
    # In the ACD since 40, in this queue since 80: 80 + 10 <= 100 < 80 + 30.
    assert adopt(s, "c1", C.WAITING, 40, 80, queue="esc") == []
    c1 = call(s, "c1")
    assert (c1.step, dict(c1.requirements)) == (1, {"support": 2})
    assert s.router.next_deadline() == 110
    assert s.tick(110) == [CallEscalated("c1", "esc", 2, 110)]


def test_an_adopted_waiting_call_past_its_max_wait_overflows_at_the_next_tick(
    s: Scenario,
) -> None:
    assert adopt(s, "c1", C.WAITING, 40, 60, queue="short") == []
    assert s.router.next_deadline() == 80
    assert s.tick(100) == [CallOverflowed("c1", "short", "support", 80)]
    c1 = call(s, "c1")
    assert (c1.queue, c1.enqueued_at, c1.queue_entered_at) == ("support", 40, 80)


def test_an_adopted_waiting_call_past_its_max_wait_times_out_at_the_next_tick(
    s: Scenario,
) -> None:
    adopt(s, "c1", C.WAITING, 40, 60, queue="short_out")
    assert s.tick(100) == [CallExited("c1", "short_out", "timeout", "ivr,s,1", 80)]


def test_join_empty_does_not_apply_to_an_adopted_call(s: Scenario) -> None:
    s.queue("closed", {"support": 1}, join_empty=False)
    assert adopt(s, "c1", C.WAITING, 50, queue="closed") == []
    assert call(s, "c1").state is C.WAITING
    assert arrive(s, "c2", "closed", None) == [CallExited("c2", "closed", "join_empty", None, 100)]


def test_leave_empty_applies_to_an_adopted_waiting_call(s: Scenario) -> None:
    s.queue("strict", {"support": 1}, leave_empty=True)
    assert adopt(s, "c1", C.WAITING, 50, queue="strict") == [
        CallExited("c1", "strict", "leave_empty", None, 100)
    ]


def test_an_adopted_call_takes_the_queue_priority_and_its_extra_skills(s: Scenario) -> None:
    s.queue("vip", {"support": 1}, priority=4)
    adopt(s, "c1", C.WAITING, 50, queue="vip", extra={"french": 2})
    c1 = call(s, "c1")
    assert (c1.priority, dict(c1.requirements)) == (4, {"french": 2, "support": 1})


# --- CallAdopted: offered ------------------------------------------------------------------------


def test_an_adopted_offer_reserves_a_logged_out_agent_without_an_offer_call(s: Scenario) -> None:
    assert adopt(s, "c1", C.OFFERED, 50, agent="a1") == [changed("a1", A.RESERVED, 100, 100)]
    c1, a1 = call(s, "c1"), agent(s, "a1")
    assert (c1.state, c1.agent_id, a1.state, a1.call_id) == (C.OFFERED, "a1", A.RESERVED, "c1")
    assert s.router.position("c1") is None


def test_an_adopted_offer_keeps_an_available_agents_idle_since(s: Scenario) -> None:
    s.send(ev.AgentRestored(100, "a1", A.AVAILABLE, None, 30))
    assert adopt(s, "c1", C.OFFERED, 50, agent="a1") == [changed("a1", A.RESERVED, 30, 100)]


def test_an_adopted_offer_that_fails_goes_back_to_its_place_and_the_agent_to_rona(
    s: Scenario,
) -> None:
    adopt(s, "c1", C.OFFERED, 50, agent="a1")
    arrive(s.at(101), "c5", "support", None)
    assert s.at(102).send(ev.OfferFailed(102, "c1", "a1")) == [
        changed("a1", A.PAUSED, 100, 102, "rona")
    ]
    c1 = call(s, "c1")
    assert (c1.state, c1.agent_id, c1.rona_count) == (C.WAITING, None, 1)
    assert (s.router.position("c1"), s.router.position("c5")) == (1, 2)
    assert offers(s.send(ev.AgentLoggedIn(102, "a2"))) == [("c1", "a2")]


def test_an_adopted_offer_answered_then_ended_wraps_up(s: Scenario) -> None:
    adopt(s, "c1", C.OFFERED, 50, agent="a1")
    assert s.at(101).send(ev.OfferAnswered(101, "c1", "a1")) == [changed("a1", A.BUSY, 100, 101)]
    assert s.at(110).send(ev.CallEnded(110, "c1")) == [changed("a1", A.WRAP_UP, 100, 110)]
    assert s.tick(115) == [changed("a1", A.AVAILABLE, 115, 115)]


def test_an_adopted_offer_abandoned_frees_the_agent_with_its_idle_since(s: Scenario) -> None:
    adopt(s, "c1", C.OFFERED, 50, agent="a1")
    assert s.at(103).send(ev.CallAbandoned(103, "c1")) == [changed("a1", A.AVAILABLE, 100, 103)]


def test_an_adopted_offer_escalates_while_it_rings(s: Scenario) -> None:
    adopt(s, "c1", C.OFFERED, 40, 80, agent="a1", queue="esc")
    assert call(s, "c1").step == 1
    assert s.tick(110) == [CallEscalated("c1", "esc", 2, 110)]


def test_an_adopted_offer_past_its_max_wait_waits_for_its_outcome(s: Scenario) -> None:
    adopt(s, "c1", C.OFFERED, 40, 60, agent="a1", queue="short_out")
    assert s.tick(100) == []  # an offered call has no max-wait deadline
    decisions = s.at(101).send(ev.OfferFailed(101, "c1", "a1"))
    assert decisions[-1] == CallExited("c1", "short_out", "timeout", "ivr,s,1", 101)


# --- CallAdopted: connected ----------------------------------------------------------------------


def test_an_adopted_connected_call_makes_the_agent_busy_then_wraps_up_and_frees_it(
    s: Scenario,
) -> None:
    assert adopt(s, "c1", C.CONNECTED, 50, agent="a1") == [changed("a1", A.BUSY, 100, 100)]
    c1, a1 = call(s, "c1"), agent(s, "a1")
    assert (c1.state, c1.agent_id, a1.state, a1.call_id) == (C.CONNECTED, "a1", A.BUSY, "c1")
    assert s.router.waiting_count("support") == 0
    # wrap-up is the queue's as it was at adoption, not as changed afterwards
    s.queue("support", {"support": 1}, wrap_up=50.0, max_wait=None)
    assert s.at(120).send(ev.CallEnded(120, "c1")) == [changed("a1", A.WRAP_UP, 100, 120)]
    assert agent(s, "a1").wrap_until == 125
    arrive(s.at(121), "c2", "support", None)
    decisions = s.tick(125)
    assert decisions[0] == changed("a1", A.AVAILABLE, 125, 125)
    assert offers(decisions) == [("c2", "a1")]


def test_an_adopted_connected_call_of_a_removed_queue_still_ends(s: Scenario) -> None:
    adopt(s, "c1", C.CONNECTED, 50, agent="a1", queue="short")
    assert s.send(ev.QueueRemoved(100, "short")) == []
    assert s.at(110).send(ev.CallEnded(110, "c1")) == [changed("a1", A.WRAP_UP, 100, 110)]


@pytest.mark.parametrize("state", [C.OFFERED, C.CONNECTED])
def test_a_paused_agent_takes_the_adopted_call_and_its_pause_applies_after(
    s: Scenario, state: CallState
) -> None:
    s.send(ev.AgentRestored(100, "a1", A.PAUSED, "lunch", 30))
    on_call = A.RESERVED if state is C.OFFERED else A.BUSY
    assert adopt(s, "c1", state, 50, agent="a1") == [changed("a1", on_call, 30, 100)]
    a1 = agent(s, "a1")
    assert (a1.pause_reason, a1.pending, a1.pending_reason) == (None, "pause", "lunch")
    if state is C.OFFERED:
        s.send(ev.OfferAnswered(100, "c1", "a1"))
    assert s.at(110).send(ev.CallEnded(110, "c1")) == [changed("a1", A.WRAP_UP, 30, 110)]
    assert s.tick(115) == [changed("a1", A.PAUSED, 30, 115, "lunch")]


# --- CallAdopted: rejections ---------------------------------------------------------------------


def rejected(code: str, message: str) -> list[Decision]:
    return [EventRejected("CallAdopted", code, message)]


@pytest.mark.parametrize("state", [C.OFFERED, C.CONNECTED])
def test_an_unknown_agent_is_rejected(s: Scenario, state: CallState) -> None:
    assert adopt(s, "c1", state, 50, agent="ghost") == rejected("unknown_agent", "no agent 'ghost'")
    assert s.router.calls() == []


@pytest.mark.parametrize("state", [C.OFFERED, C.CONNECTED])
def test_an_agent_on_another_call_is_rejected(s: Scenario, state: CallState) -> None:
    adopt(s, "c1", C.OFFERED, 50, agent="a1")
    adopt(s, "c2", C.CONNECTED, 50, agent="a2")
    before = (s.router.agents(), s.router.calls())
    for agent_id, now_in in (("a1", "reserved"), ("a2", "busy")):
        assert adopt(s, "c9", state, 50, agent=agent_id) == rejected(
            "agent_busy", f"agent {agent_id} is {now_in}"
        )
    assert (s.router.agents(), s.router.calls()) == before


@pytest.mark.parametrize("state", [C.WAITING, C.OFFERED])
def test_a_duplicate_call_is_rejected(s: Scenario, state: CallState) -> None:
    arrive(s, "c1", "support", None)
    agent_id = None if state is C.WAITING else "a1"
    assert adopt(s, "c1", state, 50, agent=agent_id) == rejected(
        "duplicate_call", "call 'c1' is already in the ACD"
    )
    assert agent(s, "a1").state is A.LOGGED_OUT


@pytest.mark.parametrize("state", [C.WAITING, C.OFFERED, C.CONNECTED])
def test_an_unknown_queue_sends_the_call_out_and_leaves_the_agent_alone(
    s: Scenario, state: CallState
) -> None:
    agent_id = None if state is C.WAITING else "a1"
    assert adopt(s, "c1", state, 50, agent=agent_id, queue="gone") == [
        CallExited("c1", "gone", "unknown_queue", None, 100)
    ]
    assert agent(s, "a1").state is A.LOGGED_OUT
    assert s.router.calls() == []


MALFORMED = {
    "state as a plain string": {"state": "waiting"},
    "state an agent state": {"state": A.AVAILABLE},
    "offered without agent": {"state": C.OFFERED},
    "connected with an empty agent": {"state": C.CONNECTED, "agent_id": ""},
    "waiting with an agent": {"agent_id": "a1"},
    "queue entered before the ACD": {"enqueued_at": 60.0, "queue_entered_at": 50.0},
    "entered after now": {"enqueued_at": 101.0, "queue_entered_at": 101.0},
    "queue entered after now": {"queue_entered_at": 100.5},
    "enqueued_at not finite": {"enqueued_at": -math.inf},
    "queue_entered_at not a number": {"queue_entered_at": math.nan},
    "time as a boolean": {"enqueued_at": False, "queue_entered_at": False},
    "priority not an integer": {"priority": 1.5},
    "extra skill level out of range": {"extra_skills": frozen_skills({"x": 11})},
    "empty call id": {"call_id": ""},
    "empty queue": {"queue": ""},
}


@pytest.mark.parametrize("changes", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_adoptions_are_invalid_and_change_nothing(
    s: Scenario, changes: dict[str, object]
) -> None:
    fields: dict[str, object] = {
        "now": 100.0,
        "call_id": "c1",
        "queue": "support",
        "state": C.WAITING,
        "enqueued_at": 50.0,
        "queue_entered_at": 60.0,
        **changes,
    }
    before = (s.router.agents(), s.router.calls())
    [got] = s.send(ev.CallAdopted(**fields))  # type: ignore[arg-type]
    assert isinstance(got, EventRejected)
    assert (got.event, got.code) == ("CallAdopted", "invalid_event")
    assert (s.router.agents(), s.router.calls()) == before


@pytest.mark.parametrize(("state", "now_in"), [(C.OFFERED, A.RESERVED), (C.CONNECTED, A.BUSY)])
def test_an_agent_in_wrap_up_is_adopted_and_its_wrap_up_ends(
    s: Scenario, state: CallState, now_in: AgentState
) -> None:
    """The stored wrap-up may lag Asterisk by a batch: Asterisk shows the agent on a call, so
    the wrap-up is over; a pause asked during it still applies after the adopted call."""
    adopt(s, "c1", C.CONNECTED, 50, agent="a1")
    s.at(101).send(ev.CallEnded(101, "c1"))  # wrap-up until 106
    s.at(102).send(ev.AgentPaused(102, "a1", "lunch"))
    assert adopt(s.at(103), "c2", state, 60, agent="a1") == [changed("a1", now_in, 100, 103)]
    a1 = agent(s, "a1")
    assert (a1.state, a1.call_id, a1.wrap_until) == (now_in, "c2", None)
    assert (a1.pending, a1.pending_reason) == ("pause", "lunch")
    assert s.tick(106) == []  # the old wrap-up deadline is dead
    assert agent(s, "a1").state is now_in

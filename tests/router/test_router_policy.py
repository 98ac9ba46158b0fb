"""Hand-written cases for every row of the per-event table in `acd.router` (both routers)."""

from __future__ import annotations

import math

import pytest
from router_scenario import Scenario, offers, reserved

from acd.router import events as ev
from acd.router.decisions import (
    AgentStateChanged,
    CallEscalated,
    CallExited,
    CallOverflowed,
    EventRejected,
    OfferCall,
)
from acd.router.model import (
    AgentPolicy,
    AgentState,
    CallState,
    QueueConfig,
    RonaAction,
    frozen_skills,
)

A = AgentState


@pytest.fixture
def s(router_class: type) -> Scenario:
    scenario = Scenario(router_class)
    scenario.queue("support", {"support": 1}, wrap_up=5.0, ring_timeout=15.0, max_wait=None)
    return scenario


def changed(
    agent_id: str, state: AgentState, idle: float | None, at: float, reason: str | None = None
) -> AgentStateChanged:
    return AgentStateChanged(agent_id, state, reason, idle, at)


def offer(call_id: str, agent_id: str, queue: str = "support", ring: float = 15.0) -> OfferCall:
    return OfferCall(call_id, agent_id, queue, ring)


# --- agents ----------------------------------------------------------------------------------


def test_new_agent_is_logged_out_and_login_takes_the_first_waiting_call(s: Scenario) -> None:
    assert s.agent("a1", {"support": 3}, login=False) == []
    assert s.router.agent("a1").state == A.LOGGED_OUT  # type: ignore[union-attr]
    s.arrive("c1", "support")
    s.at(1).arrive("c2", "support", priority=5)
    assert s.at(2).send(ev.AgentLoggedIn(2, "a1")) == [
        changed("a1", A.AVAILABLE, 2, 2),
        reserved("a1", 2, 2),
        offer("c2", "a1"),
    ]
    assert s.router.call("c2").state == CallState.OFFERED  # type: ignore[union-attr]
    assert s.router.position("c1") == 1
    assert s.router.position("c2") is None


def test_login_when_logged_in_is_a_no_op_and_unknown_agent_is_rejected(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    assert s.send(ev.AgentLoggedIn(1, "a1")) == []
    [rejected] = s.send(ev.AgentLoggedIn(1, "ghost"))
    assert isinstance(rejected, EventRejected)
    assert (rejected.event, rejected.code) == ("AgentLoggedIn", "unknown_agent")


def test_skill_change_of_an_available_agent_dispatches(s: Scenario) -> None:
    s.agent("a1", {"sales": 1})
    assert s.arrive("c1", "support") == []
    assert s.at(3).send(ev.AgentUpserted(3, "a1", frozen_skills({"support": 2}))) == [
        reserved("a1", 0, 3),
        offer("c1", "a1"),
    ]
    assert s.router.agent("a1").skills == {"support": 2}  # type: ignore[union-attr]


def test_skill_loss_runs_the_leave_empty_check(s: Scenario) -> None:
    s.queue("vip", {"vip": 5}, leave_empty=True)
    s.agent("a1", {"vip": 5})
    s.send(ev.AgentPaused(0, "a1", "lunch"))
    assert s.arrive("c1", "vip") == []
    assert s.at(4).send(ev.AgentUpserted(4, "a1", frozen_skills({"vip": 4}))) == [
        CallExited("c1", "vip", "leave_empty", None, 4)
    ]


def test_remove_agent(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.agent("a2", {"support": 1}, login=False)
    assert s.send(ev.AgentRemoved(0, "a2")) == []
    assert s.at(1).send(ev.AgentRemoved(1, "a1")) == [changed("a1", A.LOGGED_OUT, None, 1)]
    assert s.router.agents() == []
    [rejected] = s.send(ev.AgentRemoved(1, "a1"))
    assert rejected == EventRejected("AgentRemoved", "unknown_agent", "no agent 'a1'")


def test_remove_busy_agent_is_rejected_and_changes_nothing(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.connect("c1", "support", "a1")
    before = s.router.agents()
    [rejected] = s.send(ev.AgentRemoved(1, "a1"))
    assert isinstance(rejected, EventRejected)
    assert rejected.code == "agent_busy"
    assert s.router.agents() == before


def test_logout_now_or_deferred(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.agent("a2", {"support": 1})
    assert s.at(1).send(ev.AgentLoggedOut(1, "a1")) == [changed("a1", A.LOGGED_OUT, None, 1)]
    assert s.send(ev.AgentLoggedOut(1, "a1")) == []
    s.connect("c1", "support", "a2")
    assert s.send(ev.AgentLoggedOut(1, "a2")) == []
    assert s.router.agent("a2").pending == "logout"  # type: ignore[union-attr]
    assert s.send(ev.AgentPaused(1, "a2", "tea")) == []  # a later pause does not beat the logout
    assert s.router.agent("a2").pending == "logout"  # type: ignore[union-attr]
    assert s.at(2).send(ev.CallEnded(2, "c1")) == [changed("a2", A.WRAP_UP, 0, 2)]
    assert s.router.next_deadline() == 7
    assert s.tick(7) == [changed("a2", A.LOGGED_OUT, None, 7)]
    assert s.router.next_deadline() is None


def test_pause_rows(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.agent("a0", {"support": 1}, login=False)
    assert s.at(1).send(ev.AgentPaused(1, "a1", "lunch")) == [
        changed("a1", A.PAUSED, 0, 1, "lunch")
    ]
    assert s.send(ev.AgentPaused(1, "a1", "lunch")) == []
    assert s.send(ev.AgentPaused(1, "a1", "meeting")) == [changed("a1", A.PAUSED, 0, 1, "meeting")]
    [rejected] = s.send(ev.AgentPaused(1, "a0", "x"))
    assert rejected.code == "agent_not_logged_in"  # type: ignore[union-attr]
    assert s.arrive("c1", "support") == []  # paused agents get no offers


def test_deferred_pause_applies_after_wrap_up_and_unpause_cancels_it(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.connect("c1", "support", "a1")
    assert s.send(ev.AgentPaused(0, "a1", "lunch")) == []
    assert s.router.agent("a1").pending_reason == "lunch"  # type: ignore[union-attr]
    s.at(1).send(ev.CallEnded(1, "c1"))
    assert s.tick(6) == [changed("a1", A.PAUSED, 0, 6, "lunch")]
    s.send(ev.AgentUnpaused(7, "a1"))
    s.at(7).connect("c2", "support", "a1")
    s.send(ev.AgentPaused(7, "a1", "lunch"))
    assert s.send(ev.AgentUnpaused(7, "a1")) == []
    assert s.router.agent("a1").pending is None  # type: ignore[union-attr]
    s.send(ev.CallEnded(8, "c2"))
    assert s.tick(13) == [changed("a1", A.AVAILABLE, 13, 13)]


def test_unpause_rows(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.agent("a0", {"support": 1}, login=False)
    assert s.send(ev.AgentUnpaused(0, "a1")) == []
    s.send(ev.AgentPaused(0, "a1", "x"))
    s.arrive("c1", "support")
    assert s.at(9).send(ev.AgentUnpaused(9, "a1")) == [
        changed("a1", A.AVAILABLE, 9, 9),
        reserved("a1", 9, 9),
        offer("c1", "a1"),
    ]
    [rejected] = s.send(ev.AgentUnpaused(9, "a0"))
    assert rejected.code == "agent_not_logged_in"  # type: ignore[union-attr]


def test_unreachable_agents_get_no_offers_until_reachable(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    assert s.send(ev.AgentReachabilityChanged(0, "a1", False)) == []
    assert s.arrive("c1", "support") == []
    assert s.router.agent("a1").state == A.AVAILABLE  # type: ignore[union-attr]
    assert s.at(2).send(ev.AgentReachabilityChanged(2, "a1", True)) == [
        reserved("a1", 0, 2),
        offer("c1", "a1"),
    ]


# --- queues ----------------------------------------------------------------------------------


def test_queue_upsert_recomputes_step_and_dispatches_waiting_calls(s: Scenario) -> None:
    s.agent("a1", {"billing": 2})
    s.arrive("c1", "support")
    s.at(1).arrive("c2", "support", priority=1)
    changed_queue = QueueConfig(
        "support",
        frozen_skills({"support": 1}),
        max_wait=100.0,
        escalation=(ev_step(5, {"billing": 1}),),
    )
    assert s.at(10).send(ev.QueueUpserted(10, changed_queue)) == [
        reserved("a1", 0, 10),
        offer("c2", "a1", ring=15.0),
    ]
    c1 = s.router.call("c1")
    assert c1 is not None
    assert (c1.step, dict(c1.requirements)) == (1, {"billing": 1})
    assert s.router.next_deadline() == 100.0  # max wait counted from entry, not from the change


def ev_step(after: float, skills: dict[str, int]) -> object:
    from acd.router.model import EscalationStep

    return EscalationStep(after, frozen_skills(skills))


def test_queue_removed(s: Scenario) -> None:
    s.queue("sales", {"sales": 1}, wrap_up=2.0)
    s.agent("a1", {"sales": 1, "support": 1})
    s.agent("a2", {"sales": 1})
    s.connect("c0", "sales", "a1")
    s.arrive("c1", "sales")  # offered to a2
    s.arrive("c2", "sales")
    s.arrive("c3", "support")
    [rejected] = s.send(ev.QueueRemoved(1, "nope"))
    assert rejected.code == "unknown_queue"  # type: ignore[union-attr]
    assert s.at(3).send(ev.QueueRemoved(3, "sales")) == [
        CallExited("c1", "sales", "queue_removed", None, 3),
        CallExited("c2", "sales", "queue_removed", None, 3),
        changed("a2", A.AVAILABLE, 0, 3),
    ]
    assert s.router.queue("sales") is None
    s.send(ev.CallEnded(4, "c0"))
    assert s.router.next_deadline() == 6  # the wrap-up it was connected under
    assert s.tick(6) == [changed("a1", A.AVAILABLE, 6, 6), reserved("a1", 6, 6), offer("c3", "a1")]


# --- calls -----------------------------------------------------------------------------------


def test_call_arrival_rows(s: Scenario) -> None:
    assert s.arrive("x", "nope") == [CallExited("x", "nope", "unknown_queue", None, 0)]
    s.queue(
        "closed", {"rare": 9}, join_empty=False, escalation=((0, {"rare": 8}), (10, {"common": 1}))
    )
    s.agent("a1", {"common": 1}, login=False)
    assert s.arrive("y", "closed") == [CallExited("y", "closed", "join_empty", None, 0)]
    s.send(ev.AgentLoggedIn(0, "a1"))
    s.send(ev.AgentPaused(0, "a1", "p"))
    assert s.arrive("y", "closed") == []  # a paused agent could serve it at step 2
    view = s.router.call("y")
    assert view is not None
    assert (view.step, dict(view.requirements), view.priority) == (1, {"rare": 8}, 0)
    [dup] = s.arrive("y", "support")
    assert dup.code == "duplicate_call"  # type: ignore[union-attr]


def test_abandon_rows(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.arrive("c1", "support")
    s.arrive("c2", "support")
    assert s.at(1).send(ev.CallAbandoned(1, "c2")) == []
    s.arrive("c3", "support")
    assert s.at(2).send(ev.CallAbandoned(2, "c1")) == [
        changed("a1", A.AVAILABLE, 0, 2),
        reserved("a1", 0, 2),
        offer("c3", "a1"),
    ]
    s.send(ev.OfferAnswered(2, "c3", "a1"))
    [rejected] = s.send(ev.CallAbandoned(3, "c3"))
    assert rejected.code == "wrong_state"  # type: ignore[union-attr]
    [rejected] = s.send(ev.CallAbandoned(3, "zz"))
    assert rejected.code == "unknown_call"  # type: ignore[union-attr]


def test_answer_must_match_the_offer(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.agent("a2", {"support": 1})
    s.arrive("c1", "support")
    for wrong in (
        ev.OfferAnswered(0, "c1", "a2"),
        ev.OfferFailed(0, "c1", "a2"),
        ev.CallEnded(0, "c1"),
    ):
        [rejected] = s.send(wrong)
        assert rejected.code == "wrong_state"  # type: ignore[union-attr]
    assert s.send(ev.OfferAnswered(1, "c1", "a1")) == [changed("a1", A.BUSY, 0, 1)]
    assert s.router.call("c1").state == CallState.CONNECTED  # type: ignore[union-attr]


def test_offer_failed_keeps_the_place_and_pauses_the_agent(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.arrive("c1", "support")
    s.at(1).arrive("c2", "support")
    assert s.at(2).send(ev.OfferFailed(2, "c1", "a1")) == [changed("a1", A.PAUSED, 0, 2, "rona")]
    c1 = s.router.call("c1")
    assert c1 is not None
    assert (c1.state, c1.rona_count, c1.enqueued_at, s.router.position("c1")) == (
        CallState.WAITING,
        1,
        0,
        1,
    )
    assert s.router.next_deadline() is None  # PAUSE action: no automatic unpause


def test_offer_failed_with_delay_unpauses_later_and_redispatches(s: Scenario) -> None:
    s.queue("q", rona_action=RonaAction.DELAY, rona_delay=10.0, max_wait=None)
    s.agent("a1")
    s.agent("a2", login=False)
    s.arrive("c1", "q")
    s.send(ev.OfferFailed(1, "c1", "a1"))
    assert s.router.next_deadline() == 11
    assert s.at(5).send(ev.AgentLoggedIn(5, "a2")) == [
        changed("a2", A.AVAILABLE, 5, 5),
        reserved("a2", 5, 5),
        OfferCall("c1", "a2", "q", 15.0),
    ]
    assert s.tick(11) == [changed("a1", A.AVAILABLE, 11, 11)]


def test_offer_failed_past_max_wait_runs_the_max_wait_step(s: Scenario) -> None:
    s.queue("q", max_wait=30.0, overflow="ivr,s,1")
    s.agent("a1")
    s.arrive("c1", "q")
    assert s.tick(40) == []  # offered calls wait for their offer's outcome
    assert s.send(ev.OfferFailed(41, "c1", "a1")) == [
        changed("a1", A.PAUSED, 0, 41, "rona"),
        CallExited("c1", "q", "timeout", "ivr,s,1", 41),
    ]


def test_call_end_wrap_up_and_zero_wrap_up(s: Scenario) -> None:
    s.queue("fast", wrap_up=0.0)
    s.agent("a1", {"support": 1})
    s.connect("c1", "support", "a1")
    assert s.at(10).send(ev.CallEnded(10, "c1")) == [changed("a1", A.WRAP_UP, 0, 10)]
    assert s.router.agent("a1").call_id == "c1"  # type: ignore[union-attr]
    assert s.tick(14.9) == []
    assert s.tick(20) == [changed("a1", A.AVAILABLE, 15, 15)]
    s.connect("c2", "fast", "a1")
    assert s.at(21).send(ev.CallEnded(21, "c2")) == [
        changed("a1", A.WRAP_UP, 15, 21),
        changed("a1", A.AVAILABLE, 21, 21),
    ]


def test_escalation_steps(s: Scenario) -> None:
    s.queue("q", {"expert": 8}, escalation=((10, {"expert": 5}), (20, {})), max_wait=None)
    s.agent("a1", {"expert": 5})
    s.arrive("c1", "q")
    assert s.router.next_deadline() == 10
    assert s.tick(10) == [
        CallEscalated("c1", "q", 1, 10),
        reserved("a1", 0, 10),
        OfferCall("c1", "a1", "q", 15.0),
    ]
    # An offered call still escalates, but is not dispatched again.
    assert s.tick(25) == [CallEscalated("c1", "q", 2, 20)]
    assert s.router.call("c1").requirements == {}  # type: ignore[union-attr]


def test_max_wait_overflow_to_a_queue_keeps_priority_and_entry_time(s: Scenario) -> None:
    s.queue("first", {"x": 1}, max_wait=30.0, overflow="second", priority=3)
    s.queue("second", {"y": 1}, max_wait=60.0, overflow=None)
    s.arrive("c1", "first")
    s.agent("a1", {"y": 1})
    assert s.tick(35) == [
        CallOverflowed("c1", "first", "second", 30),
        reserved("a1", 0, 30),
        OfferCall("c1", "a1", "second", 15.0),
    ]
    c1 = s.router.call("c1")
    assert c1 is not None
    assert (c1.priority, c1.enqueued_at, c1.queue_entered_at) == (3, 0, 30)
    s.send(ev.OfferFailed(36, "c1", "a1"))
    assert s.tick(90) == [CallExited("c1", "second", "timeout", None, 90)]


def test_overflow_to_missing_queue_exits_without_destination(s: Scenario) -> None:
    s.queue("q", max_wait=5.0, overflow="gone")
    s.arrive("c1", "q")
    assert s.tick(5) == [CallExited("c1", "q", "timeout", None, 5)]


def test_leave_empty_on_logout(s: Scenario) -> None:
    s.queue("vip", {"vip": 1}, leave_empty=True)
    s.agent("a1", {"vip": 1})
    s.send(ev.AgentPaused(0, "a1", "x"))
    s.arrive("c1", "vip")
    s.arrive("c2", "support")
    assert s.at(1).send(ev.AgentLoggedOut(1, "a1")) == [
        changed("a1", A.LOGGED_OUT, None, 1),
        CallExited("c1", "vip", "leave_empty", None, 1),
    ]
    assert s.router.waiting_count("support") == 1


# --- orders, time and bad input --------------------------------------------------------------


def test_most_skilled_policy_then_longest_idle_then_id(s: Scenario) -> None:
    s.queue("q", {"x": 1}, policy=AgentPolicy.MOST_SKILLED)
    s.at(1).agent("b", {"x": 5})
    s.at(2).agent("a", {"x": 5})
    s.at(0.5).agent("c", {"x": 3})
    assert offers(s.at(3).arrive("c1", "q")) == [("c1", "b")]
    assert offers(s.arrive("c2", "q")) == [("c2", "a")]
    assert offers(s.arrive("c3", "support")) == []
    assert offers(s.arrive("c4", "q")) == [("c4", "c")]


def test_longest_idle_ties_break_on_agent_id(s: Scenario) -> None:
    s.agent("b", {"support": 1})
    s.agent("a", {"support": 1})
    assert offers(s.arrive("c1", "support")) == [("c1", "a")]


def test_deadlines_run_in_order_of_time_then_kind(s: Scenario) -> None:
    s.queue("q", {"x": 1}, max_wait=5.0, escalation=((5, {}),), wrap_up=5.0)
    s.agent("a1", {"support": 1})
    s.connect("c0", "support", "a1")
    s.send(ev.CallEnded(0, "c0"))  # wrap-up ends at 5
    s.arrive("c1", "q")  # escalates at 5, max wait at 5
    assert s.tick(5) == [
        changed("a1", A.AVAILABLE, 5, 5),
        CallEscalated("c1", "q", 1, 5),
        reserved("a1", 5, 5),
        OfferCall("c1", "a1", "q", 15.0),
    ]
    assert s.router.next_deadline() is None


def test_invalid_events_are_rejected_not_raised(s: Scenario) -> None:
    bad: list[object] = [
        ev.Tick(math.nan),
        ev.AgentUpserted(0, "a", frozen_skills({"x": 11})),
        ev.AgentUpserted(0, "", frozen_skills({})),
        ev.CallArrived(0, "c", "support", priority=True),  # type: ignore[arg-type]
        ev.QueueUpserted(0, QueueConfig("q", max_wait=0.0)),
        ev.QueueUpserted(0, QueueConfig("q", ring_timeout=-1)),
        "not an event",
    ]
    for event in bad:
        [rejected] = s.send(event)  # type: ignore[arg-type]
        assert isinstance(rejected, EventRejected)
        assert rejected.code == "invalid_event"
    assert s.router.queues() == [s.router.queue("support")]


def test_earlier_now_counts_as_the_latest_seen(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.tick(100)
    assert s.send(ev.AgentPaused(50, "a1", "x")) == [changed("a1", A.PAUSED, 0, 100, "x")]


def test_rona_delay_is_cancelled_by_a_new_pause_reason(s: Scenario) -> None:
    s.queue("q", rona_action=RonaAction.DELAY, rona_delay=10.0, max_wait=None)
    s.agent("a1")
    s.arrive("c1", "q")
    s.send(ev.OfferFailed(1, "c1", "a1"))
    assert s.router.next_deadline() == 11
    s.send(ev.AgentPaused(2, "a1", "lunch"))
    assert s.router.next_deadline() is None
    assert s.tick(20) == []
    assert s.router.agent("a1").pause_reason == "lunch"  # type: ignore[union-attr]


def test_leave_empty_queue_turns_away_an_arrival_nobody_can_serve(s: Scenario) -> None:
    s.queue("vip", {"vip": 1}, leave_empty=True)
    assert s.arrive("c1", "vip") == [CallExited("c1", "vip", "leave_empty", None, 0)]
    s.agent("a1", {"vip": 1})
    s.send(ev.AgentPaused(0, "a1", "busy elsewhere"))
    assert s.arrive("c2", "vip") == []  # a paused agent still counts as able to serve
    assert s.router.position("c2") == 1


def test_queue_change_that_strands_calls_runs_the_leave_empty_check(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.send(ev.AgentPaused(0, "a1", "x"))
    s.arrive("c1", "support")
    stricter = QueueConfig("support", frozen_skills({"support": 9}), leave_empty=True)
    assert s.at(2).send(ev.QueueUpserted(2, stricter)) == [
        CallExited("c1", "support", "leave_empty", None, 2)
    ]


def test_offer_to_an_agent_whose_call_was_abandoned_applies_its_pending_pause(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.arrive("c1", "support")
    s.send(ev.AgentPaused(1, "a1", "lunch"))
    assert s.at(2).send(ev.CallAbandoned(2, "c1")) == [changed("a1", A.PAUSED, 0, 2, "lunch")]


def test_reachability_of_unknown_agent_is_rejected(s: Scenario) -> None:
    [rejected] = s.send(ev.AgentReachabilityChanged(0, "ghost", True))
    assert rejected.code == "unknown_agent"  # type: ignore[union-attr]


def test_an_agent_ending_its_wrap_up_early_is_available_at_once(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.connect("c1", "support", "a1")
    s.at(10).send(ev.CallEnded(10, "c1"))  # wrap-up until 15
    s.at(11).arrive("c2", "support")
    assert s.send(ev.AgentWrapUpDone(12, "a1")) == [
        changed("a1", A.AVAILABLE, 12, 12),
        reserved("a1", 12, 12),
        offer("c2", "a1"),
    ]
    assert s.tick(15) == []  # the wrap-up's deadline died with it
    assert s.router.next_deadline() is None


def test_a_pending_pause_or_logout_applies_when_the_wrap_up_is_ended_early(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.agent("a2", {"support": 1})
    s.connect("c1", "support", "a1")
    s.connect("c2", "support", "a2")
    s.send(ev.AgentPaused(0, "a1", "lunch"))
    s.send(ev.AgentLoggedOut(0, "a2"))
    s.at(3).send(ev.CallEnded(3, "c1"))
    s.send(ev.CallEnded(3, "c2"))
    assert s.send(ev.AgentWrapUpDone(4, "a1")) == [changed("a1", A.PAUSED, 0, 4, "lunch")]
    assert s.send(ev.AgentWrapUpDone(4, "a2")) == [changed("a2", A.LOGGED_OUT, None, 4)]


def test_ending_a_wrap_up_is_ignored_off_wrap_up_and_refused_logged_out(s: Scenario) -> None:
    s.agent("a0", {"support": 1}, login=False)
    s.agent("a1", {"support": 1})
    s.agent("a2", {"support": 1})
    s.send(ev.AgentPaused(0, "a2", "x"))
    assert s.send(ev.AgentWrapUpDone(1, "a1")) == []  # available
    assert s.send(ev.AgentWrapUpDone(1, "a2")) == []  # paused
    s.at(1).connect("c1", "support", "a1")
    assert s.send(ev.AgentWrapUpDone(1, "a1")) == []  # busy
    s.arrive("c2", "support")
    s.send(ev.AgentUnpaused(1, "a2"))  # reserved for c2
    assert s.router.agent("a2").state == A.RESERVED  # type: ignore[union-attr]
    assert s.send(ev.AgentWrapUpDone(1, "a2")) == []
    [rejected] = s.send(ev.AgentWrapUpDone(1, "a0"))
    assert rejected.code == "agent_not_logged_in"  # type: ignore[union-attr]
    [unknown] = s.send(ev.AgentWrapUpDone(1, "ghost"))
    assert unknown.code == "unknown_agent"  # type: ignore[union-attr]


# --- state_since: the moment the agent entered its current state ------------------------------


def since(s: Scenario, agent_id: str) -> float | None:
    view = s.router.agent(agent_id)
    assert view is not None
    return view.state_since


def test_state_since_is_set_by_every_written_state_and_kept_by_ignored_rows(s: Scenario) -> None:
    s.agent("a1", {"support": 1}, login=False)
    assert since(s, "a1") is None  # never logged in: no moment to tell
    s.at(2).send(ev.AgentLoggedIn(2, "a1"))
    assert since(s, "a1") == 2
    s.send(ev.AgentLoggedIn(3, "a1"))  # an ignored row
    s.send(ev.AgentUnpaused(3, "a1"))
    s.send(ev.AgentReachabilityChanged(3, "a1", False))
    s.send(ev.AgentReachabilityChanged(3, "a1", True))
    assert since(s, "a1") == 2
    s.at(4).send(ev.AgentPaused(4, "a1", "lunch"))
    assert since(s, "a1") == 4
    s.at(5).send(ev.AgentPaused(5, "a1", "lunch"))  # the same pause again: nothing moves
    assert since(s, "a1") == 4
    s.at(6).send(ev.AgentPaused(6, "a1", "coaching"))  # another pause: it starts now
    assert since(s, "a1") == 6
    s.at(7).send(ev.AgentUnpaused(7, "a1"))
    assert since(s, "a1") == 7
    s.at(8).arrive("c1", "support")  # offered: reserved from now
    assert since(s, "a1") == 8
    s.at(9).send(ev.OfferAnswered(9, "c1", "a1"))
    assert since(s, "a1") == 9
    s.at(10).send(ev.AgentPaused(10, "a1", "lunch"))  # deferred: still busy since 9
    assert since(s, "a1") == 9
    s.at(11).send(ev.CallEnded(11, "c1"))
    assert since(s, "a1") == 11  # wrap-up
    s.tick(16)  # wrap-up ends at its deadline (16): the pending pause applies then
    assert (s.router.agent("a1").state, since(s, "a1")) == (A.PAUSED, 16)  # type: ignore[union-attr]
    s.at(20).send(ev.AgentLoggedOut(20, "a1"))
    assert since(s, "a1") == 20


def test_state_since_of_a_settled_agent_is_the_settle_time(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.at(1).arrive("c1", "support")
    s.at(3).send(ev.OfferFailed(3, "c1", "a1", reason="no_answer"))  # rona pause
    assert since(s, "a1") == 3
    s.at(4).send(ev.AgentUnpaused(4, "a1"))  # takes c1 again: reserved from 4
    assert since(s, "a1") == 4
    s.at(6).send(ev.CallAbandoned(6, "c1"))  # retracted: available again from 6
    assert (s.router.agent("a1").state, since(s, "a1")) == (A.AVAILABLE, 6)  # type: ignore[union-attr]
    s.connect("c2", "support", "a1")
    s.at(8).send(ev.CallEnded(8, "c2"))
    s.at(9).send(ev.AgentWrapUpDone(9, "a1"))
    assert since(s, "a1") == 9


def test_answered_at_is_the_moment_of_the_answer(s: Scenario) -> None:
    s.agent("a1", {"support": 1})
    s.agent("a2", {"support": 1}, login=False)
    s.at(1).arrive("c1", "support")
    assert s.router.call("c1").answered_at is None  # type: ignore[union-attr]
    s.at(2).arrive("c2", "support")
    assert s.router.call("c2").answered_at is None  # type: ignore[union-attr]
    s.at(4).send(ev.OfferAnswered(4, "c1", "a1"))
    assert s.router.call("c1").answered_at == 4  # type: ignore[union-attr]
    assert [c.answered_at for c in s.router.calls()] == [None, 4]

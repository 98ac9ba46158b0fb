"""CallTransferred, a blind transfer of a connected caller into a queue (both routers)."""

from __future__ import annotations

import pytest
from router_scenario import Scenario, offers, reserved

from acd.router import events as ev
from acd.router.decisions import (
    AgentStateChanged,
    CallExited,
    CallHandedOver,
    CallRequeued,
    EventRejected,
    OfferCall,
)
from acd.router.model import AgentState, CallState, frozen_skills

A = AgentState


@pytest.fixture
def s(router_class: type) -> Scenario:
    scenario = Scenario(router_class)
    scenario.queue("first", {"general": 1}, wrap_up=5.0, max_wait=None)
    scenario.queue("second", {"billing": 3}, wrap_up=2.0, max_wait=None, priority=1)
    return scenario


def wrap(agent_id: str, idle: float, at: float) -> AgentStateChanged:
    return AgentStateChanged(agent_id, A.WRAP_UP, None, idle, at)


def transfer(
    s: Scenario, call_id: str, queue: str, *, keep: bool = False, **extra: int
) -> list[object]:
    return list(
        s.send(ev.CallTransferred(s.now, call_id, queue, frozen_skills(extra), keep_place=keep))
    )


def test_the_agent_wraps_up_and_the_caller_is_offered_to_a_specialist(s: Scenario) -> None:
    s.agent("gen", {"general": 1})
    s.agent("spec", {"billing": 5})
    s.at(1).connect("c1", "first", "gen")
    assert transfer(s.at(10), "c1", "second") == [
        wrap("gen", 0, 10),
        CallRequeued("c1", "first", "second", "gen", False, 10),
        reserved("spec", 0, 10),
        ev_offer("c1", "spec", "second"),
    ]
    call = s.router.call("c1")
    assert call is not None
    assert (call.queue, call.state, call.agent_id, call.answered_at) == (
        "second",
        CallState.OFFERED,
        "spec",
        None,
    )
    assert (call.arrived_at, call.enqueued_at, call.queue_entered_at) == (1, 10, 10)
    assert call.priority == 1  # the higher of its own (0) and the target queue's
    # the first agent's wrap-up is its own queue's, from the transfer
    assert s.router.agent("gen").wrap_until == 15  # type: ignore[union-attr]
    assert s.send(ev.OfferAnswered(11, "c1", "spec"))[0].state is A.BUSY  # type: ignore[union-attr]


def ev_offer(call_id: str, agent_id: str, queue: str) -> OfferCall:
    return OfferCall(call_id, agent_id, queue, 15.0)


def test_keep_place_orders_the_caller_by_its_first_entry(s: Scenario) -> None:
    s.agent("gen", {"general": 1})
    s.at(1).connect("early", "first", "gen")
    s.at(5).arrive("later", "second")  # nobody with billing yet: waits
    transfer(s.at(10), "early", "second", keep=True)
    assert [c.id for c in s.router.calls() if c.state is CallState.WAITING] == ["early", "later"]
    assert s.router.position("early") == 1
    decisions = s.at(12).agent("spec", {"billing": 3})
    assert offers(decisions) == [("early", "spec")]


def test_without_keep_place_the_caller_goes_behind_those_already_waiting(s: Scenario) -> None:
    s.agent("gen", {"general": 1})
    s.at(1).connect("early", "first", "gen")
    s.at(5).arrive("later", "second")
    transfer(s.at(10), "early", "second")
    assert s.router.position("early") == 2
    assert offers(s.at(12).agent("spec", {"billing": 3})) == [("later", "spec")]


def test_extra_skills_are_added_to_the_callers_own(s: Scenario) -> None:
    s.agent("gen", {"general": 1, "german": 2})
    s.agent("english", {"general": 9})
    s.agent("german", {"general": 1, "german": 4})
    s.send(ev.AgentPaused(0, "english", "lunch"))
    s.send(ev.AgentPaused(0, "german", "lunch"))
    s.at(1).connect("c1", "first", "gen")
    assert transfer(s.at(2), "c1", "first", german=3)[:2] == [
        wrap("gen", 0, 2),
        CallRequeued("c1", "first", "first", "gen", False, 2),
    ]
    assert s.router.call("c1").requirements == {"general": 1, "german": 3}  # type: ignore[union-attr]
    assert offers(s.send(ev.AgentUnpaused(3, "english"))) == []
    assert offers(s.send(ev.AgentUnpaused(3, "german"))) == [("c1", "german")]


def test_a_queue_nobody_can_serve_applies_its_join_empty_rule(s: Scenario) -> None:
    s.queue("closed", {"legal": 1}, join_empty=False)
    s.queue("open", {"legal": 1}, join_empty=True)
    s.agent("gen", {"general": 1})
    s.at(1).connect("c1", "first", "gen")
    assert transfer(s.at(4), "c1", "closed") == [
        wrap("gen", 0, 4),
        CallRequeued("c1", "first", "closed", "gen", False, 4),
        CallExited("c1", "closed", "join_empty", None, 4),
    ]
    assert s.router.call("c1") is None
    s.tick(20)  # the wrap-up ended at 9
    s.connect("c2", "first", "gen")
    assert transfer(s.at(21), "c2", "open") == [
        wrap("gen", 9, 21),
        CallRequeued("c2", "first", "open", "gen", False, 21),
    ]
    assert s.router.call("c2").state is CallState.WAITING  # type: ignore[union-attr]


def test_zero_wrap_up_frees_the_agent_after_the_caller_is_placed(s: Scenario) -> None:
    s.queue("fast", {"general": 1}, wrap_up=0.0)
    s.agent("gen", {"general": 1})
    s.agent("other", {"general": 1})
    s.send(ev.AgentPaused(0, "other", "lunch"))
    s.at(1).connect("c1", "fast", "gen")
    s.send(ev.AgentUnpaused(2, "other"))
    assert transfer(s.at(3), "c1", "fast") == [
        wrap("gen", 0, 3),
        CallRequeued("c1", "fast", "fast", "gen", False, 3),
        reserved("other", 2, 3),
        ev_offer("c1", "other", "fast"),
        AgentStateChanged("gen", A.AVAILABLE, None, 3, 3),
    ]


def test_a_pending_pause_applies_when_the_transfer_wrap_up_ends(s: Scenario) -> None:
    s.agent("gen", {"general": 1})
    s.at(1).connect("c1", "first", "gen")
    s.send(ev.AgentPaused(2, "gen", "lunch"))
    transfer(s.at(3), "c1", "second")
    assert s.tick(8) == [AgentStateChanged("gen", A.PAUSED, "lunch", 0, 8)]


@pytest.mark.parametrize(
    ("call_id", "queue", "code"),
    [("nobody", "second", "unknown_call"), ("c1", "nowhere", "unknown_queue")],
)
def test_unknown_call_or_queue_is_rejected_and_the_caller_stays(
    s: Scenario, call_id: str, queue: str, code: str
) -> None:
    s.agent("gen", {"general": 1})
    s.at(1).connect("c1", "first", "gen")
    decisions = transfer(s.at(2), call_id, queue)
    assert [d.code for d in decisions] == [code]  # type: ignore[attr-defined]
    assert s.router.call("c1").state is CallState.CONNECTED  # type: ignore[union-attr]
    assert s.router.agent("gen").state is A.BUSY  # type: ignore[union-attr]


def test_only_a_connected_call_can_be_transferred(s: Scenario) -> None:
    s.arrive("c1", "first")  # no agent: waiting
    assert transfer(s.at(1), "c1", "second") == [
        EventRejected("CallTransferred", "wrong_state", "call c1 is waiting")
    ]


def test_malformed_transfers_are_invalid(s: Scenario) -> None:
    bad = ev.CallTransferred(1, "c1", "second", frozen_skills({"x": 11}))
    assert [d.code for d in s.send(bad)] == ["invalid_event"]  # type: ignore[attr-defined]
    also_bad = ev.CallTransferred(1, "c1", "second", keep_place="yes")  # type: ignore[arg-type]
    assert [d.code for d in s.send(also_bad)] == ["invalid_event"]  # type: ignore[attr-defined]


# --- warm transfer: a connected consultation becomes the call --------------------------------


def test_a_completed_warm_transfer_hands_the_call_to_the_specialist(s: Scenario) -> None:
    s.agent("gen", {"general": 1})
    s.agent("spec", {"billing": 5})
    s.at(1).connect("c1", "first", "gen")
    s.at(5).connect("k1", "second", "spec")  # the consultation: the first agent's call
    decisions = s.at(9).send(ev.TransferCompleted(9, "c1", "k1"))
    assert decisions == [
        wrap("gen", 0, 9),
        CallHandedOver("c1", "k1", "second", "gen", "spec", 9),
    ]
    assert s.router.call("k1") is None
    call = s.router.call("c1")
    assert call is not None
    assert (call.queue, call.state, call.agent_id, call.priority) == (
        "second",
        CallState.CONNECTED,
        "spec",
        1,
    )
    assert (call.arrived_at, call.enqueued_at, call.queue_entered_at, call.answered_at) == (
        1,
        1,
        5,
        5,
    )
    assert s.router.agent("spec").call_id == "c1"  # type: ignore[union-attr]
    assert s.router.agent("gen").wrap_until == 14  # type: ignore[union-attr]  first's wrap-up
    # The specialist's hang-up ends the call with the second queue's wrap-up (2 s).
    assert s.at(20).send(ev.CallEnded(20, "c1")) == [wrap("spec", 0, 20)]
    assert s.router.agent("spec").wrap_until == 22  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("call_id", "consult_id", "code"),
    [
        ("c1", "nobody", "unknown_call"),
        ("nobody", "k1", "unknown_call"),
        ("c1", "w1", "wrong_state"),  # the consultation still waits
        ("w1", "c1", "wrong_state"),
    ],
)
def test_only_two_connected_calls_complete_a_transfer(
    s: Scenario, call_id: str, consult_id: str, code: str
) -> None:
    s.agent("gen", {"general": 1})
    s.at(1).connect("c1", "first", "gen")
    s.arrive("w1", "second")  # nobody for billing: waits
    decisions = s.send(ev.TransferCompleted(2, call_id, consult_id))
    assert [d.code for d in decisions] == [code]  # type: ignore[attr-defined]
    assert s.router.call("c1").state is CallState.CONNECTED  # type: ignore[union-attr]


def test_a_call_completed_into_itself_is_invalid(s: Scenario) -> None:
    decisions = s.send(ev.TransferCompleted(1, "c1", "c1"))
    assert [d.code for d in decisions] == ["invalid_event"]  # type: ignore[attr-defined]

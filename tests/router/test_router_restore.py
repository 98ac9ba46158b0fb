"""AgentRestored: every row of the RESTORE triggers, on both routers (see `acd.router`)."""

from __future__ import annotations

import math

import pytest
from router_scenario import Scenario, offers

from acd.router import events as ev
from acd.router.decisions import AgentStateChanged, EventRejected
from acd.router.model import AgentState, AgentView

A = AgentState


@pytest.fixture
def s(router_class: type) -> Scenario:
    scenario = Scenario(router_class)
    scenario.queue("support", {"support": 1}, wrap_up=5.0, max_wait=None)
    for agent_id in ("a1", "a2", "a3"):
        scenario.agent(agent_id, {"support": 2}, login=False)
    return scenario.at(100)


def restored(agent_id: str, state: AgentState, idle: float, **fields: object) -> ev.AgentRestored:
    reason = fields.pop("pause_reason", "" if state is A.PAUSED else None)
    return ev.AgentRestored(100, agent_id, state, reason, idle, **fields)  # type: ignore[arg-type]


def view(s: Scenario, agent_id: str) -> AgentView:
    found = s.router.agent(agent_id)
    assert found is not None
    return found


def test_available_comes_back_with_its_stored_idle_since_and_keeps_longest_idle_order(
    s: Scenario,
) -> None:
    # a3 has been idle longest, a1 shortest: the reverse of their id order, so a router that
    # dropped the stored idle_since (all idle from now, ties by id) would pick a1 first.
    assert s.send(restored("a1", A.AVAILABLE, 30)) == [
        AgentStateChanged("a1", A.AVAILABLE, None, 30, 100)
    ]
    s.send(restored("a2", A.AVAILABLE, 20))
    s.send(restored("a3", A.AVAILABLE, 10))
    assert offers(s.arrive("c1", "support")) == [("c1", "a3")]
    assert offers(s.arrive("c2", "support")) == [("c2", "a2")]
    assert offers(s.arrive("c3", "support")) == [("c3", "a1")]


def test_a_restored_available_agent_takes_a_waiting_call(s: Scenario) -> None:
    assert s.arrive("c1", "support") == []
    decisions = s.send(restored("a2", A.AVAILABLE, 40))
    assert offers(decisions) == [("c1", "a2")]
    assert view(s, "a2").state is A.RESERVED


@pytest.mark.parametrize("reason", ["", "lunch", "rona"])
def test_paused_comes_back_with_its_reason(s: Scenario, reason: str) -> None:
    assert s.send(restored("a1", A.PAUSED, 50, pause_reason=reason)) == [
        AgentStateChanged("a1", A.PAUSED, reason, 50, 100)
    ]
    assert s.arrive("c1", "support") == []  # paused agents take no call
    assert s.router.next_deadline() is None  # no rona delay stored: it waits for an unpause
    assert s.tick(500) == []


def test_a_rona_pause_keeps_its_delay_and_a_past_one_ends_at_the_next_tick(s: Scenario) -> None:
    s.send(restored("a1", A.PAUSED, 50, pause_reason="rona", rona_until=104))
    s.send(restored("a2", A.PAUSED, 60, pause_reason="rona", rona_until=90))  # ran out meanwhile
    assert s.router.next_deadline() == 90
    assert s.tick(100) == [AgentStateChanged("a2", A.AVAILABLE, None, 90, 90)]
    assert view(s, "a1").rona_until == 104
    assert s.tick(104) == [AgentStateChanged("a1", A.AVAILABLE, None, 104, 104)]


def test_wrap_up_comes_back_with_its_deadline(s: Scenario) -> None:
    assert s.send(restored("a1", A.WRAP_UP, 50, wrap_until=103)) == [
        AgentStateChanged("a1", A.WRAP_UP, None, 50, 100)
    ]
    assert view(s, "a1").wrap_until == 103
    assert s.router.next_deadline() == 103
    assert s.arrive("c1", "support") == []
    decisions = s.tick(103)
    assert decisions[0] == AgentStateChanged("a1", A.AVAILABLE, None, 103, 103)
    assert offers(decisions) == [("c1", "a1")]


def test_a_wrap_up_that_ended_during_the_outage_settles_at_the_next_tick_at_its_deadline(
    s: Scenario,
) -> None:
    s.send(restored("a1", A.WRAP_UP, 50, wrap_until=97))
    assert s.router.next_deadline() == 97
    assert s.tick(100) == [AgentStateChanged("a1", A.AVAILABLE, None, 97, 97)]


@pytest.mark.parametrize(
    ("pending", "pending_reason", "after"),
    [
        ("pause", "lunch", AgentStateChanged("a1", A.PAUSED, "lunch", 50, 103)),
        ("logout", None, AgentStateChanged("a1", A.LOGGED_OUT, None, None, 103)),
    ],
)
def test_a_pending_request_of_a_restored_wrap_up_applies_when_it_ends(
    s: Scenario, pending: str, pending_reason: str | None, after: AgentStateChanged
) -> None:
    s.send(
        restored(
            "a1", A.WRAP_UP, 50, wrap_until=103, pending=pending, pending_reason=pending_reason
        )
    )
    assert (view(s, "a1").pending, view(s, "a1").pending_reason) == (pending, pending_reason)
    assert s.tick(103) == [after]


@pytest.mark.parametrize("state", [A.RESERVED, A.BUSY])
def test_an_agent_stored_on_a_call_comes_back_as_if_the_call_ended(
    s: Scenario, state: AgentState
) -> None:
    assert s.send(restored("a1", state, 50)) == [
        AgentStateChanged("a1", A.AVAILABLE, None, 50, 100)
    ]
    assert s.send(restored("a2", state, 60, pending="pause", pending_reason="lunch")) == [
        AgentStateChanged("a2", A.PAUSED, "lunch", 60, 100)
    ]
    # A pending logout: the agent is logged out already, so nothing changes.
    assert s.send(restored("a3", state, 70, pending="logout")) == []
    a3 = view(s, "a3")
    assert (a3.state, a3.idle_since, a3.pending) == (A.LOGGED_OUT, None, None)
    assert view(s, "a1").call_id is None


def test_a_logged_in_agent_refuses_a_restore_and_keeps_its_state(s: Scenario) -> None:
    s.send(ev.AgentLoggedIn(100, "a1"))
    before = view(s, "a1")
    for state in (A.AVAILABLE, A.WRAP_UP, A.BUSY):
        until = 200.0 if state is A.WRAP_UP else None
        [rejected] = s.send(restored("a1", state, 5, wrap_until=until))
        assert rejected == EventRejected(
            "AgentRestored", "agent_logged_in", "agent a1 is available"
        )
    assert view(s, "a1") == before
    s.send(ev.AgentPaused(100, "a1", "lunch"))
    [rejected] = s.send(restored("a1", A.PAUSED, 5, pause_reason="other"))
    assert (rejected.code, view(s, "a1").pause_reason) == ("agent_logged_in", "lunch")  # type: ignore[union-attr]


def test_an_unknown_agent_is_rejected(s: Scenario) -> None:
    [rejected] = s.send(restored("ghost", A.AVAILABLE, 5))
    assert rejected == EventRejected("AgentRestored", "unknown_agent", "no agent 'ghost'")


MALFORMED = {
    "logged_out is nothing to restore": {"state": A.LOGGED_OUT},
    "state as a plain string": {"state": "available"},
    "idle_since missing": {"idle_since": None},
    "idle_since not finite": {"idle_since": math.inf},
    "pause reason while available": {"pause_reason": "lunch"},
    "paused without a reason": {"state": A.PAUSED, "pause_reason": None},
    "pending while available": {"pending": "pause", "pending_reason": ""},
    "unknown pending": {"state": A.BUSY, "pending": "coffee"},
    "pending pause without reason": {"state": A.BUSY, "pending": "pause"},
    "reason for a pending logout": {"state": A.BUSY, "pending": "logout", "pending_reason": "x"},
    "wrap-up without deadline": {"state": A.WRAP_UP},
    "deadline outside wrap-up": {"wrap_until": 120.0},
    "wrap deadline not finite": {"state": A.WRAP_UP, "wrap_until": math.nan},
    "rona deadline for another pause": {
        "state": A.PAUSED,
        "pause_reason": "lunch",
        "rona_until": 120.0,
    },
    "rona deadline while available": {"rona_until": 120.0},
    "empty agent id": {"agent_id": ""},
    "state_since not finite": {"state_since": math.inf},
}


@pytest.mark.parametrize("changes", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_restores_are_invalid_and_change_nothing(
    s: Scenario, changes: dict[str, object]
) -> None:
    fields: dict[str, object] = {
        "now": 100.0,
        "agent_id": "a1",
        "state": A.AVAILABLE,
        "pause_reason": None,
        "idle_since": 50.0,
        **changes,
    }
    before = s.router.agents()
    [rejected] = s.send(ev.AgentRestored(**fields))  # type: ignore[arg-type]
    assert isinstance(rejected, EventRejected)
    assert (rejected.event, rejected.code) == ("AgentRestored", "invalid_event")
    assert s.router.agents() == before


@pytest.mark.parametrize(
    ("state", "fields"),
    [
        (A.AVAILABLE, {}),
        (A.PAUSED, {"pause_reason": "lunch"}),
        (A.WRAP_UP, {"wrap_until": 103.0}),
    ],
)
def test_a_restored_state_keeps_its_stored_state_since(
    s: Scenario, state: AgentState, fields: dict[str, object]
) -> None:
    s.send(restored("a1", state, 40, state_since=60.0, **fields))
    assert view(s, "a1").state_since == 60
    # A store without the moment (a row written before it was kept): from the restore.
    s.send(restored("a2", state, 40, **fields))
    assert view(s, "a2").state_since == 100


def test_the_restore_decision_tells_the_stored_state_since(s: Scenario) -> None:
    assert s.send(restored("a1", A.PAUSED, 40, pause_reason="lunch", state_since=60.0)) == [
        AgentStateChanged("a1", A.PAUSED, "lunch", 40, 100, state_since=60.0)
    ]
    assert s.send(restored("a2", A.AVAILABLE, 40)) == [
        AgentStateChanged("a2", A.AVAILABLE, None, 40, 100)
    ]


@pytest.mark.parametrize("state", [A.RESERVED, A.BUSY])
def test_an_agent_stored_on_a_call_settles_at_the_restore(s: Scenario, state: AgentState) -> None:
    s.send(restored("a1", state, 40, state_since=60.0))
    assert (view(s, "a1").state, view(s, "a1").state_since) == (A.AVAILABLE, 100)

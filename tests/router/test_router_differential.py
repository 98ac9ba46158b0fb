"""Differential tests: the indexed Router and the naive ReferenceRouter must agree exactly."""

from __future__ import annotations

import random
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from router_streams import Pools, first_difference, run_differential

from acd.router import states
from acd.router.model import AgentState, CallState
from acd.router.states import AgentTrigger, CallTrigger, Do, Outcome

_BIG = [HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large]


@settings(max_examples=250, deadline=None, suppress_health_check=_BIG)
@given(
    rng=st.randoms(use_true_random=False),
    steps=st.integers(1, 200),
    class_scan_limit=st.sampled_from([None, 0, 1]),
)
def test_random_streams_give_identical_decisions_and_views(
    rng: random.Random, steps: int, class_scan_limit: int | None
) -> None:
    """`class_scan_limit` 0/1 puts requirement sets on their own agent heaps early."""
    run_differential(rng, steps, class_scan_limit=class_scan_limit)


@settings(max_examples=60, deadline=None, suppress_health_check=_BIG)
@given(rng=st.randoms(use_true_random=False), steps=st.integers(1, 400))
def test_crowded_streams_with_few_skills(rng: random.Random, steps: int) -> None:
    """Many calls and agents over two skills: deep queues, long heaps, lots of lazy cleanup."""
    run_differential(rng, steps, Pools(agents=12, calls=30, queues=3, skills=2, max_level=3))


EXERCISED = {
    "OfferCall",
    "CallEscalated",
    "CallOverflowed",
    "CallExited:timeout",
    "CallExited:join_empty",
    "CallExited:leave_empty",
    "CallExited:queue_removed",
    "AgentStateChanged:busy",
    "AgentStateChanged:wrap_up",
    "AgentStateChanged:paused",
    "AgentStateChanged:logged_out",
    "EventRejected:wrong_state",
    "EventRejected:invalid_event",
    "EventRejected:agent_logged_in",
    "accepted:available",
    "accepted:paused",
    "accepted:wrap_up",
    "accepted:reserved",
    "accepted:busy",
    "adopted:waiting",
    "adopted:offered",
    "adopted:connected",
    "EventRejected:agent_busy",
    "EventRejected:duplicate_call",
    "EventRejected:unknown_agent",
    "CallExited:unknown_queue",
    "wrap_done:accepted",
    "CallRequeued",
    "CallHandedOver",
    "EventRejected:unknown_queue",
}


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_long_seeded_stress_runs(seed: int) -> None:
    """Long runs with `_check()` after every step; the differential harness does both.
    Odd seeds run with a class-scan limit of 1, so most sets keep their own agent heaps."""
    seen = run_differential(
        random.Random(seed),
        3000,
        Pools(agents=20, calls=60, queues=4, skills=5, max_level=5),
        class_scan_limit=1 if seed % 2 else None,
    )
    # The stream really exercised the policy; it did not just get rejected.
    assert set(seen) >= EXERCISED, EXERCISED - set(seen)


# --- the comparison catches a table row that drifts from the policy ---------------------------

_A, _T, _C, _K = AgentState, AgentTrigger, CallState, CallTrigger

#: One changed row each: (table name in `acd.router.states`, key, changed outcome).
DRIFTS = {
    "failed offer settles to available": (
        "AGENT_TABLE",
        (_A.RESERVED, _T.FAIL),
        Outcome(Do.SETTLE, _A.AVAILABLE),
    ),
    "wrap-up end settles to paused": (
        "AGENT_TABLE",
        (_A.WRAP_UP, _T.WRAP_END),
        Outcome(Do.SETTLE, _A.PAUSED),
    ),
    "retracted offer settles to paused": (
        "AGENT_TABLE",
        (_A.RESERVED, _T.RETRACT),
        Outcome(Do.SETTLE, _A.PAUSED),
    ),
    "ending a wrap-up early pauses": (
        "AGENT_TABLE",
        (_A.WRAP_UP, _T.WRAP_DONE),
        Outcome(Do.SETTLE, _A.PAUSED),
    ),
    "ending a wrap-up early while available is refused": (
        "AGENT_TABLE",
        (_A.AVAILABLE, _T.WRAP_DONE),
        Outcome(Do.REJECT, code="wrong_state"),
    ),
    "rona delay end logs out": (
        "AGENT_TABLE",
        (_A.PAUSED, _T.RONA_END),
        Outcome(Do.MOVE, _A.LOGGED_OUT),
    ),
    # also the row a pending logout is resolved through after a failed offer
    "logout while paused makes available": (
        "AGENT_TABLE",
        (_A.PAUSED, _T.LOGOUT),
        Outcome(Do.MOVE, _A.AVAILABLE),
    ),
    "logout while available pauses": (
        "AGENT_TABLE",
        (_A.AVAILABLE, _T.LOGOUT),
        Outcome(Do.MOVE, _A.PAUSED),
    ),
    "hang-up skips wrap-up": ("AGENT_TABLE", (_A.BUSY, _T.HANG_UP), Outcome(Do.MOVE, _A.AVAILABLE)),
    "pause while logged out is ignored": (
        "AGENT_TABLE",
        (_A.LOGGED_OUT, _T.PAUSE),
        Outcome(Do.IGNORE),
    ),
    "answer leaves the call offered": (
        "CALL_TABLE",
        (_C.OFFERED, _K.ANSWER),
        Outcome(Do.MOVE, _C.OFFERED),
    ),
    "abandon while offered is refused": (
        "CALL_TABLE",
        (_C.OFFERED, _K.ABANDON),
        Outcome(Do.REJECT, code="wrong_state"),
    ),
    "restored wrap-up comes back available": (
        "AGENT_TABLE",
        (_A.LOGGED_OUT, _T.RESTORE_WRAP),
        Outcome(Do.MOVE, _A.AVAILABLE),
    ),
    "restored pause comes back available": (
        "AGENT_TABLE",
        (_A.LOGGED_OUT, _T.RESTORE_PAUSE),
        Outcome(Do.MOVE, _A.AVAILABLE),
    ),
    "restored idle agent is refused": (
        "AGENT_TABLE",
        (_A.LOGGED_OUT, _T.RESTORE_IDLE),
        Outcome(Do.REJECT, code="agent_logged_in"),
    ),
    "restored call settles to paused": (
        "AGENT_TABLE",
        (_A.LOGGED_OUT, _T.RESTORE_CALL),
        Outcome(Do.SETTLE, _A.PAUSED),
    ),
    "restore over a paused agent re-pauses it": (
        "AGENT_TABLE",
        (_A.PAUSED, _T.RESTORE_PAUSE),
        Outcome(Do.MOVE, _A.PAUSED),
    ),
    "adopting an offer onto a paused agent is refused": (
        "AGENT_TABLE",
        (_A.PAUSED, _T.ADOPT_OFFERED),
        Outcome(Do.REJECT, code="agent_busy"),
    ),
    "an adopted connected call leaves its agent reserved": (
        "AGENT_TABLE",
        (_A.LOGGED_OUT, _T.ADOPT_CONNECTED),
        Outcome(Do.MOVE, _A.RESERVED),
    ),
    "an adopted offer makes an available agent busy": (
        "AGENT_TABLE",
        (_A.AVAILABLE, _T.ADOPT_OFFERED),
        Outcome(Do.MOVE, _A.BUSY),
    ),
    "a transfer leaves the agent busy": (
        "AGENT_TABLE",
        (_A.BUSY, _T.TRANSFER),
        Outcome(Do.MOVE, _A.BUSY),
    ),
    "a handed-over call waits": (
        "CALL_TABLE",
        (_C.CONNECTED, _K.HAND_OVER),
        Outcome(Do.MOVE, _C.WAITING),
    ),
    "a transferred call stays connected": (
        "CALL_TABLE",
        (_C.CONNECTED, _K.TRANSFER),
        Outcome(Do.MOVE, _C.CONNECTED),
    ),
    "adopting a waiting call is refused": (
        "CALL_TABLE",
        (_C.WAITING, _K.ADOPT_WAITING),
        Outcome(Do.REJECT, code="wrong_state"),
    ),
}
#: A fixed stream (default pools) on which every drift above shows within 400 events.
DRIFT_SEED, DRIFT_STEPS = 33, 400


def test_the_fixed_stream_agrees_under_the_real_tables() -> None:
    assert first_difference(random.Random(DRIFT_SEED), DRIFT_STEPS) is None


@pytest.mark.parametrize(("table", "key", "changed"), list(DRIFTS.values()), ids=list(DRIFTS))
def test_a_changed_table_row_makes_the_routers_disagree(
    monkeypatch: pytest.MonkeyPatch,
    table: str,
    key: tuple[AgentState, AgentTrigger] | tuple[CallState, CallTrigger],
    changed: Outcome[AgentState] | Outcome[CallState],
) -> None:
    """The indexed Router takes its next states from the tables (read when it is built), the
    ReferenceRouter states them on its own: a changed row must change the indexed router's
    decisions, and the comparison must see it. Were the router to ignore the table, or the
    reference to read it, the two would agree and this would fail."""
    original = getattr(states, table)
    assert original[key] != changed
    monkeypatch.setattr(states, table, MappingProxyType({**original, key: changed}))
    found = first_difference(random.Random(DRIFT_SEED), DRIFT_STEPS)
    assert found is not None, f"{table}[{key}] = {changed} went unnoticed"

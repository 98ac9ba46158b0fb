"""The transition table in `acd.router.states` and the invariant checker that guards the indexes."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import pytest

from acd.router import events as ev
from acd.router import states
from acd.router.model import AgentState, CallState, QueueConfig, frozen_skills
from acd.router.router import Router
from acd.router.states import (
    AGENT_TABLE,
    CALL_TABLE,
    AgentTrigger,
    CallTrigger,
    Do,
    Outcome,
    agent_outcome,
    call_outcome,
)

#: Triggers that come from outside (events): every state must have an answer for them.
EXTERNAL = (
    AgentTrigger.LOGIN,
    AgentTrigger.LOGOUT,
    AgentTrigger.PAUSE,
    AgentTrigger.UNPAUSE,
    AgentTrigger.REMOVE,
    AgentTrigger.WRAP_DONE,
    AgentTrigger.RESTORE_IDLE,
    AgentTrigger.RESTORE_PAUSE,
    AgentTrigger.RESTORE_WRAP,
    AgentTrigger.RESTORE_CALL,
    AgentTrigger.ADOPT_OFFERED,
    AgentTrigger.ADOPT_CONNECTED,
)


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("trigger", EXTERNAL)
def test_every_state_answers_every_external_trigger(
    state: AgentState, trigger: AgentTrigger
) -> None:
    assert (state, trigger) in AGENT_TABLE


def test_requests_during_a_call_are_deferred_and_removal_is_refused() -> None:
    for state in (AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP):
        assert agent_outcome(state, AgentTrigger.LOGOUT).do == Do.DEFER
        assert agent_outcome(state, AgentTrigger.PAUSE).do == Do.DEFER
        assert agent_outcome(state, AgentTrigger.UNPAUSE).do == Do.CANCEL
        removal = agent_outcome(state, AgentTrigger.REMOVE)
        assert (removal.do, removal.code) == (Do.REJECT, "agent_busy")


def test_undefined_pairs_are_wrong_state() -> None:
    outcome = agent_outcome(AgentState.LOGGED_OUT, AgentTrigger.ANSWER)
    assert (outcome.do, outcome.code) == (Do.REJECT, "wrong_state")
    ended_early = call_outcome(CallState.WAITING, CallTrigger.END)
    assert (ended_early.do, ended_early.code) == (Do.REJECT, "wrong_state")
    assert call_outcome(CallState.OFFERED, CallTrigger.FAIL).target == CallState.WAITING


def _drawn(title: str, state_type: type[enum.StrEnum]) -> dict[tuple[str, str], str]:
    """The cells of the table drawn under `title` in the states module's docstring."""
    lines = (states.__doc__ or "").splitlines()
    values = {s.value for s in state_type}
    start = next(
        i
        for i, line in enumerate(lines)
        if line.split()[:1] == [title] and set(line.split()[1:]) == values
    )
    columns = lines[start].split()[1:]
    cells: dict[tuple[str, str], str] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        trigger, *row = line.split()
        assert len(row) == len(columns), line
        cells.update(((state, trigger), cell) for state, cell in zip(columns, row, strict=True))
    return cells


def _cell(outcome: Outcome[AgentState] | Outcome[CallState] | None) -> str:
    if outcome is None:
        return "."
    if outcome.do == Do.IGNORE:
        return "-"
    if outcome.do == Do.REJECT:
        return "rej"
    if outcome.do in (Do.DEFER, Do.CANCEL):
        return outcome.do.value
    target = "gone" if outcome.target is None else outcome.target.value
    return f"settle:{target}" if outcome.do == Do.SETTLE else target


@pytest.mark.parametrize(
    ("title", "table", "state_type", "trigger_type"),
    [
        ("agent", AGENT_TABLE, AgentState, AgentTrigger),
        ("call", CALL_TABLE, CallState, CallTrigger),
    ],
)
def test_the_docstring_drawings_are_the_tables(
    title: str,
    table: Mapping[tuple[enum.StrEnum, enum.StrEnum], Outcome[AgentState] | Outcome[CallState]],
    state_type: type[enum.StrEnum],
    trigger_type: type[enum.StrEnum],
) -> None:
    expected = {
        (s.value, t.name): _cell(table.get((s, t))) for s in state_type for t in trigger_type
    }
    assert _drawn(title, state_type) == expected


def _router_with_traffic() -> Router:
    router = Router()
    router.handle(ev.QueueUpserted(0, QueueConfig("q", frozen_skills({"x": 1}))))
    for agent_id in ("a1", "a2"):
        router.handle(ev.AgentUpserted(0, agent_id, frozen_skills({"x": 2})))
        router.handle(ev.AgentLoggedIn(0, agent_id))
    router.handle(ev.AgentPaused(0, "a2", "lunch"))
    router.handle(ev.CallArrived(1, "c1", "q"))
    router.handle(ev.CallArrived(1, "c2", "q"))
    router._check()
    return router


def test_check_notices_a_corrupted_count() -> None:
    router = _router_with_traffic()
    router._agents["a1"].cls.logged_in += 1
    with pytest.raises(AssertionError):
        router._check()


def test_check_notices_a_lost_waiting_entry() -> None:
    router = _router_with_traffic()
    call = router._calls["c2"]
    assert call.reqset is not None
    call.reqset.waiting.clear()
    with pytest.raises(AssertionError):
        router._check()


def test_check_notices_a_broken_dispatch_invariant() -> None:
    router = _router_with_traffic()
    a2 = router._agents["a2"]
    a2.state = AgentState.AVAILABLE
    a2.pause_reason = None
    router._add_dispatchable(a2)  # available while c2 waits: dispatch was skipped
    with pytest.raises(AssertionError, match="waits while an agent could take it"):
        router._check()

"""POST /api/v1/agents/{id}/end_wrap_up: the agent is done with its wrap-up before the queue's
wrap_up time is over (the agent panel's "done")."""

from __future__ import annotations

import pytest
from api_support import Api, issue

from acd.compose import Assembly
from acd.router.events import CallArrived, CallEnded, OfferAnswered, Tick

A = "/api/v1/agents"


async def _wrapping_up(api: Api, assembly: Assembly, call_id: str = "c1") -> None:
    """1002 (sales, wrap_up 5 s) has just finished a call."""
    engine = assembly.engine
    await api.post(f"{A}/1002/login")
    await engine.submit(lambda now: CallArrived(now, call_id, "sales"))
    await engine.submit(lambda now: OfferAnswered(now, call_id, "1002"))
    await engine.submit(lambda now: CallEnded(now, call_id))
    _, agent = await api.get(f"{A}/1002")
    assert agent["state"] == "wrap_up"


async def test_the_agent_is_available_at_once(api: Api, assembly: Assembly) -> None:
    await _wrapping_up(api, assembly)
    before = assembly.engine.now()
    status, state = await api.post(f"{A}/1002/end_wrap_up")
    assert status == 200
    assert (state["id"], state["state"], state["pending"]) == ("1002", "available", None)
    assert state["idle_since"] >= before  # a new idle period starts now
    # The wrap-up's deadline is dead: passing it changes nothing.
    await assembly.engine.submit(lambda now: Tick(now + 10))
    _, agent = await api.get(f"{A}/1002")
    assert agent["state"] == "available"


async def test_a_waiting_call_is_offered_when_the_wrap_up_ends(
    api: Api, assembly: Assembly
) -> None:
    await _wrapping_up(api, assembly)
    await assembly.engine.submit(lambda now: CallArrived(now, "c2", "sales"))
    status, state = await api.post(f"{A}/1002/end_wrap_up")
    assert (status, state["state"], state["call_id"]) == (200, "reserved", "c2")


async def test_a_pending_pause_applies(api: Api, assembly: Assembly) -> None:
    await _wrapping_up(api, assembly)
    status, state = await api.post(f"{A}/1002/pause", {"reason": "2"})
    assert (status, state["state"], state["pending"]) == (200, "wrap_up", "pause")
    status, state = await api.post(f"{A}/1002/end_wrap_up")
    assert (status, state["state"], state["pause_reason"]) == (200, "paused", "2")


async def test_outside_wrap_up_nothing_changes(api: Api) -> None:
    status, error = await api.post(f"{A}/1001/end_wrap_up")
    assert (status, error["error"]["code"]) == (409, "agent_not_logged_in")
    await api.post(f"{A}/1001/login")
    status, state = await api.post(f"{A}/1001/end_wrap_up")
    assert (status, state["state"]) == (200, "available")
    await api.post(f"{A}/1001/pause", {"reason": "lunch"})
    status, state = await api.post(f"{A}/1001/end_wrap_up")
    assert (status, state["state"], state["pause_reason"]) == (200, "paused", "lunch")
    status, error = await api.post(f"{A}/nobody/end_wrap_up")
    assert (status, error["error"]["code"]) == (404, "unknown_agent")


@pytest.mark.parametrize(("role", "agent_id", "allowed"), [
    ("agent", "1002", True), ("agent", "1001", False), ("supervisor", None, True),
    ("reader", None, False),
])  # fmt: skip
async def test_who_may_end_a_wrap_up(
    api: Api, assembly: Assembly, role: str, agent_id: str | None, allowed: bool
) -> None:
    await _wrapping_up(api, assembly)
    caller = api.as_token(await issue(api, "someone", role, agent_id))
    status, body = await caller.post(f"{A}/1002/end_wrap_up")
    if allowed:
        assert (status, body["state"]) == (200, "available")
    else:
        assert (status, body["error"]["code"]) == (403, "forbidden")

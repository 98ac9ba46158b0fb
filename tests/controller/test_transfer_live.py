"""Blind transfers on the real Asterisk: the caller (a Local channel into acd-inbound) is
taken out of the bridge with the first agent into the wait loop of the target queue, and a
simulated specialist answers it. Nothing is faked; the service is the one the API uses."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from acd.errors import DomainError
from acd.router.decisions import AgentStateChanged, CallExited, CallRequeued
from acd.router.events import AgentPaused, AgentUnpaused, OfferAnswered
from acd.router.model import AgentState, CallState
from acd.service.tokens import Principal
from acd.service.transfer import TransferService

from .harness import Acd, Caller

pytestmark = pytest.mark.asterisk

ADMIN = Principal("test", "admin")


def transfers(acd: Acd) -> TransferService:
    """The harness's service, attached to its controller as `acd serve` attaches it."""
    return acd.transfers


async def talking(acd: Acd, caller: Caller, agent_id: str, since: int = 0) -> None:
    await acd.steps.event(
        lambda e: (
            isinstance(e, OfferAnswered) and e.call_id == caller.call_id and e.agent_id == agent_id
        ),
        since=since,
    )


async def agent_leg_hangup(acd: Acd, agent_id: str, since: int) -> Any:
    return await acd.ami_events.first(
        lambda m: (
            m.get("Event") == "Hangup"
            and m.get("Channel", "").startswith(f"Local/{agent_id}@acd-sim-agent-")
        ),
        since=since,
    )


async def test_a_transferred_caller_hears_music_keeps_its_place_and_reaches_the_specialist(
    acd: Acd,
) -> None:
    await acd.queue("first", skills={"general": 1}, wrap_up=30.0)
    await acd.queue("second", skills={"billing": 3})
    await acd.agent("2001", skills={"general": 1})
    await acd.agent("2002", skills={"billing": 5})
    await acd.engine.submit(lambda now: AgentPaused(now, "2002", "lunch"))
    early = await acd.call("first", talk=60, variables={"ACD_CALLER_DATA": "order 42"})
    await talking(acd, early, "2001")
    later = await acd.call("second", talk=60)  # waits: the specialist is paused
    channel = await acd.channel_of(early.call_id)
    events_mark, steps_mark = acd.ami_events.mark(), acd.steps.mark()

    outcome = await transfers(acd).transfer(
        ADMIN, early.call_id, {"queue": "second", "note": "refund please", "keep_place": True}
    )

    assert (outcome.state, outcome.from_agent, outcome.to_queue) == ("waiting", "2001", "second")
    # The first agent is freed at once: wrap-up, and Asterisk hangs its leg up.
    await acd.steps.decision(
        lambda d: (
            isinstance(d, AgentStateChanged)
            and d.agent_id == "2001"
            and d.state is AgentState.WRAP_UP
        ),
        since=steps_mark,
    )
    await agent_leg_hangup(acd, "2001", events_mark)
    # The caller is in the target queue's wait loop, with music, and still on the line.
    await acd.ami_events.first(
        lambda m: m.get("Event") == "MusicOnHoldStart" and m.get("Channel") == channel,
        since=events_mark,
    )
    assert await acd.getvar(early.call_id, "ACD_QUEUE") == "second"
    assert await acd.getvar(early.call_id, "ACD_TRANSFER_NOTE") == "refund please"
    assert await acd.getvar(early.call_id, "ACD_CALLER_DATA") == "order 42"
    assert acd.router.position(early.call_id) == 1  # ahead of the later caller: place kept
    assert acd.router.position(later.call_id) == 2

    mark = acd.steps.mark()
    await acd.engine.submit(lambda now: AgentUnpaused(now, "2002"))
    await talking(acd, early, "2002", since=mark)
    view = acd.router.call(early.call_id)
    assert view is not None
    assert view.state is CallState.CONNECTED
    assert view.queue == "second"
    agent = acd.router.agent("2001")
    assert agent is not None
    assert agent.state is AgentState.WRAP_UP


async def test_a_transfer_straight_to_a_free_specialist_rings_it_without_a_wait(
    acd: Acd,
) -> None:
    await acd.queue("first", skills={"general": 1})
    await acd.queue("second", skills={"billing": 3})
    await acd.agent("2001", skills={"general": 1})
    await acd.agent("2002", skills={"billing": 5})
    caller = await acd.call("first", talk=60)
    await talking(acd, caller, "2001")
    mark, events_mark = acd.steps.mark(), acd.ami_events.mark()
    outcome = await transfers(acd).transfer(
        ADMIN, caller.call_id, {"queue": "second", "skills": {"billing": 4}}
    )
    assert (outcome.state, outcome.offered_to) == ("offered", "2002")
    await talking(acd, caller, "2002", since=mark)
    await agent_leg_hangup(acd, "2001", events_mark)
    # One Redirect moved the caller (into acd-deliver), none into the wait loop.
    dials = [
        m
        for m in acd.ami_events.seen[events_mark:]
        if m.get("Event") == "DialBegin" and m.get("Uniqueid") == caller.call_id
    ]
    assert [d["DestChannel"].split("-")[0] for d in dials] == ["Local/2002@acd"]


async def test_a_transfer_to_a_queue_nobody_can_serve_follows_its_join_empty_rule(
    acd: Acd,
) -> None:
    await acd.queue("first", skills={"general": 1})
    await acd.queue("legal", skills={"legal": 1}, join_empty=False)
    await acd.agent("2001", skills={"general": 1})
    caller = await acd.call("first", talk=60)
    await talking(acd, caller, "2001")
    mark, events_mark = acd.steps.mark(), acd.ami_events.mark()
    outcome = await transfers(acd).transfer(ADMIN, caller.call_id, {"queue": "legal"})
    assert (outcome.state, outcome.exit_reason) == ("exited", "join_empty")
    await acd.steps.decision(
        lambda d: isinstance(d, CallExited) and d.reason == "join_empty", since=mark
    )
    # Sent out of the bridge to "after the wait" (acd-queue's exit), not to the wait loop.
    left = await acd.ami_events.first(
        lambda m: m.get("Event") == "BridgeLeave" and m.get("Uniqueid") == caller.call_id,
        since=events_mark,
    )
    assert left["Context"] == "acd-queue"
    assert acd.router.call(caller.call_id) is None
    assert any(isinstance(d, CallRequeued) for s in acd.steps.seen[mark:] for d in s.decisions)


async def test_a_caller_hanging_up_as_the_transfer_lands_is_not_left_waiting(acd: Acd) -> None:
    await acd.queue("first", skills={"general": 1})
    await acd.queue("second", skills={"billing": 3})
    await acd.agent("2001", skills={"general": 1})
    caller = await acd.call("first", talk=60)
    await talking(acd, caller, "2001")
    service = transfers(acd)
    hangup = asyncio.create_task(acd.hangup(caller))
    # The hang-up may win: then the call is not bridged any more (503) or not live (404).
    with contextlib.suppress(DomainError):
        await service.transfer(ADMIN, caller.call_id, {"queue": "second"})
    await hangup
    for _ in range(100):
        if acd.router.call(caller.call_id) is None:
            break
        await asyncio.sleep(0.05)
    assert acd.router.call(caller.call_id) is None
    assert acd.controller is not None
    assert acd.controller.tracker.get(caller.call_id) is None

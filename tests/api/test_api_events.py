from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientResponse
from api_support import ADMIN_TOKEN, Api

from acd.compose import Assembly
from acd.engine import Step
from acd.router.decisions import AgentStateChanged, CallRequeued
from acd.router.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentRestored,
    CallArrived,
    CallTransferred,
)
from acd.router.model import AgentState
from api.events import EventHub, step_messages

E = "/api/v1/events"


async def _next_event(response: ClientResponse) -> tuple[str, dict[str, Any]]:
    """Read one SSE message (skipping comments) within a deadline."""
    fields: dict[str, str] = {}
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line == "" and "data" in fields:
            return fields["event"], json.loads(fields["data"])
        if line and not line.startswith(":"):
            key, _, value = line.partition(": ")
            fields[key] = value


async def test_stream_delivers_agent_and_call_changes(api: Api, assembly: Assembly) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with api.client.get(E, headers=headers) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        assert await response.content.readline() == b": connected\n"
        status, _ = await api.post("/api/v1/agents/1001/login")
        assert status == 200
        kind, data = await _next_event(response)
        assert (kind, data["agent_id"], data["state"]) == ("agent", "1001", "available")
        assert data["state_since"] == data["at"]

        await assembly.engine.submit(lambda now: CallArrived(now, "c1", "support"))
        seen = [await _next_event(response) for _ in range(3)]
        assert [(k, d.get("state")) for k, d in seen] == [
            ("call", "waiting"),
            ("agent", "reserved"),
            ("call", "offered"),
        ]
        assert seen[2][1]["agent_id"] == "1001"


def test_a_restored_agent_message_says_the_stored_state_since() -> None:
    restored = Step(
        AgentRestored(100.0, "1001", AgentState.PAUSED, "lunch", 40.0, state_since=60.0),
        [AgentStateChanged("1001", AgentState.PAUSED, "lunch", 40.0, 100.0, state_since=60.0)],
    )
    [(kind, data)] = step_messages(restored)
    assert (kind, data["state"], data["at"], data["state_since"]) == ("agent", "paused", 100, 60)


async def test_stream_needs_a_token(api: Api) -> None:
    status, _ = await api.get(E, token=None)
    assert status == 401


def _login_step(n: int) -> Step:
    return Step(
        AgentLoggedIn(float(n), "1001"),
        [AgentStateChanged("1001", AgentState.AVAILABLE, None, float(n), float(n))],
    )


async def test_a_slow_subscriber_is_dropped_and_others_keep_receiving() -> None:
    hub = EventHub(buffer_size=2)
    slow, fast = hub.subscribe(), hub.subscribe()
    for n in range(3):
        hub.on_step(_login_step(n))
        while not fast.buffer.empty():
            assert fast.buffer.get_nowait() is not None
    assert slow.dropped
    assert slow.buffer.get_nowait() is None  # its stream ends
    assert not fast.dropped
    # Its slot counts until its handler is done (it may still be in a write).
    assert hub.subscriber_count == 2
    hub.unsubscribe(slow)
    assert hub.subscriber_count == 1
    hub.on_step(_login_step(3))  # a dropped one is not offered more


async def test_an_unread_subscriber_never_holds_up_the_engine(assembly: Assembly) -> None:
    hub = assembly.services.events
    unread = hub.subscribe()
    for n in range(1200):  # one message each: more than the 1000-message buffer
        event = AgentLoggedIn if n % 2 == 0 else AgentLoggedOut
        await assembly.engine.submit(lambda now, e=event: e(now, "1002"))
    assert unread.dropped
    assert unread.buffer.get_nowait() is None
    assert hub.subscriber_count == 1  # until its handler unsubscribes
    hub.unsubscribe(unread)
    assert hub.subscriber_count == 0
    view = assembly.engine.router.agent("1002")
    assert view is not None
    assert view.state is AgentState.LOGGED_OUT


def test_a_transfer_says_the_call_waits_again_in_its_new_queue() -> None:
    """A stream client must not keep the call 'connected' to the agent it left."""
    step = Step(
        CallTransferred(50.0, "c1", "sales", keep_place=True),
        [
            AgentStateChanged("1001", AgentState.WRAP_UP, None, 10.0, 50.0),
            CallRequeued("c1", "support", "sales", "1001", True, 50.0),
        ],
    )
    messages = step_messages(step)
    assert ("call", "transferred") in [(kind, data.get("state")) for kind, data in messages]
    data = next(d for k, d in messages if d.get("state") == "transferred")
    assert (data["call_id"], data["queue"], data["from_queue"]) == ("c1", "sales", "support")
    assert (data["from_agent"], data["keep_place"], data["at"]) == ("1001", True, 50.0)

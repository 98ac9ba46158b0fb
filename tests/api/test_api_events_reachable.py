"""/events tells a page when an agent's phone becomes unreachable or reachable again, so it
never polls for it: an agent message with `reachable` and no `state`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientResponse
from api_support import ADMIN_TOKEN, Api

from acd.compose import Assembly
from acd.router.events import AgentReachabilityChanged

E = "/api/v1/events"


async def _next_event(response: ClientResponse) -> tuple[str, dict[str, Any]]:
    fields: dict[str, str] = {}
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line == "" and "data" in fields:
            return fields["event"], json.loads(fields["data"])
        if line and not line.startswith(":"):
            key, _, value = line.partition(": ")
            fields[key] = value


async def _reach(assembly: Assembly, agent_id: str, reachable: bool) -> float:
    at: list[float] = []

    def event(now: float) -> AgentReachabilityChanged:
        at.append(now)
        return AgentReachabilityChanged(now, agent_id, reachable)

    await assembly.engine.submit(event)
    return at[0]


async def test_a_change_of_reachability_is_an_agent_message(api: Api, assembly: Assembly) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with api.client.get(E, headers=headers) as response:
        assert await response.content.readline() == b": connected\n"
        at = await _reach(assembly, "1001", False)
        assert await _next_event(response) == (
            "agent",
            {"agent_id": "1001", "reachable": False, "at": at},
        )
        # Told again what it already said (the controller re-reports every device after an
        # AMI reconnect): nothing new, so no message — the next one is the login's.
        await _reach(assembly, "1001", False)
        await api.post("/api/v1/agents/1001/login")
        kind, data = await _next_event(response)
        assert (kind, data["state"]) == ("agent", "available")
        at = await _reach(assembly, "1001", True)
        assert await _next_event(response) == (
            "agent",
            {"agent_id": "1001", "reachable": True, "at": at},
        )
        _, agent = await api.get("/api/v1/agents/1001")
        assert agent["reachable"] is True


async def test_an_unknown_agent_and_a_new_agent_of_an_old_id(api: Api, assembly: Assembly) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with api.client.get(E, headers=headers) as response:
        assert await response.content.readline() == b": connected\n"
        await _reach(assembly, "ghost", False)  # rejected by the router: nothing to tell
        await _reach(assembly, "1002", False)
        kind, data = await _next_event(response)
        assert (kind, data["agent_id"], data["reachable"]) == ("agent", "1002", False)
        assert (await api.delete("/api/v1/agents/1002"))[0] == 204
        status, _ = await api.post(
            "/api/v1/agents", {"id": "1002", "contact": "PJSIP/1002", "skills": {}}
        )
        assert status == 201
        # The new 1002 starts reachable; its phone going offline is news again.
        at = await _reach(assembly, "1002", False)
        assert await _next_event(response) == (
            "agent",
            {"agent_id": "1002", "reachable": False, "at": at},
        )

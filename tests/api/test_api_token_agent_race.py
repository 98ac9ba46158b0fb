"""POST /tokens for an agent racing DELETE /agents/{id} of that agent, through the real wiring
and SQLite: whichever way they interleave, no token of the deleted agent is left that works
(it would control the next agent created with that id)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import Api, make_settings

from acd.compose import Assembly, assemble

T = "/api/v1/tokens"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Api, Assembly]]:
    assembly = await assemble(make_settings(tmp_path))
    client: TestClient[Any, Any] = TestClient(TestServer(assembly.app))
    await client.start_server()
    try:
        yield Api(client), assembly
    finally:
        await client.close()
        await assembly.close()


async def _no_token_of(api: Api, agent_id: str, secret: str | None) -> None:
    status, tokens = await api.get(T)
    assert status == 200
    assert [t["name"] for t in tokens if t.get("agent_id") == agent_id] == []
    if secret is not None:
        assert (await api.get("/api/v1/agents", token=secret))[0] == 401


async def test_a_token_stored_after_its_agent_was_deleted_is_not_kept(
    served: tuple[Api, Assembly], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue checked the agent, then its write lands after the whole delete."""
    api, assembly = served
    store = assembly.database.config
    add_token = store.add_token
    deleted = asyncio.Event()

    async def late_add(*args: Any, **kwargs: Any) -> None:
        await deleted.wait()
        await add_token(*args, **kwargs)

    monkeypatch.setattr(store, "add_token", late_add)
    body = {"name": "ada-phone", "role": "agent", "agent_id": "1001"}
    posting = asyncio.create_task(api.post(T, body))
    await asyncio.sleep(0.1)
    assert (await api.delete("/api/v1/agents/1001"))[0] == 204
    deleted.set()
    status, answer = await posting
    secret = answer.get("token") if status == 201 else None
    await _no_token_of(api, "1001", secret)
    assert (status, answer["error"]["code"]) == (404, "unknown_agent"), answer


async def test_a_token_issued_while_the_agent_is_being_deleted_is_not_kept(
    served: tuple[Api, Assembly], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete stalls before revoking the agent's tokens; the issue runs meanwhile."""
    api, assembly = served
    store = assembly.database.config
    delete_agent_tokens = store.delete_agent_tokens
    issued = asyncio.Event()

    async def late_revoke(agent_id: str) -> Any:
        await issued.wait()
        return await delete_agent_tokens(agent_id)

    monkeypatch.setattr(store, "delete_agent_tokens", late_revoke)
    deleting = asyncio.create_task(api.delete("/api/v1/agents/1001"))
    await asyncio.sleep(0.1)
    status, answer = await api.post(T, {"name": "ada-phone", "role": "agent", "agent_id": "1001"})
    issued.set()
    assert (await deleting)[0] == 204
    secret = answer.get("token") if status == 201 else None
    await _no_token_of(api, "1001", secret)

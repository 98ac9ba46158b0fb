"""Token lifecycles through the real wiring and real SQLite: the configured token is replaced
when it changes, an agent's tokens die with the agent, and a leaked token table does not give
the configured (person-chosen) secret away."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from api_support import Api, issue, make_settings
from sqlalchemy import select

from acd.compose import Assembly, assemble
from acd.storage.tables import api_tokens
from acd.storage.token_hash import slow_hash, verify_slow
from api import events

Q = "/api/v1/queues"
E = "/api/v1/events"
OLD = "the-first-admin-token-chosen-by-a-person"
NEW = "the-second-admin-token-chosen-by-a-person"


@asynccontextmanager
async def running(var_dir: Path, token: str) -> AsyncIterator[tuple[Api, Assembly]]:
    assembly = await assemble(replace(make_settings(var_dir), api_token=token))
    client: TestClient[object, object] = TestClient(TestServer(assembly.app))
    await client.start_server()
    try:
        yield Api(client, token or None), assembly
    finally:
        await client.close()
        await assembly.close()


async def _status(api: Api, token: str, path: str = Q) -> int:
    status, _ = await api.get(path, token=token)
    return status


async def test_a_changed_env_token_replaces_the_old_one(tmp_path: Path) -> None:
    async with running(tmp_path, OLD) as (api, _):
        assert await _status(api, OLD) == 200
    async with running(tmp_path, NEW) as (api, _):
        assert await _status(api, NEW) == 200
        assert await _status(api, OLD) == 401, "the previous ACD_API_TOKEN still works"
        _, tokens = await api.get("/api/v1/tokens")
        assert [t["name"] for t in tokens] == ["ACD_API_TOKEN"]
    async with running(tmp_path, "") as (api, _):
        assert await _status(api, NEW) == 401, "an unset ACD_API_TOKEN still works"


async def test_env_tokens_kept_by_earlier_versions_are_revoked(tmp_path: Path) -> None:
    """Earlier versions added each new env token beside the old ones (ACD_API_TOKEN-2, …)."""
    async with running(tmp_path, "") as (_, assembly):
        await assembly.database.config.add_token("ACD_API_TOKEN", "admin", OLD)
        await assembly.database.config.add_token("ACD_API_TOKEN-2", "admin", NEW)
    latest = "the-third-admin-token-chosen-by-a-person"
    async with running(tmp_path, latest) as (api, _):
        assert await _status(api, latest) == 200
        assert await _status(api, OLD) == 401
        assert await _status(api, NEW) == 401


async def test_deleting_an_agent_revokes_its_tokens(tmp_path: Path) -> None:
    async with running(tmp_path, OLD) as (api, _):
        phone = api.as_token(await issue(api, "ada-phone", "agent", "1001"))
        status, _ = await phone.post("/api/v1/agents/1001/login")
        assert status == 200
        status, _ = await phone.post("/api/v1/agents/1001/logout")
        assert status == 200
        status, _ = await api.delete("/api/v1/agents/1001")
        assert status == 204
        assert await _status(phone, phone.token or "") == 401, "a deleted agent's token works"
        status, _ = await api.post(
            "/api/v1/agents", {"id": "1001", "name": "Someone else", "contact": "PJSIP/1001"}
        )
        assert status == 201
        status, _ = await phone.post("/api/v1/agents/1001/login")
        assert status == 401, "the old agent's token controls the new agent 1001"
        status, tokens = await api.get("/api/v1/tokens")
        assert "ada-phone" not in [t["name"] for t in tokens]


async def test_tokens_of_agents_deleted_before_are_revoked_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An older database: the agent was deleted and its token kept."""
    async with running(tmp_path, OLD) as (api, assembly):
        secret = await issue(api, "bob-phone", "agent", "1002")
        await assembly.database.config.delete_agent("1002")
    with caplog.at_level(logging.WARNING):
        async with running(tmp_path, OLD) as (api, assembly):
            assert await _status(api, secret) == 401
            status, _ = await api.post(
                "/api/v1/agents", {"id": "1002", "name": "New Bob", "contact": "PJSIP/1002"}
            )
            assert status == 201
            status, _ = await api.post("/api/v1/agents/1002/login", token=secret)
            assert status == 401
    assert any("bob-phone" in r.getMessage() for r in caplog.records), caplog.text


async def test_the_env_token_is_stored_under_a_slow_salted_hash(tmp_path: Path) -> None:
    async with running(tmp_path, OLD) as (api, assembly):
        issued = await issue(api, "wall", "reader")
        async with assembly.database.engine.connect() as conn:
            rows = {r.name: r.secret_hash for r in (await conn.execute(select(api_tokens))).all()}
    stored = rows["ACD_API_TOKEN"]
    # A dictionary check with any fast digest does not find it.
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        assert hashlib.new(algorithm, OLD.encode()).hexdigest() not in stored
    assert OLD not in stored
    scheme, n, r, _, salt, key = stored.split("$")
    assert scheme == "scrypt"
    assert int(n) >= 2**14
    assert int(r) >= 8
    assert len(salt) >= 16
    assert key
    # Salted: the same secret hashed again gives another hash ...
    assert slow_hash(OLD) != stored
    # ... but a start with the same secret keeps the stored row: the nodes of a cluster share
    # the store, and each compares with the hash it found (a new salt would lock them out).
    async with running(tmp_path, OLD) as (api, assembly):
        async with assembly.database.engine.connect() as conn:
            again = await conn.scalar(
                select(api_tokens.c.secret_hash).where(api_tokens.c.name == "ACD_API_TOKEN")
            )
        assert again == stored
        # Issued tokens are random: they keep the fast digest and still authenticate.
        assert rows["wall"] == hashlib.sha256(issued.encode()).hexdigest()
        assert await _status(api, issued) == 200
        assert await _status(api, OLD) == 200


async def test_the_slow_hash_is_paid_once_not_per_request(tmp_path: Path) -> None:
    started = time.monotonic()
    verify_slow(OLD, slow_hash(OLD))
    one_scrypt = (time.monotonic() - started) / 2
    async with running(tmp_path, OLD) as (api, _):
        assert await _status(api, OLD) == 200
        started = time.monotonic()
        for _ in range(40):
            assert await _status(api, OLD) == 200
        elapsed = time.monotonic() - started
        assert elapsed < 20 * one_scrypt, f"40 requests took {elapsed:.2f}s"
        # Revoked: the remembered secret goes with the row.
        status, _ = await api.delete("/api/v1/tokens/ACD_API_TOKEN")
        assert status == 204
        assert await _status(api, OLD) == 401


async def test_a_wrong_token_is_still_refused(tmp_path: Path) -> None:
    async with running(tmp_path, OLD) as (api, _):
        assert await _status(api, OLD + "x") == 401
        assert await _status(api, OLD[:-1]) == 401
        assert await _status(api, OLD) == 200


async def test_the_configured_name_is_reserved(tmp_path: Path) -> None:
    """An issued token under the configured name would be replaced or revoked at next start."""
    async with running(tmp_path, OLD) as (api, _):
        for name in ("ACD_API_TOKEN", "ACD_API_TOKEN-2"):
            status, error = await api.post("/api/v1/tokens", {"name": name, "role": "admin"})
            assert (status, error["error"]["code"]) == (409, "token_exists"), name


async def _ended(response: ClientResponse, within: float) -> bool:
    """Whether the event stream ends (EOF) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(response.content.readline(), 0.2)
        except TimeoutError:
            continue
        if line == b"":
            return True
    return False


async def test_an_open_stream_ends_with_its_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "RECHECK_SECONDS", 0.3)
    async with running(tmp_path, OLD) as (api, _):
        phone = await issue(api, "ada-phone", "agent", "1001")
        wall = await issue(api, "wall", "reader")
        streams = {}
        for name, secret in (("phone", phone), ("wall", wall), ("admin", OLD)):
            response = await api.client.get(E, headers={"Authorization": f"Bearer {secret}"})
            assert response.status == 200
            streams[name] = response
        status, _ = await api.delete("/api/v1/agents/1001")
        assert status == 204
        assert await _ended(streams["phone"], 3.0), "a deleted agent's stream goes on"
        status, _ = await api.delete("/api/v1/tokens/wall")
        assert status == 204
        assert await _ended(streams["wall"], 3.0), "a revoked token's stream goes on"
        assert not await _ended(streams["admin"], 1.0)
        for response in streams.values():
            response.close()

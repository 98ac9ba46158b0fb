"""A flood of wrong bearer tokens, on the real server and real SQLite, does not delay the
configured admin token or an issued one: no slow hash runs on the request path (the configured
token is compared in memory, issued ones are found by their SHA-256 index). Timings are
compared with one scrypt measured in the same test, never with fixed seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from api_support import Api, issue, make_settings
from sqlalchemy import select

from acd.compose import Assembly, assemble
from acd.storage import token_hash
from acd.storage.tables import api_tokens

Q = "/api/v1/queues"
ADMIN = "a-configured-admin-token-of-32-plus-chars"
FLOOD = 60
#: How many scrypts the admin may take under a flood. Behind the old queue it waited for
#: every pending wrong token (about FLOOD, or ~50 after a second of the sustained flood); a
#: loaded CI machine, with nothing queued, took 6.4 (0.25 s against 0.039 s).
SCRYPTS_ALLOWED = 15


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Api, Assembly]]:
    assembly = await assemble(replace(make_settings(tmp_path), api_token=ADMIN))
    client: TestClient[Any, Any] = TestClient(TestServer(assembly.app))
    await client.start_server()
    try:
        yield Api(client, ADMIN), assembly
    finally:
        await client.close()
        await assembly.close()


def _one_scrypt() -> float:
    stored = token_hash.slow_hash(ADMIN)
    started = time.perf_counter()
    token_hash.verify_slow("a-wrong-guess", stored)
    return time.perf_counter() - started


async def _timed(session: ClientSession, url: str, token: str) -> tuple[int, float]:
    started = time.perf_counter()
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        await response.read()
        return response.status, time.perf_counter() - started


async def test_a_flood_of_wrong_tokens_does_not_delay_the_admin_nor_an_issued_token(
    served: tuple[Api, Assembly], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, assembly = served
    wall = await issue(api, "wall", "reader")
    one_scrypt = _one_scrypt()
    slow_checks: list[str] = []
    verify = token_hash.verify_slow

    def counted(secret: str, stored: str) -> bool:
        slow_checks.append(secret)
        return verify(secret, stored)

    monkeypatch.setattr(token_hash, "verify_slow", counted)
    url = str(api.client.make_url(Q))
    async with ClientSession() as session:
        # The admin's first request since the start comes behind the flood.
        flood = [
            asyncio.create_task(_timed(session, url, f"wrong-token-{i}")) for i in range(FLOOD)
        ]
        await asyncio.sleep(0.05)
        admin = await _timed(session, url, ADMIN)
        issued = await _timed(session, url, wall)
        refused = await asyncio.gather(*flood)
    assert admin[0] == 200
    assert issued[0] == 200
    assert {status for status, _ in refused} == {401}
    assert slow_checks == [], f"{len(slow_checks)} scrypt runs on the request path"
    # Behind the old queue the admin waited ~FLOOD scrypts; now a few queries at most.
    allowed = SCRYPTS_ALLOWED * one_scrypt
    assert admin[1] < allowed, f"admin {admin[1]:.3f}s, one scrypt {one_scrypt:.3f}s"
    assert issued[1] < allowed, f"issued {issued[1]:.3f}s, one scrypt {one_scrypt:.3f}s"
    # At rest the configured token is still under salted scrypt.
    async with assembly.database.engine.connect() as conn:
        stored = await conn.scalar(
            select(api_tokens.c.secret_hash).where(api_tokens.c.name == "ACD_API_TOKEN")
        )
    assert stored is not None
    assert token_hash.is_slow(stored)
    assert verify(ADMIN, stored)


async def test_a_sustained_flood_does_not_starve_the_admin(
    served: tuple[Api, Assembly],
) -> None:
    """~50 wrong tokens a second for a while (the old queue grew without end past ~35/s):
    the admin's first request is answered while the flood goes on."""
    api, _ = served
    one_scrypt = _one_scrypt()
    url = str(api.client.make_url(Q))
    async with ClientSession() as session:
        pending: list[asyncio.Task[tuple[int, float]]] = []

        async def flood() -> None:
            for i in range(10**6):
                pending.append(asyncio.create_task(_timed(session, url, f"wrong-{i}")))
                await asyncio.sleep(0.02)

        flooding = asyncio.create_task(flood())
        try:
            await asyncio.sleep(1.0)
            status, took = await asyncio.wait_for(_timed(session, url, ADMIN), 30 * one_scrypt)
        finally:
            flooding.cancel()
            await asyncio.gather(flooding, *pending, return_exceptions=True)
    assert status == 200
    allowed = SCRYPTS_ALLOWED * one_scrypt
    assert took < allowed, f"admin {took:.3f}s under flood, one scrypt {one_scrypt:.3f}s"


async def test_a_revoked_configured_token_stops_working_until_the_next_start(
    tmp_path: Path, served: tuple[Api, Assembly]
) -> None:
    api, _ = served
    assert (await api.get(Q))[0] == 200
    assert (await api.delete("/api/v1/tokens/ACD_API_TOKEN"))[0] == 204
    assert (await api.get(Q))[0] == 401
    assert (await api.get(Q, token=ADMIN[:-1] + "x"))[0] == 401

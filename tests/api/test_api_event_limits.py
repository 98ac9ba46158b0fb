"""Concurrent `/events` streams are capped per token and in all, on the real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from api_openapi_check import validate_response
from api_support import ADMIN_TOKEN, Api, issue, make_settings

from acd.compose import Assembly, assemble
from acd.config import HttpSettings

E = "/api/v1/events"
PER_TOKEN, IN_ALL = 2, 3


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[tuple[Api, Assembly]]:
    http = HttpSettings(max_event_streams=IN_ALL, max_event_streams_per_token=PER_TOKEN)
    assembly = await assemble(replace(make_settings(tmp_path), http=http))
    client: TestClient[Any, Any] = TestClient(TestServer(assembly.app))
    await client.start_server()
    try:
        yield Api(client), assembly
    finally:
        await client.close()
        await assembly.close()


async def _open(api: Api, token: str) -> ClientResponse:
    response = await api.client.get(E, headers={"Authorization": f"Bearer {token}"})
    if response.status == 200:
        assert await asyncio.wait_for(response.content.readline(), 5) == b": connected\n"
    return response


async def _refused(api: Api, token: str, status: int, code: str) -> None:
    response = await _open(api, token)
    try:
        assert response.status == status, f"stream accepted over the cap ({response.status})"
        body = await response.json()
        assert body["error"]["code"] == code
        assert body["error"]["message"]
        validate_response("GET", E, response.status, response.content_type, body)
    finally:
        response.close()


async def test_one_stream_too_many_per_token_is_refused(capped: tuple[Api, Assembly]) -> None:
    api, _ = capped
    streams = [await _open(api, ADMIN_TOKEN) for _ in range(PER_TOKEN)]
    assert [s.status for s in streams] == [200] * PER_TOKEN
    await _refused(api, ADMIN_TOKEN, 429, "too_many_event_streams")
    other = await _open(api, await issue(api, "wall", "reader"))
    assert other.status == 200, "another token is held to the first one's cap"
    for s in [*streams, other]:
        s.close()


async def test_one_stream_too_many_in_all_is_refused(capped: tuple[Api, Assembly]) -> None:
    api, _ = capped
    tokens = [await issue(api, f"wall-{i}", "reader") for i in range(IN_ALL + 1)]
    streams = [await _open(api, token) for token in tokens[:IN_ALL]]
    assert [s.status for s in streams] == [200] * IN_ALL
    await _refused(api, tokens[IN_ALL], 503, "event_streams_exhausted")
    for s in streams:
        s.close()


async def test_a_closed_stream_frees_its_slot(capped: tuple[Api, Assembly]) -> None:
    api, assembly = capped
    streams = [await _open(api, ADMIN_TOKEN) for _ in range(PER_TOKEN)]
    await _refused(api, ADMIN_TOKEN, 429, "too_many_event_streams")
    streams[0].close()  # the client goes away without a word
    deadline = time.monotonic() + 3.0
    while True:
        again = await _open(api, ADMIN_TOKEN)
        if again.status == 200:
            break
        again.close()
        assert time.monotonic() < deadline, "a closed stream still holds its slot after 3 s"
        await asyncio.sleep(0.1)
    assert assembly.services.events.subscriber_count == PER_TOKEN
    for s in [*streams[1:], again]:
        s.close()


async def test_a_refused_stream_holds_no_slot(capped: tuple[Api, Assembly]) -> None:
    api, assembly = capped
    streams = [await _open(api, ADMIN_TOKEN) for _ in range(PER_TOKEN)]
    for _ in range(5):
        await _refused(api, ADMIN_TOKEN, 429, "too_many_event_streams")
    assert assembly.services.events.subscriber_count == PER_TOKEN
    for s in streams:
        s.close()

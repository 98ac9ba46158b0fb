"""An `/events` client that stops reading, on the real server over a real socket: while its
handler lives its slot counts against the caps, and a write it does not take ends the stream
within the write timeout (the connection closes, the slot is freed)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import ADMIN_TOKEN, make_settings

from acd.compose import Assembly, assemble
from acd.config import HttpSettings
from acd.engine import Step
from acd.router.events import CallArrived
from api import events

E = "/api/v1/events"
PER_TOKEN = 2
WRITE_TIMEOUT = 2.0
BIG = "c" * 60_000  # one message of ~60 kB: a few fill every buffer on the way


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Assembly]]:
    http = HttpSettings(max_event_streams=10, max_event_streams_per_token=PER_TOKEN)
    assembly = await assemble(replace(make_settings(tmp_path), http=http))
    client: TestClient[Any, Any] = TestClient(TestServer(assembly.app))
    await client.start_server()
    try:
        yield client, assembly
    finally:
        await client.close()
        await assembly.close()


def _big_step(n: int) -> Step:
    return Step(CallArrived(float(n), f"{BIG}-{n}", "support"), [])


async def _stalled_stream(port: int) -> socket.socket:
    """Open /events and read only up to `: connected`, with a small receive buffer."""
    loop = asyncio.get_running_loop()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    await loop.sock_connect(s, ("127.0.0.1", port))
    head = f"GET {E} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    await loop.sock_sendall(s, head.encode())
    seen = b""
    async with asyncio.timeout(5):
        while b": connected" not in seen:
            chunk = await loop.sock_recv(s, 1024)
            assert chunk, seen
            seen += chunk
    assert seen.startswith(b"HTTP/1.1 200"), seen
    return s


async def _closed_by_server(s: socket.socket, within: float) -> bool:
    """Read nothing for the write timeout and a bit (a client that stopped reading), then
    drain what the server sent: whether it ends (EOF or reset) within `within` s more."""
    await asyncio.sleep(WRITE_TIMEOUT + 0.5)
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            async with asyncio.timeout(0.2):
                if await loop.sock_recv(s, 1 << 20) == b"":
                    return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


async def _slots_freed(hub: events.EventHub, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if hub.subscriber_count == 0:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_stalled_stream_counts_until_it_ends_and_ends_on_a_write_timeout(
    served: tuple[TestClient[Any, Any], Assembly], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "WRITE_TIMEOUT_SECONDS", WRITE_TIMEOUT, raising=False)
    client, assembly = served
    hub = assembly.services.events
    stalled = await _stalled_stream(client.port)
    try:
        # Until its handler blocks in a write: the buffer stops draining.
        for n in range(200):
            hub.on_step(_big_step(n))
            await asyncio.sleep(0.005)
        blocked_since = time.monotonic()
        # Now more than its buffer holds, at once: the hub drops it.
        for n in range(200, 200 + events.BUFFER_SIZE + 10):
            hub.on_step(_big_step(n))
        await asyncio.sleep(0.05)
        # Its handler still lives (blocked in the write): the slot still counts.
        assert hub.subscriber_count == 1, "a stalled stream no longer counts against the caps"
        others = []
        for _ in range(PER_TOKEN):
            response = await client.get(E, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            others.append(response)
        assert time.monotonic() - blocked_since < WRITE_TIMEOUT
        assert [r.status for r in others] == [200] * (PER_TOKEN - 1) + [429], (
            "one stream more than the cap was served beside the stalled one"
        )
        for response in others:
            response.close()
        # The write it does not take times out: the stream ends, the connection closes.
        assert await _closed_by_server(stalled, 3), "the stalled stream lives on"
        assert await _slots_freed(hub), "the slot outlived the stream"
    finally:
        stalled.close()


async def test_a_stream_blocked_in_a_write_ends_without_being_dropped(
    served: tuple[TestClient[Any, Any], Assembly], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer messages than the buffer holds, but the client takes none: the write times out."""
    monkeypatch.setattr(events, "WRITE_TIMEOUT_SECONDS", WRITE_TIMEOUT, raising=False)
    client, assembly = served
    hub = assembly.services.events
    stalled = await _stalled_stream(client.port)
    try:
        for n in range(100):
            hub.on_step(_big_step(n))
            await asyncio.sleep(0.005)
        started = time.monotonic()
        assert await _closed_by_server(stalled, 3), "the stalled stream lives on"
        assert time.monotonic() - started < WRITE_TIMEOUT + 3.5
        assert await _slots_freed(hub), "the slot outlived the stream"
    finally:
        stalled.close()

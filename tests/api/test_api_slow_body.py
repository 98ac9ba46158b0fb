"""A request body sent slowly, on real sockets against the real aiohttp server (the runner
`acd serve` uses): `[http] header_timeout` bounds the body as it bounds the head, the client
gets a 408 `request_timeout` error body and the connection closes; others are served."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from api_openapi_check import validate_response
from api_support import ADMIN_TOKEN, make_settings

from acd.compose import assemble
from acd.serve import http_runner

BOUND = 1.0
HEAD = (
    "POST /api/v1/queues HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: 100000\r\n\r\n"
)


@pytest.fixture
async def port(tmp_path: Path) -> AsyncIterator[int]:
    settings = make_settings(tmp_path)
    settings = replace(settings, http=replace(settings.http, header_timeout=BOUND))
    assembly = await assemble(settings)
    runner = http_runner(assembly.app, settings)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
        await assembly.close()


async def _answer(reader: asyncio.StreamReader, within: float) -> tuple[bytes, bool, float]:
    """Everything the server sends within `within` s, whether it closed, and when it did."""
    started = time.monotonic()
    data = b""
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(4096):
                data += chunk
    except TimeoutError:
        return data, False, time.monotonic() - started
    return data, True, time.monotonic() - started


async def test_a_body_sent_too_slowly_is_answered_408_and_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(HEAD.encode() + b"{")
        await writer.drain()
        data, closed, took = await _answer(reader, BOUND + 5)
    finally:
        writer.close()
    assert closed, f"still open after {took:.1f}s (header_timeout {BOUND}s): {data[:60]!r}"
    assert took < BOUND + 2, f"held {took:.1f}s"
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), head
    error = json.loads(body)
    assert error["error"]["code"] == "request_timeout"
    assert error["error"]["message"]
    validate_response("POST", "/api/v1/queues", 408, "application/json", error)


async def test_a_body_trickling_byte_by_byte_is_cut_too(port: int) -> None:
    """The bound is on the whole body, not on each read: a byte every 0.2 s does not reset it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    closed = False
    data = b""
    try:
        writer.write(HEAD.encode())
        while time.monotonic() - started < BOUND + 5:
            writer.write(b" ")
            await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 0.2)
            except TimeoutError:
                continue
            data += chunk
            if chunk == b"":
                closed = True
                break
    except (ConnectionError, OSError):
        closed = True
    finally:
        writer.close()
    assert closed, "a trickling body held the connection"
    assert time.monotonic() - started < BOUND + 2
    assert data.startswith(b"HTTP/1.1 408"), data[:60]


async def test_others_are_served_while_slow_bodies_wait(port: int) -> None:
    slow = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD.encode() + b"{")
        slow.append((reader, writer))
    try:
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, _, _ = await _answer(reader, 5)
        writer.close()
        assert data.startswith(b"HTTP/1.1 200"), data[:60]
        answers = await asyncio.gather(*(_answer(r, BOUND + 5) for r, _ in slow))
        assert all(closed for _, closed, _ in answers), "a slow body was not cut off"
    finally:
        for _, w in slow:
            w.close()


async def test_a_complete_body_is_still_served(port: int) -> None:
    body = json.dumps({"name": "billing", "skills": {"billing": 1}}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = HEAD.replace("Content-Length: 100000", f"Content-Length: {len(body)}")
    writer.write(head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n").encode() + body)
    data, _, _ = await _answer(reader, 5)
    writer.close()
    assert data.startswith(b"HTTP/1.1 201"), data[:200]


async def test_a_body_no_handler_reads_is_not_awaited_longer_than_the_bound(port: int) -> None:
    """Refused before its body is read (no token: 401): aiohttp reads the rest to keep the
    connection (its lingering close, 10 s by default); no longer than the bound."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(HEAD.replace(f"Authorization: Bearer {ADMIN_TOKEN}\r\n", "").encode() + b"{")
        await writer.drain()
        data, closed, took = await _answer(reader, BOUND + 12)
    finally:
        writer.close()
    assert data.startswith(b"HTTP/1.1 401"), data[:60]
    assert closed, "still open"
    assert took < BOUND + 2, f"held {took:.1f}s after the answer"


async def test_a_client_gone_mid_body_is_its_error_not_the_servers(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection closed before its body is complete is a 400 `incomplete_body` (nobody
    reads it), not an unhandled error logged with a traceback as a 500."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEAD.encode() + b'{"name": ')
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await asyncio.sleep(0.5)
    unhandled = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert not unhandled, unhandled[0].getMessage()
    # The server is still there for the next client.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, _, _ = await _answer(reader, 5)
    writer.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:40]

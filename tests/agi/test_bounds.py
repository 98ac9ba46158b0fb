"""What a FastAGI connection that is not a request gets (issue #11): an unknown route and an
environment that never ends (no blank line, or no line end at all) are closed within the
environment bound, get no AGI command, and the real server keeps serving Asterisk after them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from agi.channel import AgiChannel, AgiRequest
from agi.server import HEADER_TIMEOUT, KEY_VARIABLE, FastAgiServer

KEY = "k" * 43


class _Live:
    async def is_live(self, uniqueid: str, channel: str) -> bool:
        return True


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async def enter(request: AgiRequest) -> None:
        await AgiChannel(request).set("ACD_RESULT", "")

    server = FastAgiServer({"enter": enter}, "127.0.0.1", 0, secret=KEY, check=_Live())
    await server.start()
    assert server._server is not None
    try:
        yield server._server.sockets[0].getsockname()[1]
    finally:
        await server.stop()


async def _closed_after(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, feed: bytes, every: float
) -> tuple[float, bytes]:
    """Send `feed` every `every` seconds until the server closes: (seconds, what it sent)."""
    started = time.perf_counter()
    received = b""

    async def keep_feeding() -> None:
        while True:
            writer.write(feed)
            await writer.drain()
            await asyncio.sleep(every)

    feeding = asyncio.create_task(keep_feeding())
    try:
        while chunk := await asyncio.wait_for(reader.read(4096), HEADER_TIMEOUT * 3):
            received += chunk
    except ConnectionError:
        pass
    finally:
        feeding.cancel()
        writer.close()
    return time.perf_counter() - started, received


async def _served(port: int) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network_script: enter\nagi_uniqueid: 1.1\nagi_channel: PJSIP/x-1\n\n")
    sent = b""
    while line := await asyncio.wait_for(reader.readline(), HEADER_TIMEOUT * 3):
        sent += line
        answer = f"200 result=1 ({KEY})" if KEY_VARIABLE.encode() in line else "200 result=1"
        writer.write(answer.encode() + b"\n")
    writer.close()
    return b"SET VARIABLE ACD_RESULT" in sent


async def test_an_unknown_route_is_closed_at_once_without_a_command(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network_script: ../../etc/passwd\nagi_uniqueid: 1.1\n\n")
    seconds, sent = await _closed_after(reader, writer, b"", 0.05)
    assert sent == b""
    assert seconds < HEADER_TIMEOUT
    assert await _served(port)


@pytest.mark.parametrize(
    "feed", [b"agi_arg_1: x\n", b"x" * 1000], ids=["lines-without-blank", "no-line-end"]
)
async def test_an_environment_that_never_ends_is_closed_within_the_bound(
    port: int, feed: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network_script: enter\n")
    seconds, sent = await _closed_after(reader, writer, feed, 0.01)
    assert sent == b""  # not even the key request
    print(f"never-ending environment ({feed[:12]!r}…) closed after {seconds:.2f} s")
    assert seconds < HEADER_TIMEOUT * 1.5
    assert await _served(port)


async def test_a_keyed_request_that_stalls_in_its_route_is_closed_within_the_route_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the key, a client that stops answering (a squatter that learnt the key, a wedged
    peer) would hold its connection, and the cap's room, for ever; the route's bound ends it."""
    bound = 0.5
    monkeypatch.setattr("agi.server.ROUTE_TIMEOUT", bound, raising=False)

    async def enter(request: AgiRequest) -> None:
        channel = AgiChannel(request)
        await channel.get("ACD_PRIORITY")
        await channel.set("ACD_RESULT", "")

    server = FastAgiServer(
        {"enter": enter}, "127.0.0.1", 0, secret=KEY, check=_Live(), max_connections=4
    )
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network_script: enter\nagi_uniqueid: 1.1\nagi_channel: PJSIP/x-1\n\n")
        assert KEY_VARIABLE.encode() in await reader.readline()
        writer.write(f"200 result=1 ({KEY})\n".encode())
        assert b"ACD_PRIORITY" in await reader.readline()  # the route's command: no answer
        started = time.perf_counter()
        try:
            rest = await asyncio.wait_for(reader.read(), 10)
        except TimeoutError:
            rest = None
        writer.close()
        assert rest == b""  # closed by the server, nothing more sent
        assert time.perf_counter() - started < bound * 4
        assert server._checked == 0
    finally:
        await server.stop()


async def test_with_every_place_past_its_checks_a_new_connection_is_closed_at_once() -> None:
    """The cap holds one request that passed its checks and waits in its route: the next
    connection has nobody to displace and is closed at once (busy), sent nothing."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def enter(request: AgiRequest) -> None:
        entered.set()
        await release.wait()

    server = FastAgiServer(
        {"enter": enter}, "127.0.0.1", 0, secret=KEY, check=_Live(), max_connections=1
    )
    refused: list[str] = []
    server.on_refused = refused.append
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network_script: enter\nagi_uniqueid: 1.1\nagi_channel: PJSIP/x-1\n\n")
        assert KEY_VARIABLE.encode() in await reader.readline()
        writer.write(f"200 result=1 ({KEY})\n".encode())
        await asyncio.wait_for(entered.wait(), HEADER_TIMEOUT)
        late_reader, late_writer = await asyncio.open_connection("127.0.0.1", port)
        late_writer.write(b"agi_network_script: enter\n\n")
        try:
            late = await asyncio.wait_for(late_reader.read(), HEADER_TIMEOUT / 4)
        except ConnectionResetError:  # closed while our environment was still unread
            late = b""
        assert late == b""
        late_writer.close()
        assert refused == ["busy"]
        release.set()
        assert await asyncio.wait_for(reader.read(), HEADER_TIMEOUT) == b""
        writer.close()
    finally:
        await server.stop()

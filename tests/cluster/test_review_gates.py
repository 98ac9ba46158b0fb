"""Review of the #12 gates (fresh-eyes review, 2026-12-02): the FastAGI gate is asked once, as
a connection arrives; a route accepted while the node could act goes on writing to the caller's
channel after the gate shut (its lease deadline passed, or the process was paused past it).

The enter route answers the engine's decision with channel variables (ACD_AGENT and its
contact: the dialplan then dials that agent), so such an answer is an offer made without the
gate that every AMI action passes. Fixed; kept as a regression test."""

from __future__ import annotations

import asyncio

from agi.channel import AgiChannel, AgiRequest
from agi.server import FastAgiServer

KEY = "k" * 43


class _Live:
    async def is_live(self, uniqueid: str, channel: str) -> bool:
        return True


class Gate:
    def __init__(self) -> None:
        self.open = True

    def __call__(self) -> bool:
        return self.open


async def test_no_channel_write_after_the_gate_shut() -> None:
    decided = asyncio.Event()

    async def enter(request: AgiRequest) -> None:
        # As AgiRoutes.enter: the decision comes from the engine (a journal round trip, or a
        # paused process), then the answer goes to the channel.
        await decided.wait()
        await AgiChannel(request).set_many({"ACD_AGENT": "2001", "ACD_RESULT": ""})

    gate = Gate()
    server = FastAgiServer({"enter": enter}, "127.0.0.1", 0, secret=KEY, check=_Live(), gate=gate)
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"agi_network_script: enter\nagi_uniqueid: 1.1\nagi_channel: PJSIP/x-1\n\n")
        await writer.drain()
        asked = await asyncio.wait_for(reader.readline(), 2.0)
        assert asked.startswith(b"GET VARIABLE")  # the key
        writer.write(f"200 result=1 ({KEY})\n".encode())
        await writer.drain()
        await asyncio.sleep(0.1)  # accepted: the route waits for its decision
        gate.open = False  # the lease deadline passes
        decided.set()
        try:
            after = await asyncio.wait_for(reader.readline(), 1.0)
        except (TimeoutError, ConnectionError):
            after = b""
        assert after == b"", after  # today: EXEC MSet "ACD_AGENT=2001,..."
    finally:
        writer.close()
        await server.stop()

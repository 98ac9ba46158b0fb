"""A node that does not hold the lease acts on nothing: every AMI action asks the gate before
it is written, and the FastAGI server closes a connection unanswered while the gate is shut
(the dialplan's no-controller loop then retries, by then at the leader)."""

from __future__ import annotations

import asyncio

import pytest
from controller.test_ami_writer import WireRecorder

from acd.config import AmiSettings
from acd.controller.ami import AmiError, AmiLink
from agi.channel import AgiChannel, AgiRequest
from agi.server import FastAgiServer


class Gate:
    def __init__(self) -> None:
        self.open = True
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.open


async def test_a_shut_gate_stops_every_ami_action_before_it_is_written() -> None:
    gate = Gate()
    link = AmiLink(AmiSettings(port=1, secret="s"), lambda _f: None, lambda: None, lambda: None,
                   gate=gate)  # fmt: skip
    wire = WireRecorder()
    link._manager = wire  # type: ignore[assignment]
    link.logged_in = True
    assert (await link.request({"Action": "Ping"})).success
    gate.open = False
    for send in (
        lambda: link.request({"Action": "Redirect", "Channel": "Local/x", "Context": "c"}),
        lambda: link.request_events({"Action": "DeviceStateList"}),
        lambda: link.request_listing({"Action": "Status"}),
        lambda: link.originate({"Channel": "PJSIP/1", "Context": "c", "Exten": "s"}, 1.0),
    ):
        with pytest.raises(AmiError, match="leader") as refused:
            await send()
        assert refused.value.unsent
    assert wire.written == [{"Action": "Ping", "Async": "false"}]
    assert gate.asked == 5


class _Live:
    async def is_live(self, uniqueid: str, channel: str) -> bool:
        return True


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.read(), 2.0)
    except ConnectionResetError:  # closed with our environment unread: a reset, no bytes
        return b""


async def test_a_shut_gate_closes_fastagi_connections_unanswered() -> None:
    served: list[str] = []

    async def enter(request: AgiRequest) -> None:
        served.append("enter")
        await AgiChannel(request).set("ACD_RESULT", "")

    gate = Gate()
    gate.open = False
    server = FastAgiServer(
        {"enter": enter}, "127.0.0.1", 0, secret="k" * 43, check=_Live(), gate=gate
    )
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network_script: enter\nagi_uniqueid: 1.1\nagi_channel: PJSIP/x-1\n\n")
        await writer.drain()
        assert await _until_closed(reader) == b""  # closed, nothing asked
        writer.close()
        assert served == []
        assert gate.asked == 1
        gate.open = True
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network_script: enter\nagi_uniqueid: 1.1\nagi_channel: PJSIP/x-1\n\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readline(), 2.0)
        assert first.startswith(b"GET VARIABLE")  # open: the key is asked for
        writer.close()
    finally:
        await server.stop()

"""Attacks on the FastAGI port from a local process that is not Asterisk, played over a real
socket against the real FastAGI server, routes, entry service, engine and router (no AMI: a
channel counts as live only when the live-channel registry saw it, as from AMI's Newchannel).

Each test is a finding of issue #11: without the key nobody drives the controller; with the
key, only a channel Asterisk reported live; and what a live channel says is bounded."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from acd.config import AgentSeed, AmiSettings
from acd.controller import Controller
from acd.controller.facts import ChannelCreated, ChannelHungUp
from acd.controller.live_channels import LiveChannelCheck
from acd.engine import Engine
from acd.router.events import AgentUpserted, QueueUpserted
from acd.router.model import AgentState, QueueConfig
from acd.router.router import Router
from acd.service import AgentDirectory, AgentService
from acd.service.entry import EntryService
from agi.channel import AgiChannel, AgiCommandError, AgiRequest
from agi.routes import AgiRoutes
from agi.server import KEY_VARIABLE, FastAgiServer

KEY = "k" * 43
AGENT_CHANNEL = "PJSIP/1001-0000000a"
CALLER = "Local/support@acd-inbound-00000001;2"

_GET = re.compile(r"GET VARIABLE (\S+)$")


@dataclass
class FakeAsterisk:
    """A local process speaking AGI as Asterisk would: answers GET VARIABLE from
    `variables`, anything else with success; keeps every line the controller sent."""

    variables: dict[str, str]
    lines: list[str] = field(default_factory=list)

    async def request(
        self, port: int, script: str, channel: str, uniqueid: str, *args: str
    ) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        env = [
            "agi_network: yes",
            f"agi_network_script: {script}",
            f"agi_request: agi://127.0.0.1:{port}/{script}",
            f"agi_channel: {channel}",
            f"agi_uniqueid: {uniqueid}",
            *(f"agi_arg_{n}: {a}" for n, a in enumerate(args, start=1)),
        ]
        writer.write(("\n".join(env) + "\n\n").encode())
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 5)
                if not line:
                    return
                text = line.decode().rstrip("\n")
                self.lines.append(text)
                get = _GET.match(text)
                if get:
                    value = self.variables.get(get[1])
                    answer = f"200 result=1 ({value})" if value is not None else "200 result=0"
                else:
                    match = re.match(r'SET VARIABLE (\S+) "(.*)"$', text)
                    if match:
                        self.variables[match[1]] = match[2]
                    answer = "200 result=1"
                writer.write((answer + "\n").encode())
                await writer.drain()
        except ConnectionError:
            return  # the controller closed first
        finally:
            writer.close()


@dataclass
class Rig:
    controller: Controller
    server: FastAgiServer
    port: int

    @property
    def engine(self) -> Engine:
        return self.controller.engine

    def live(self, uniqueid: str, channel: str) -> None:
        """Asterisk reported this channel (its Newchannel event was read)."""
        self.controller.flow.handle(ChannelCreated(uniqueid, channel))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    engine = Engine(Router())
    directory = AgentDirectory()
    controller = Controller(AmiSettings(secret="s"), engine, directory)
    entry = EntryService(engine, controller.tracker, controller.flow, controller.handle_times)
    routes = AgiRoutes(entry, AgentService(engine, directory))
    engine.add_listener(controller.effects)
    engine.start()
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support", callback=True)))
    directory.put(AgentSeed("1001", contact="PJSIP/1001"))
    await engine.submit(lambda now: AgentUpserted(now, "1001"))
    check = LiveChannelCheck(controller.flow.channels, controller.ami)
    server = FastAgiServer(routes.routes(), "127.0.0.1", 0, secret=KEY, check=check)
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    try:
        yield Rig(controller, server, port)
    finally:
        await server.stop()
        await engine.stop()


def agent_state(rig: Rig) -> AgentState:
    agent = rig.engine.router.agent("1001")
    assert agent is not None
    return agent.state


async def test_without_the_key_no_agent_is_logged_in(rig: Rig) -> None:
    rig.live("f1", AGENT_CHANNEL)
    reasons: list[str] = []
    rig.server.on_refused = reasons.append
    for answer in ({}, {KEY_VARIABLE: "guess"}):
        fake = FakeAsterisk(dict(answer))
        await fake.request(rig.port, "agent/login", AGENT_CHANNEL, "f1")
        assert agent_state(rig) is AgentState.LOGGED_OUT
        assert "ACD_FEATURE_RESULT" not in fake.variables
        # The controller asked for the key and sent nothing else.
        assert fake.lines == [f"GET VARIABLE {KEY_VARIABLE}"]
    assert reasons == ["no_key", "wrong_key"]


async def test_with_the_key_a_channel_asterisk_does_not_have_is_refused(rig: Rig) -> None:
    fake = FakeAsterisk({KEY_VARIABLE: KEY})
    await fake.request(rig.port, "agent/login", AGENT_CHANNEL, "f2")
    assert agent_state(rig) is AgentState.LOGGED_OUT
    # Live under another name, or gone since: refused as well.
    rig.live("f3", "PJSIP/1002-0000000b")
    await fake.request(rig.port, "agent/login", AGENT_CHANNEL, "f3")
    rig.live("f4", AGENT_CHANNEL)
    rig.controller.flow.handle(ChannelHungUp("f4", AGENT_CHANNEL, 16, None))
    await fake.request(rig.port, "agent/login", AGENT_CHANNEL, "f4")
    assert agent_state(rig) is AgentState.LOGGED_OUT
    assert rig.server.refused == 3
    assert "ACD_FEATURE_RESULT" not in fake.variables


async def test_while_ami_is_down_only_enter_and_announce_run_on_the_key_alone(rig: Rig) -> None:
    """Nothing can tell whether the channel is live (the rig has no AMI link): a caller
    still enters (the next resync settles its call against Asterisk's channels); a feature
    code or a callback, which no resync undoes, is refused."""
    assert not rig.controller.ami.logged_in
    fake = FakeAsterisk({KEY_VARIABLE: KEY})
    await fake.request(rig.port, "enter", CALLER, "d1", "support", "0", "0", "0", "0", "0")
    assert "d1" in rig.controller.tracker
    await fake.request(rig.port, "callback", CALLER, "d1")
    assert "ACD_CALLBACK_ACCEPTED" not in fake.variables
    await fake.request(rig.port, "agent/login", AGENT_CHANNEL, "d2")
    assert agent_state(rig) is AgentState.LOGGED_OUT


async def test_with_the_key_a_live_channel_is_served(rig: Rig) -> None:
    rig.live("f5", AGENT_CHANNEL)
    fake = FakeAsterisk({KEY_VARIABLE: KEY})
    await fake.request(rig.port, "agent/login", AGENT_CHANNEL, "f5")
    assert fake.variables["ACD_FEATURE_RESULT"] == "ok"
    assert agent_state(rig) is AgentState.AVAILABLE


async def test_a_fake_call_at_a_huge_priority_is_never_registered(rig: Rig) -> None:
    fake = FakeAsterisk({"ACD_PRIORITY": "999999999"})
    await fake.request(rig.port, "enter", CALLER, "e1", "support", "9", "0", "0", "0", "0")
    assert rig.engine.router.call("e1") is None
    assert len(rig.controller.tracker) == 0


async def test_a_live_caller_s_priority_is_bounded_like_the_api_s(rig: Rig) -> None:
    rig.live("e2", CALLER)
    fake = FakeAsterisk({KEY_VARIABLE: KEY, "ACD_PRIORITY": "999999999"})
    await fake.request(rig.port, "enter", CALLER, "e2", "support", "9", "0", "0", "0", "0")
    view = rig.engine.router.call("e2")
    assert view is not None
    assert view.priority == 0  # the queue's default: 999999999 is outside ±1e6


async def _waiting_caller(rig: Rig, uniqueid: str) -> None:
    rig.live(uniqueid, CALLER)
    fake = FakeAsterisk({KEY_VARIABLE: KEY})
    await fake.request(rig.port, "enter", CALLER, uniqueid, "support", "0", "0", "0", "0", "0")
    assert uniqueid in rig.controller.tracker


async def test_a_callback_to_a_trunk_from_a_fake_client_is_not_accepted(rig: Rig) -> None:
    await _waiting_caller(rig, "c1")
    fake = FakeAsterisk({"ACD_CALLBACK_TO": "PJSIP/trunk/9001234567"})
    await fake.request(rig.port, "callback", CALLER, "c1")
    call = rig.controller.tracker.get("c1")
    assert call is not None
    assert call.callback_to is None
    assert "ACD_CALLBACK_ACCEPTED" not in fake.variables


@pytest.mark.parametrize(
    "variables",
    [
        {"ACD_CALLBACK_TO": "Local/9001234567@some-trunk-context"},
        {"ACD_CALLBACK_TO": "PJSIP/1001&PJSIP/trunk/900"},
        {"CALLERID(num)": "1001&PJSIP/trunk/900"},
        {"CALLERID(num)": "trunk/9001234567"},
    ],
)
async def test_a_callback_number_outside_the_dial_rules_is_not_accepted(
    rig: Rig, variables: dict[str, str]
) -> None:
    await _waiting_caller(rig, "c2")
    fake = FakeAsterisk({KEY_VARIABLE: KEY, **variables})
    await fake.request(rig.port, "callback", CALLER, "c2")
    call = rig.controller.tracker.get("c2")
    assert call is not None
    assert call.callback_to is None
    assert fake.variables["ACD_CALLBACK_ACCEPTED"] == "0"


async def test_a_caller_s_own_phone_number_is_called_back(rig: Rig) -> None:
    await _waiting_caller(rig, "c3")
    fake = FakeAsterisk({KEY_VARIABLE: KEY, "CALLERID(num)": "+4930123456"})
    await fake.request(rig.port, "callback", CALLER, "c3")
    call = rig.controller.tracker.get("c3")
    assert call is not None
    assert call.callback_to == "PJSIP/+4930123456"
    assert fake.variables["ACD_CALLBACK_ACCEPTED"] == "1"


async def test_an_lf_in_a_value_never_becomes_a_second_agi_command() -> None:
    """Whatever let a value with an LF through (a contact, a destination), the AGI writer
    refuses it: nothing of it reaches the wire, least of all `EXEC AGI /bin/sh`."""
    refused: list[str] = []

    async def route(request: AgiRequest) -> None:
        channel = AgiChannel(request)
        for value in ('PJSIP/1001"\nEXEC AGI /bin/sh,x', "a\rEXEC AGI /bin/sh", "a\x00b"):
            try:
                await channel.set_many({"ACD_AGENT_CONTACT": value, "ACD_AGENT": "1001"})
            except AgiCommandError as exc:
                refused.append(str(exc))
        await channel.set("ACD_RESULT", "error")

    server = FastAgiServer({"enter": route}, "127.0.0.1", 0, secret=KEY, check=_Always())
    await server.start()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    try:
        fake = FakeAsterisk({KEY_VARIABLE: KEY})
        await fake.request(port, "enter", CALLER, "l1")
    finally:
        await server.stop()
    assert len(refused) == 3
    assert fake.lines == [f"GET VARIABLE {KEY_VARIABLE}", 'SET VARIABLE ACD_RESULT "error"']


class _Always:
    async def is_live(self, uniqueid: str, channel: str) -> bool:
        return True


def test_refusals_are_counted_in_the_metrics() -> None:
    from prometheus_client import generate_latest

    from acd.observe.metrics import Metrics

    metrics = Metrics(Router())
    metrics.agi_refused("not_live")
    text = generate_latest(metrics.registry).decode()
    assert 'acd_agi_refused_total{reason="not_live"} 1.0' in text
    assert 'acd_agi_refused_total{reason="no_key"} 0.0' in text

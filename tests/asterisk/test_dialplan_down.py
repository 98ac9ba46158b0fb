"""The dialplan when no controller answers, on the real Asterisk with a scripted FastAGI server
in place of the controller (acd-wait,down in extensions_acd.conf): the caller waits with
music and tries again, keeps its own record of the call, is never played an empty prompt,
enters again when a controller answers (or says it lost the call), and goes to the queue's
fallback published by `acd.controller.fallback`. The same with `acd serve` as a process, killed
and restarted: tests/faults/test_controller_down.py."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from ami_session import AmiSession

from acd.asterisk.conf import read_conf
from acd.asterisk.templates import default_template_dir
from acd.asterisk.testing import RunningAsterisk
from acd.config import AmiSettings
from acd.controller.ami import AmiLink
from acd.controller.effects import TaskSet
from acd.controller.fallback import FallbackPublisher
from acd.router.events import QueueRemoved, QueueUpserted
from acd.router.model import QueueConfig
from acd.router.router import Router

pytestmark = pytest.mark.asterisk

WAIT = 15.0
#: The dialplan's ACD_RETRY_EVERY (extensions.conf [globals]).
RETRY_EVERY = 3.0
_serial = itertools.count(1)


# --- what asterisk-config declares (no Asterisk needed) --------------------------------------


def test_the_down_loop_and_the_fallback_example_are_declared() -> None:
    dialplan = read_conf(default_template_dir() / "extensions.conf")  # includes extensions_acd
    wait = dialplan.section("acd-wait")
    assert wait is not None
    assert any(value.startswith("down,1,") for value in wait.values("exten"))
    queue = dialplan.section("acd-queue")
    assert queue is not None
    enter = [v for v in queue.values("same") if "/enter," in v]
    assert len(enter) == 1
    # Six arguments: the queue and five lengths (the last two: ACD_ENTERED_AT, ACD_CALL_ID).
    assert enter[0].count("${LEN(") == 5
    assert "${LEN(${ACD_ENTERED_AT})},${LEN(${ACD_CALL_ID})})" in enter[0]
    assert any("(enter)," in v for v in queue.values("same"))
    fallback = dialplan.section("acd-fallback")
    assert fallback is not None
    assert any("Queue(acd-fallback)" in v for v in fallback.values("same"))
    globals_ = dialplan.section("globals")
    assert globals_ is not None
    assert globals_.get("ACD_RETRY_EVERY") == str(int(RETRY_EVERY))
    general = dialplan.section("general")
    assert general is not None
    assert general.get("clearglobalvars") == "no"  # a dialplan reload keeps the fallbacks
    queues = read_conf(default_template_dir() / "queues.conf")
    members = (queues.section("acd-fallback") or pytest.fail("no acd-fallback queue")).values(
        "member"
    )
    assert any(m.startswith("Local/2001@acd-sim-agent") for m in members)


# --- a scripted FastAGI server in place of the controller ------------------------------------


class AgiSession:
    """One FastAGI connection: the environment Asterisk sent, and commands to it."""

    def __init__(
        self, env: dict[str, str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.env = env
        self.reader = reader
        self.writer = writer
        self.read: dict[str, str] = {}

    def arg(self, n: int) -> str:
        return self.env.get(f"agi_arg_{n}", "")

    async def command(self, text: str) -> str:
        self.writer.write(text.encode() + b"\n")
        await self.writer.drain()
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), WAIT)).decode().strip()
            if line.startswith("200"):
                return line
            if not line:
                raise ConnectionError("AGI connection closed")

    async def set(self, **variables: str) -> None:
        for name, value in variables.items():
            await self.command(f'SET VARIABLE {name} "{value}"')

    async def get(self, name: str) -> str:
        reply = await self.command(f"GET VARIABLE {name}")  # 200 result=1 (value)
        value = reply.partition("(")[2].rpartition(")")[0] if "result=1" in reply else ""
        self.read[name] = value
        return value


Route = Callable[[AgiSession], Awaitable[None]]


@dataclass
class FakeController:
    """Answers the dialplan's AGI requests on the port its ACD_AGI names, one route each."""

    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    sessions: list[AgiSession] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), WAIT)
            env = dict(line.split(": ", 1) for line in raw.decode().splitlines() if ": " in line)
            session = AgiSession(env, reader, writer)
            route = self.routes.get(env.get("agi_network_script", ""))
            if route is not None:
                await route(session)
            self.sessions.append(session)
            self._arrived.set()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    async def next_session(self, script: str, within: float = WAIT) -> AgiSession:
        """The first session of route `script` not seen before (waits for it)."""
        deadline = time.monotonic() + within
        seen = {id(s) for s in self.sessions}
        while True:
            for session in self.sessions:
                if id(session) not in seen and session.env.get("agi_network_script") == script:
                    return session
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {script} AGI within {within} s")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)


@pytest.fixture
async def controller(asterisk: RunningAsterisk) -> AsyncIterator[FakeController]:
    fake = FakeController(asterisk.agi_port)
    try:
        yield fake
    finally:
        await fake.stop()


async def registered(session: AgiSession, announce_every: str = "3600") -> None:
    """What the real enter route hands the dialplan for a call that waits."""
    call_id = session.env["agi_uniqueid"]
    entered = await session.get("ACD_ENTERED_AT") if session.arg(5) not in ("", "0") else ""
    await session.set(
        ACD_CALL_ID=call_id,
        ACD_QUEUE=session.arg(1),
        ACD_ENTERED_AT=entered or f"{time.time():.3f}",
        ACD_ANNOUNCE_EVERY=announce_every,
        ACD_RESULT="",
        ACD_AGENT="",
    )


# --- looking at the caller -------------------------------------------------------------------


async def _listing(ami: AmiSession, **action: str) -> list[dict[str, Any]]:
    replies = await asyncio.wait_for(ami.manager.send_action(action, as_list=True), WAIT)
    messages = replies if isinstance(replies, list) else [replies]
    return [dict(m) for m in messages if "Event" in m and not str(m["Event"]).endswith("Complete")]


async def call(ami: AmiSession, queue: str, **variables: str) -> str:
    """A simulated caller into acd-inbound,<queue>; the uniqueid of its dialplan half."""
    leg = f"down-{time.monotonic_ns()}-{next(_serial)}"
    values = {"ACD_MOH": "silent", "__ACD_SIM_MOH": "silent", "__ACD_SIM_TALK": "5", **variables}
    reply = await ami.manager.send_action(
        {
            "Action": "Originate",
            "Channel": f"Local/{queue}@acd-inbound/n",
            "Application": "Wait",
            "Data": "120",
            "Async": "true",
            "ChannelId": leg,
            "Variable": [f"{k}={v}" for k, v in values.items()],
        }
    )
    first = reply[0] if isinstance(reply, list) else reply
    assert first.get("Response") == "Success", reply
    return f"{leg};2"


async def caller(ami: AmiSession, uniqueid: str) -> dict[str, Any] | None:
    channels = await _listing(ami, Action="CoreShowChannels")
    return next((c for c in channels if c.get("Uniqueid") == uniqueid), None)


async def until(
    ami: AmiSession, uniqueid: str, check: Callable[[dict[str, Any]], bool], within: float = WAIT
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        channel = await caller(ami, uniqueid)
        assert channel is not None, f"caller {uniqueid} hung up"
        if check(channel):
            return channel
        assert time.monotonic() < deadline, f"caller never matched: {channel}"
        await asyncio.sleep(0.1)


def holding(channel: dict[str, Any]) -> bool:
    """In the loop without a controller, hearing music."""
    return (channel.get("Context"), channel.get("Exten"), channel.get("Application")) == (
        "acd-wait",
        "down",
        "MusicOnHold",
    )


async def variables(ami: AmiSession, uniqueid: str, *names: str) -> dict[str, str]:
    channel = await caller(ami, uniqueid)
    assert channel is not None
    events = await _listing(
        ami, Action="Status", Channel=channel["Channel"], Variables=",".join(names)
    )
    raw = events[0].get("Variable", [])
    pairs = (str(v).partition("=") for v in (raw if isinstance(raw, list) else [raw]))
    return {k: ("" if v == "(null)" else v) for k, _, v in pairs}


async def hangup(ami: AmiSession, uniqueid: str) -> None:
    channel = await caller(ami, uniqueid)
    if channel is not None:
        await ami.manager.send_action({"Action": "Hangup", "Channel": channel["Channel"]})


def log_since(asterisk: RunningAsterisk, offset: int) -> str:
    return asterisk.instance.messages_log.read_text(errors="replace")[offset:]


def log_size(asterisk: RunningAsterisk) -> int:
    return len(asterisk.instance.messages_log.read_text(errors="replace"))


# --- the tests -------------------------------------------------------------------------------


async def test_sub_second_epoch_in_the_dialplan(ami: AmiSession) -> None:
    """ACD_ARRIVED / ACD_ENTERED_AT come from STRFTIME(,,%s.%3q): the epoch, in ms."""
    reply = await ami.action(Action="Getvar", Variable="STRFTIME(,,%s.%3q)")
    epoch = await ami.action(Action="Getvar", Variable="EPOCH")
    value = reply["Value"]
    assert len(value.partition(".")[2]) == 3, value
    assert abs(float(value) - time.time()) < 2
    assert int(float(value)) - int(epoch["Value"]) in (0, -1)


async def test_without_a_controller_the_caller_waits_with_music_and_enters_with_its_time(
    ami: AmiSession, asterisk: RunningAsterisk, controller: FakeController
) -> None:
    offset = log_size(asterisk)
    originated = time.time()
    uniqueid = await call(ami, "support")
    await until(ami, uniqueid, holding)
    own = await variables(
        ami, uniqueid, "ACD_CALL_ID", "ACD_QUEUE", "ACD_ENTERED_AT", "ACD_RESULT", "AGISTATUS"
    )
    assert own["ACD_CALL_ID"] == uniqueid
    assert own["ACD_QUEUE"] == "support"
    assert own["ACD_RESULT"] == ""
    assert own["AGISTATUS"] == "FAILURE"
    entered = own["ACD_ENTERED_AT"]
    assert len(entered.partition(".")[2]) == 3, entered
    assert originated - 0.5 < float(entered) < originated + 1.5
    # Still waiting a retry later (the enter AGI failed again in between).
    await asyncio.sleep(RETRY_EVERY + 0.5)
    await until(ami, uniqueid, holding, within=1)
    assert log_since(asterisk, offset).count("/enter': Connection refused") >= 2

    controller.routes["enter"] = registered
    await controller.start()
    session = await controller.next_session("enter", within=RETRY_EVERY + 2)
    # The lengths tell the route to read both; it reads back the channel's own record.
    assert (session.arg(1), session.arg(5), session.arg(6)) == (
        "support",
        str(len(entered)),
        str(len(uniqueid)),
    )
    assert session.read["ACD_ENTERED_AT"] == entered
    await until(ami, uniqueid, lambda c: c.get("Application") == "WaitExten")
    after = await variables(ami, uniqueid, "ACD_ENTERED_AT", "ACD_CALL_ID", "ACD_CONTROLLER_SEEN")
    # A later outage's fallback timer counts from this answer, not from the entry.
    assert float(after.pop("ACD_CONTROLLER_SEEN")) >= int(float(entered) + RETRY_EVERY)
    assert after == {"ACD_ENTERED_AT": entered, "ACD_CALL_ID": uniqueid}
    assert "syntax error" not in log_since(asterisk, offset)
    await hangup(ami, uniqueid)


async def test_an_announcement_without_an_answer_plays_nothing_and_lost_enters_again(
    ami: AmiSession, asterisk: RunningAsterisk, controller: FakeController
) -> None:
    offset = log_size(asterisk)
    announce: dict[str, Route] = {}

    async def announced(session: AgiSession) -> None:
        await announce["now"](session)

    async def closes(_session: AgiSession) -> None:
        return  # the controller died before answering: the connection just closes

    async def garbage(session: AgiSession) -> None:
        await session.set(ACD_POSITION="abc", ACD_EXPECTED_MINUTES="")

    async def lost(session: AgiSession) -> None:
        await session.set(ACD_RESULT="lost")

    controller.routes.update(enter=lambda s: registered(s, announce_every="1"), announce=announced)
    announce["now"] = closes
    await controller.start()
    uniqueid = await call(ami, "support")
    first = await controller.next_session("enter")
    assert first.arg(5) == "0"  # a first entry: no ACD_ENTERED_AT to read
    entered = (await variables(ami, uniqueid, "ACD_ENTERED_AT"))["ACD_ENTERED_AT"]
    # An announcement whose connection closes unanswered: back to music, nothing played.
    await controller.next_session("announce")
    await until(ami, uniqueid, holding)
    assert (await variables(ami, uniqueid, "ACD_RETRY"))["ACD_RETRY"] == "acd-wait,t,1"
    # A position that is no number: the same (SayNumber without one hangs the caller up).
    announce["now"] = garbage
    await controller.next_session("announce", within=RETRY_EVERY + 2)
    await until(ami, uniqueid, holding)
    # No controller at all for a while: the caller stays, with music.
    await controller.stop()
    await asyncio.sleep(RETRY_EVERY + 0.5)
    await until(ami, uniqueid, holding, within=1)
    # A restarted controller that does not know the call: it enters again, keeping its
    # entry time and id.
    announce["now"] = lost
    await controller.start()
    await controller.next_session("announce", within=RETRY_EVERY + 2)
    again = await controller.next_session("enter")
    assert again.read == {"ACD_ENTERED_AT": entered}
    assert again.arg(6) == str(len(uniqueid))
    await until(ami, uniqueid, lambda c: c.get("Application") == "WaitExten")
    text = log_since(asterisk, offset)
    assert "syntax error" not in text
    assert "SayNumber requires an argument" not in text
    assert "queue-thereare" not in text
    await hangup(ami, uniqueid)


async def test_the_published_fallback_takes_a_caller_to_app_queue(
    ami: AmiSession, asterisk: RunningAsterisk
) -> None:
    """FallbackPublisher over a real AMI link sets the globals; with no controller answering,
    the caller goes to acd-fallback after fallback_after s and a simulated agent answers."""
    name = f"fb-{next(_serial)}"  # a '-' in the name: still one dialplan variable
    router = Router()
    router.handle(
        QueueUpserted(0, QueueConfig(name, fallback="acd-fallback,s,1", fallback_after=2))
    )
    logged_in = asyncio.Event()
    settings = AmiSettings(
        host=asterisk.ami_host,
        port=asterisk.ami_port,
        username=asterisk.ami_username,
        secret=asterisk.ami_secret,
    )
    link = AmiLink(settings, lambda _fact: None, logged_in.set, lambda: None)
    tasks = TaskSet()
    publisher = FallbackPublisher(router, link, tasks)
    link.connect()
    try:
        await asyncio.wait_for(logged_in.wait(), WAIT)
        assert await publisher.resync() == 1
        target = await ami.action(Action="Getvar", Variable=f"GLOBAL(ACD_FALLBACK_{name})")
        after = await ami.action(Action="Getvar", Variable=f"GLOBAL(ACD_FALLBACK_AFTER_{name})")
        assert (target["Value"], after["Value"]) == ("acd-fallback,s,1", "2")

        started = time.monotonic()
        uniqueid = await call(ami, name, __ACD_SIM_TALK="1")
        connected = await until(
            ami,
            uniqueid,
            lambda c: c.get("Context") == "acd-fallback" and bool(c.get("BridgeId")),
            within=RETRY_EVERY + 8,
        )
        waited = time.monotonic() - started
        assert 2 <= waited < 2 + RETRY_EVERY + 3, waited
        assert connected["Application"] == "Queue"
        assert (await variables(ami, uniqueid, "ACD_RESULT"))["ACD_RESULT"] == "no_controller"
        await hangup(ami, uniqueid)
    finally:
        # The queue goes: its globals are cleared (the session's Asterisk outlives the test).
        router.handle(QueueRemoved(0, name))
        with contextlib.suppress(Exception):
            await publisher.resync()
        link.close()
        await tasks.cancel_all()
    cleared = await ami.action(Action="Getvar", Variable=f"GLOBAL(ACD_FALLBACK_{name})")
    assert cleared.get("Value", "") == ""

"""FastAGI routes with a scripted AGI session at the socket edge; engine, router, tracker,
entry service and effects are the real ones (no AMI connection: these paths never need one)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from acd.config import AgentSeed, AmiSettings
from acd.controller import Controller
from acd.controller.calls import CallTracker
from acd.controller.facts import ChannelHungUp
from acd.controller.flow import CallFlow
from acd.controller.phases import Phase
from acd.engine import Engine, Step
from acd.router.events import AgentLoggedIn, AgentUpserted, CallArrived, QueueUpserted
from acd.router.model import AgentState, CallState, QueueConfig
from acd.router.router import Router
from acd.service import AgentDirectory, AgentService
from acd.service.entry import MAX_CLOCK_SKEW, EntryService
from agi.routes import AgiRoutes
from agi.server import FastAgiServer

_SET = re.compile(r'SET VARIABLE (\S+) "(.*)"$')
_MSET = re.compile(r'EXEC MSet "(.*)"$')


class ScriptedAgi:
    """An AGI session as Asterisk would answer it; `hangup_after` commands, the caller goes."""

    def __init__(
        self,
        channel: str,
        uniqueid: str,
        *args: str,
        variables: dict[str, str] | None = None,
        hangup_after: int | None = None,
    ) -> None:
        self.headers = {"agi_channel": channel, "agi_uniqueid": uniqueid}
        self.headers.update({f"agi_arg_{i}": a for i, a in enumerate(args, start=1)})
        self.variables = dict(variables or {})
        self.commands: list[str] = []
        self.hangup_after = hangup_after

    async def send_command(self, command: str) -> dict[str, Any]:
        self.commands.append(command)
        if self.hangup_after is not None and len(self.commands) > self.hangup_after:
            return {"error": "AGIResultHangup", "msg": "User hungup during execution"}
        if command.startswith("GET VARIABLE "):
            value = self.variables.get(command.removeprefix("GET VARIABLE "))
            return {"status_code": 200, "result": ("1", value) if value is not None else ("0", "")}
        many = _MSET.match(command)
        if many:  # MSet(name=value,...): what set_many sends has no quoting to undo
            for pair in many[1].split(","):
                name, _, value = pair.partition("=")
                self.variables[name] = value
            return {"status_code": 200, "result": ("0", "")}
        match = _SET.match(command)
        assert match, command
        self.variables[match[1]] = match[2]
        return {"status_code": 200, "result": ("1", "")}


@dataclass
class Rig:
    controller: Controller
    routes: AgiRoutes
    server: FastAgiServer

    @property
    def engine(self) -> Engine:
        return self.controller.engine

    @property
    def tracker(self) -> CallTracker:
        return self.controller.tracker

    @property
    def flow(self) -> CallFlow:
        return self.controller.flow


class AlwaysLive:
    async def is_live(self, uniqueid: str, channel: str) -> bool:
        return True


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    engine = Engine(Router())
    directory = AgentDirectory()
    controller = Controller(AmiSettings(secret="s"), engine, directory)
    entry = EntryService(engine, controller.tracker, controller.flow, controller.handle_times)
    routes = AgiRoutes(entry, AgentService(engine, directory))
    engine.add_listener(controller.effects)
    engine.start()
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
    directory.put(AgentSeed("1001", contact="PJSIP/1001"))
    await engine.submit(lambda now: AgentUpserted(now, "1001"))
    try:
        server = FastAgiServer(routes.routes(), "127.0.0.1", 0, secret="k", check=AlwaysLive())
        yield Rig(controller, routes, server)
    finally:
        await engine.stop()


async def test_enter_with_an_agent_free_goes_straight_to_the_agent(
    rig: Rig,
) -> None:
    await rig.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    agi = ScriptedAgi(
        "Local/support@acd-inbound-1;2",
        "u1",
        "support",
        variables={"ACD_PRIORITY": "3", "ACD_SKILLS": ""},
    )
    await rig.routes.enter(agi)
    assert agi.variables["ACD_CALL_ID"] == "u1"
    assert agi.variables["ACD_QUEUE"] == "support"
    assert agi.variables["ACD_AGENT"] == "1001"
    assert agi.variables["ACD_AGENT_CONTACT"] == "PJSIP/1001"
    assert agi.variables["ACD_RING_TIMEOUT"] == "15"
    call = rig.tracker.get("u1")
    assert call is not None
    assert call.phase is Phase.OFFERED
    view = rig.engine.router.call("u1")
    assert view is not None
    assert (view.state, view.priority) == (CallState.OFFERED, 3)


async def test_enter_without_agents_waits(rig: Rig) -> None:
    agi = ScriptedAgi("Local/support@acd-inbound-1;2", "u2", "support")
    await rig.routes.enter(agi)
    assert agi.variables["ACD_AGENT"] == ""
    assert agi.variables["ACD_RESULT"] == ""
    assert float(agi.variables["ACD_ENTERED_AT"]) > 0
    assert agi.variables["ACD_ANNOUNCE_EVERY"] == "30"
    call = rig.tracker.get("u2")
    assert call is not None
    assert call.phase is Phase.WAITING


async def test_enter_into_an_unknown_queue_leaves_at_once(rig: Rig) -> None:
    agi = ScriptedAgi("Local/nope@acd-inbound-1;2", "u3", "nope")
    await rig.routes.enter(agi)
    assert agi.variables["ACD_RESULT"] == "unknown_queue"
    assert len(rig.tracker) == 0
    assert rig.engine.router.call("u3") is None


async def test_a_caller_gone_before_registration_never_becomes_a_waiting_call(
    rig: Rig,
) -> None:
    rig.flow.handle(ChannelHungUp("u4", "Local/support@acd-inbound-1;2", 16, None))
    await rig.routes.enter(ScriptedAgi("Local/support@acd-inbound-1;2", "u4", "support"))
    assert rig.engine.router.call("u4") is None
    assert len(rig.tracker) == 0


async def test_a_hangup_in_the_middle_of_enter_is_no_crash(rig: Rig) -> None:
    for after in range(12):
        agi = ScriptedAgi(
            "Local/support@acd-inbound-1;2", f"h{after}", "support", hangup_after=after
        )
        await rig.routes.enter(agi)  # must not raise
        # Registered or not; if registered, it is a live waiting call its Hangup will end.
        call = rig.tracker.get(f"h{after}")
        assert call is None or call.phase is Phase.WAITING


# --- a caller who waited without a controller ------------------------------------------------


class Steps:
    """Every engine step, to see the events the routes submitted."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def on_step(self, step: Step) -> None:
        self.events.append(step.event)

    def arrived(self, call_id: str) -> CallArrived:
        found = [e for e in self.events if isinstance(e, CallArrived) and e.call_id == call_id]
        assert len(found) == 1, self.events
        return found[0]


def _lengths(variables: dict[str, str]) -> tuple[str, ...]:
    """The enter AGI's arguments as the dialplan passes them: queue, then the lengths."""
    names = ("ACD_PRIORITY", "ACD_SKILLS", "ACD_CALLER_DATA", "ACD_ENTERED_AT", "ACD_CALL_ID")
    return ("support", *(str(len(variables.get(name, ""))) for name in names))


async def test_a_caller_who_waited_without_a_controller_keeps_its_entry_time_and_id(
    rig: Rig,
) -> None:
    steps = Steps()
    rig.engine.add_listener(steps)
    entered = round(time.time() - 42.5, 3)
    variables = {"ACD_ENTERED_AT": f"{entered:.3f}", "ACD_CALL_ID": "u9;2"}
    # The dialplan gave the call its own id (its UNIQUEID then); this channel is the same.
    agi = ScriptedAgi(
        "Local/support@acd-inbound-9;2", "u9;2", *_lengths(variables), variables=dict(variables)
    )
    await rig.routes.enter(agi)
    arrived = steps.arrived("u9;2")
    assert arrived.entered_at == pytest.approx(entered)
    assert arrived.now - entered == pytest.approx(42.5, abs=2)
    call = rig.tracker.get("u9;2")
    assert call is not None
    assert call.entered_at == pytest.approx(entered)
    assert call.phase is Phase.WAITING
    # Written back as it was: the channel's record and the controller's agree.
    assert agi.variables["ACD_ENTERED_AT"] == f"{entered:.3f}"
    assert agi.variables["ACD_CALL_ID"] == "u9;2"
    assert agi.variables["ACD_RESULT"] == ""
    reads = [c for c in agi.commands if c.startswith("GET VARIABLE")]
    assert reads == ["GET VARIABLE ACD_ENTERED_AT", "GET VARIABLE ACD_CALL_ID"]


async def test_a_call_id_from_the_channel_is_kept_on_another_channel(rig: Rig) -> None:
    """Re-entering from a called-back leg (its uniqueid is <call id>-cb1): same call id."""
    steps = Steps()
    rig.engine.add_listener(steps)
    entered = time.time() - 5
    variables = {"ACD_ENTERED_AT": f"{entered:.3f}", "ACD_CALL_ID": "orig-1"}
    agi = ScriptedAgi(
        "Local/x@y-1;2", "orig-1-cb1", *_lengths(variables), variables=dict(variables)
    )
    await rig.routes.enter(agi)
    assert steps.arrived("orig-1").entered_at == pytest.approx(entered, abs=0.001)
    assert agi.variables["ACD_CALL_ID"] == "orig-1"


async def test_a_first_entry_reads_no_extra_variable(rig: Rig) -> None:
    steps = Steps()
    rig.engine.add_listener(steps)
    before = time.time()
    new = ScriptedAgi("Local/support@acd-inbound-1;2", "n1", *_lengths({}))
    await rig.routes.enter(new)
    # An older dialplan passes only four arguments: the two new variables are not read.
    old = ScriptedAgi("Local/support@acd-inbound-2;2", "n2", "support", "0", "0", "0")
    await rig.routes.enter(old)
    for agi, call_id in ((new, "n1"), (old, "n2")):
        assert not [c for c in agi.commands if c.startswith("GET VARIABLE")]
        assert steps.arrived(call_id).entered_at is None
        call = rig.tracker.get(call_id)
        assert call is not None
        assert call.entered_at >= before


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("soon", "not a number"),
        ("nan", "not a number"),
        ("+3600", "in the future"),
        ("-172800", "two days ago"),
    ],
)
async def test_an_implausible_entry_time_is_ignored_with_a_warning(
    rig: Rig, caplog: pytest.LogCaptureFixture, value: str, why: str
) -> None:
    steps = Steps()
    rig.engine.add_listener(steps)
    now = time.time()
    text = f"{now + float(value):.3f}" if value[0] in "+-" else value
    variables = {"ACD_ENTERED_AT": text}
    agi = ScriptedAgi(
        "Local/support@acd-inbound-1;2", "b1", *_lengths(variables), variables=dict(variables)
    )
    with caplog.at_level(logging.WARNING):
        await rig.routes.enter(agi)
    assert steps.arrived("b1").entered_at is None, why
    call = rig.tracker.get("b1")
    assert call is not None
    assert call.entered_at >= now
    assert float(agi.variables["ACD_ENTERED_AT"]) >= now - 0.001
    assert "ACD_ENTERED_AT" in caplog.text, why


async def test_an_entry_time_a_little_ahead_is_taken_as_now(rig: Rig) -> None:
    """Asterisk's clock may run a little ahead of the controller's (MAX_CLOCK_SKEW)."""
    steps = Steps()
    rig.engine.add_listener(steps)
    variables = {"ACD_ENTERED_AT": f"{time.time() + MAX_CLOCK_SKEW / 2:.3f}"}
    agi = ScriptedAgi(
        "Local/support@acd-inbound-1;2", "s1", *_lengths(variables), variables=dict(variables)
    )
    await rig.routes.enter(agi)
    assert steps.arrived("s1").entered_at is None
    assert rig.tracker.get("s1") is not None


async def test_a_bad_call_id_from_the_channel_is_ignored(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    variables = {"ACD_ENTERED_AT": f"{time.time() - 1:.3f}", "ACD_CALL_ID": "two words"}
    agi = ScriptedAgi(
        "Local/support@acd-inbound-1;2", "c1", *_lengths(variables), variables=dict(variables)
    )
    with caplog.at_level(logging.WARNING):
        await rig.routes.enter(agi)
    assert agi.variables["ACD_CALL_ID"] == "c1"
    assert rig.tracker.get("c1") is not None
    assert "ACD_CALL_ID" in caplog.text


async def test_entering_again_for_a_registered_call_makes_no_second_call(rig: Rig) -> None:
    """The enter AGI's answer was lost (or a resync adopted the caller from its channel) and
    the dialplan tries again: the call is told it is in, not registered twice."""
    steps = Steps()
    rig.engine.add_listener(steps)
    first = ScriptedAgi("Local/support@acd-inbound-1;2", "r1", *_lengths({}))
    await rig.routes.enter(first)
    entered = first.variables["ACD_ENTERED_AT"]
    variables = {"ACD_ENTERED_AT": entered, "ACD_CALL_ID": "r1"}
    again = ScriptedAgi(
        "Local/support@acd-inbound-1;2", "r1", *_lengths(variables), variables=dict(variables)
    )
    await rig.routes.enter(again)
    assert len(rig.tracker) == 1
    assert [e.call_id for e in steps.events if isinstance(e, CallArrived)] == ["r1"]
    assert again.variables["ACD_CALL_ID"] == "r1"
    assert again.variables["ACD_ENTERED_AT"] == entered
    assert again.variables["ACD_RESULT"] == ""
    assert again.variables["ACD_AGENT"] == ""
    # Another channel with that id is another caller: it gets an id of its own.
    other = ScriptedAgi(
        "Local/support@acd-inbound-2;2", "r2", *_lengths(variables), variables=dict(variables)
    )
    await rig.routes.enter(other)
    assert other.variables["ACD_CALL_ID"] == "r1-2"
    assert len(rig.tracker) == 2


async def test_announce_for_a_call_it_does_not_know_says_lost(rig: Rig) -> None:
    """The dialplan then enters again with the call's own ACD_ENTERED_AT (acd-wait,t)."""
    agi = ScriptedAgi("Local/support@acd-inbound-1;2", "gone", "")
    await rig.routes.announce(agi)
    assert agi.variables == {"ACD_RESULT": "lost"}


async def test_feature_codes_identify_the_agent_by_its_device(rig: Rig) -> None:
    agent_channel = "PJSIP/1001-0000000a"
    pause = ScriptedAgi(agent_channel, "f1", "01")
    await rig.routes.agent_pause(pause)
    assert pause.variables["ACD_FEATURE_RESULT"] == "agent_not_logged_in"
    login = ScriptedAgi(agent_channel, "f2")
    await rig.routes.agent_login(login)
    assert login.variables["ACD_FEATURE_RESULT"] == "ok"
    pause = ScriptedAgi(agent_channel, "f3", "01")
    await rig.routes.agent_pause(pause)
    agent = rig.engine.router.agent("1001")
    assert agent is not None
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, "01")
    stranger = ScriptedAgi("PJSIP/9999-00000001", "f4")
    await rig.routes.agent_login(stranger)
    assert stranger.variables["ACD_FEATURE_RESULT"] == "unknown_agent"


async def test_a_connection_that_closes_before_its_environment_ends_quietly(
    rig: Rig,
) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"agi_network_script: enter\nagi_chan")
    reader.feed_eof()
    writer = ClosingWriter()
    await asyncio.wait_for(rig.server.serve(reader, writer), 5)  # type: ignore[arg-type]
    assert writer.closed
    assert len(rig.tracker) == 0


async def test_an_unknown_route_is_refused(rig: Rig) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"agi_network_script: nosuch\nagi_channel: PJSIP/1-1\n\n")
    writer = ClosingWriter()
    await rig.server.serve(reader, writer)  # type: ignore[arg-type]
    assert writer.closed


class ClosingWriter:
    closed = False

    def close(self) -> None:
        self.closed = True


# --- what a channel says is bounded like an API body ----------------------------------------


async def test_entry_values_outside_their_rules_are_ignored_and_the_caller_enters(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    steps = Steps()
    rig.engine.add_listener(steps)
    variables = {
        "ACD_PRIORITY": "999999999",
        "ACD_SKILLS": ",".join(f"s{i}" for i in range(40)),
        "ACD_CALLER_DATA": "x" * 5000,
        "ACD_CALL_ID": "c9|CONNECT|1001",
    }
    agi = ScriptedAgi(
        "Local/support@acd-inbound-1;2", "b1", *_lengths(variables), variables=dict(variables)
    )
    with caplog.at_level(logging.WARNING):
        await rig.routes.enter(agi)
    arrived = steps.arrived("b1")
    assert (arrived.priority, dict(arrived.extra_skills)) == (None, {})
    assert agi.variables["ACD_CALL_ID"] == "b1"
    for name in ("ACD_PRIORITY", "ACD_SKILLS", "ACD_CALLER_DATA", "ACD_CALL_ID"):
        assert name in caplog.text


async def test_a_queue_name_outside_the_rules_is_an_unknown_queue(rig: Rig) -> None:
    agi = ScriptedAgi("Local/x@acd-inbound-1;2", "q1", 'support"|x')
    await rig.routes.enter(agi)
    assert agi.variables["ACD_RESULT"] == "unknown_queue"
    assert len(rig.tracker) == 0


async def test_an_enter_on_a_node_that_lost_the_lease_is_left_unanswered(rig: Rig) -> None:
    """A cluster node whose engine halted (its journal was fenced) sets nothing: ACD_RESULT
    keeps the dialplan's no_controller and the caller retries at the new leader, instead of
    `error`, which sends the caller away."""
    rig.engine.halt(RuntimeError("fenced: the lease is another node's"))
    agi = ScriptedAgi("Local/support@acd-inbound-1;2", "u9", "support")
    await rig.routes.enter(agi)
    assert "ACD_RESULT" not in agi.variables
    assert "ACD_AGENT" not in agi.variables

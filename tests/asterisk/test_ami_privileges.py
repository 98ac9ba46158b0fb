"""The controller's AMI account on a real Asterisk: no `system` write class (so no Originate to
System/AGI), static event filters instead of the `Filter` action, and an AMI writer that never
puts a CR/LF-smuggled second action on the connection (read from what Asterisk received)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ami_session import AmiSession, login

from acd.asterisk.instance import LINK_EVENTS
from acd.asterisk.testing import RunningAsterisk
from acd.config import AmiSettings
from acd.controller.ami import AmiLink, AmiUnsafeAction
from acd.controller.facts import event_filters

pytestmark = pytest.mark.asterisk

#: An empty line ends the action: what follows is a second one (with a single CRLF the lines
#: join the same action; Asterisk reads its first `Action:` header and ignores the rest). The
#: second action is one the controller's account may send: a global Setvar.
INJECTED = "\r\n\r\nAction: Setvar\r\nVariable: ACD_INJECTED\r\nValue: injected"
SIM_AGENT = "Local/2003@acd-sim-agent"


@contextlib.asynccontextmanager
async def session(asterisk: RunningAsterisk, *, as_controller: bool) -> AsyncIterator[AmiSession]:
    manager = await login(asterisk, as_controller=as_controller, events="call,system,user")
    assert manager.authenticated, "login refused"
    try:
        yield AmiSession(manager)
    finally:
        manager.close()


@contextlib.asynccontextmanager
async def controller_link(asterisk: RunningAsterisk) -> AsyncIterator[AmiLink]:
    """The controller's own AMI writer, logged in as the controller's account."""
    settings = AmiSettings(port=asterisk.ami_port, secret=asterisk.ami_secret)
    logged_in = asyncio.Event()
    link = AmiLink(settings, lambda _fact: None, logged_in.set, lambda: None)
    link.connect()
    try:
        async with asyncio.timeout(10):
            await logged_in.wait()
        yield link
    finally:
        link.close()


def _drain(ami: AmiSession) -> list[Any]:
    events = []
    while not ami.events.empty():
        events.append(ami.events.get_nowait())
    return events


# --- least privilege ----------------------------------------------------------------------------


async def test_the_controller_account_may_not_originate_to_the_system_application(
    asterisk: RunningAsterisk,
) -> None:
    marker = asterisk.instance.dir / f"system-ran-{uuid.uuid4().hex}"
    async with session(asterisk, as_controller=True) as ami:
        reply = await ami.action(
            Action="Originate",
            Channel=f"{SIM_AGENT}",
            Application="System",
            Data=f"touch /var/acd/instances/{asterisk.instance.name}/{marker.name}",
            Variable="ACD_SIM_TALK=0",
            Async="false",
            Timeout="5000",
        )
    assert not reply.success, dict(reply)
    # Asterisk: "Originate Access Forbidden: app or data blacklisted" without `system`.
    assert "forbidden" in str(reply.get("Message", "")).lower(), dict(reply)
    await asyncio.sleep(0.5)
    assert not marker.exists(), "System() ran on behalf of the controller's AMI account"


async def test_the_controller_account_has_no_system_class_but_its_actions_work(
    asterisk: RunningAsterisk,
) -> None:
    """Every action the controller sends, with the classes it has now (`read = system,call`:
    list replies are answers, not events, and need no read class)."""
    async with (
        session(asterisk, as_controller=False) as observer,
        session(asterisk, as_controller=True) as ami,
    ):
        await observer.action(
            Action="Originate",
            Channel="Local/2001@acd-sim-agent",
            Application="Wait",
            Data="2",
            Variable="ACD_SIM_TALK=2",
            Async="false",
            Timeout="5000",
        )
        ping = await ami.action(Action="Ping")
        status = await ami.manager.send_action({"Action": "Status"}, as_list=True)
        devices = await ami.manager.send_action({"Action": "DeviceStateList"}, as_list=True)
        setvar = await ami.action(Action="Setvar", Variable="ACD_PRIV_TEST", Value="1")
        getvar = await ami.action(Action="Getvar", Variable="ACD_PRIV_TEST")
        # The `Filter` action (and DBPut, graceful restart, ...) needs `system`: refused now.
        refused = await ami.action(Action="Filter", Operation="Add", Filter="^Event: Hangup")
    assert ping.success
    assert status[0].success
    assert status[-1].event == "StatusComplete"
    assert any("Local/2001@acd-sim-agent" in str(e.get("Channel")) for e in status[1:-1])
    assert devices[0].success
    assert devices[-1].event == "DeviceStateListComplete"
    assert len(devices) > 2, devices  # the PJSIP endpoints at least
    assert setvar.success
    assert getvar.get("Value") == "1"
    assert not refused.success
    assert "permission denied" in str(refused.get("Message", "")).lower(), dict(refused)


# --- static event filters -----------------------------------------------------------------------


def _passes_filters(event: Any) -> bool:
    """What the rendered `eventfilter` lines let through, evaluated here: a POSIX regex on the
    whole event text (no REG_NEWLINE: `.` spans lines), any may match."""
    text = f"Event: {event.event}\r\n" + "".join(
        f"{key}: {value}\r\n" for key, value in event.items() if key != "Event"
    )
    patterns = [p.replace("[[:space:]]", r"\s") for p in event_filters(LINK_EVENTS)]
    return any(re.search(pattern, text, re.DOTALL) for pattern in patterns)


def _ours(event: Any) -> bool:
    return any(SIM_AGENT in str(value) for value in event.values())


async def test_the_controller_session_gets_only_the_filtered_events_without_the_filter_action(
    asterisk: RunningAsterisk,
) -> None:
    """No `Filter` action is sent: the static `eventfilter` lines alone give the controller's
    session exactly those of an unfiltered session's events that the regexes match (Asterisk
    reads them as it read the `Filter` action's: POSIX, on the whole event)."""
    async with (
        session(asterisk, as_controller=True) as controller,
        session(asterisk, as_controller=False) as observer,
    ):
        observed: list[Any] = []
        hangups = 0
        await observer.action(
            Action="Originate",
            Channel=SIM_AGENT,
            Application="Wait",
            Data="1",
            Variable="ACD_SIM_TALK=1",
            Async="true",
            Timeout="10000",
        )
        async with asyncio.timeout(15):
            while hangups < 2:
                event = await observer.events.get()
                observed.append(event)
                hangups += event.event == "Hangup" and _ours(event)
        await asyncio.sleep(1.0)
        observed += _drain(observer)
        got = [e for e in _drain(controller) if _ours(e)]
    # The observer's panoramisk takes the OriginateResponse as the answer to its Originate.
    got = [e for e in got if e.event != "OriginateResponse"]
    ours = [e for e in observed if _ours(e)]
    expected = [e for e in ours if _passes_filters(e)]
    dropped = Counter(e.event for e in ours if not _passes_filters(e))
    assert "Newstate" in dropped, dropped  # what the old session-wide Filter kept out too
    assert Counter(e.event for e in got)["Hangup"] == 2, [e.event for e in got]
    key = lambda e: (e.event, e.get("Uniqueid", e.get("Device", "")))  # noqa: E731
    assert Counter(map(key, got)) == Counter(map(key, expected))


# --- the writer refuses CR/LF/NUL ---------------------------------------------------------------


async def _injected_seen(link: AmiLink, observer: AmiSession) -> bool:
    """True if Asterisk carried out the injected Setvar. Asterisk runs one connection's
    actions in order: once the link's next action is answered, an injected one has run."""
    assert (await link.request({"Action": "Ping"})).success
    reply = await observer.action(Action="Getvar", Variable="ACD_INJECTED")
    return bool(reply.get("Value"))


@pytest.mark.parametrize("where", ["setvar_value", "originate_variable", "header_name"])
async def test_a_cr_lf_in_a_value_never_puts_a_second_action_on_the_connection(
    asterisk: RunningAsterisk, where: str
) -> None:
    async with (
        session(asterisk, as_controller=False) as observer,
        controller_link(asterisk) as link,
    ):
        await observer.action(Action="Setvar", Variable="ACD_INJECTED", Value="")
        error: Exception | None = None
        try:
            if where == "setvar_value":
                await link.request(
                    {"Action": "Setvar", "Variable": "ACD_X", "Value": f"x{INJECTED}"}
                )
            elif where == "originate_variable":
                await link.originate(
                    {
                        "Channel": f"Local/2004@acd-sim-agent{INJECTED}",
                        "Application": "Wait",
                        "Data": "1",
                        "Variable": ["ACD_SIM_TALK=0", f"ACD_AGENT_CONTACT=x{INJECTED}"],
                    },
                    within=5,
                )
            else:
                await link.request({"Action": "Ping", f"X{INJECTED}": "1"})
        except Exception as exc:  # the kind is asserted below, after what Asterisk received
            error = exc
        assert not await _injected_seen(link, observer), "Asterisk ran the injected action"
        assert isinstance(error, AmiUnsafeAction), error
        assert error.unsent
        # The link went on (the Ping above): the refusal wrote nothing, no half action.

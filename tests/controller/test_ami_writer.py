"""The AMI writer refuses CR, LF and NUL in any header name or value before anything is
written (a value ending a header early would put a second action on the connection), and the
controller's effects treat the refusal as a failed action. The real AmiLink, with panoramisk's
writer replaced by one that records what would go on the wire; the effect on a real Asterisk
is in tests/asterisk/test_ami_privileges.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from acd.config import AgentSeed, AmiSettings
from acd.controller import Controller
from acd.controller.ami import AmiLink, AmiUnsafeAction, check_action
from acd.controller.calls import LiveCall
from acd.controller.phases import Phase
from acd.engine import Engine
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallArrived,
    OfferFailed,
    QueueUpserted,
)
from acd.router.model import AgentState, CallState, QueueConfig
from acd.router.router import Router
from acd.service.directory import AgentDirectory

from .harness import StepWatch

INJECTED = "\r\nAction: UserEvent\r\nUserEvent: injected"


class _Reply(dict[str, str]):
    success = True


class WireRecorder:
    """Stands in for panoramisk's Manager: every action it is asked to write, answered OK."""

    protocol = object()

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def send_action(self, message: Mapping[str, Any], as_list: bool | None = None) -> Any:
        self.written.append(dict(message))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(_Reply(Response="Success"))
        return future


def _unsafe(written: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def bad(text: object) -> bool:
        return any(c in str(text) for c in "\r\n\0")

    return [
        action
        for action in written
        for key, value in action.items()
        if bad(key) or any(bad(v) for v in (value if isinstance(value, list) else [value]))
    ]


@pytest.mark.parametrize(
    "action",
    [
        {"Action": "Setvar", "Variable": "ACD_X", "Value": f"x{INJECTED}"},
        {"Action": "Setvar", "Variable": "ACD_X", "Value": "x\ny"},
        {"Action": "Setvar", "Variable": "ACD_X", "Value": "x\ry"},
        {"Action": "Setvar", "Variable": "ACD_X", "Value": "x\0y"},
        {"Action": "Redirect", "Channel": f"PJSIP/1{INJECTED}", "Context": "c"},
        {"Action": "Originate", "Variable": ["A=1", f"B=2{INJECTED}"]},
        {"Action": "Ping", f"X{INJECTED}": "1"},
        {"Action": f"Ping{INJECTED}"},
    ],
)
def test_check_action_refuses_cr_lf_nul_in_any_name_or_value(action: dict[str, Any]) -> None:
    with pytest.raises(AmiUnsafeAction, match="CR, LF or NUL") as refused:
        check_action(action)
    assert refused.value.unsent


def test_check_action_lets_ordinary_actions_through() -> None:
    check_action({"Action": "Setvar", "Variable": "ACD_X", "Value": "Local/2001@acd-sim-agent"})
    check_action({"Action": "Originate", "Variable": ["A=1", "B=two words, tab\tok"]})


@pytest.fixture
async def link() -> tuple[AmiLink, WireRecorder]:
    link = AmiLink(AmiSettings(port=1, secret="s"), lambda _f: None, lambda: None, lambda: None)
    wire = WireRecorder()
    link._manager = wire  # type: ignore[assignment]
    link.logged_in = True
    return link, wire


async def test_every_writer_refuses_before_anything_is_written(
    link: tuple[AmiLink, WireRecorder],
) -> None:
    ami, wire = link
    bad = {"Action": "Setvar", "Variable": "ACD_X", "Value": f"x{INJECTED}"}
    for send in (
        lambda: ami.request(bad),
        lambda: ami.request_events(bad),
        lambda: ami.request_listing(bad),
        lambda: ami.originate({"Channel": "PJSIP/1", "Variable": [f"A=1{INJECTED}"]}, 1.0),
    ):
        with pytest.raises(AmiUnsafeAction):
            await send()
    assert wire.written == []
    assert (await ami.request({"Action": "Ping"})).success  # the link goes on
    assert wire.written == [{"Action": "Ping", "Async": "false"}]


@pytest.fixture
async def controller(
    link: tuple[AmiLink, WireRecorder],
) -> AsyncIterator[tuple[Controller, WireRecorder, StepWatch]]:
    ami, wire = link
    engine = Engine(Router())
    directory = AgentDirectory()
    controller = Controller(AmiSettings(secret="s"), engine, directory)
    controller.effects.ami = ami
    steps = StepWatch()
    engine.add_listener(controller.effects)
    engine.add_listener(steps)
    engine.start()
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
    try:
        yield controller, wire, steps
    finally:
        await controller.tasks.cancel_all()
        await engine.stop()


async def test_a_value_with_cr_lf_fails_the_offer_and_writes_no_injected_action(
    controller: tuple[Controller, WireRecorder, StepWatch],
) -> None:
    """An agent id that got past every validation (the last line of defence) reaches the
    offer's Setvar ACD_AGENT: the offer fails as any failed action does, nothing unsafe is
    written, the call keeps waiting and the controller goes on to offer it to another agent."""
    ctl, wire, steps = controller
    bad = f"1001{INJECTED}"
    for agent_id in (bad, "1002"):
        ctl.directory.put(AgentSeed(agent_id, contact="PJSIP/1001"))
        await ctl.engine.submit(lambda now, a=agent_id: AgentUpserted(now, a))
    ctl.tracker.add(LiveCall("c1", "support", "support", "Local/x-c1;2", "c1", Phase.WAITING, 0))
    await ctl.engine.submit(lambda now: CallArrived(now, "c1", "support"))
    await ctl.engine.submit(lambda now: AgentLoggedIn(now, bad))
    failed = await steps.event(lambda e: isinstance(e, OfferFailed))
    assert (failed.agent_id, failed.reason) == (bad, "error")
    assert [a for a in wire.written if a["Action"] == "Redirect"] == [], "half an offer sent"
    assert _unsafe(wire.written) == []
    assert ctl.engine.router.call("c1").state is CallState.WAITING
    await ctl.engine.submit(lambda now: AgentLoggedIn(now, "1002"))
    for _ in range(100):
        if any(a["Action"] == "Redirect" for a in wire.written[-1:]):
            break
        await asyncio.sleep(0.01)
    assert ctl.engine.router.agent("1002").state is AgentState.RESERVED
    assert _unsafe(wire.written) == []

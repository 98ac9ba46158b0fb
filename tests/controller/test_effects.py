"""Decisions carried out on AMI, with a scripted AMI at the edge (what Asterisk answers to
each action); engine, router, tracker and effects are the real ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from acd.config import AgentSeed, AmiSettings
from acd.controller import Controller
from acd.controller.ami import AmiError, AmiResponse
from acd.controller.calls import MAX_HEADER_VALUE_BYTES, LiveCall, channel_text
from acd.controller.facts import ChannelHungUp, DialEnded
from acd.controller.phases import Phase
from acd.engine import Engine
from acd.router.decisions import CallExited, CallOverflowed
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    CallTransferred,
    OfferFailed,
    QueueUpserted,
)
from acd.router.model import AgentState, CallState, QueueConfig
from acd.router.router import Router
from acd.service.directory import AgentDirectory

from .harness import StepWatch


class ScriptedAmi:
    """Answers Redirect with `redirect_reply` (None: success); records every action."""

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []
        self.redirect_reply: str | None = None
        self.originate_reply: AmiResponse | Exception = AmiResponse(True, "", {})
        self.logged_in = True
        self.redirected = asyncio.Event()

    async def request(self, action: Mapping[str, Any], within: float = 5.0) -> AmiResponse:
        self.actions.append(dict(action))
        if action["Action"] == "Redirect":
            self.redirected.set()
        if action["Action"] == "Redirect" and self.redirect_reply is not None:
            if self.redirect_reply == "timeout":
                raise AmiError("Redirect", "no response in 5.0 s")
            return AmiResponse(False, self.redirect_reply, {})
        return AmiResponse(True, "", {})

    async def originate(self, action: Mapping[str, Any], within: float) -> AmiResponse:
        self.actions.append({"Action": "Originate", **action})
        if isinstance(self.originate_reply, Exception):
            raise self.originate_reply
        return self.originate_reply


@pytest.fixture
async def setup() -> AsyncIterator[tuple[Controller, ScriptedAmi, StepWatch]]:
    engine = Engine(Router())
    directory = AgentDirectory()
    controller = Controller(AmiSettings(secret="s"), engine, directory)
    ami = ScriptedAmi()
    controller.effects.ami = ami  # type: ignore[assignment]
    steps = StepWatch()
    engine.add_listener(controller.effects)
    engine.add_listener(steps)
    engine.start()
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
    directory.put(AgentSeed("1001", contact="PJSIP/1001"))
    await engine.submit(lambda now: AgentUpserted(now, "1001"))
    try:
        yield controller, ami, steps
    finally:
        await controller.tasks.cancel_all()
        await engine.stop()


async def waiting_call(controller: Controller, call_id: str, phase: Phase = Phase.WAITING) -> None:
    controller.tracker.add(
        LiveCall(call_id, "support", "support", f"Local/x-{call_id};2", call_id, phase, 0.0)
    )
    await controller.engine.submit(lambda now: CallArrived(now, call_id, "support"))


async def test_an_offer_is_setvars_then_a_redirect_to_acd_deliver(setup: Any) -> None:
    controller, ami, _steps = setup
    await waiting_call(controller, "c1")
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    await asyncio.wait_for(ami.redirected.wait(), 5)
    names = [(a["Action"], a.get("Variable")) for a in ami.actions]
    assert names == [
        ("Setvar", "ACD_AGENT"),
        ("Setvar", "ACD_AGENT_CONTACT"),
        ("Setvar", "ACD_RING_TIMEOUT"),
        ("Redirect", None),
    ]
    redirect = ami.actions[-1]
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"]) == (
        "Local/x-c1;2",
        "acd-deliver",
        "s",
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Channel does not exist", CallAbandoned),
        ("Permission denied", OfferFailed),
        ("timeout", OfferFailed),
    ],
)
async def test_a_redirect_that_fails_is_fed_back(setup: Any, reply: str, expected: type) -> None:
    controller, ami, steps = setup
    ami.redirect_reply = reply
    await waiting_call(controller, "c2")
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    event = await steps.event(lambda e: isinstance(e, CallAbandoned | OfferFailed))
    assert isinstance(event, expected)
    router = controller.engine.router
    if expected is CallAbandoned:
        assert router.call("c2") is None
        assert router.agent("1001").state is AgentState.AVAILABLE
    else:
        assert event.reason == "error"
        assert router.call("c2").state is CallState.WAITING


async def test_a_callback_originates_the_caller_then_dials_the_agent(setup: Any) -> None:
    controller, ami, steps = setup
    await waiting_call(controller, "c3")
    call = controller.tracker.get("c3")
    call.phase, call.callback_to = Phase.CALLBACK, "PJSIP/caller"
    controller.tracker.bind_caller(call, None, None)
    ami.originate_reply = AmiResponse(False, "no answer", {})
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    abandoned = await steps.event(lambda e: isinstance(e, CallAbandoned))
    assert abandoned.reason == "callback_unanswered"
    originate = next(a for a in ami.actions if a["Action"] == "Originate")
    assert originate["Channel"] == "PJSIP/caller"
    assert (originate["Context"], originate["ChannelId"]) == ("acd-deliver", "c3-cb1")
    assert "ACD_AGENT_CONTACT=PJSIP/1001" in originate["Variable"]
    assert controller.engine.router.agent("1001").state is AgentState.AVAILABLE


async def test_an_agent_without_contact_fails_the_offer_without_touching_asterisk(
    setup: Any,
) -> None:
    controller, ami, steps = setup
    controller.directory.put(AgentSeed("1001", contact=""))
    await waiting_call(controller, "c4")
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    failed = await steps.event(lambda e: isinstance(e, OfferFailed))
    assert failed.reason == "unreachable"
    assert ami.actions == []


async def test_an_overflow_sets_the_queue_and_its_entry_time_on_the_channel(setup: Any) -> None:
    """So that a restarted controller adopts the call in its new queue with its escalation
    and max wait counting from the overflow (ACD_QUEUE_ENTERED_AT)."""
    controller, ami, steps = setup
    engine = controller.engine
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("sales")))
    support = QueueConfig("support", max_wait=0.05, overflow="sales")
    await engine.submit(lambda now: QueueUpserted(now, support))
    await waiting_call(controller, "c4")
    overflowed = await steps.decision(lambda d: isinstance(d, CallOverflowed))

    def sent() -> dict[str, str]:
        return {a["Variable"]: a["Value"] for a in ami.actions if a["Action"] == "Setvar"}

    for _ in range(100):
        if "ACD_QUEUE_ENTERED_AT" in sent():
            break
        await asyncio.sleep(0.01)
    assert sent()["ACD_QUEUE"] == "sales"
    assert float(sent()["ACD_QUEUE_ENTERED_AT"]) == pytest.approx(overflowed.at, abs=1e-3)
    call = controller.tracker.get("c4")
    assert (call.queue, call.queue_entered_at) == ("sales", overflowed.at)


async def test_a_send_away_the_lost_link_kept_back_is_sent_after_the_resync(setup: Any) -> None:
    controller, ami, steps = setup
    engine = controller.engine
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support", max_wait=0.05)))
    ami.logged_in, ami.redirect_reply = False, "timeout"
    await waiting_call(controller, "c5")
    await steps.decision(lambda d: isinstance(d, CallExited))
    for _ in range(100):
        if "c5" in controller.effects.deferred_exits:
            break
        await asyncio.sleep(0.01)
    assert "c5" in controller.effects.deferred_exits
    assert "c5" not in controller.tracker  # the router let it go; not adopted meanwhile
    ami.logged_in, ami.redirect_reply = True, None
    ami.redirected.clear()
    controller.effects.retry_deferred(frozenset({"c5"}))
    await asyncio.wait_for(ami.redirected.wait(), 5)
    redirect = ami.actions[-1]
    assert (redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
        "acd-queue",
        "s",
        "exit",
    )
    assert controller.effects.deferred_exits == {}


@pytest.mark.parametrize("stopping", [False, True])
async def test_a_redirect_refused_because_the_caller_is_hanging_up_blames_no_agent(
    setup: Any, stopping: bool
) -> None:
    """A caller already being hung up (a Hangup on its way; at an Asterisk stop every
    channel is) cannot be redirected: Asterisk says the channel is not up. That is not the
    agent's ring-no-answer: the caller's Hangup ends the offer, and the agent is free again
    (seen in a fault test: Asterisk stopped while a freed agent was offered a waiting call)."""
    controller, ami, steps = setup
    ami.redirect_reply = "Permission denied" if stopping else "Redirect failed, channel not up."
    controller.flow.asterisk_stopping = stopping
    await waiting_call(controller, "c5")
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    await asyncio.wait_for(ami.redirected.wait(), 5)
    for _ in range(10):  # let the offer's task read the reply and post what it posts
        await asyncio.sleep(0)
    controller._post(controller.flow.handle(ChannelHungUp("c5", "Local/x-c5;2", 16, None)))
    event = await steps.event(lambda e: isinstance(e, CallAbandoned | OfferFailed))
    assert isinstance(event, CallAbandoned), steps.seen
    assert event.reason == ("asterisk_stopped" if stopping else "hangup")
    assert controller.engine.router.agent("1001").state is AgentState.AVAILABLE


async def connected_call(controller: Controller, call_id: str) -> None:
    """A support call connected to agent 1001, as the tracker and the router have it."""
    await waiting_call(controller, call_id)
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    call = controller.tracker.get(call_id)
    for _ in range(100):
        if call is not None and call.phase is Phase.OFFERED:
            break
        await asyncio.sleep(0.01)
    assert call is not None
    controller._post(controller.flow.handle(DialEnded(call_id, "Local/x-leg;1", "ANSWER", 1.0)))
    for _ in range(100):
        view = controller.engine.router.call(call_id)
        if view is not None and view.state is CallState.CONNECTED:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not connected")


async def test_a_transfer_the_lost_link_kept_back_is_redirected_after_the_resync(
    setup: Any,
) -> None:
    """The caller must not stay bridged with the first agent (who is in wrap-up, then
    offered other calls) because the Redirect into the wait was never sent."""
    controller, ami, _steps = setup
    engine = controller.engine
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("sales")))
    await connected_call(controller, "c6")
    ami.logged_in, ami.redirect_reply = False, "timeout"
    ami.redirected.clear()
    await engine.submit(lambda now: CallTransferred(now, "c6", "sales"))
    await asyncio.wait_for(ami.redirected.wait(), 5)
    for _ in range(100):
        if "c6" in controller.effects.deferred_requeues:
            break
        await asyncio.sleep(0.01)
    assert "c6" in controller.effects.deferred_requeues
    ami.logged_in, ami.redirect_reply = True, None
    ami.redirected.clear()
    controller.effects.retry_deferred(frozenset({"c6"}))
    await asyncio.wait_for(ami.redirected.wait(), 5)
    redirect = ami.actions[-1]
    assert (redirect["Context"], redirect["Exten"], redirect["Priority"]) == ("acd-wait", "s", "1")
    assert controller.effects.deferred_requeues == {}


def test_a_long_note_is_cut_to_what_one_ami_header_line_carries() -> None:
    """Asterisk refuses an AMI line over 1024 bytes; 500 characters of CJK are 1500."""
    assert channel_text("refund please") == "refund please"
    cut = channel_text("退款" * 250)
    assert len(cut.encode()) <= MAX_HEADER_VALUE_BYTES
    assert cut.endswith("…")
    assert cut.startswith("退款退款")

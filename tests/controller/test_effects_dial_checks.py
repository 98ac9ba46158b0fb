"""Defence in depth at the point of use: a contact, a callback dial string or an overflow target
that is not one value of its grammar (acd/config/dialstrings.py) is never sent to Asterisk,
wherever it came from (the documents refuse them; these come in behind the documents' back, as
a database from before the rules or a bug would). The offer or callback fails instead."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.config import AgentSeed
from acd.config.dialstrings import DialRules
from acd.controller.phases import Phase
from acd.router.decisions import CallExited
from acd.router.events import AgentLoggedIn, CallAbandoned, OfferFailed, QueueUpserted
from acd.router.model import AgentState, QueueConfig

from .test_effects import setup, waiting_call

__all__ = ["setup"]  # the fixture, shared with the other effects tests

INJECTED = "PJSIP/1001\r\nAction: Originate\r\nChannel: PJSIP/trunk/0900123"


def _sent_text(ami: Any) -> str:
    return repr(ami.actions)


async def test_a_contact_with_crlf_fails_the_offer_and_sends_nothing(setup: Any) -> None:
    controller, ami, steps = setup
    controller.directory.put(AgentSeed("1001", contact=INJECTED))
    await waiting_call(controller, "c1")
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    failed = await steps.event(lambda e: isinstance(e, OfferFailed))
    assert failed.reason == "unreachable"
    await asyncio.sleep(0.05)
    assert "0900123" not in _sent_text(ami)
    assert ami.actions == []


async def test_a_contact_outside_the_configured_allow_list_is_not_dialled(setup: Any) -> None:
    controller, ami, steps = setup
    controller.directory.rules = DialRules(technologies=("SIP",))
    await waiting_call(controller, "c2")  # the fixture's agent: PJSIP/1001
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    failed = await steps.event(lambda e: isinstance(e, OfferFailed))
    assert failed.reason == "unreachable"
    assert ami.actions == []


async def test_a_callback_dial_string_that_is_not_one_is_never_originated(setup: Any) -> None:
    controller, ami, steps = setup
    await waiting_call(controller, "c3")
    call = controller.tracker.get("c3")
    call.phase, call.callback_to = Phase.CALLBACK, "PJSIP/trunk/0900123&PJSIP/1"
    controller.tracker.bind_caller(call, None, None)
    await controller.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    abandoned = await steps.event(lambda e: isinstance(e, CallAbandoned))
    assert abandoned.reason == "callback_unanswered"
    assert not [a for a in ami.actions if a["Action"] == "Originate"]
    assert controller.engine.router.agent("1001").state is AgentState.AVAILABLE


async def test_an_overflow_target_that_is_not_one_sends_the_caller_to_the_exit(
    setup: Any,
) -> None:
    controller, ami, steps = setup
    # The router's own type takes any text; only the documents check it.
    bad = QueueConfig("support", max_wait=0.05, overflow='x" != "" | "1,s,1\r\nAction: Hangup')
    await controller.engine.submit(lambda now: QueueUpserted(now, bad))
    await waiting_call(controller, "c4")
    await steps.decision(lambda d: isinstance(d, CallExited))
    await asyncio.wait_for(ami.redirected.wait(), 5)
    redirect = next(a for a in ami.actions if a["Action"] == "Redirect")
    assert (redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
        "acd-queue",
        "s",
        "exit",
    )
    assert "Hangup" not in _sent_text(ami)

"""On the real Asterisk: an agent contact that smuggles a second AMI action (as a database
from before the dial-string rules could hold it; the API and the config file refuse it,
tests/api/test_api_dial_strings.py) fails the offer and never reaches Asterisk. Read from
Asterisk itself: the smuggled action would set a global variable."""

from __future__ import annotations

import asyncio

from acd.controller.phases import Phase
from acd.router.events import AgentLoggedIn, OfferFailed

from .harness import Acd

#: An empty line ends an action, so what follows would be a second one, of a kind the
#: controller's account may send (tests/asterisk/test_ami_privileges.py measured it).
INJECTED = "\r\n\r\nAction: Setvar\r\nVariable: ACD_INJECTED\r\nValue: injected"


async def test_a_contact_carrying_an_action_fails_the_offer_and_sends_nothing(acd: Acd) -> None:
    assert acd.controller is not None
    await acd.queue("support")
    await acd.agent("2001", contact=f"Local/2001@acd-sim-agent{INJECTED}", login=False)
    caller = await acd.call("support", talk=1)
    for _ in range(200):  # waiting in Asterisk's loop: an offer is a Setvar + Redirect
        call = acd.controller.tracker.get(caller.call_id)
        if call is not None and call.phase is Phase.WAITING:
            break
        await asyncio.sleep(0.05)
    await acd.engine.submit(lambda now: AgentLoggedIn(now, "2001"))

    async def injected() -> str:
        reply = await acd.action(Action="Getvar", Variable="ACD_INJECTED")
        return str(reply.get("Value") or "")

    failures: list[OfferFailed] = []
    for _ in range(50):  # until the offer fails, or the smuggled action shows
        failures = [e for e in acd.steps.events(OfferFailed) if e.call_id == caller.call_id]
        if failures or await injected():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    assert await injected() == ""
    assert [e.reason for e in failures][:1] == ["unreachable"]
    assert acd.router.call(caller.call_id) is not None  # still waiting, not lost

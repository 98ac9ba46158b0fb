"""On the real Asterisk: a caller whose caller ID claims an agent's phone (`CALLERID(num)`
is the caller's side's to choose) presses 1 and is told no (ACD_CALLBACK_ACCEPTED=0); no
callback is originated, the agent's phone never rings. The same caller ID that is nobody's
contact is accepted. Before, the callback went to PJSIP/<number>, the agent's own contact."""

from __future__ import annotations

from itertools import count

from acd.router.events import CallArrived

from .harness import Acd, Caller

#: A remote agent reached at an E.164-like endpoint name: the default callback_numbers
#: allow it, only the directory knows it is an agent's.
AGENT_NUMBER = "+4930999888"
_serial = count(1)


async def _call_claiming(acd: Acd, number: str) -> Caller:
    caller = Caller(f"claim-{next(_serial)}", "support")
    since = acd.steps.mark()
    response = await acd.action(
        Action="Originate",
        Channel="Local/support@acd-inbound/n",
        Application="Wait",
        Data="60",
        Async="true",
        ChannelId=caller.leg,
        CallerID=f"Claimed <{number}>",
        Variable=["__ACD_SIM_TALK=1", "__ACD_SIM_RING=0"],
    )
    assert response[-1]["Response"] == "Success", response
    await acd.steps.event(
        lambda e: isinstance(e, CallArrived) and e.call_id == caller.call_id, since=since
    )
    return caller


async def test_a_caller_claiming_an_agent_s_number_is_not_called_back(acd: Acd) -> None:
    await acd.queue("support", callback=True)
    await acd.agent("2001", contact=f"PJSIP/{AGENT_NUMBER}", login=False)
    claimed = await _call_claiming(acd, AGENT_NUMBER)
    assert await acd.getvar(claimed.call_id, "CALLERID(num)") == AGENT_NUMBER
    await acd.dtmf(claimed, "1")
    assert await acd.entry_variable(claimed.call_id, "ACD_CALLBACK_ACCEPTED") == "0"
    own = await _call_claiming(acd, "+4930123456")
    await acd.dtmf(own, "1")
    assert await acd.entry_variable(own.call_id, "ACD_CALLBACK_ACCEPTED") == "1"
    assert acd.recorder.callbacks == [own.call_id]
    assert not [
        m
        for m in acd.ami_events.seen
        if m.get("Event") == "Newchannel" and AGENT_NUMBER in m.get("Channel", "")
    ]

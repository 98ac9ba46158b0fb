"""Losing AMI, callers hanging up while it is away, announcements, and bad input."""

from __future__ import annotations

from acd.router.decisions import OfferCall
from acd.router.events import CallAbandoned, CallArrived

from .harness import Acd


async def test_resync_after_reconnect_abandons_calls_whose_channel_vanished(acd: Acd) -> None:
    controller = acd.controller
    assert controller is not None
    await acd.queue("support")
    stays = await acd.call("support")
    leaves = await acd.call("support")
    assert controller.ready
    # Cut the controller's AMI link; the caller hangs up while nobody is listening.
    controller.ami._manager.protocol.transport.close()
    await acd.hangup(leaves)
    await acd.ami_events.first(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == leaves.call_id
    )
    assert not controller.ready
    await controller.wait_ready()
    abandoned = await acd.steps.event(lambda e: isinstance(e, CallAbandoned))
    assert abandoned.call_id == leaves.call_id
    assert acd.router.call(stays.call_id) is not None
    # And the link works again: the waiting caller is delivered through it.
    await acd.agent("2001")
    offer = await acd.steps.decision(lambda d: isinstance(d, OfferCall))
    assert offer.call_id == stays.call_id
    await acd.ami_events.first(
        lambda m: m.get("Event") == "DialBegin" and m.get("Uniqueid") == stays.call_id
    )


async def test_waiting_callers_hear_position_and_expected_wait(acd: Acd) -> None:
    await acd.queue("support", announce_every=1.0)
    await acd.call("support")
    second = await acd.call("support")
    # The wait loop's music stops for the announcement and starts again after it.
    stop = await acd.ami_events.first(
        lambda m: m.get("Event") == "MusicOnHoldStop" and m.get("Uniqueid") == second.call_id
    )
    await acd.ami_events.first(
        lambda m: m.get("Event") == "MusicOnHoldStart" and m.get("Uniqueid") == second.call_id,
        since=acd.ami_events.seen.index(stop),
    )
    assert await acd.getvar(second.call_id, "ACD_POSITION") == "2"
    # No agent logged in counts as one; no call ended yet: 120 s assumed talk, no wrap-up.
    assert await acd.getvar(second.call_id, "ACD_EXPECTED_WAIT") == "240"
    assert await acd.getvar(second.call_id, "ACD_EXPECTED_MINUTES") == "4"


async def test_bad_skills_on_the_channel_are_ignored_not_fatal(acd: Acd) -> None:
    await acd.queue("support")
    caller = await acd.call("support", variables={"ACD_SKILLS": "german:eleven"})
    arrived = next(e for e in acd.steps.events(CallArrived) if e.call_id == caller.call_id)
    assert dict(arrived.extra_skills) == {}
    await acd.agent("2001")
    await acd.steps.decision(lambda d: isinstance(d, OfferCall) and d.call_id == caller.call_id)

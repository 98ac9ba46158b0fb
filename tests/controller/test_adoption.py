"""Reading the calls back from a Status listing, and what a resync makes of them: the real
tracker, flow, reachability and router; only the AMI listing is written by hand (modelled on
the captures in tests/faults/FINDINGS.md)."""

from __future__ import annotations

from typing import Any

import pytest

from acd.config import AgentSeed
from acd.controller.adoption import PendingCallback, Resync
from acd.controller.calls import CallTracker, LiveCall
from acd.controller.estimate import HandleTimes
from acd.controller.flow import CallFlow
from acd.controller.phases import Phase, PhaseTrigger, advance
from acd.controller.reachability import Reachability
from acd.controller.snapshot import Seen, parse_skills, read_snapshot
from acd.router.decisions import EventRejected
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    Event,
    OfferAnswered,
    OfferFailed,
    QueueUpserted,
)
from acd.router.model import CallState, QueueConfig
from acd.router.router import Router
from acd.service.directory import AgentDirectory

NOW = 1_800_000_000.0


def status(
    channel: str,
    uniqueid: str,
    context: str,
    application: str = "",
    data: str = "",
    bridge: str = "",
    linkedid: str | None = None,
    **variables: str,
) -> dict[str, Any]:
    """One `Status` event as panoramisk hands it over (repeated `Variable:` → a list)."""
    return {
        "Event": "Status",
        "Channel": channel,
        "Uniqueid": uniqueid,
        "Linkedid": linkedid or uniqueid.split(";")[0],
        "Context": context,
        "Exten": "s",
        "Application": application,
        "Data": data,
        "BridgeID": bridge,
        "Variable": [f"{k}={v}" for k, v in variables.items()] or ["ACD_CALL_ID=(null)"],
    }


def caller(
    n: int, context: str, application: str, data: str = "", bridge: str = "", **extra: str
) -> dict[str, Any]:
    """Caller n's dialplan half, call id `c<n>;2`, with the variables the enter AGI set."""
    uid = f"c{n};2"
    variables = {
        "ACD_CALL_ID": uid,
        "ACD_QUEUE": "support",
        "ACD_ENTRY": "support",
        "ACD_ENTERED_AT": f"{NOW + n:.3f}",
        "ACD_QUEUE_ENTERED_AT": "(null)",
        "ACD_PRIORITY": "(null)",
        "ACD_SKILLS": "(null)",
        "ACD_AGENT": "(null)",
        "ACD_RESULT": "",
        **extra,
    }
    name = f"Local/support@acd-inbound-0000000{n};2"
    return status(name, uid, context, application, data, bridge, **variables)


def agent_leg(agent: str, n: int, linkedid: str, bridge: str = "") -> list[dict[str, Any]]:
    """A simulated agent's two halves: ;1 is dialled (AppDial), ;2 runs acd-sim-agent."""
    name = f"Local/{agent}@acd-sim-agent-0000001{n}"
    return [
        status(f"{name};1", f"a{n}.1", "acd-sim-agent", "AppDial", "(Outgoing Line)", bridge,
               linkedid),
        status(f"{name};2", f"a{n}.2", "acd-sim-agent", "Wait", "5", "", linkedid),
    ]  # fmt: skip


def listing() -> list[dict[str, Any]]:
    return [
        {"Event": "StatusComplete"},  # ignored (the link strips it; harmless anyway)
        caller(1, "acd-wait", "WaitExten", ACD_PRIORITY="7", ACD_SKILLS="german:3,x"),
        caller(2, "acd-deliver", "Dial", ACD_AGENT="2001", data="Local/2001@acd-sim-agent,15,gm"),
        *agent_leg("2001", 2, "c2"),
        caller(3, "acd-deliver", "Dial", ACD_AGENT="2002", bridge="b-3"),
        *agent_leg("2002", 3, "c3", bridge="b-3"),
        caller(4, "acd-queue", "AGI"),  # its enter AGI owns it
        caller(5, "acd-queue", "Playback", ACD_RESULT="timeout"),  # leaving
        status("Local/support@acd-inbound-00000009;2", "u9;2", "acd-wait", "MusicOnHold"),
        caller(6, "acd-wait", "WaitExten", ACD_QUEUE_ENTERED_AT=f"{NOW + 60:.3f}"),
        {"Event": "Status", "Channel": "broken"},  # no Uniqueid: skipped
        {"Event": "Status", "Channel": 3, "Uniqueid": ["x", "y"]},  # nonsense: skipped
    ]


def test_the_listing_says_what_each_caller_is_doing() -> None:
    snapshot = read_snapshot(listing())
    assert {c.call_id: c.seen for c in snapshot.calls.values()} == {
        "c1;2": Seen.WAITING,
        "c2;2": Seen.RINGING,
        "c3;2": Seen.CONNECTED,
        "c6;2": Seen.WAITING,
    }
    assert snapshot.unregistered == 1  # u9: in the dialplan, no call id yet
    assert {"c4;2", "c5;2", "a2.1", "a2.2", "u9;2"} <= snapshot.uniqueids
    waiting, ringing, connected = (snapshot.calls[f"c{n};2"] for n in (1, 2, 3))
    assert (waiting.priority, dict(waiting.skills)) == (7, {"german": 3, "x": 1})
    assert waiting.entered_at == waiting.queue_entered_at == NOW + 1
    assert snapshot.calls["c6;2"].queue_entered_at == NOW + 60
    assert (waiting.agent_id, waiting.agent_uniqueid) == (None, None)
    assert (ringing.agent_id, ringing.agent_contact) == ("2001", "Local/2001@acd-sim-agent")
    # The agent's legs: the dialled ;1 (its Linkedid is the caller's) and its ;2 half.
    assert (ringing.agent_uniqueid, ringing.agent_far_uniqueid) == ("a2.1", "a2.2")
    assert (connected.agent_uniqueid, connected.agent_far_uniqueid) == ("a3.1", "a3.2")


def test_a_callback_being_placed_is_found_on_its_own_leg() -> None:
    """An Originate sets the variables on both halves of a Local channel: the ACD's leg is
    the one named `<call id>-cb<n>` (still ringing the caller: not in the dialplan yet)."""
    variables = {
        "ACD_CALL_ID": "c7;2",
        "ACD_QUEUE": "support",
        "ACD_ENTERED_AT": f"{NOW:.3f}",
        "ACD_CALLBACK": "1",
        "ACD_AGENT": "2001",
    }
    snapshot = read_snapshot(
        [
            status("Local/3001@acd-sim-agent-00000020;2", "x.2", "acd-sim-agent", "Wait",
                   **variables),
            status("Local/3001@acd-sim-agent-00000020;1", "c7;2-cb2", "default", "",
                   **variables),
        ]
    )  # fmt: skip
    found = snapshot.calls["c7;2"]
    assert (found.uniqueid, found.seen, found.callback_attempt) == ("c7;2-cb2", Seen.RINGING, 2)


@pytest.mark.parametrize(
    ("text", "skills"),
    [("", {}), ("a:2, b", {"a": 2, "b": 1}), ("a:eleven", {}), ("a:11", {}), (":3", {})],
)
def test_skills_on_the_channel_are_read_like_at_entry(text: str, skills: dict[str, int]) -> None:
    assert dict(parse_skills(text)) == skills


# --- the resync --------------------------------------------------------------------------------


class Rig:
    def __init__(self) -> None:
        self.directory = AgentDirectory()
        for agent in ("2001", "2002", "2003"):
            self.directory.put(AgentSeed(agent, contact=f"Local/{agent}@acd-sim-agent"))
        self.router = Router()
        self.handle(QueueUpserted(NOW, QueueConfig("support")))
        for agent in ("2001", "2002", "2003"):
            self.handle(AgentUpserted(NOW, agent))
            self.handle(AgentLoggedIn(NOW, agent))
        self.tracker = CallTracker()
        self.reasons: dict[str, str] = {}
        self.flow = CallFlow(
            self.tracker,
            Reachability(self.directory),
            HandleTimes(),
            end_reason=lambda call_id, why: self.reasons.__setitem__(call_id, why),
        )
        self.resync = Resync(self.flow, self.directory, self.router)

    def handle(self, event: Event) -> list[Any]:
        decisions = self.router.handle(event)
        assert not [d for d in decisions if isinstance(d, EventRejected)], decisions
        return decisions


def test_adoption_hands_over_connected_and_ringing_calls_first() -> None:
    rig = Rig()
    callback = PendingCallback("c8;2", "support", "PJSIP/555", NOW - 50, NOW - 50, 3, {})
    adoptions = rig.resync.adopt(read_snapshot(listing()), NOW + 100, [callback])
    events = [a.event(NOW + 100) for a in adoptions]
    assert all(isinstance(e, CallAdopted) for e in events)
    assert [(e.call_id, e.state) for e in events] == [  # type: ignore[union-attr]
        ("c2;2", CallState.OFFERED),
        ("c3;2", CallState.CONNECTED),
        ("c8;2", CallState.WAITING),  # the callback entered first: its place comes first
        ("c1;2", CallState.WAITING),
        ("c6;2", CallState.WAITING),
    ]
    first = events[3]
    assert isinstance(first, CallAdopted)
    assert (first.enqueued_at, first.queue_entered_at, first.priority) == (NOW + 1, NOW + 1, 7)
    assert dict(first.extra_skills) == {"german": 3, "x": 1}
    phases = {c.call_id: c.phase for c in rig.tracker.all()}
    assert phases == {
        "c1;2": Phase.WAITING,
        "c2;2": Phase.OFFERED,
        "c3;2": Phase.CONNECTED,
        "c6;2": Phase.WAITING,
        "c8;2": Phase.CALLBACK,
    }
    # Hang-ups are attributed: each leg of an adopted agent finds its call.
    assert rig.tracker.by_agent_leg("a3.2") is rig.tracker.get("c3;2")
    assert rig.tracker.by_caller_leg("c2;2") is rig.tracker.get("c2;2")
    called_back = rig.tracker.get("c8;2")
    assert called_back is not None
    assert (called_back.channel, called_back.callback_to) == (None, "PJSIP/555")
    rig.tracker._check()
    for event in events:
        rig.handle(event)
    states = {a.id: (a.state.value, a.call_id) for a in rig.router.agents()}
    assert states["2001"] == ("reserved", "c2;2")
    assert states["2002"] == ("busy", "c3;2")
    # A second resync adopts nothing more: everything is known now.
    assert rig.resync.adopt(read_snapshot(listing()), NOW + 101, [callback]) == []


def _track(rig: Rig, n: int, phase: Phase, agent: str | None = None) -> LiveCall:
    call_id = f"c{n};2"
    rig.handle(CallArrived(NOW, call_id, "support"))
    call = LiveCall(call_id, "support", "support", f"chan-{n}", call_id, Phase.FOUND, NOW)
    rig.tracker.add(call)
    trigger = {
        Phase.WAITING: PhaseTrigger.FOUND_WAITING,
        Phase.OFFERED: PhaseTrigger.FOUND_RINGING,
        Phase.CONNECTED: PhaseTrigger.FOUND_CONNECTED,
    }[phase]
    advance(call, trigger)
    if agent is not None:
        rig.tracker.offer(call, agent)
    return call


def test_reconcile_settles_what_moved_while_the_link_was_down() -> None:
    rig = Rig()
    answered = _track(rig, 3, Phase.OFFERED, "2002")  # connected in the listing
    back = _track(rig, 1, Phase.OFFERED, "2001")  # in acd-wait again
    gone = _track(rig, 9, Phase.CONNECTED, "2003")  # not in the listing at all
    waited = _track(rig, 8, Phase.WAITING)  # not in the listing either
    offers_before = rig.tracker.offers
    late = _track(rig, 6, Phase.OFFERED, "2001")  # offered after the listing was asked for
    entries = listing()
    entries[1]["Variable"].append("DIALSTATUS=BUSY")
    events = [f(NOW + 5) for f in rig.resync.reconcile(read_snapshot(entries), offers_before)]
    assert OfferAnswered(NOW + 5, answered.call_id, "2002") in events
    assert OfferFailed(NOW + 5, back.call_id, "2001", "busy") in events
    assert CallEnded(NOW + 5, gone.call_id) in events
    assert CallAbandoned(NOW + 5, waited.call_id, "lost_unobserved") in events
    assert rig.reasons == {gone.call_id: "ended_unobserved"}
    assert (answered.phase, back.phase, late.phase) == (
        Phase.CONNECTED,
        Phase.WAITING,
        Phase.OFFERED,
    )
    assert answered.agent_uniqueid == "a3.1"  # bound from the listing
    assert back.agent_id is None
    assert gone.call_id not in rig.tracker
    assert waited.call_id not in rig.tracker
    # Each call is settled once, even though the router still has the gone ones.
    assert sum(getattr(e, "call_id", None) == gone.call_id for e in events) == 1
    assert sum(getattr(e, "call_id", None) == waited.call_id for e in events) == 1
    rig.tracker._check()


def test_a_caller_waiting_for_a_controller_is_adopted_waiting() -> None:
    """The dialplan's own loop while no controller answers (acd-wait,down) and its enter
    retries (ACD_RESULT=no_controller around the AGI) hold a caller that waits."""
    snapshot = read_snapshot(
        [
            caller(1, "acd-wait", "MusicOnHold"),
            caller(2, "acd-queue", "AGI", ACD_RESULT="no_controller", ACD_AGENT="2001"),
            caller(3, "acd-queue", "Playback", ACD_RESULT="no_controller"),
        ]
    )
    assert {c.call_id: c.seen for c in snapshot.calls.values()} == {
        "c1;2": Seen.WAITING,
        "c2;2": Seen.WAITING,  # a stale ACD_AGENT from an old offer does not make it ring
        "c3;2": Seen.WAITING,
    }


def test_reconcile_finds_a_transferred_caller_still_bridged_with_its_first_agent() -> None:
    """The transfer's Redirect into the wait was lost with the link: the tracker has the
    call WAITING (in its new queue) while its channel is still bridged in acd-deliver. The
    resync hands it to the effects to be moved (`stranded`); a caller really waiting is not."""
    rig = Rig()
    stranded = _track(rig, 3, Phase.WAITING)  # the listing has c3 connected (bridge b-3)
    waiting = _track(rig, 1, Phase.WAITING)  # in acd-wait
    events = rig.resync.reconcile(read_snapshot(listing()), rig.tracker.offers)
    assert events == []
    assert rig.resync.take_stranded() == [stranded]
    assert rig.resync.take_stranded() == []
    assert (stranded.phase, waiting.phase) == (Phase.WAITING, Phase.WAITING)

"""The `exit` FastAGI route: a waiting caller who pressed the queue's exit key leaves the queue
(CallAbandoned with reason exit_key) and the dialplan learns where to go. Scripted AGI
sessions, the real engine, router, tracker and entry service (the rig of test_routes.py).

The dialplan half (acd-wait's pattern extension, the Goto) is tested on the real Asterisk:
tests/controller/test_exit_key_live.py.
"""

from __future__ import annotations

from test_routes import Rig, ScriptedAgi, rig

from acd.controller.phases import Phase
from acd.engine import Step
from acd.router.events import AgentLoggedIn, CallAbandoned, QueueUpserted
from acd.router.model import CallState, QueueConfig

__all__ = ["rig"]  # the fixture, shared with test_routes.py

EXIT = QueueConfig("support", exit_key="#", exit_target="vm,s,1")


class Steps:
    def __init__(self) -> None:
        self.seen: list[Step] = []

    def on_step(self, step: Step) -> None:
        self.seen.append(step)

    def abandoned(self) -> list[CallAbandoned]:
        return [s.event for s in self.seen if isinstance(s.event, CallAbandoned)]


async def _waiting(rig: Rig, uniqueid: str, config: QueueConfig = EXIT) -> ScriptedAgi:
    await rig.engine.submit(lambda now: QueueUpserted(now, config))
    agi = ScriptedAgi("Local/support@acd-inbound-1;2", uniqueid, "support")
    await rig.routes.enter(agi)
    call = rig.tracker.get(uniqueid)
    assert call is not None
    assert call.phase is Phase.WAITING
    return agi


def _press(uniqueid: str, key: str, **variables: str) -> ScriptedAgi:
    return ScriptedAgi("Local/support@acd-inbound-1;2", uniqueid, key, variables=variables)


async def test_the_exit_key_is_handed_to_the_dialplan_at_entry(rig: Rig) -> None:
    agi = await _waiting(rig, "e0")
    assert agi.variables["ACD_EXIT_KEY"] == "#"
    plain = ScriptedAgi("Local/support@acd-inbound-2;2", "e0b", "support")
    await rig.engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
    await rig.routes.enter(plain)
    assert plain.variables["ACD_EXIT_KEY"] == ""  # no key: every key keeps waiting


async def test_the_exit_key_takes_a_waiting_caller_out_to_the_target(rig: Rig) -> None:
    steps = Steps()
    rig.engine.add_listener(steps)
    await _waiting(rig, "e1")
    press = _press("e1", "#")
    await rig.routes.exit(press)
    assert press.variables == {
        "ACD_EXIT_KEY": "#",
        "ACD_RESULT": "exit_key",
        "ACD_EXIT_TO": "vm,s,1",
    }
    assert [(e.call_id, e.reason) for e in steps.abandoned()] == [("e1", "exit_key")]
    assert rig.engine.router.call("e1") is None
    assert rig.tracker.get("e1") is None
    # Its channel's later hang-up (in the target) is no second end of the call.
    assert rig.tracker.by_caller_leg("e1") is None


async def test_another_key_keeps_the_caller_waiting(rig: Rig) -> None:
    await _waiting(rig, "e2")
    press = _press("e2", "5")
    await rig.routes.exit(press)
    assert press.variables == {"ACD_EXIT_KEY": "#", "ACD_EXIT_TO": ""}
    view = rig.engine.router.call("e2")
    assert view is not None
    assert view.state is CallState.WAITING
    call = rig.tracker.get("e2")
    assert call is not None
    assert call.phase is Phase.WAITING


async def test_a_key_the_queue_no_longer_has_keeps_waiting_and_the_new_one_is_told(
    rig: Rig,
) -> None:
    await _waiting(rig, "e3")
    changed = QueueConfig("support", exit_key="0", exit_target="vm,s,1")
    await rig.engine.submit(lambda now: QueueUpserted(now, changed))
    press = _press("e3", "#")
    await rig.routes.exit(press)
    assert press.variables == {"ACD_EXIT_KEY": "0", "ACD_EXIT_TO": ""}
    assert rig.tracker.get("e3") is not None
    await rig.engine.submit(lambda now: QueueUpserted(now, QueueConfig("support")))
    again = _press("e3", "0")
    await rig.routes.exit(again)
    assert again.variables == {"ACD_EXIT_KEY": "", "ACD_EXIT_TO": ""}  # turned off: at once
    assert rig.tracker.get("e3") is not None


async def test_a_caller_being_offered_an_agent_does_not_leave(rig: Rig) -> None:
    """The caller rings the agent from acd-deliver, where no key is read; a key read just as
    the offer's Redirect goes out finds the call offered: the offer goes on."""
    await rig.engine.submit(lambda now: QueueUpserted(now, EXIT))
    await rig.engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    agi = ScriptedAgi("Local/support@acd-inbound-1;2", "e4", "support")
    await rig.routes.enter(agi)
    assert agi.variables["ACD_AGENT"] == "1001"
    press = _press("e4", "#")
    await rig.routes.exit(press)
    assert press.variables == {"ACD_EXIT_KEY": "#", "ACD_EXIT_TO": ""}
    view = rig.engine.router.call("e4")
    assert view is not None
    assert view.state is CallState.OFFERED


async def test_a_channel_the_acd_does_not_know_is_told_nothing_to_do(rig: Rig) -> None:
    press = _press("nobody", "#")
    await rig.routes.exit(press)
    assert press.variables == {"ACD_EXIT_KEY": "", "ACD_EXIT_TO": ""}


async def test_an_offer_racing_the_exit_rings_nobody(rig: Rig) -> None:
    """The exit takes the call off the tracker before the router hears of it: an offer the
    router decided meanwhile finds no channel to move (its CallAbandoned is then refused)."""
    steps = Steps()
    rig.engine.add_listener(steps)
    await _waiting(rig, "e5")
    login = rig.engine.submit(lambda now: AgentLoggedIn(now, "1001"))  # queued before the exit
    await rig.routes.exit(_press("e5", "#"))
    await login
    reasons = [e.reason for e in steps.abandoned() if e.call_id == "e5"]
    assert reasons[0] == "exit_key"
    agent = rig.engine.router.agent("1001")
    assert agent is not None
    assert agent.call_id is None


async def test_a_caller_who_hangs_up_as_the_answer_goes_has_left(rig: Rig) -> None:
    steps = Steps()
    rig.engine.add_listener(steps)
    await _waiting(rig, "e6")
    press = _press("e6", "#")
    press.hangup_after = 0
    await rig.routes.exit(press)  # no crash
    assert [e.reason for e in steps.abandoned()] == ["exit_key"]
    assert rig.tracker.get("e6") is None  # its Hangup is no second end of the call


async def test_a_key_set_while_the_caller_waits_reaches_it_with_the_next_announcement(
    rig: Rig,
) -> None:
    await _waiting(rig, "e7", QueueConfig("support"))
    await rig.engine.submit(lambda now: QueueUpserted(now, EXIT))
    announce = _press("e7", "")
    await rig.routes.announce(announce)
    assert announce.variables["ACD_EXIT_KEY"] == "#"
    assert announce.variables["ACD_POSITION"] == "1"
    assert len(announce.commands) == 1, announce.commands  # one EXEC MSet, as before three

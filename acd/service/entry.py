"""A caller in the ACD's hands: entering a queue, waiting, asking to be called back.

The FastAGI routes (`agi/routes.py`) read the channel and call these; the rules are here.
`enter` registers the call with the router and hands the channel the variables the dialplan
and a restarted controller read, and any decision taken while the enter AGI still holds the
channel (dial an agent now, or leave) — in as few AGI round trips as possible, usually one.
Phases change only through `acd.controller.phases.advance`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from acd.controller.calls import (
    CallTracker,
    Deliver,
    Leave,
    LiveCall,
    entered_variables,
    format_seconds,
)
from acd.controller.estimate import HandleTimes
from acd.controller.phases import Phase, PhaseTrigger, advance
from acd.engine import Engine
from acd.router.events import CallArrived
from acd.router.model import AgentState, frozen_skills, satisfies

log = logging.getLogger(__name__)

SendVariables = Callable[[Mapping[str, str]], Awaitable[None]]
"""Set these channel variables on the caller's channel (the AGI edge does the I/O)."""


class CallNotes(Protocol):
    """What the call records learn from the entry beyond the router's decisions."""

    def callback_requested(self, call_id: str) -> None: ...

    def caller_data(self, call_id: str, text: str) -> None: ...


class HangupLog(Protocol):
    def hung_up(self, uniqueid: str) -> bool:
        """Whether this channel hung up while no call was tracked on it."""
        ...


@dataclass(frozen=True, slots=True)
class Entry:
    """A channel entering queue `queue` (the `acd-inbound` extension it reached)."""

    uniqueid: str
    channel: str
    queue: str
    priority: int | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    caller_data: str = ""


@dataclass(frozen=True, slots=True)
class Announcement:
    position: int
    expected_wait: int  # seconds

    @property
    def expected_minutes(self) -> int:
        return math.ceil(self.expected_wait / 60)


class EntryService:
    def __init__(
        self,
        engine: Engine,
        tracker: CallTracker,
        hangups: HangupLog,
        handle_times: HandleTimes,
        notes: CallNotes | None = None,
    ) -> None:
        self.engine = engine
        self.tracker = tracker
        self.hangups = hangups
        self.handle_times = handle_times
        self.notes = notes

    # --- enter ----------------------------------------------------------------------------------

    async def enter(self, entry: Entry, send: SendVariables) -> None:
        """Register the call and hand the dialplan what it needs; raises what `send` raises."""
        call = await self._register(entry)
        if call is None:
            return
        try:
            await self._hand_over(call, send)
        finally:
            if call.phase is Phase.ENTERING and call.call_id in self.tracker:
                # Still undecided when the AGI ends: from now on decisions go by Redirect.
                advance(call, PhaseTrigger.HANDED_OVER)

    async def _register(self, entry: Entry) -> LiveCall | None:
        if not entry.uniqueid or not entry.channel:
            raise ValueError("AGI request without agi_uniqueid/agi_channel")
        call_id, serial = entry.uniqueid, 1
        while call_id in self.tracker or self.engine.router.call(call_id) is not None:
            serial += 1  # the same channel entering again after leaving a queue
            call_id = f"{entry.uniqueid}-{serial}"
        if self.hangups.hung_up(entry.uniqueid):
            return None
        queue, priority, skills = entry.queue, entry.priority, frozen_skills(entry.skills)
        call = LiveCall(
            call_id=call_id,
            queue=queue,
            entry=queue,
            channel=entry.channel,
            uniqueid=entry.uniqueid,
            phase=Phase.ENTERING,
            entered_at=self.engine.now(),
        )
        # No await between tracking the call and submitting it: a Hangup read after this
        # point finds the call and posts CallAbandoned behind CallArrived.
        self.tracker.add(call)
        arrived = self.engine.submit(lambda now: CallArrived(now, call_id, queue, priority, skills))
        notes, text = self.notes, entry.caller_data
        if notes is not None and text:
            _safely(lambda: notes.caller_data(call_id, text))
        await arrived
        return call

    async def _hand_over(self, call: LiveCall, send: SendVariables) -> None:
        variables = {
            "ACD_RESULT": "",
            "ACD_AGENT": "",
            **entered_variables(call, self.engine.router.queue(call.queue)),
        }
        while call.phase is Phase.ENTERING and call.call_id in self.tracker:
            directive, call.directive = call.directive, None
            if directive is None:
                if not variables:
                    # No await since the check: nothing slipped by.
                    advance(call, PhaseTrigger.HANDED_OVER)
                    return
                await send(variables)
                variables = {}
            elif isinstance(directive, Deliver):
                variables["ACD_AGENT_CONTACT"] = directive.contact
                variables["ACD_RING_TIMEOUT"] = format_seconds(directive.ring_timeout)
                variables["ACD_AGENT"] = directive.agent_id
                await send(variables)
                variables = {}
                if call.directive is None and call.agent_id == directive.agent_id:
                    advance(call, PhaseTrigger.DELIVERED)
                    return
            elif isinstance(directive, Leave):
                variables["ACD_AGENT"] = ""
                variables["ACD_RESULT"] = directive.reason
                variables["ACD_DESTINATION"] = directive.destination or ""
                await send(variables)
                variables = {}
                if call.directive is None:
                    self.tracker.remove(call.call_id)
                    return

    # --- while waiting --------------------------------------------------------------------------

    def announcement(self, uniqueid: str) -> Announcement | None:
        """Position and expected wait of the call on this channel; None when it is not ours."""
        call = self.tracker.by_caller_leg(uniqueid)
        if call is None:
            return None
        router = self.engine.router
        position = router.position(call.call_id) or 0
        config = router.queue(call.queue)
        wrap_up = config.wrap_up if config is not None else 0.0
        view = router.call(call.call_id)
        requirements = view.requirements if view is not None else {}
        serving = sum(
            1
            for agent in router.agents()
            if agent.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
            and satisfies(agent.skills, requirements)
        )
        wait = self.handle_times.expected_wait(call.queue, position, wrap_up, serving)
        return Announcement(position, wait)

    def request_callback(self, uniqueid: str, dial: str) -> bool:
        """The caller on this channel asks to be called back at `dial`; True if accepted."""
        call = self.tracker.by_caller_leg(uniqueid)
        if call is None or call.phase is not Phase.WAITING or not dial:
            return False
        config = self.engine.router.queue(call.queue)
        if config is None or not config.callback:
            return False
        advance(call, PhaseTrigger.CALLBACK)
        call.callback_to = dial
        notes, call_id = self.notes, call.call_id
        if notes is not None:
            _safely(lambda: notes.callback_requested(call_id))
        log.info("call %s will be called back at %s", call.call_id, dial)
        return True


def _safely(note: Callable[[], None]) -> None:
    """The call records must never break a caller's path through the dialplan."""
    try:
        note()
    except Exception:
        log.exception("call notes failed")

"""A caller in the ACD's hands: entering a queue, waiting, asking to be called back.

The FastAGI routes (`agi/routes.py`) read the channel and call these; the rules are here.
`enter` registers the call with the router and hands the channel the variables the dialplan
and a restarted controller read, and any decision taken while the enter AGI still holds the
channel (dial an agent now, or leave) — in as few AGI round trips as possible, usually one.
Phases change only through `acd.controller.phases.advance`.

A caller the dialplan kept waiting while no controller answered (acd-wait,down in
extensions_acd.conf) enters with its own record of the call: `Entry.entered_at` (its
ACD_ENTERED_AT, the moment it really arrived) and `Entry.call_id` (its ACD_CALL_ID). The call is
registered with that id and that entry time (`CallArrived.entered_at`), so its place and its
time in queue include the wait without a controller; an implausible time is ignored with a
warning (`entry_time`).

Everything read from a channel is bounded and validated like an API body (`read`, with the
rules of acd.config.channel_input): a value outside them is ignored with a warning and the
caller still enters. A callback goes only to a dial string the dial rules allow: the dialplan's
ACD_CALLBACK_TO through `DialRules.check_dial`, the caller's own number only through
`DialRules.callback_dial` (a phone number); anything else is refused with a log line.

The exit key (`exit_with_key`): a waiting caller who pressed its queue's `exit_key` leaves the
queue for `exit_target` — the caller's choice of another service, not a lost call (the records
make it `exited`, EXITWITHKEY in the queue_log). The call leaves the tracker before the router
hears of it (CallAbandoned, reason `exit_key`), so an offer the router decides meanwhile finds
no channel to move and rings nobody; a caller already offered an agent (being rung from
acd-deliver, or a Redirect on its way there) stays in the queue.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from acd.config import channel_input
from acd.config.channel_input import ChannelInputError
from acd.config.dialstrings import DEFAULT_RULES, DialRules, DialStringError, check_target, shown
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
from acd.router.events import CallAbandoned, CallArrived
from acd.router.model import AgentState, frozen_skills, satisfies

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Seconds an entry time from the channel may lie ahead of the controller's clock (Asterisk
#: and the controller read different clocks, usually the same host's); within that it is now.
MAX_CLOCK_SKEW = 5.0
#: An entry time older than this is not a caller who waited for a controller but a wrong
#: value (a day: longer than any outage a caller sits through).
MAX_ENTRY_AGE = 86_400.0

#: The CallAbandoned reason of a caller who left by the exit key (the records' exit_reason;
#: acd.observe.records has the same word).
EXIT_KEY = "exit_key"

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
    #: ACD_ENTERED_AT from the channel: it entered before a controller answered (epoch s).
    entered_at: float | None = None
    #: ACD_CALL_ID from the channel: the id the call had (or the dialplan gave it) before.
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class EntryText:
    """The entry as the channel wrote it: unchecked text (see `EntryService.read`)."""

    uniqueid: str
    channel: str
    queue: str
    priority: str = ""
    skills: str = ""
    caller_data: str = ""
    entered_at: str = ""
    call_id: str = ""


@dataclass(frozen=True, slots=True)
class Announcement:
    position: int
    expected_wait: int  # seconds
    #: The queue's exit key now ("" none): a key set or changed while the caller waits
    #: reaches its channel (ACD_EXIT_KEY) with the next announcement.
    exit_key: str = ""

    @property
    def expected_minutes(self) -> int:
        return math.ceil(self.expected_wait / 60)


@dataclass(frozen=True, slots=True)
class KeyExit:
    """The answer to a pressed exit key: the queue's exit key now ("" none; the channel may
    hold an older one) and, when the caller leaves, the dialplan target to go to."""

    key: str
    target: str | None = None


class EntryService:
    def __init__(
        self,
        engine: Engine,
        tracker: CallTracker,
        hangups: HangupLog,
        handle_times: HandleTimes,
        notes: CallNotes | None = None,
        dial_rules: DialRules = DEFAULT_RULES,
        contacts: Callable[[str], object | None] = lambda _: None,
    ) -> None:
        self.engine = engine
        self.tracker = tracker
        self.hangups = hangups
        self.handle_times = handle_times
        self.notes = notes
        self.dial_rules = dial_rules
        #: The agent whose contact a dial string is, if any (`AgentDirectory.by_contact`).
        self.contacts = contacts

    # --- reading the channel --------------------------------------------------------------------

    def read(self, text: EntryText) -> Entry:
        """The entry, each value checked on its own (acd.config.channel_input); a bad one is
        ignored with a warning. A queue name outside the rules leaves the queue empty: the
        caller is sent away as for an unknown queue."""

        def checked(read: Callable[[str], _T], value: str, default: _T) -> _T:
            try:
                return read(value)
            except ChannelInputError as exc:
                log.warning("%s: %s; ignored", shown(text.channel, 80), exc)
                return default

        caller_data = checked(channel_input.caller_data, text.caller_data, "")
        if len(text.caller_data) > len(caller_data) and caller_data:
            log.warning(
                "%s: ACD_CALLER_DATA cut to %d characters",
                shown(text.channel, 80),
                channel_input.MAX_CALLER_DATA_LENGTH,
            )
        return Entry(
            text.uniqueid,
            text.channel,
            checked(channel_input.queue_name, text.queue, ""),
            checked(channel_input.priority, text.priority, None),
            checked(channel_input.skills, text.skills, {}),
            caller_data,
            entered_at=checked(channel_input.epoch, text.entered_at, None),
            call_id=checked(channel_input.call_id, text.call_id, None),
        )

    # --- enter ----------------------------------------------------------------------------------

    async def enter(self, entry: Entry, send: SendVariables) -> None:
        """Register the call and hand the dialplan what it needs; raises what `send` raises."""
        if not entry.queue:
            await send({"ACD_RESULT": "unknown_queue", "ACD_AGENT": ""})
            return
        known = self._known(entry)
        if known is not None:
            # This channel's call is tracked already (an earlier enter registered it but its
            # answer never reached the dialplan, or a resync adopted it from the channel):
            # registering it again would make a second call. Tell the dialplan it is in.
            log.info(
                "call %s entered again on %s: registered already", known.call_id, entry.uniqueid
            )
            config = self.engine.router.queue(known.queue)
            await send({"ACD_RESULT": "", "ACD_AGENT": "", **entered_variables(known, config)})
            return
        call = await self._register(entry)
        if call is None:
            return
        try:
            await self._hand_over(call, send)
        finally:
            if call.phase is Phase.ENTERING and call.call_id in self.tracker:
                # Still undecided when the AGI ends: from now on decisions go by Redirect.
                advance(call, PhaseTrigger.HANDED_OVER)

    def _known(self, entry: Entry) -> LiveCall | None:
        """The tracked call this entry is, if its channel re-enters with the call's id."""
        call_id = _usable_call_id(entry.call_id)
        if call_id is None:
            return None
        call = self.tracker.get(call_id)
        if call is None or call.uniqueid != entry.uniqueid:
            return None
        return call

    def entry_time(self, entry: Entry, now: float) -> float | None:
        """When the caller really entered, if the channel says so plausibly: earlier than
        `now` (up to MAX_CLOCK_SKEW ahead is taken as now), at most MAX_ENTRY_AGE ago.
        None: it entered now (no value, or one ignored with a warning)."""
        at = entry.entered_at
        if at is None:
            return None
        if not math.isfinite(at) or at > now + MAX_CLOCK_SKEW or at < now - MAX_ENTRY_AGE:
            log.warning(
                "%s: ACD_ENTERED_AT %r is not a plausible entry time (now %.3f); "
                "the call enters now",
                entry.channel,
                at,
                now,
            )
            return None
        return at if at < now else None

    async def _register(self, entry: Entry) -> LiveCall | None:
        if not entry.uniqueid or not entry.channel:
            raise ValueError("AGI request without agi_uniqueid/agi_channel")
        base = _usable_call_id(entry.call_id)
        if base is None:
            if entry.call_id:
                log.warning("%s: ACD_CALL_ID %r ignored", entry.channel, entry.call_id)
            base = entry.uniqueid
        call_id, serial = base, 1
        while call_id in self.tracker or self.engine.router.call(call_id) is not None:
            serial += 1  # the same channel entering again after leaving a queue
            call_id = f"{base}-{serial}"
        if self.hangups.hung_up(entry.uniqueid):
            return None
        queue, priority, skills = entry.queue, entry.priority, frozen_skills(entry.skills)
        now = self.engine.now()
        entered_at = self.entry_time(entry, now)
        call = LiveCall(
            call_id=call_id,
            queue=queue,
            entry=queue,
            channel=entry.channel,
            uniqueid=entry.uniqueid,
            phase=Phase.ENTERING,
            entered_at=now if entered_at is None else entered_at,
        )
        if entered_at is not None:
            log.info(
                "call %s registered %.1f s after it entered (no controller answered before)",
                call_id,
                now - entered_at,
            )
        # No await between tracking the call and submitting it: a Hangup read after this
        # point finds the call and posts CallAbandoned behind CallArrived.
        self.tracker.add(call)
        arrived = self.engine.submit(
            lambda now: CallArrived(now, call_id, queue, priority, skills, entered_at=entered_at)
        )
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
        exit_key = config.exit_key if config is not None else None
        return Announcement(position, wait, exit_key or "")

    def callback_dial(self, callback_to: str, caller_number: str) -> str | None:
        """Where a callback would go: the dialplan's ACD_CALLBACK_TO if the dial rules allow
        it, else (none set) the caller's own number if the dial rules call it back and it is
        no agent's contact (the caller chooses its caller ID); None: nowhere."""
        callback_to, caller_number = callback_to.strip(), caller_number.strip()
        if callback_to:
            try:
                return self.dial_rules.check_dial(callback_to)
            except DialStringError as exc:
                log.warning("callback to ACD_CALLBACK_TO refused: %s", exc)
                return None
        dial = self.dial_rules.callback_dial(caller_number)
        if dial is None:
            if caller_number:
                log.warning(
                    "callback refused: caller number %s is not one [dial] callback_numbers "
                    "and callback_dial call back",
                    shown(caller_number),
                )
            return None
        if self.contacts(dial) is not None:
            log.warning("callback refused: caller number %s is an agent's contact", dial)
            return None
        return dial

    def request_callback(self, uniqueid: str, callback_to: str, caller_number: str = "") -> bool:
        """The caller on this channel asks to be called back (see `callback_dial`); True if
        accepted."""
        call = self.tracker.by_caller_leg(uniqueid)
        if call is None or call.phase is not Phase.WAITING:
            return False
        dial = self.callback_dial(callback_to, caller_number)
        if dial is None:
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

    async def exit_with_key(self, uniqueid: str, key: str) -> KeyExit:
        """The caller on this channel pressed `key` (acd-wait found it equal to the channel's
        ACD_EXIT_KEY). It leaves when it is waiting and `key` is its queue's exit key now;
        raises what `engine.submit` raises (EngineHalted) after the call left the tracker."""
        call = self.tracker.by_caller_leg(uniqueid)
        config = None if call is None else self.engine.router.queue(call.queue)
        current = (config.exit_key if config is not None else None) or ""
        if call is None or config is None or not current or key != current:
            return KeyExit(current)
        if call.phase is not Phase.WAITING:
            log.info("call %s pressed the exit key while %s: stays", call.call_id, call.phase)
            return KeyExit(current)
        try:
            target = check_target(config.exit_target or "")
        except DialStringError as exc:  # the document requires one; checked again at use
            log.error("call %s: queue %s has no usable exit_target: %s", call.call_id,
                      call.queue, exc)  # fmt: skip
            return KeyExit(current)
        call_id = call.call_id
        self.tracker.remove(call_id)
        log.info("call %s left %s by the exit key %s for %s", call_id, call.queue, key, target)
        await self.engine.submit(lambda now: CallAbandoned(now, call_id, EXIT_KEY))
        return KeyExit(current, target)


def _usable_call_id(text: str | None) -> str | None:
    """A call id from the channel, if it can be one (channel_input's rules)."""
    try:
        return channel_input.call_id(text or "")
    except ChannelInputError:
        return None


def _safely(note: Callable[[], None]) -> None:
    """The call records must never break a caller's path through the dialplan."""
    try:
        note()
    except Exception:
        log.exception("call notes failed")

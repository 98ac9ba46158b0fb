"""Carry out the router's decisions on Asterisk, and feed the outcome back as events.

An engine listener: `on_step` runs on the engine task and must not block, so it updates the
channel ↔ call mapping at once (keeping it in step with the router) and starts one kept task
per AMI exchange. Actions on one AMI connection are handled by Asterisk in the order sent, so
the Setvar actions that precede a Redirect are pipelined, not awaited one by one.

    OfferCall   waiting caller → Setvar ACD_AGENT, ACD_AGENT_CONTACT, ACD_RING_TIMEOUT, then
                Redirect to acd-deliver,s,1 (Dial with the ring timeout; DialEnd says how it
                went). A caller still in its enter AGI gets the offer from the AGI instead.
                A called-back caller (no channel) is originated first: Asterisk calls the
                caller, and only when the caller answers does acd-deliver dial the agent;
                no answer → CallAbandoned(callback_unanswered).
                Redirect fails because the caller is gone → CallAbandoned; because its
                hangup is pending ("channel not up") or Asterisk is stopping → nothing (the
                caller's Hangup ends the offer: not the agent's fault); any other failure
                → OfferFailed(error). No contact for the agent, or one the [dial] rules
                refuse (checked again here, whatever let it in) → OfferFailed(unreachable);
                a callback dial string they refuse is never originated (callback_unanswered).
    CallExited  Setvar ACD_RESULT=<reason>, Redirect to the overflow dialplan target or to the
                `exit` label of acd-queue ("after the wait").
    CallRequeued  (a blind transfer) the first agent's leg is forgotten at once (its Hangup is
                not the call's end); Setvar the new queue's variables (ACD_QUEUE, ACD_QUEUE_
                ENTERED_AT, ACD_PRIORITY, ACD_SKILLS, ACD_TRANSFER_NOTE, ...), then Redirect
                the caller out of the bridge to acd-wait (music on hold at once), unless the
                same step offers it to an agent or sends it away: that Redirect moves it.
                Asterisk hangs up the first agent's leg when the caller leaves its Dial.
    CallOverflowed  Setvar ACD_QUEUE and ACD_QUEUE_ENTERED_AT (the channel keeps its own
                state for re-adoption: queue, escalation step and max wait survive a restart)
                and ACD_EXIT_KEY (the target queue's exit key).

While the AMI link is down an action cannot be sent, and one in flight when it dropped may
or may not have been carried out. An offer whose Redirect or callback Originate got no
answer is left as it is: the resync after the reconnect reads where the caller is and
settles it (`acd.controller.adoption`). A send-away (CallExited) or an overflow's Setvar that
could not be sent is kept (`deferred`) and sent again after the resync, so a caller the
router let go is never left waiting unseen, and is not adopted again meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from acd.config.dialstrings import DialStringError, check_target
from acd.controller.ami import AmiError, AmiLink, check_action
from acd.controller.calls import (
    CallTracker,
    Deliver,
    Leave,
    LiveCall,
    entered_variables,
    format_seconds,
    queue_entered_at,
    transfer_variables,
)
from acd.controller.flow import CallFlow, reachability_events
from acd.controller.phases import Phase, PhaseTrigger, advance
from acd.engine import Engine, EventFactory, Step
from acd.router.decisions import CallExited, CallOverflowed, CallRequeued, Decision, OfferCall
from acd.router.events import AgentUpserted, CallAbandoned, OfferFailed
from acd.service.directory import AgentDirectory

log = logging.getLogger(__name__)

DELIVER_CONTEXT = "acd-deliver"
#: The wait loop a transferred caller is moved into (music on hold, announcements).
WAIT_TARGET = ("acd-wait", "s", "1")
#: "After the wait" in the dialplan: where a call that leaves without an agent continues.
EXIT_TARGET = ("acd-queue", "s", "exit")
#: Seconds a called-back caller's phone rings before the callback counts as unanswered.
CALLBACK_RING_TIMEOUT = 30.0

_GONE = ("no such channel", "channel does not exist", "not found")
#: Redirect's refusal of a channel with a hangup pending (manager.c: "Redirect failed,
#: channel not up."), which every channel has while Asterisk stops.
_HANGING_UP = "channel not up"


class TaskSet:
    """Background tasks with kept references; failures are logged, never lost."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)


def dialplan_target(destination: str) -> tuple[str, str, str]:
    """ "context,exten,priority" as Redirect's three headers; DialStringError (a ValueError)
    for anything else (acd/config/dialstrings.py: all three, no spaces, no CR/LF)."""
    context, exten, priority = check_target(destination).split(",")
    return context, exten, priority


class Effects:
    def __init__(
        self,
        ami: AmiLink,
        engine: Engine,
        flow: CallFlow,
        directory: AgentDirectory,
        tasks: TaskSet,
    ) -> None:
        self.ami = ami
        self.engine = engine
        self.flow = flow
        self.tracker: CallTracker = flow.tracker
        self.directory = directory
        self.tasks = tasks
        self.active = True
        #: Send-aways that could not be sent (link down), by call id: retried after a resync.
        self.deferred_exits: dict[str, tuple[LiveCall, Leave]] = {}
        #: Setvars that could not be sent, by channel: retried after a resync.
        self.deferred_setvars: dict[str, dict[str, str]] = {}
        #: call id → a channel to hang up once the call's offer has moved the caller.
        self.hang_up_after_move: dict[str, str] = {}
        #: Transferred callers whose Redirect into the wait could not be sent, by call id:
        #: redirected after a resync (still bridged with the first agent meanwhile).
        self.deferred_requeues: dict[str, tuple[LiveCall, dict[str, str]]] = {}

    def post(self, events: list[EventFactory]) -> None:
        for factory in events:
            self.engine.post(factory)

    def on_step(self, step: Step) -> None:
        if not self.active:
            return
        if isinstance(step.event, AgentUpserted):
            agent_id = step.event.agent_id
            self.post(reachability_events(self.flow.reachability.agent_changed(agent_id)))
        decisions = step.decisions
        for index, decision in enumerate(decisions):
            if isinstance(decision, OfferCall):
                self._offer(decision)
            elif isinstance(decision, CallExited):
                self._exit(decision)
            elif isinstance(decision, CallOverflowed):
                self._overflowed(decision)
            elif isinstance(decision, CallRequeued):
                self._requeued(decision, decisions[index + 1 :])

    # --- offers ---------------------------------------------------------------------------------

    def _offer(self, offer: OfferCall) -> None:
        call_id, agent_id = offer.call_id, offer.agent_id
        call = self.tracker.get(call_id)
        if call is None:
            # Its Hangup was read already and CallAbandoned is on its way to the router.
            log.info("offer of %s to %s: the call has no channel any more", call_id, agent_id)
            self.post([lambda now: CallAbandoned(now, call_id, "hangup")])
            return
        seed = self.directory.get(agent_id)
        if seed is None or not seed.contact:
            log.warning("agent %s has no contact: offer of %s failed", agent_id, call_id)
            self.post([lambda now: OfferFailed(now, call_id, agent_id, "unreachable")])
            return
        try:
            # Checked when it was stored too; this is the last look before it becomes an AMI
            # header or a Dial() argument (a CR/LF would be a second action).
            self.directory.rules.check_dial(seed.contact)
        except DialStringError as exc:
            log.error(
                "agent %s: contact not dialled, offer of %s failed: %s", agent_id, call_id, exc
            )
            self.post([lambda now: OfferFailed(now, call_id, agent_id, "unreachable")])
            return
        self.tracker.offer(call, agent_id)
        self.flow.reachability.acd_call_started(agent_id)
        deliver = Deliver(agent_id, seed.contact, offer.ring_timeout)
        was = call.phase
        advance(call, PhaseTrigger.OFFER)
        if was is Phase.ENTERING:
            call.directive = deliver
        elif was is Phase.CALLBACK:
            self.tasks.spawn(self._call_back(call, deliver), f"callback-{call_id}")
        else:
            assert call.channel is not None
            self.tasks.spawn(
                self._redirect_to_agent(call, call.channel, deliver), f"offer-{call_id}"
            )

    def _still_offered(self, call: LiveCall, agent_id: str) -> bool:
        current = self.tracker.get(call.call_id)
        return current is call and call.phase is Phase.OFFERED and call.agent_id == agent_id

    def _offer_failed(self, call: LiveCall, agent_id: str, reason: str) -> None:
        advance(call, PhaseTrigger.DIAL_FAILED)
        self.tracker.release_agent(call)
        call_id = call.call_id
        events: list[EventFactory] = [lambda now: OfferFailed(now, call_id, agent_id, reason)]
        self.post(events + reachability_events(self.flow.reachability.acd_call_finished(agent_id)))

    async def _redirect_to_agent(self, call: LiveCall, channel: str, deliver: Deliver) -> None:
        try:
            response = await self.redirect(
                channel,
                (DELIVER_CONTEXT, "s", "1"),
                {
                    "ACD_AGENT": deliver.agent_id,
                    "ACD_AGENT_CONTACT": deliver.contact,
                    "ACD_RING_TIMEOUT": format_seconds(deliver.ring_timeout),
                },
            )
        except AmiError as exc:
            log.warning("offer of %s: %s", call.call_id, exc)
            if not exc.unsent and not self.ami.logged_in:
                return  # maybe carried out: the resync reads where the caller is
            if self._still_offered(call, deliver.agent_id):
                self._offer_failed(call, deliver.agent_id, "error")
            return
        moved_leg = self.hang_up_after_move.pop(call.call_id, None)
        if response is None and moved_leg is not None:
            await self.hang_up(moved_leg)
        if response is None or not self._still_offered(call, deliver.agent_id):
            return
        log.info("offer of %s: Redirect failed: %s", call.call_id, response)
        if self.flow.asterisk_stopping or _HANGING_UP in response.lower():
            return  # not the agent's doing: the caller's Hangup follows and ends the offer
        if any(marker in response.lower() for marker in _GONE):
            call_id = call.call_id
            self.post(self.flow.finish(call, lambda now: CallAbandoned(now, call_id, "hangup")))
        else:
            self._offer_failed(call, deliver.agent_id, "error")

    async def hang_up(self, channel: str) -> None:
        """Hang `channel` up (a warm transfer's consultation leg); failures only logged."""
        try:
            response = await self.ami.request({"Action": "Hangup", "Channel": channel})
        except AmiError as exc:
            log.info("hang-up of %s: %s", channel, exc)
            return
        if not response.success:
            log.info("hang-up of %s refused: %s", channel, response.message)

    async def redirect(
        self, channel: str, target: tuple[str, str, str], variables: dict[str, str]
    ) -> str | None:
        """Setvar each variable, then Redirect; None on success, else Asterisk's message.
        An action the AMI writer would refuse (CR/LF/NUL) fails the whole step before any is
        sent: a Redirect whose variables were not set would ring nobody knows whom."""
        context, exten, priority = target
        actions: list[dict[str, str]] = [
            {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
            for name, value in variables.items()
        ]
        actions.append(
            {
                "Action": "Redirect",
                "Channel": channel,
                "Context": context,
                "Exten": exten,
                "Priority": priority,
            }
        )
        for action in actions:
            check_action(action)
        responses = await asyncio.gather(*(self.ami.request(action) for action in actions))
        redirect = responses[-1]
        return None if redirect.success else redirect.message or "Redirect failed"

    async def _call_back(self, call: LiveCall, deliver: Deliver) -> None:
        call.callback_attempts += 1
        leg = f"{call.call_id}-cb{call.callback_attempts}"
        self.tracker.bind_caller(call, leg, None)
        try:
            dial = self.directory.rules.check_dial(call.callback_to or "")
        except DialStringError as exc:
            log.error("callback of %s not originated: %s", call.call_id, exc)
            self._callback_failed(call, leg)
            return
        variables = {
            **entered_variables(call, self.engine.router.queue(call.queue)),
            "ACD_CALLBACK": "1",
            "ACD_AGENT": deliver.agent_id,
            "ACD_AGENT_CONTACT": deliver.contact,
            "ACD_RING_TIMEOUT": format_seconds(deliver.ring_timeout),
        }
        action = {
            "Channel": dial,
            "Context": DELIVER_CONTEXT,
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(int(CALLBACK_RING_TIMEOUT * 1000)),
            "ChannelId": leg,
            "CallerID": f"ACD <{call.queue}>",
            "Variable": [f"{name}={value}" for name, value in variables.items()],
        }
        try:
            response = await self.ami.originate(action, within=CALLBACK_RING_TIMEOUT + 15)
            failure = None if response.success else response.message or "no answer"
        except AmiError as exc:
            if not exc.unsent and not self.ami.logged_in:
                log.info("callback of %s: %s; the resync will tell", call.call_id, exc)
                return
            failure = str(exc)
        if failure is None:
            return
        log.info("callback of %s to %s failed: %s", call.call_id, call.callback_to, failure)
        self._callback_failed(call, leg)

    def _callback_failed(self, call: LiveCall, leg: str) -> None:
        current = self.tracker.get(call.call_id)
        if current is call and call.uniqueid == leg and call.phase is Phase.OFFERED:
            call_id = call.call_id
            self.post(
                self.flow.finish(
                    call, lambda now: CallAbandoned(now, call_id, "callback_unanswered")
                )
            )

    # --- leaving the ACD ------------------------------------------------------------------------

    def _exit(self, exited: CallExited) -> None:
        call = self.tracker.get(exited.call_id)
        if call is None:
            return
        leave = Leave(exited.reason, exited.destination)
        if call.phase is Phase.ENTERING:
            call.directive = leave
            return
        agent_id = call.agent_id
        self.tracker.remove(call.call_id)
        if agent_id is not None:
            self.post(reachability_events(self.flow.reachability.acd_call_finished(agent_id)))
        if call.channel is None:  # waiting for a callback: nobody on the line to move
            return
        self.send_away(call, leave)

    def send_away(self, call: LiveCall, leave: Leave) -> None:
        """Move a caller the ACD lets go (not tracked any more) out of its wait."""
        if call.channel is not None:
            self.tasks.spawn(self._send_away(call, call.channel, leave), f"exit-{call.call_id}")

    async def _send_away(self, call: LiveCall, channel: str, leave: Leave) -> None:
        try:
            target = dialplan_target(leave.destination) if leave.destination else EXIT_TARGET
        except DialStringError as exc:
            log.error("call %s: overflow target not used, sent to the exit: %s", call.call_id, exc)
            target = EXIT_TARGET
        try:
            failure = await self.redirect(channel, target, {"ACD_RESULT": leave.reason})
        except AmiError as exc:
            if not self.ami.logged_in:
                log.info("call %s: sending away after the resync (%s)", call.call_id, exc)
                self.deferred_exits[call.call_id] = (call, leave)
                return
            failure = str(exc)
        if failure is not None:
            log.info("call %s could not be sent away (%s): %s", call.call_id, leave, failure)

    def _overflowed(self, overflowed: CallOverflowed) -> None:
        call = self.tracker.get(overflowed.call_id)
        if call is None:
            return
        call.queue = overflowed.to_queue
        call.queue_entered_at = overflowed.at
        if call.channel is not None:
            target = self.engine.router.queue(overflowed.to_queue)
            variables = {
                "ACD_QUEUE": overflowed.to_queue,
                "ACD_QUEUE_ENTERED_AT": f"{queue_entered_at(call):.3f}",
                # The target queue's exit key from now on (none: other keys keep waiting).
                "ACD_EXIT_KEY": (target.exit_key if target is not None else None) or "",
            }
            self.tasks.spawn(
                self._set_variables(call.channel, variables), f"overflow-{call.call_id}"
            )

    # --- transfers ----------------------------------------------------------------------------

    def _requeued(self, requeued: CallRequeued, later: Sequence[Decision]) -> None:
        """A blind transfer: the first agent's leg is let go at once (its Hangup, when the
        caller leaves the bridge, is not the call's end), the channel learns its new queue,
        and the caller is moved out of the bridge into the wait loop, unless the same step
        already offers it to the next agent or sends it away (their Redirect moves it)."""
        call_id = requeued.call_id
        call = self.tracker.get(call_id)
        if call is None:
            # The caller hung up as the transfer was decided: its CallEnded meets a waiting
            # call (wrong_state), so the router hears of the hang-up as an abandon instead.
            self.post([lambda now: CallAbandoned(now, call_id, "hangup")])
            return
        agent_id = call.agent_id
        advance(call, PhaseTrigger.TRANSFERRED)
        self.tracker.release_agent(call)
        call.answered_at = None
        call.hangup_requested_by = None
        call.queue = requeued.to_queue
        call.queue_entered_at = requeued.at
        if agent_id is not None:
            self.post(reachability_events(self.flow.reachability.acd_call_finished(agent_id)))
        if call.channel is None:
            return
        variables = transfer_variables(call, self.engine.router, requeued.to_queue)
        moved_on = any(
            isinstance(d, (OfferCall, CallExited)) and d.call_id == call_id for d in later
        )
        # A warm transfer completed before its specialist answered: the consultation's leg,
        # in the caller's bridge now, goes once the caller is out of that bridge.
        consult_leg = self.flow.consult_hangups.pop(call_id, None)
        if moved_on:
            if consult_leg is not None:
                self.hang_up_after_move[call_id] = consult_leg
            self.tasks.spawn(self._set_variables(call.channel, variables), f"requeue-{call_id}")
        else:
            self.tasks.spawn(
                self._redirect_to_wait(call, call.channel, variables, consult_leg),
                f"requeue-{call_id}",
            )

    async def _redirect_to_wait(
        self,
        call: LiveCall,
        channel: str,
        variables: dict[str, str],
        hang_up_then: str | None = None,
    ) -> None:
        try:
            failure = await self.redirect(channel, WAIT_TARGET, variables)
            if failure is None and hang_up_then is not None:
                await self.hang_up(hang_up_then)
        except AmiError as exc:
            log.warning("transfer of %s: %s", call.call_id, exc)
            if not self.ami.logged_in:
                # Sent or not: after the resync it is sent (again) if the caller is still
                # there; one still bridged with the first agent is found by the resync too.
                self.deferred_requeues[call.call_id] = (call, variables)
            return
        if failure is not None:
            log.info("transfer of %s: Redirect to the wait failed: %s", call.call_id, failure)

    def move_to_wait(self, call: LiveCall) -> None:
        """A transferred caller the resync found still bridged (its Redirect was lost on
        the way): into the wait of the queue it is in now."""
        if call.channel is not None:
            variables = transfer_variables(call, self.engine.router, call.queue)
            self.tasks.spawn(
                self._redirect_to_wait(call, call.channel, variables), f"requeue-{call.call_id}"
            )

    async def _set_variables(self, channel: str, variables: dict[str, str]) -> None:
        try:
            await asyncio.gather(
                *(
                    self.ami.request(
                        {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
                    )
                    for name, value in variables.items()
                )
            )
        except AmiError as exc:
            log.info("Setvar %s on %s: %s", sorted(variables), channel, exc)
            if not self.ami.logged_in:
                self.deferred_setvars.setdefault(channel, {}).update(variables)

    # --- after a resync -------------------------------------------------------------------------

    def retry_deferred(self, alive: frozenset[str]) -> None:
        """Send again what the lost link kept back, for the channels still alive (`alive`:
        their uniqueids; channel names of Setvars are tried as they are)."""
        exits, self.deferred_exits = self.deferred_exits, {}
        for call, leave in exits.values():
            if call.uniqueid in alive:
                self.send_away(call, leave)
        setvars, self.deferred_setvars = self.deferred_setvars, {}
        for channel, variables in setvars.items():
            self.tasks.spawn(self._set_variables(channel, variables), f"setvar-{channel}")
        requeues, self.deferred_requeues = self.deferred_requeues, {}
        for call, variables in requeues.values():
            still = self.tracker.get(call.call_id) is call and call.phase is Phase.WAITING
            if still and call.uniqueid in alive and call.channel is not None:
                self.tasks.spawn(
                    self._redirect_to_wait(call, call.channel, variables),
                    f"requeue-{call.call_id}",
                )

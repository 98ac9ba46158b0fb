"""The naive router: the policy of `acd.router`, written to be obviously right, not fast.

Every decision scans every agent or call; deadlines are recomputed from the records each
time. The indexed `Router` must produce identical decisions and views for any event stream
(tests/router/test_router_differential.py). Keep this file short and literal.

It does not read the transition tables of `acd.router.states`, which the indexed `Router`
takes every next state from: it states the transitions again, plainly, below and in the
handlers, so that the differential tests catch a table row drifting from the policy.

  agent  logged_out -login-> available -offer-> reserved -answer-> busy -hang up-> wrap_up
         available or paused -logout-> logged_out; -pause-> paused (a reason change re-emits)
         paused -unpause or end of a rona delay-> available
         wrap_up -the agent ends it early-> as at the end of wrap-up (below); ending a
         wrap-up is a no-op in the other logged-in states, refused `agent_not_logged_in`
         while logged out
         reserved, busy, wrap_up (on a call): logout and pause wait as `pending` (a pending
         logout is not replaced by a pause), unpause cancels a pending pause, removal is
         refused `agent_busy`; pause or unpause while logged out is refused
         `agent_not_logged_in`; anything else is a no-op
         leaving a call (offer retracted, offer failed, end of wrap-up): a pending logout or
         pause applies, else a failed offer pauses it with reason "rona", otherwise available
         restored (logged out only, else refused `agent_logged_in`): back to the stored
         available, paused or wrap_up as it was; stored reserved or busy: its call is gone,
         so a pending logout leaves it logged out (nothing emitted), a pending pause pauses
         it, otherwise available; the stored idle_since in every case; the stored moment
         the state was entered (state_since) for a state restored as it was, now otherwise
         adopted with a call found in Asterisk (logged out, available, paused or in
         wrap-up, which then ends with its pending request kept; ringing or talking it is
         refused `agent_busy`): reserved for an offered call, busy for a connected one;
         a pause it had becomes its pending pause, a logged-out agent is idle from now
  call   waiting -offer-> offered -answer-> connected; offered -fail-> waiting; abandoned while
         waiting or offered, ended while connected; other call events are `wrong_state`
         adopted: straight into the state it was found in (waiting, offered, connected)
         transferred while connected: its agent wraps up, the call waits again in the
         target queue as if it arrived there now (its place by first entry when kept)
         a warm transfer completed: a connected consultation becomes the connected call
         (its queue, agent and the rest), the call's agent wraps up
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.router import events as ev
from acd.router._validation import event_problem
from acd.router.decisions import (
    AgentStateChanged,
    CallEscalated,
    CallExited,
    CallHandedOver,
    CallOverflowed,
    CallRequeued,
    Decision,
    EventRejected,
    OfferCall,
)
from acd.router.model import (
    RONA_REASON,
    AgentPolicy,
    AgentState,
    AgentView,
    CallState,
    CallView,
    QueueConfig,
    RonaAction,
    frozen_skills,
    merge_requirements,
    satisfies,
)

WRAP_END, RONA_END, ESCALATION, MAX_WAIT = range(4)

#: An agent in one of these states is on a call: requests wait, removal is refused.
ON_A_CALL = (AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP)
#: Logged in and not on a call: logout and pause apply at once.
OFF_A_CALL = (AgentState.AVAILABLE, AgentState.PAUSED)
#: The call states in which each call event is accepted; in any other it is `wrong_state`.
CALL_EVENT_STATES: dict[type, tuple[CallState, ...]] = {
    ev.CallAbandoned: (CallState.WAITING, CallState.OFFERED),
    ev.OfferAnswered: (CallState.OFFERED,),
    ev.OfferFailed: (CallState.OFFERED,),
    ev.CallTransferred: (CallState.CONNECTED,),
    ev.CallEnded: (CallState.CONNECTED,),
}


class _RejectedError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class _Agent:
    id: str
    skills: dict[str, int]
    state: AgentState = AgentState.LOGGED_OUT
    pause_reason: str | None = None
    idle_since: float | None = None
    reachable: bool = True
    call_id: str | None = None
    pending: str | None = None
    pending_reason: str | None = None
    wrap_until: float | None = None
    rona_until: float | None = None
    state_since: float | None = None


@dataclass(slots=True)
class _Call:
    id: str
    queue: str
    priority: int
    extra: dict[str, int]
    seq: int
    arrived_at: float
    enqueued_at: float
    queue_entered_at: float
    step: int
    requirements: dict[str, int] = field(default_factory=dict)
    state: CallState = CallState.WAITING
    agent_id: str | None = None
    rona_count: int = 0
    wrap_up: float = 0.0
    answered_at: float | None = None


def step_requirements(queue: QueueConfig, step: int, extra: dict[str, int]) -> dict[str, int]:
    base = queue.skills if step == 0 else queue.escalation[step - 1].skills
    return merge_requirements(base, extra)


def step_at(queue: QueueConfig, entered_at: float, now: float) -> int:
    return sum(1 for s in queue.escalation if entered_at + s.after <= now)


class ReferenceRouter:
    """Same public surface as `acd.router.router.Router`; every method scans (O(n) or worse)."""

    def __init__(self) -> None:
        self._agents: dict[str, _Agent] = {}
        self._calls: dict[str, _Call] = {}
        self._queues: dict[str, QueueConfig] = {}
        self._now = float("-inf")
        self._seq = 0
        self._out: list[Decision] = []

    # --- public surface ---------------------------------------------------------------------

    def handle(self, event: ev.Event) -> list[Decision]:
        self._out = []
        name = type(event).__name__
        problem = event_problem(event)
        if problem is not None:
            return [EventRejected(name, "invalid_event", problem)]
        try:
            self._check_applicable(event)
        except _RejectedError as rejected:
            return [EventRejected(name, rejected.code, rejected.message)]
        self._now = max(self._now, event.now)
        getattr(self, "_on_" + name)(event)
        return self._out

    def next_deadline(self) -> float | None:
        deadlines = self._deadlines()
        return min(deadlines)[0] if deadlines else None

    def agent(self, agent_id: str) -> AgentView | None:
        a = self._agents.get(agent_id)
        return None if a is None else self._agent_view(a)

    def agents(self) -> list[AgentView]:
        return [self._agent_view(self._agents[k]) for k in sorted(self._agents)]

    def call(self, call_id: str) -> CallView | None:
        c = self._calls.get(call_id)
        return None if c is None else self._call_view(c)

    def calls(self) -> list[CallView]:
        waiting = sorted(self._waiting(), key=self._order)
        others = sorted(
            (c for c in self._calls.values() if c.state != CallState.WAITING), key=lambda c: c.id
        )
        return [self._call_view(c) for c in waiting + others]

    def queue(self, name: str) -> QueueConfig | None:
        return self._queues.get(name)

    def queues(self) -> list[QueueConfig]:
        return [self._queues[k] for k in sorted(self._queues)]

    def position(self, call_id: str) -> int | None:
        c = self._calls.get(call_id)
        if c is None or c.state != CallState.WAITING:
            return None
        ahead = [
            o for o in self._waiting() if o.queue == c.queue and self._order(o) < self._order(c)
        ]
        return 1 + len(ahead)

    def waiting_count(self, queue: str) -> int:
        return sum(1 for c in self._waiting() if c.queue == queue)

    def _check(self) -> None:
        for a in self._agents.values():
            if a.state in (AgentState.RESERVED, AgentState.BUSY):
                c = self._calls[a.call_id or ""]
                assert c.agent_id == a.id
        for c in self._calls.values():
            if c.state != CallState.WAITING:
                assert self._agents[c.agent_id or ""].call_id == c.id

    # --- views and orders ---------------------------------------------------------------------

    @staticmethod
    def _agent_view(a: _Agent) -> AgentView:
        return AgentView(
            a.id,
            frozen_skills(a.skills),
            a.state,
            a.pause_reason,
            a.idle_since,
            a.reachable,
            a.call_id,
            a.pending,
            a.pending_reason,
            a.wrap_until,
            a.rona_until,
            a.state_since,
        )

    @staticmethod
    def _call_view(c: _Call) -> CallView:
        return CallView(
            c.id,
            c.queue,
            c.priority,
            frozen_skills(c.extra),
            frozen_skills(c.requirements),
            c.state,
            c.agent_id,
            c.arrived_at,
            c.enqueued_at,
            c.queue_entered_at,
            c.step,
            c.rona_count,
            c.answered_at,
        )

    @staticmethod
    def _order(c: _Call) -> tuple[int, float, int]:
        return (-c.priority, c.enqueued_at, c.seq)

    def _agent_order(self, queue: QueueConfig, a: _Agent) -> tuple[int, float, str]:
        assert a.idle_since is not None
        skill = queue.ranked_skill()
        level = a.skills.get(skill, 0) if queue.policy == AgentPolicy.MOST_SKILLED and skill else 0
        return (-level, a.idle_since, a.id)

    def _waiting(self) -> list[_Call]:
        return [c for c in self._calls.values() if c.state == CallState.WAITING]

    def _servable(self, queue: QueueConfig, extra: dict[str, int]) -> bool:
        return any(
            a.state != AgentState.LOGGED_OUT
            and satisfies(a.skills, step_requirements(queue, step, extra))
            for step in range(len(queue.escalation) + 1)
            for a in self._agents.values()
        )

    def _deadlines(self) -> list[tuple[float, int, str]]:
        found: list[tuple[float, int, str]] = []
        for a in self._agents.values():
            if a.state == AgentState.WRAP_UP and a.wrap_until is not None:
                found.append((a.wrap_until, WRAP_END, a.id))
            if (
                a.state == AgentState.PAUSED
                and a.pause_reason == RONA_REASON
                and a.rona_until is not None
            ):
                found.append((a.rona_until, RONA_END, a.id))
        for c in self._calls.values():
            queue = self._queues.get(c.queue)
            if queue is None or c.state == CallState.CONNECTED:
                continue
            if c.step < len(queue.escalation):
                found.append(
                    (c.queue_entered_at + queue.escalation[c.step].after, ESCALATION, c.id)
                )
            if c.state == CallState.WAITING and queue.max_wait is not None:
                found.append((c.queue_entered_at + queue.max_wait, MAX_WAIT, c.id))
        return found

    # --- rejections (checked before anything changes) -------------------------------------------

    def _check_applicable(self, event: ev.Event) -> None:
        agent_id = getattr(event, "agent_id", None)
        if isinstance(
            event,
            (
                ev.AgentRemoved,
                ev.AgentLoggedIn,
                ev.AgentLoggedOut,
                ev.AgentPaused,
                ev.AgentUnpaused,
                ev.AgentWrapUpDone,
                ev.AgentReachabilityChanged,
                ev.AgentRestored,
            ),
        ):
            a = self._agents.get(agent_id or "")
            if a is None:
                raise _RejectedError("unknown_agent", f"no agent {agent_id!r}")
            message = f"agent {a.id} is {a.state.value}"
            if isinstance(event, ev.AgentRemoved) and a.state in ON_A_CALL:
                raise _RejectedError("agent_busy", message)
            if (
                isinstance(event, (ev.AgentPaused, ev.AgentUnpaused, ev.AgentWrapUpDone))
                and a.state == AgentState.LOGGED_OUT
            ):
                raise _RejectedError("agent_not_logged_in", message)
            if isinstance(event, ev.AgentRestored) and a.state != AgentState.LOGGED_OUT:
                raise _RejectedError("agent_logged_in", message)
        elif isinstance(event, ev.QueueRemoved) and event.name not in self._queues:
            raise _RejectedError("unknown_queue", f"no queue {event.name!r}")
        elif isinstance(event, ev.CallArrived) and event.call_id in self._calls:
            raise _RejectedError("duplicate_call", f"call {event.call_id!r} is already in the ACD")
        elif isinstance(event, ev.CallAdopted):
            if event.call_id in self._calls:
                raise _RejectedError(
                    "duplicate_call", f"call {event.call_id!r} is already in the ACD"
                )
            if event.state != CallState.WAITING:
                a = self._agents.get(agent_id or "")
                if a is None:
                    raise _RejectedError("unknown_agent", f"no agent {agent_id!r}")
                if a.state in (AgentState.RESERVED, AgentState.BUSY):
                    raise _RejectedError("agent_busy", f"agent {a.id} is {a.state.value}")
        elif isinstance(
            event,
            (ev.CallAbandoned, ev.OfferAnswered, ev.OfferFailed, ev.CallTransferred, ev.CallEnded),
        ):
            c = self._calls.get(event.call_id)
            if c is None:
                raise _RejectedError("unknown_call", f"no call {event.call_id!r}")
            if c.state not in CALL_EVENT_STATES[type(event)]:
                raise _RejectedError("wrong_state", f"call {c.id} is {c.state.value}")
            if (
                isinstance(event, (ev.OfferAnswered, ev.OfferFailed))
                and c.agent_id != event.agent_id
            ):
                raise _RejectedError(
                    "wrong_state", f"call {c.id} is not offered to {event.agent_id}"
                )
            if isinstance(event, ev.CallTransferred) and event.queue not in self._queues:
                raise _RejectedError("unknown_queue", f"no queue {event.queue!r}")
        elif isinstance(event, ev.TransferCompleted):
            for call_id in (event.call_id, event.consult_id):
                c = self._calls.get(call_id)
                if c is None:
                    raise _RejectedError("unknown_call", f"no call {call_id!r}")
                if c.state != CallState.CONNECTED:
                    raise _RejectedError("wrong_state", f"call {c.id} is {c.state.value}")

    # --- agent steps ------------------------------------------------------------------------------

    def _set_agent(
        self,
        a: _Agent,
        state: AgentState,
        at: float,
        reason: str | None = None,
        stored_since: float | None = None,
    ) -> None:
        """Every state change, and so every `state_since`: now (`at`), or when restoring,
        the stored moment the state was entered (`stored_since`), which the decision tells."""
        if a.state == AgentState.PAUSED and (
            state != AgentState.PAUSED or reason != a.pause_reason
        ):
            a.rona_until = None
        a.state = state
        a.pause_reason = reason if state == AgentState.PAUSED else None
        if state == AgentState.LOGGED_OUT:
            a.idle_since = None
            a.pending = a.pending_reason = None
        if state != AgentState.WRAP_UP:
            a.wrap_until = None
        a.state_since = at if stored_since is None else stored_since
        self._out.append(
            AgentStateChanged(a.id, a.state, a.pause_reason, a.idle_since, at, stored_since)
        )

    def _become_available(self, a: _Agent, at: float) -> None:
        """Login, unpause, end of wrap-up or of a rona delay: idle_since starts now."""
        a.idle_since = at
        self._set_agent(a, AgentState.AVAILABLE, at)
        self._agent_driven(a, at)

    def _settle(self, a: _Agent, why: str, at: float) -> None:
        """The agent leaves a call; `why` is "retract" (the offered call went away), "fail"
        (the offer failed) or "wrap_end". Its pending request applies, else "fail" pauses it
        for rona, "wrap_end" makes it available from now, "retract" available as it was."""
        assert a.state in (AgentState.RESERVED, AgentState.WRAP_UP), (a.id, a.state, why)
        a.call_id = None
        pending, reason = a.pending, a.pending_reason
        a.pending = a.pending_reason = None
        if pending == "logout":
            self._set_agent(a, AgentState.LOGGED_OUT, at)
            self._leave_empty_check(at)
        elif pending == "pause":
            self._set_agent(a, AgentState.PAUSED, at, reason)
        elif why == "fail":
            self._set_agent(a, AgentState.PAUSED, at, RONA_REASON)
        elif why == "wrap_end":
            self._become_available(a, at)
        else:  # the offered call went away: back to available, idle_since unchanged
            self._set_agent(a, AgentState.AVAILABLE, at)
            self._agent_driven(a, at)

    def _agent_driven(self, a: _Agent, at: float) -> None:
        if a.state != AgentState.AVAILABLE or not a.reachable:
            return
        fits = [c for c in self._waiting() if satisfies(a.skills, c.requirements)]
        if fits:
            self._offer(min(fits, key=self._order), a, at)

    def _call_driven(self, c: _Call, at: float) -> None:
        if c.state != CallState.WAITING:
            return
        queue = self._queues[c.queue]
        fits = [
            a
            for a in self._agents.values()
            if a.state == AgentState.AVAILABLE
            and a.reachable
            and satisfies(a.skills, c.requirements)
        ]
        if fits:
            self._offer(c, min(fits, key=lambda a: self._agent_order(queue, a)), at)

    def _offer(self, c: _Call, a: _Agent, at: float) -> None:
        c.state = CallState.OFFERED
        c.agent_id = a.id
        a.call_id = c.id
        self._set_agent(a, AgentState.RESERVED, at)
        self._out.append(OfferCall(c.id, a.id, c.queue, self._queues[c.queue].ring_timeout))

    def _exit(self, c: _Call, reason: str, destination: str | None, at: float) -> None:
        del self._calls[c.id]
        self._out.append(CallExited(c.id, c.queue, reason, destination, at))

    def _leave_empty_check(self, at: float) -> None:
        for c in sorted(self._waiting(), key=self._order):
            queue = self._queues[c.queue]
            if queue.leave_empty and not self._servable(queue, c.extra):
                self._exit(c, "leave_empty", None, at)

    def _enter_queue(self, c: _Call, queue: QueueConfig, at: float) -> None:
        c.queue = queue.name
        c.queue_entered_at = at
        c.step = step_at(queue, at, at)
        c.requirements = step_requirements(queue, c.step, c.extra)

    def _waiting_again(self, c: _Call, at: float) -> None:
        """The call (back) in WAITING: try an agent, then leave if nobody could ever serve it."""
        self._call_driven(c, at)
        if c.state == CallState.WAITING and self._queues[c.queue].leave_empty:
            self._leave_empty_check(at)

    # --- events -------------------------------------------------------------------------------

    def _on_Tick(self, event: ev.Tick) -> None:  # noqa: N802
        while True:
            due = [d for d in self._deadlines() if d[0] <= self._now]
            if not due:
                return
            at, kind, key = min(due)
            if kind == WRAP_END:
                a = self._agents[key]
                a.wrap_until = None
                self._settle(a, "wrap_end", at)
            elif kind == RONA_END:
                a = self._agents[key]
                a.rona_until = None
                self._become_available(a, at)
            elif kind == ESCALATION:
                c = self._calls[key]
                queue = self._queues[c.queue]
                c.step += 1
                c.requirements = step_requirements(queue, c.step, c.extra)
                self._out.append(CallEscalated(c.id, c.queue, c.step, at))
                self._call_driven(c, at)
            else:
                self._max_wait(self._calls[key], at)

    def _max_wait(self, c: _Call, at: float) -> None:
        queue = self._queues[c.queue]
        target = queue.overflow
        if target and "," not in target and target != queue.name and target in self._queues:
            self._out.append(CallOverflowed(c.id, queue.name, target, at))
            self._enter_queue(c, self._queues[target], at)
            self._waiting_again(c, at)
        else:
            self._exit(c, "timeout", target if target and "," in target else None, at)

    def _on_QueueUpserted(self, event: ev.QueueUpserted) -> None:  # noqa: N802
        queue = event.queue
        self._queues[queue.name] = queue
        mine = sorted(
            (
                c
                for c in self._calls.values()
                if c.queue == queue.name and c.state != CallState.CONNECTED
            ),
            key=self._order,
        )
        for c in mine:
            c.step = step_at(queue, c.queue_entered_at, self._now)
            c.requirements = step_requirements(queue, c.step, c.extra)
        for c in mine:
            self._call_driven(c, self._now)
        if queue.leave_empty:
            self._leave_empty_check(self._now)

    def _on_QueueRemoved(self, event: ev.QueueRemoved) -> None:  # noqa: N802
        del self._queues[event.name]
        mine = sorted(
            (
                c
                for c in self._calls.values()
                if c.queue == event.name and c.state != CallState.CONNECTED
            ),
            key=self._order,
        )
        freed = [self._agents[c.agent_id] for c in mine if c.agent_id is not None]
        for c in mine:
            self._exit(c, "queue_removed", None, self._now)
        for a in freed:
            self._settle(a, "retract", self._now)

    def _on_AgentUpserted(self, event: ev.AgentUpserted) -> None:  # noqa: N802
        a = self._agents.get(event.agent_id)
        if a is None:
            self._agents[event.agent_id] = _Agent(event.agent_id, dict(event.skills))
            return
        a.skills = dict(event.skills)
        self._agent_driven(a, self._now)
        self._leave_empty_check(self._now)

    def _on_AgentRemoved(self, event: ev.AgentRemoved) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        if a.state != AgentState.LOGGED_OUT:
            self._set_agent(a, AgentState.LOGGED_OUT, self._now)
        del self._agents[a.id]
        self._leave_empty_check(self._now)

    def _on_AgentLoggedIn(self, event: ev.AgentLoggedIn) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        if a.state == AgentState.LOGGED_OUT:
            self._become_available(a, self._now)

    def _on_AgentLoggedOut(self, event: ev.AgentLoggedOut) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        if a.state in OFF_A_CALL:
            self._set_agent(a, AgentState.LOGGED_OUT, self._now)
            self._leave_empty_check(self._now)
        elif a.state in ON_A_CALL:
            a.pending, a.pending_reason = "logout", None

    def _on_AgentPaused(self, event: ev.AgentPaused) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        if a.state in OFF_A_CALL:
            if a.state != AgentState.PAUSED or a.pause_reason != event.reason:
                self._set_agent(a, AgentState.PAUSED, self._now, event.reason)
        elif a.state in ON_A_CALL and a.pending != "logout":
            a.pending, a.pending_reason = "pause", event.reason

    def _on_AgentUnpaused(self, event: ev.AgentUnpaused) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        if a.state == AgentState.PAUSED:
            self._become_available(a, self._now)
        elif a.state in ON_A_CALL and a.pending == "pause":
            a.pending = a.pending_reason = None

    def _on_AgentWrapUpDone(self, event: ev.AgentWrapUpDone) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        if a.state == AgentState.WRAP_UP:
            a.wrap_until = None
            self._settle(a, "wrap_end", self._now)

    def _on_AgentReachabilityChanged(self, event: ev.AgentReachabilityChanged) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        became_reachable = event.reachable and not a.reachable
        a.reachable = event.reachable
        if became_reachable:
            self._agent_driven(a, self._now)

    def _on_AgentRestored(self, event: ev.AgentRestored) -> None:  # noqa: N802
        a = self._agents[event.agent_id]
        now = self._now
        if event.state in (AgentState.RESERVED, AgentState.BUSY):
            # The call went with the previous run: as if it had ended at the restart.
            if event.pending == "logout":
                return  # logged out already
            a.idle_since = event.idle_since
            if event.pending == "pause":
                self._set_agent(a, AgentState.PAUSED, now, event.pending_reason)
                return
            self._set_agent(a, AgentState.AVAILABLE, now)
            self._agent_driven(a, now)
            return
        a.idle_since = event.idle_since
        self._set_agent(a, event.state, now, event.pause_reason, event.state_since)
        if event.state == AgentState.WRAP_UP:
            a.pending, a.pending_reason = event.pending, event.pending_reason
            a.wrap_until = event.wrap_until
        if event.state == AgentState.PAUSED:
            a.rona_until = event.rona_until
        self._agent_driven(a, now)

    def _on_CallArrived(self, event: ev.CallArrived) -> None:  # noqa: N802
        now = self._now
        queue = self._queues.get(event.queue)
        if queue is None:
            self._out.append(CallExited(event.call_id, event.queue, "unknown_queue", None, now))
            return
        extra = dict(event.extra_skills)
        if not queue.join_empty and not self._servable(queue, extra):
            self._out.append(CallExited(event.call_id, queue.name, "join_empty", None, now))
            return
        priority = queue.priority if event.priority is None else event.priority
        # It may have waited unregistered since entered_at: its place and its time in queue
        # count from then.
        entered = now if event.entered_at is None else event.entered_at
        self._seq += 1
        step = step_at(queue, entered, now)
        c = _Call(
            event.call_id, queue.name, priority, extra, self._seq, entered, entered, entered, step
        )
        c.requirements = step_requirements(queue, step, extra)
        self._calls[c.id] = c
        self._waiting_again(c, now)

    def _on_CallAdopted(self, event: ev.CallAdopted) -> None:  # noqa: N802
        now = self._now
        queue = self._queues.get(event.queue)
        if queue is None:
            self._out.append(CallExited(event.call_id, event.queue, "unknown_queue", None, now))
            return
        extra = dict(event.extra_skills)
        priority = queue.priority if event.priority is None else event.priority
        self._seq += 1
        entered = event.queue_entered_at
        step = step_at(queue, entered, now)
        c = _Call(
            event.call_id,
            queue.name,
            priority,
            extra,
            self._seq,
            event.enqueued_at,
            event.enqueued_at,
            entered,
            step,
        )
        c.requirements = step_requirements(queue, step, extra)
        self._calls[c.id] = c
        if event.state == CallState.WAITING:
            self._waiting_again(c, now)  # it is in the queue already: no join_empty
            return
        # Asterisk is ringing or connecting the agent already: no offer to make.
        a = self._agents[event.agent_id or ""]
        if a.state == AgentState.PAUSED:
            a.pending, a.pending_reason = "pause", a.pause_reason
        if a.idle_since is None:
            a.idle_since = now
        a.wrap_until = None  # found on a call in Asterisk: its wrap-up is over
        c.state = event.state
        c.agent_id = a.id
        a.call_id = c.id
        if event.state == CallState.CONNECTED:
            c.wrap_up = queue.wrap_up
            self._set_agent(a, AgentState.BUSY, now)
        else:
            self._set_agent(a, AgentState.RESERVED, now)

    def _on_CallAbandoned(self, event: ev.CallAbandoned) -> None:  # noqa: N802
        c = self._calls.pop(event.call_id)
        if c.agent_id is not None:
            self._settle(self._agents[c.agent_id], "retract", self._now)

    def _on_OfferAnswered(self, event: ev.OfferAnswered) -> None:  # noqa: N802
        c = self._calls[event.call_id]
        c.state = CallState.CONNECTED
        c.answered_at = self._now
        c.wrap_up = self._queues[c.queue].wrap_up
        self._set_agent(self._agents[event.agent_id], AgentState.BUSY, self._now)

    def _on_OfferFailed(self, event: ev.OfferFailed) -> None:  # noqa: N802
        now = self._now
        c = self._calls[event.call_id]
        a = self._agents[event.agent_id]
        queue = self._queues[c.queue]
        c.state = CallState.WAITING
        c.agent_id = None
        c.rona_count += 1
        had_pending = a.pending is not None
        self._settle(a, "fail", now)
        if not had_pending and queue.rona_action == RonaAction.DELAY:
            a.rona_until = now + queue.rona_delay
        if c.id not in self._calls:  # the leave-empty check after a pending logout took it
            return
        if queue.max_wait is not None and c.queue_entered_at + queue.max_wait <= now:
            self._max_wait(c, now)
        else:
            self._waiting_again(c, now)

    def _wrap_up(self, a: _Agent, wrap_up: float, now: float) -> None:
        """`a` has just entered WRAP_UP for `wrap_up` seconds (0: it ends now)."""
        if wrap_up == 0:
            self._settle(a, "wrap_end", now)
        else:
            a.wrap_until = now + wrap_up

    def _on_CallTransferred(self, event: ev.CallTransferred) -> None:  # noqa: N802
        """The agent wraps up; the caller arrives in the target queue now, with its place by
        first entry when kept; a wrap-up of 0 ends after the caller was placed."""
        now = self._now
        c = self._calls[event.call_id]
        a = self._agents[c.agent_id or ""]
        queue = self._queues[event.queue]
        self._set_agent(a, AgentState.WRAP_UP, now)
        self._out.append(CallRequeued(c.id, c.queue, queue.name, a.id, event.keep_place, now))
        c.state = CallState.WAITING
        c.agent_id = None
        c.answered_at = None
        c.extra = merge_requirements(c.extra, event.extra_skills)
        c.priority = max(c.priority, queue.priority)
        if not event.keep_place:
            self._seq += 1
            c.seq = self._seq
            c.enqueued_at = now
        self._enter_queue(c, queue, now)
        if not queue.join_empty and not self._servable(queue, c.extra):
            self._exit(c, "join_empty", None, now)
        else:
            self._waiting_again(c, now)
        self._wrap_up(a, c.wrap_up, now)

    def _on_TransferCompleted(self, event: ev.TransferCompleted) -> None:  # noqa: N802
        """The call takes the consultation's queue, agent, priority, skills, step, time in
        queue, answer and wrap-up; the consultation is gone; the call's agent wraps up."""
        now = self._now
        c = self._calls[event.call_id]
        k = self._calls.pop(event.consult_id)
        a = self._agents[c.agent_id or ""]
        b = self._agents[k.agent_id or ""]
        self._set_agent(a, AgentState.WRAP_UP, now)
        wrap_up = c.wrap_up
        c.queue, c.priority, c.extra, c.step = k.queue, k.priority, k.extra, k.step
        c.requirements, c.queue_entered_at = k.requirements, k.queue_entered_at
        c.answered_at, c.wrap_up, c.agent_id = k.answered_at, k.wrap_up, b.id
        b.call_id = c.id
        self._out.append(CallHandedOver(c.id, k.id, c.queue, a.id, b.id, now))
        self._wrap_up(a, wrap_up, now)

    def _on_CallEnded(self, event: ev.CallEnded) -> None:  # noqa: N802
        now = self._now
        c = self._calls.pop(event.call_id)
        a = self._agents[c.agent_id or ""]
        self._set_agent(a, AgentState.WRAP_UP, now)
        self._wrap_up(a, c.wrap_up, now)

"""The indexed router: the policy of `acd.router`, with indexes so each event costs O(log n).

Indexes (see `_records` for the records and the lazy-invalidation rule)
  * Requirement sets are interned (`ReqSet`). Agents that satisfy exactly the same sets form
    an `AgentClass`; each class keeps a heap of its dispatchable agents per agent ordering,
    so an agent becoming available is one heap push whatever the number of sets it serves.
  * Call-driven dispatch compares the heap tops of the classes that satisfy the call's set.
  * Per set: a heap of WAITING calls in global order. Agent-driven dispatch compares the tops
    of the sets the agent's class satisfies (skipped when the class has no waiting call).
  * Per queue: a sorted list of the WAITING calls' orders (positions, queue-driven dispatch).
  * One deadline heap of (deadline, kind, id); an entry is live when the record's field still
    holds that deadline, so nothing is ever removed from it eagerly.

States: every agent or call state this router writes is the target of a row of the tables in
`acd.router.states` (read when the router is built), written by `_move_agent`/`_move_call`.

n below is the number of agents or calls involved, k the number of requirement sets an agent
satisfies, m the number of agent classes satisfying a set (both a handful in practice; m
grows when agents of similar skills differ at the levels the sets test), W the WAITING
calls of one queue.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from acd.router import events as ev
from acd.router import states
from acd.router._records import (
    CLASS_SCAN_LIMIT,
    HEAP_SLACK,
    Agent,
    AgentClass,
    Call,
    Queue,
    ReqSet,
    compact,
)
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
from acd.router.states import (
    ADOPT_AGENT_TRIGGERS,
    ADOPT_CALL_TRIGGERS,
    CALL_START,
    RESTORE_TRIGGERS,
    AgentOutcome,
    AgentTrigger,
    CallOutcome,
    CallTrigger,
    Do,
    agent_rows,
    call_rows,
)

_WRAP_END, _RONA_END, _ESCALATION, _MAX_WAIT = range(4)
_NO_SKILLS: dict[str, int] = {}  # shared by every call without extra skills; never mutated
# States, triggers and actions as module constants: reading a member off its enum class costs
# about 60 ns in Python 3.11, a module global a few. States are compared by identity.
_AVAILABLE = AgentState.AVAILABLE
_PAUSED = AgentState.PAUSED
_WRAP_UP = AgentState.WRAP_UP
_LOGGED_OUT = AgentState.LOGGED_OUT
_WAITING = CallState.WAITING
_CONNECTED = CallState.CONNECTED
_T_LOGIN = AgentTrigger.LOGIN
_T_LOGOUT = AgentTrigger.LOGOUT
_T_PAUSE = AgentTrigger.PAUSE
_T_UNPAUSE = AgentTrigger.UNPAUSE
_T_REMOVE = AgentTrigger.REMOVE
_T_OFFER = AgentTrigger.OFFER
_T_ANSWER = AgentTrigger.ANSWER
_T_RETRACT = AgentTrigger.RETRACT
_T_FAIL = AgentTrigger.FAIL
_T_HANG_UP = AgentTrigger.HANG_UP
_T_WRAP_END = AgentTrigger.WRAP_END
_T_WRAP_DONE = AgentTrigger.WRAP_DONE
_T_RONA_END = AgentTrigger.RONA_END
_T_TRANSFER = AgentTrigger.TRANSFER
_C_OFFER = CallTrigger.OFFER
_C_ANSWER = CallTrigger.ANSWER
_C_FAIL = CallTrigger.FAIL
_C_ABANDON = CallTrigger.ABANDON
_C_END = CallTrigger.END
_C_EXIT = CallTrigger.EXIT
_C_TRANSFER = CallTrigger.TRANSFER
_C_HAND_OVER = CallTrigger.HAND_OVER
_C_MERGE = CallTrigger.MERGE
_MOVE = Do.MOVE
_DEFER = Do.DEFER
_CANCEL = Do.CANCEL
_SETTLE = Do.SETTLE
_REJECT = Do.REJECT

_AGENT_TRIGGERS: Mapping[type, AgentTrigger] = {
    ev.AgentRemoved: AgentTrigger.REMOVE,
    ev.AgentLoggedIn: AgentTrigger.LOGIN,
    ev.AgentLoggedOut: AgentTrigger.LOGOUT,
    ev.AgentPaused: AgentTrigger.PAUSE,
    ev.AgentUnpaused: AgentTrigger.UNPAUSE,
    ev.AgentWrapUpDone: AgentTrigger.WRAP_DONE,
}
_CALL_TRIGGERS: Mapping[type, CallTrigger] = {
    ev.CallAbandoned: CallTrigger.ABANDON,
    ev.OfferAnswered: CallTrigger.ANSWER,
    ev.OfferFailed: CallTrigger.FAIL,
    ev.CallTransferred: CallTrigger.TRANSFER,
    ev.CallEnded: CallTrigger.END,
}


def _skills_key(skills: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(skills.items())) if skills else ()


class Router:
    """The ACD's router. Runtime complexity is stated per method; amortised over lazy cleanup."""

    def __init__(self, *, class_scan_limit: int = CLASS_SCAN_LIMIT) -> None:
        """`class_scan_limit`: see `_records.CLASS_SCAN_LIMIT` (tests lower it to 0 to run
        every requirement set on its own heaps)."""
        self._class_scan_limit = class_scan_limit
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, Call] = {}
        self._queues: dict[str, Queue] = {}
        self._reqsets: dict[tuple[tuple[str, int], ...], ReqSet] = {}
        #: Each non-empty set is listed under one of its skills, the one with the shortest list at
        #: interning time: any agent satisfying the set has that skill, and lists stay short.
        self._reqsets_by_skill: dict[str, list[ReqSet]] = {}
        self._agents_by_skill: dict[str, dict[str, Agent]] = {}
        self._classes: dict[tuple[int, ...], AgentClass] = {}
        self._leave_empty_queues: dict[str, Queue] = {}
        self._deadlines: list[tuple[float, int, str]] = []
        self._now = float("-inf")
        self._seq = 0
        self._epoch = 0
        self._derive()

    def _derive(self) -> None:
        """Build what the router derives rather than holds: the decisions buffer, the transition
        tables and the step dispatch. Called by `__init__` and by `__setstate__`, so a snapshot
        carries none of it (bound methods and functions would make a pickle that runs code)."""
        self._out: list[Decision] = []
        # The transition tables, read off the `states` module when the router is built or
        # loaded (so a test can swap a changed table in), regrouped so that a lookup builds no
        # tuple: every state this router writes is the target of a row looked up here.
        self._agent_rows = agent_rows(states.AGENT_TABLE)
        self._call_rows = call_rows(states.CALL_TABLE)
        self._agent_rows_for: dict[type, dict[AgentState, AgentOutcome]] = {
            etype: self._agent_rows[t] for etype, t in _AGENT_TRIGGERS.items()
        }
        self._call_rows_for: dict[type, dict[CallState, CallOutcome]] = {
            etype: self._call_rows[t] for etype, t in _CALL_TRIGGERS.items()
        }
        agent_check, call_check = self._reject_for_agent, self._reject_for_call
        #: event type -> (rejection check or None, handler)
        self._steps: dict[
            type, tuple[Callable[[Any], EventRejected | None] | None, Callable[[Any], None]]
        ] = {
            ev.Tick: (None, self._on_tick),
            ev.QueueUpserted: (None, self._on_queue_upserted),
            ev.QueueRemoved: (self._reject_queue_removed, self._on_queue_removed),
            ev.AgentUpserted: (None, self._on_agent_upserted),
            ev.AgentRemoved: (agent_check, self._on_agent_removed),
            ev.AgentLoggedIn: (agent_check, self._on_agent_logged_in),
            ev.AgentLoggedOut: (agent_check, self._on_agent_logged_out),
            ev.AgentPaused: (agent_check, self._on_agent_paused),
            ev.AgentUnpaused: (agent_check, self._on_agent_unpaused),
            ev.AgentWrapUpDone: (agent_check, self._on_agent_wrap_up_done),
            ev.AgentReachabilityChanged: (agent_check, self._on_reachability_changed),
            ev.AgentRestored: (self._reject_restored, self._on_agent_restored),
            ev.CallArrived: (self._reject_call_arrived, self._on_call_arrived),
            ev.CallAdopted: (self._reject_adopted, self._on_call_adopted),
            ev.CallAbandoned: (call_check, self._on_call_abandoned),
            ev.OfferAnswered: (call_check, self._on_offer_answered),
            ev.OfferFailed: (call_check, self._on_offer_failed),
            ev.CallTransferred: (self._reject_transferred, self._on_call_transferred),
            ev.TransferCompleted: (self._reject_completed, self._on_transfer_completed),
            ev.CallEnded: (call_check, self._on_call_ended),
        }

    # --- snapshots (pickle; see `acd.cluster.snapshot`) ----------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """The router's own state, exactly: records, indexes, heaps, deadlines, clock and
        counters; not what `_derive` builds. Runtime complexity: O(attributes)."""
        state = self.__dict__.copy()
        for name in _DERIVED:
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Take a state `__getstate__` made (exactly its attributes: a snapshot of another
        router version is refused with ValueError), then derive the rest.
        Runtime complexity: O(attributes)."""
        if not isinstance(state, dict) or set(state) != _HELD:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"not a router state of this version: {got}")
        self.__dict__.update(state)
        self._derive()

    # --- public surface ---------------------------------------------------------------------

    def handle(self, event: ev.Event) -> list[Decision]:
        """Apply one event; return the decisions it caused, in order.

        Runtime complexity: amortised O(log n + W) for an agent state change,
        O(m log n + log W) for an arriving or adopted waiting call and O(log n) for a
        restored agent or an adopted offered or connected call, where a
        dispatch it causes adds O(k log n) (agent-driven) or O(m log n) (call-driven); a Tick
        runs each due deadline at that cost; QueueUpserted/QueueRemoved are O(W (m + log n))
        for the queue's calls; a skill change is O(s * sets listed under the agent's skills);
        the first use of a new requirement set costs O(agents having one of its skills); the
        leave-empty check adds O(W) per leave_empty queue where it runs. (W here only for the
        sorted per-queue list: a list insert moves O(W) pointers, which is memmove-fast.)
        """
        out: list[Decision] = []
        self._out = out
        problem = event_problem(event)
        if problem is not None:
            return [EventRejected(type(event).__name__, "invalid_event", problem)]
        check, handler = self._steps[type(event)]
        if check is not None:
            rejected = check(event)
            if rejected is not None:
                return [rejected]
        if event.now > self._now:
            self._now = event.now
        handler(event)
        return out

    def next_deadline(self) -> float | None:
        """Earliest pending deadline. Runtime complexity: O(1), amortised O(log n)."""
        top = self._live_deadline()
        return None if top is None else top[0]

    def agent(self, agent_id: str) -> AgentView | None:
        """Runtime complexity: O(s) for s skills."""
        a = self._agents.get(agent_id)
        return None if a is None else _agent_view(a)

    def agents(self) -> list[AgentView]:
        """All agents sorted by id. Runtime complexity: O(n log n)."""
        return [_agent_view(self._agents[k]) for k in sorted(self._agents)]

    def call(self, call_id: str) -> CallView | None:
        """Runtime complexity: O(s) for s skills."""
        c = self._calls.get(call_id)
        return None if c is None else _call_view(c)

    def calls(self) -> list[CallView]:
        """WAITING calls in global order, then offered and connected ones by id.

        Runtime complexity: O(n log n)."""
        waiting = sorted(order for q in self._queues.values() for order in q.waiting)
        others = sorted(c.id for c in self._calls.values() if c.state is not _WAITING)
        return [_call_view(self._calls[o[3]]) for o in waiting] + [
            _call_view(self._calls[i]) for i in others
        ]

    def queue(self, name: str) -> QueueConfig | None:
        """Runtime complexity: O(1)."""
        q = self._queues.get(name)
        return None if q is None else q.config

    def queues(self) -> list[QueueConfig]:
        """All queues sorted by name. Runtime complexity: O(q log q)."""
        return [self._queues[k].config for k in sorted(self._queues)]

    def position(self, call_id: str) -> int | None:
        """1-based place among its queue's WAITING calls. Runtime complexity: O(log W)."""
        c = self._calls.get(call_id)
        if c is None or c.state is not _WAITING:
            return None
        return bisect_left(self._queues[c.queue].waiting, c.order) + 1

    def waiting_count(self, queue: str) -> int:
        """Runtime complexity: O(1)."""
        q = self._queues.get(queue)
        return 0 if q is None else len(q.waiting)

    # --- rejections (checked before anything changes) -------------------------------------------

    def _reject_for_agent(self, event: Any) -> EventRejected | None:
        a = self._agents.get(event.agent_id)
        if a is None:
            return EventRejected(
                type(event).__name__, "unknown_agent", f"no agent {event.agent_id!r}"
            )
        rows = self._agent_rows_for.get(type(event))
        if rows is not None:
            outcome = rows[a.state]
            if outcome.do is _REJECT:
                return EventRejected(
                    type(event).__name__, outcome.code, f"agent {a.id} is {a.state.value}"
                )
        return None

    def _reject_for_call(self, event: Any) -> EventRejected | None:
        name = type(event).__name__
        c = self._calls.get(event.call_id)
        if c is None:
            return EventRejected(name, "unknown_call", f"no call {event.call_id!r}")
        outcome = self._call_rows_for[type(event)][c.state]
        if outcome.do is _REJECT:
            return EventRejected(name, outcome.code, f"call {c.id} is {c.state.value}")
        if isinstance(event, (ev.OfferAnswered, ev.OfferFailed)) and c.agent_id != event.agent_id:
            return EventRejected(
                name, "wrong_state", f"call {c.id} is not offered to {event.agent_id}"
            )
        return None

    def _reject_restored(self, event: ev.AgentRestored) -> EventRejected | None:
        a = self._agents.get(event.agent_id)
        if a is None:
            return EventRejected("AgentRestored", "unknown_agent", f"no agent {event.agent_id!r}")
        outcome = self._agent_rows[RESTORE_TRIGGERS[event.state]][a.state]
        if outcome.do is _REJECT:
            return EventRejected("AgentRestored", outcome.code, f"agent {a.id} is {a.state.value}")
        return None

    def _reject_adopted(self, event: ev.CallAdopted) -> EventRejected | None:
        """A duplicate id; a table row refusing the adopted state; for a call on an agent, an
        unknown agent or the agent's row refusing (`agent_busy`: on another call)."""
        if event.call_id in self._calls:
            return EventRejected(
                "CallAdopted", "duplicate_call", f"call {event.call_id!r} is already in the ACD"
            )
        outcome = self._call_rows[ADOPT_CALL_TRIGGERS[event.state]][CALL_START]
        if outcome.do is _REJECT:
            return EventRejected("CallAdopted", outcome.code, f"call {event.call_id} is new")
        trigger = ADOPT_AGENT_TRIGGERS.get(event.state)
        if trigger is None:
            return None
        a = self._agents.get(event.agent_id or "")
        if a is None:
            return EventRejected("CallAdopted", "unknown_agent", f"no agent {event.agent_id!r}")
        agent_outcome = self._agent_rows[trigger][a.state]
        if agent_outcome.do is _REJECT:
            return EventRejected(
                "CallAdopted", agent_outcome.code, f"agent {a.id} is {a.state.value}"
            )
        return None

    def _reject_transferred(self, event: ev.CallTransferred) -> EventRejected | None:
        rejected = self._reject_for_call(event)
        if rejected is None and event.queue not in self._queues:
            rejected = EventRejected(
                "CallTransferred", "unknown_queue", f"no queue {event.queue!r}"
            )
        return rejected

    def _reject_completed(self, event: ev.TransferCompleted) -> EventRejected | None:
        rows = self._call_rows
        for call_id, trigger in ((event.call_id, _C_HAND_OVER), (event.consult_id, _C_MERGE)):
            c = self._calls.get(call_id)
            if c is None:
                return EventRejected("TransferCompleted", "unknown_call", f"no call {call_id!r}")
            outcome = rows[trigger][c.state]
            if outcome.do is _REJECT:
                return EventRejected(
                    "TransferCompleted", outcome.code, f"call {c.id} is {c.state.value}"
                )
        return None

    def _reject_queue_removed(self, event: ev.QueueRemoved) -> EventRejected | None:
        if event.name in self._queues:
            return None
        return EventRejected("QueueRemoved", "unknown_queue", f"no queue {event.name!r}")

    def _reject_call_arrived(self, event: ev.CallArrived) -> EventRejected | None:
        if event.call_id not in self._calls:
            return None
        return EventRejected(
            "CallArrived", "duplicate_call", f"call {event.call_id!r} is already in the ACD"
        )

    # --- requirement sets and agent classes ------------------------------------------------------

    def _intern(self, requirements: Mapping[str, int]) -> ReqSet:
        key = _skills_key(requirements)
        r = self._reqsets.get(key)
        if r is not None:
            return r
        r = self._reqsets[key] = ReqSet(key, len(self._reqsets))
        if key:
            by_skill = self._reqsets_by_skill
            skill = min((s for s, _ in key), key=lambda s: len(by_skill.get(s, ())))
            by_skill.setdefault(skill, []).append(r)
            candidates: Iterable[Agent] = self._agents_by_skill.get(skill, {}).values()
        else:
            candidates = self._agents.values()
        for a in [a for a in candidates if r.satisfied_by(a.skills)]:
            self._move_to_class(a, (*a.cls.reqsets, r))
        return r

    def _satisfied_sets(self, skills: dict[str, int]) -> tuple[ReqSet, ...]:
        found: list[ReqSet] = []
        empty = self._reqsets.get(())
        if empty is not None:
            found.append(empty)
        by_skill = self._reqsets_by_skill
        for skill in skills:
            for r in by_skill.get(skill, ()):
                if r.satisfied_by(skills):
                    found.append(r)
        return tuple(found)

    def _class_for(self, reqsets: tuple[ReqSet, ...]) -> AgentClass:
        ordered = tuple(sorted(reqsets, key=lambda r: r.serial))
        key = tuple(r.serial for r in ordered)
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = AgentClass(ordered)
            for r in ordered:
                r.classes.append(cls)
                if r.heaps is None and len(r.classes) > self._class_scan_limit:
                    self._give_own_heaps(r)
        return cls

    def _give_own_heaps(self, r: ReqSet) -> None:
        """From now on `r` keeps its own agent heaps (it spans too many classes to scan)."""
        members = [a for cls in r.classes for a in cls.members.values() if a.epoch]
        heap = [a.entry(None) for a in members]
        heapq.heapify(heap)
        r.heaps = {None: heap}
        r.available = len(members)
        for cls in r.classes:
            cls.direct = (*cls.direct, r)

    def _leave_class(self, a: Agent) -> None:
        cls = a.cls
        del cls.members[a.id]
        if a.state is not _LOGGED_OUT:
            cls.logged_in -= 1
        if not cls.members:
            del self._classes[cls.key]
            for r in cls.reqsets:
                r.classes.remove(cls)

    def _join_class(self, a: Agent, cls: AgentClass) -> None:
        a.cls = cls
        cls.members[a.id] = a
        if a.state is not _LOGGED_OUT:
            cls.logged_in += 1

    def _move_to_class(self, a: Agent, reqsets: tuple[ReqSet, ...]) -> None:
        dispatchable = bool(a.epoch)
        if dispatchable:
            self._remove_dispatchable(a)
        self._leave_class(a)
        self._join_class(a, self._class_for(reqsets))
        if dispatchable:
            self._add_dispatchable(a)

    def _steps_for(self, q: Queue, c: Call) -> tuple[ReqSet, ...]:
        steps = q.step_cache.get(c.extra_key)
        if steps is None:
            steps = tuple(
                self._intern(merge_requirements(q.step_skills(i), c.extra))
                for i in range(len(q.afters) + 1)
            )
            q.step_cache[c.extra_key] = steps
        return steps

    # --- agent index membership -----------------------------------------------------------------

    def _add_dispatchable(self, a: Agent) -> None:
        self._epoch += 1
        a.epoch = self._epoch
        cls = a.cls
        cls.available += 1
        plain = a.entry(None)  # one tuple shared by every longest-idle heap
        push = heapq.heappush
        for ordering, heap in cls.heaps.items():
            push(heap, plain if ordering is None else a.entry(ordering))
        for r in cls.direct:
            r.available += 1
            for ordering, heap in r.heaps.items():  # type: ignore[union-attr]
                push(heap, plain if ordering is None else a.entry(ordering))

    def _remove_dispatchable(self, a: Agent) -> None:
        a.epoch = 0
        cls = a.cls
        cls.available -= 1
        compact(cls.heaps, cls.available)
        for r in cls.direct:
            r.available -= 1
            compact(r.heaps, r.available)  # type: ignore[arg-type]

    def _move_agent(
        self,
        a: Agent,
        outcome: AgentOutcome,
        at: float,
        reason: str | None = None,
        since: float | None = None,
    ) -> None:
        """Move `a` to the target of `outcome`, a row of the agent table: the one place an
        agent's state is written, and its `state_since`: `at`, or `since` (a restore's stored
        moment, which the decision says too). Keeps the indexes in step; emits
        AgentStateChanged."""
        state = outcome.target
        assert state is not None, (a.id, outcome)
        # States are compared by identity: they are StrEnum members, and == compares strings.
        old = a.state
        if old is _PAUSED and (state is not _PAUSED or reason != a.pause_reason):
            a.rona_until = None
        if old is _LOGGED_OUT:
            a.cls.logged_in += 1  # the router never sets LOGGED_OUT on a logged-out agent
        elif state is _LOGGED_OUT:
            a.cls.logged_in -= 1
            a.idle_since = None
            a.pending = a.pending_reason = None
        a.state = state
        a.state_since = at if since is None else since
        a.pause_reason = reason if state is _PAUSED else None
        if state is not _WRAP_UP:
            a.wrap_until = None
        if state is _AVAILABLE and a.reachable:
            if not a.epoch:
                self._add_dispatchable(a)
        elif a.epoch:
            self._remove_dispatchable(a)
        self._out.append(AgentStateChanged(a.id, state, a.pause_reason, a.idle_since, at, since))

    def _move_call(self, c: Call, trigger: CallTrigger) -> None:
        """Move `c` to the target of its row for `trigger`: the one place a call's state is
        written (a call leaving the router is deleted instead; see `_leaves`)."""
        state = self._call_rows[trigger][c.state].target
        assert state is not None, (c.id, c.state, trigger)
        c.state = state

    def _leaves(self, c: Call, trigger: CallTrigger) -> bool:
        """Whether the call table sends `c` out of the router on `trigger` (asserted where the
        router deletes a call)."""
        return self._call_rows[trigger][c.state].target is None

    def _replace_skills(self, a: Agent, skills: dict[str, int]) -> None:
        by_skill = self._agents_by_skill
        for skill in a.skills:
            del by_skill[skill][a.id]
        a.skills = skills
        for skill in skills:
            by_skill.setdefault(skill, {})[a.id] = a
        # The agent's ordering keys may change even when its class does not.
        self._move_to_class(a, self._satisfied_sets(skills))

    # --- call index membership ------------------------------------------------------------------

    def _add_waiting(self, c: Call) -> None:
        self._epoch += 1
        c.epoch = self._epoch
        r = c.reqset
        assert r is not None
        r.waiting_live += 1
        for cls in r.classes:
            cls.waiting += 1
        heapq.heappush(r.waiting, (c.order, c.epoch, c))
        insort(self._queues[c.queue].waiting, c.order)
        if c.max_wait_at is not None:  # a duplicate entry is harmless, a missing one is not
            heapq.heappush(self._deadlines, (c.max_wait_at, _MAX_WAIT, c.id))
            self._compact_deadlines()

    def _remove_waiting(self, c: Call) -> None:
        c.epoch = 0
        r = c.reqset
        assert r is not None
        r.waiting_live -= 1
        for cls in r.classes:
            cls.waiting -= 1
        if len(r.waiting) > 2 * r.waiting_live + HEAP_SLACK:
            r.waiting = [e for e in r.waiting if e[1] == e[2].epoch]
            heapq.heapify(r.waiting)
        waiting = self._queues[c.queue].waiting
        del waiting[bisect_left(waiting, c.order)]

    def _place_in_step(self, q: Queue, c: Call, step: int) -> None:
        """Set the call's step, its requirement set and its deadlines in queue `q`."""
        c.step = step
        c.reqset = c.steps[step]
        entered = c.queue_entered_at
        afters = q.afters
        c.escalation_at = entered + afters[step] if step < len(afters) else None
        if c.escalation_at is not None:
            heapq.heappush(self._deadlines, (c.escalation_at, _ESCALATION, c.id))

    def _set_max_wait(self, q: Queue, c: Call) -> None:
        max_wait = q.config.max_wait
        c.max_wait_at = None if max_wait is None else c.queue_entered_at + max_wait

    def _enter_queue(self, c: Call, q: Queue, entered: float, now: float) -> None:
        """`c` is in `q` since `entered` (`now` unless it waited elsewhere meanwhile): its
        step, requirements and deadlines as of `now`."""
        c.queue = q.config.name
        c.queue_entered_at = entered
        c.steps = self._steps_for(q, c)
        step = 0
        for after in q.afters:
            if entered + after <= now:
                step += 1
        self._place_in_step(q, c, step)
        self._set_max_wait(q, c)
        q.calls[c.id] = c

    # --- deadlines ----------------------------------------------------------------------------

    def _deadline_is_live(self, entry: tuple[float, int, str]) -> bool:
        at, kind, key = entry
        if kind <= _RONA_END:
            a = self._agents.get(key)
            if a is None:
                return False
            if kind == _WRAP_END:
                return a.state is _WRAP_UP and a.wrap_until == at
            return a.state is _PAUSED and a.pause_reason == RONA_REASON and a.rona_until == at
        c = self._calls.get(key)
        if c is None:
            return False
        if kind == _ESCALATION:
            return c.state is not _CONNECTED and c.escalation_at == at
        return c.state is _WAITING and c.max_wait_at == at

    def _live_deadline(self) -> tuple[float, int, str] | None:
        heap = self._deadlines
        while heap:
            if self._deadline_is_live(heap[0]):
                return heap[0]
            heapq.heappop(heap)
        return None

    def _compact_deadlines(self) -> None:
        if len(self._deadlines) > 2 * (2 * len(self._calls) + len(self._agents)) + HEAP_SLACK:
            self._deadlines = [e for e in self._deadlines if self._deadline_is_live(e)]
            heapq.heapify(self._deadlines)

    # --- dispatch -----------------------------------------------------------------------------

    def _agent_driven(self, a: Agent, at: float) -> None:
        if not a.epoch or not a.cls.waiting:
            return
        best: Any = None
        pop = heapq.heappop
        for r in a.cls.reqsets:
            if not r.waiting_live:
                continue
            waiting = r.waiting
            top = waiting[0]
            while top[1] != top[2].epoch:
                pop(waiting)
                top = waiting[0]
            if best is None or top[0] < best[0]:
                best = top
        if best is not None:
            self._offer(best[2], a, at)

    def _best_agent(self, c: Call) -> Agent | None:
        """The first dispatchable agent for `c` in its queue's agent order."""
        r = c.reqset
        assert r is not None
        ordering = self._queues[c.queue].ordering
        if r.heaps is not None:
            if not r.available:
                return None
            heap = r.heaps.get(ordering)
            if heap is None:
                members = (a for cls in r.classes for a in cls.members.values() if a.epoch)
                heap = r.heaps[ordering] = [a.entry(ordering) for a in members]
                heapq.heapify(heap)
            return self._top_agent(heap)
        best: Any = None
        for cls in r.classes:
            if not cls.available:
                continue
            heap = cls.heaps.get(ordering)
            if heap is None:
                heap = [a.entry(ordering) for a in cls.members.values() if a.epoch]
                heapq.heapify(heap)
                cls.heaps[ordering] = heap
            top = heap[0]
            while top[-2] != top[-1].epoch:
                heapq.heappop(heap)
                top = heap[0]
            if best is None or top < best:
                best = top
        return None if best is None else best[-1]

    @staticmethod
    def _top_agent(heap: list[Any]) -> Agent:
        """The live top of a non-empty-by-count agent heap, stale entries dropped on the way."""
        top = heap[0]
        while top[-2] != top[-1].epoch:
            heapq.heappop(heap)
            top = heap[0]
        agent: Agent = top[-1]
        return agent

    def _call_driven(self, c: Call, at: float) -> None:
        if c.state is _WAITING:
            a = self._best_agent(c)
            if a is not None:
                self._offer(c, a, at)

    def _queue_up(self, c: Call, at: float) -> None:
        """A call just placed in its queue: straight to an agent, or into the waiting indexes."""
        a = self._best_agent(c)
        if a is not None:
            self._offer(c, a, at)
            return
        self._add_waiting(c)
        if self._queues[c.queue].config.leave_empty:
            self._leave_empty_check(at)

    def _offer(self, c: Call, a: Agent, at: float) -> None:
        if c.epoch:
            self._remove_waiting(c)
        self._move_call(c, _C_OFFER)
        c.agent_id = a.id
        a.call_id = c.id
        self._move_agent(a, self._agent_rows[_T_OFFER][a.state], at)
        self._out.append(OfferCall(c.id, a.id, c.queue, self._queues[c.queue].config.ring_timeout))

    @staticmethod
    def _servable(steps: tuple[ReqSet, ...]) -> bool:
        return any(cls.logged_in for r in steps for cls in r.classes)

    def _exit(self, c: Call, reason: str, destination: str | None, at: float) -> None:
        assert self._leaves(c, _C_EXIT), (c.id, c.state)
        if c.state is _WAITING:
            self._remove_waiting(c)
        del self._calls[c.id]
        q = self._queues.get(c.queue)
        if q is not None:
            q.calls.pop(c.id, None)
        self._out.append(CallExited(c.id, c.queue, reason, destination, at))

    def _leave_empty_check(self, at: float) -> None:
        orders = [o for q in self._leave_empty_queues.values() for o in q.waiting]
        if not orders:
            return
        orders.sort()
        for order in orders:
            c = self._calls[order[3]]
            if not self._servable(c.steps):
                self._exit(c, "leave_empty", None, at)

    def _waiting_again(self, c: Call, at: float) -> None:
        self._call_driven(c, at)
        if c.state is _WAITING and self._queues[c.queue].config.leave_empty:
            self._leave_empty_check(at)

    # --- agent steps ------------------------------------------------------------------------------

    def _become_available(self, a: Agent, outcome: AgentOutcome, at: float) -> None:
        """LOGIN, UNPAUSE, RONA_END: a new idle period starts at `at`; the row moves the agent
        (to AVAILABLE), then agent-driven dispatch."""
        a.idle_since = at
        self._move_agent(a, outcome, at)
        self._agent_driven(a, at)

    def _settle(self, a: Agent, trigger: AgentTrigger, at: float) -> None:
        """`a` leaves its call (RETRACT, FAIL, WRAP_END, WRAP_DONE): it lands on the SETTLE
        row's target, or, with a request pending, on the target of that request's row for the
        landing state (see `acd.router.states`). Then the leave-empty check or agent-driven
        dispatch."""
        rows = self._agent_rows
        outcome = rows[trigger][a.state]
        landing = outcome.target
        assert outcome.do is _SETTLE, (a.id, outcome)
        assert landing is not None, (a.id, outcome)
        a.call_id = None
        pending, reason = a.pending, a.pending_reason
        a.pending = a.pending_reason = None
        if pending is not None:
            outcome = rows[_T_LOGOUT if pending == "logout" else _T_PAUSE][landing]
            assert outcome.do is _MOVE, (a.id, pending, outcome)
            if outcome.target is a.state:  # a restored agent's pending logout: nothing moves,
                a.idle_since = None  # it is logged out already, and keeps no idle_since
                return
        elif landing is _PAUSED:
            reason = RONA_REASON  # the only pause the router makes itself
        elif trigger is _T_WRAP_END or trigger is _T_WRAP_DONE:
            a.idle_since = at  # a finished call starts a new idle period, an undone offer not
        self._move_agent(a, outcome, at, reason)
        if a.state is _LOGGED_OUT:
            self._leave_empty_check(at)
        else:
            self._agent_driven(a, at)  # a no-op unless the agent is now dispatchable

    # --- events -------------------------------------------------------------------------------

    def _on_tick(self, event: ev.Tick) -> None:
        now = self._now
        while True:
            top = self._live_deadline()
            if top is None or top[0] > now:
                return
            heapq.heappop(self._deadlines)
            at, kind, key = top
            if kind == _WRAP_END:
                a = self._agents[key]
                a.wrap_until = None
                self._settle(a, _T_WRAP_END, at)
            elif kind == _RONA_END:
                a = self._agents[key]
                a.rona_until = None
                self._become_available(a, self._agent_rows[_T_RONA_END][a.state], at)
            elif kind == _ESCALATION:
                self._escalate(self._calls[key], at)
            else:
                self._max_wait(self._calls[key], at)

    def _escalate(self, c: Call, at: float) -> None:
        q = self._queues[c.queue]
        waiting = c.state is _WAITING
        if waiting:
            self._remove_waiting(c)
        self._place_in_step(q, c, c.step + 1)
        if waiting:
            self._add_waiting(c)
        self._out.append(CallEscalated(c.id, c.queue, c.step, at))
        self._call_driven(c, at)

    def _max_wait(self, c: Call, at: float) -> None:
        q = self._queues[c.queue]
        target = q.config.overflow
        if target and "," not in target and target != q.config.name and target in self._queues:
            self._out.append(CallOverflowed(c.id, q.config.name, target, at))
            self._remove_waiting(c)
            del q.calls[c.id]
            self._enter_queue(c, self._queues[target], at, at)
            self._queue_up(c, at)
        else:
            self._exit(c, "timeout", target if target and "," in target else None, at)

    def _on_queue_upserted(self, event: ev.QueueUpserted) -> None:
        config = event.queue
        now = self._now
        q = self._queues.get(config.name)
        if q is None:
            q = self._queues[config.name] = Queue(config)
        else:
            q.configure(config)
        if config.leave_empty:
            self._leave_empty_queues[config.name] = q
        else:
            self._leave_empty_queues.pop(config.name, None)
        for c in q.calls.values():
            waiting = c.state is _WAITING
            if waiting:
                self._remove_waiting(c)
            c.steps = self._steps_for(q, c)
            step = 0
            for after in q.afters:
                if c.queue_entered_at + after <= now:
                    step += 1
            self._place_in_step(q, c, step)
            self._set_max_wait(q, c)
            if waiting:
                self._add_waiting(c)
        for order in list(q.waiting):
            self._call_driven(self._calls[order[3]], now)
        if config.leave_empty:
            self._leave_empty_check(now)

    def _on_queue_removed(self, event: ev.QueueRemoved) -> None:
        q = self._queues[event.name]
        mine = sorted(q.calls.values(), key=lambda c: c.order)
        freed = [self._agents[c.agent_id] for c in mine if c.agent_id is not None]
        for c in mine:
            self._exit(c, "queue_removed", None, self._now)
        del self._queues[event.name]
        self._leave_empty_queues.pop(event.name, None)
        for a in freed:
            self._settle(a, _T_RETRACT, self._now)

    def _on_agent_upserted(self, event: ev.AgentUpserted) -> None:
        skills = dict(event.skills)
        a = self._agents.get(event.agent_id)
        if a is None:
            cls = self._class_for(self._satisfied_sets(skills))
            a = self._agents[event.agent_id] = Agent(event.agent_id, skills, cls)
            self._join_class(a, cls)
            for skill in skills:
                self._agents_by_skill.setdefault(skill, {})[a.id] = a
            return
        self._replace_skills(a, skills)
        self._agent_driven(a, self._now)
        self._leave_empty_check(self._now)

    def _on_agent_removed(self, event: ev.AgentRemoved) -> None:
        a = self._agents[event.agent_id]
        outcome = self._agent_rows[_T_REMOVE][a.state]
        if outcome.target is not None:  # a logged-in agent is logged out on its way out
            self._move_agent(a, outcome, self._now)
        for skill in a.skills:
            del self._agents_by_skill[skill][a.id]
        self._leave_class(a)
        del self._agents[a.id]
        self._leave_empty_check(self._now)

    def _on_agent_logged_in(self, event: ev.AgentLoggedIn) -> None:
        a = self._agents[event.agent_id]
        outcome = self._agent_rows[_T_LOGIN][a.state]
        if outcome.do is _MOVE:
            self._become_available(a, outcome, self._now)

    def _on_agent_logged_out(self, event: ev.AgentLoggedOut) -> None:
        a = self._agents[event.agent_id]
        outcome = self._agent_rows[_T_LOGOUT][a.state]
        if outcome.do is _MOVE:
            self._move_agent(a, outcome, self._now)
            self._leave_empty_check(self._now)
        elif outcome.do is _DEFER:
            a.pending, a.pending_reason = "logout", None

    def _on_agent_paused(self, event: ev.AgentPaused) -> None:
        a = self._agents[event.agent_id]
        outcome = self._agent_rows[_T_PAUSE][a.state]
        if outcome.do is _MOVE:
            if outcome.target is not a.state or a.pause_reason != event.reason:
                self._move_agent(a, outcome, self._now, event.reason)
        elif outcome.do is _DEFER and a.pending != "logout":
            a.pending, a.pending_reason = "pause", event.reason

    def _on_agent_unpaused(self, event: ev.AgentUnpaused) -> None:
        a = self._agents[event.agent_id]
        outcome = self._agent_rows[_T_UNPAUSE][a.state]
        if outcome.do is _MOVE:
            self._become_available(a, outcome, self._now)
        elif outcome.do is _CANCEL and a.pending == "pause":
            a.pending = a.pending_reason = None

    def _on_agent_wrap_up_done(self, event: ev.AgentWrapUpDone) -> None:
        """The WRAP_DONE row: in WRAP_UP the agent settles now, as at its wrap-up's end (the
        deadline left in the heap is dead: the agent is no longer in WRAP_UP with it)."""
        a = self._agents[event.agent_id]
        if self._agent_rows[_T_WRAP_DONE][a.state].do is _SETTLE:
            a.wrap_until = None
            self._settle(a, _T_WRAP_DONE, self._now)

    def _on_reachability_changed(self, event: ev.AgentReachabilityChanged) -> None:
        a = self._agents[event.agent_id]
        if event.reachable == a.reachable:
            return
        a.reachable = event.reachable
        if not event.reachable:
            if a.epoch:
                self._remove_dispatchable(a)
        elif a.state is _AVAILABLE:
            self._add_dispatchable(a)
            self._agent_driven(a, self._now)

    def _on_agent_restored(self, event: ev.AgentRestored) -> None:
        """The row of the stored state's RESTORE trigger: a MOVE puts the agent back as it
        was (deadlines re-armed, a past one runs at the next Tick; the stored state_since, if
        any, in the view and the decision), a SETTLE (stored on a call) settles it now; both
        keep the stored idle_since, then agent-driven dispatch."""
        a = self._agents[event.agent_id]
        now = self._now
        trigger = RESTORE_TRIGGERS[event.state]
        outcome = self._agent_rows[trigger][a.state]
        a.idle_since = event.idle_since
        a.pending, a.pending_reason = event.pending, event.pending_reason
        if outcome.do is _SETTLE:
            self._settle(a, trigger, now)
            return
        self._move_agent(a, outcome, now, event.pause_reason, event.state_since)
        if a.state is _WRAP_UP and event.wrap_until is not None:
            a.wrap_until = event.wrap_until
            heapq.heappush(self._deadlines, (a.wrap_until, _WRAP_END, a.id))
            self._compact_deadlines()
        elif event.rona_until is not None:  # validated: only with a "rona" pause
            a.rona_until = event.rona_until
            heapq.heappush(self._deadlines, (a.rona_until, _RONA_END, a.id))
        self._agent_driven(a, now)

    def _on_call_arrived(self, event: ev.CallArrived) -> None:
        now = self._now
        q = self._queues.get(event.queue)
        if q is None:
            self._out.append(CallExited(event.call_id, event.queue, "unknown_queue", None, now))
            return
        entered = now if event.entered_at is None else event.entered_at
        extra = dict(event.extra_skills) if event.extra_skills else _NO_SKILLS
        priority = q.config.priority if event.priority is None else event.priority
        c = Call(event.call_id, q.config.name, priority, extra, _skills_key(extra), 0, entered)
        if not q.config.join_empty and not self._servable(self._steps_for(q, c)):
            self._out.append(CallExited(event.call_id, q.config.name, "join_empty", None, now))
            return
        self._seq += 1
        c.order = (-priority, entered, self._seq, c.id)
        self._calls[c.id] = c
        self._enter_queue(c, q, entered, now)
        self._queue_up(c, now)

    def _on_call_adopted(self, event: ev.CallAdopted) -> None:
        """A fresh record takes the adopted state from its ADOPT row, in its place by
        `enqueued_at` and with step and deadlines from `queue_entered_at`. WAITING: queued
        up like an arrival (no join_empty). On an agent: the agent's ADOPT row moves it to
        reserved or busy with the call (a pause becomes pending, a logged-out agent idle
        from now); nothing to dispatch, no OfferCall: Asterisk is ringing or talking."""
        now = self._now
        q = self._queues.get(event.queue)
        if q is None:
            self._out.append(CallExited(event.call_id, event.queue, "unknown_queue", None, now))
            return
        extra = dict(event.extra_skills) if event.extra_skills else _NO_SKILLS
        priority = q.config.priority if event.priority is None else event.priority
        self._seq += 1
        c = Call(
            event.call_id,
            q.config.name,
            priority,
            extra,
            _skills_key(extra),
            self._seq,
            event.enqueued_at,
        )
        self._move_call(c, ADOPT_CALL_TRIGGERS[event.state])
        self._calls[c.id] = c
        self._enter_queue(c, q, event.queue_entered_at, now)
        if c.state is _WAITING:
            self._queue_up(c, now)
            return
        a = self._agents[event.agent_id or ""]
        outcome = self._agent_rows[ADOPT_AGENT_TRIGGERS[event.state]][a.state]
        if a.state is _PAUSED:
            a.pending, a.pending_reason = "pause", a.pause_reason
        elif a.idle_since is None:
            a.idle_since = now
        a.wrap_until = None  # a wrap-up Asterisk shows over: its deadline dies with it
        c.agent_id = a.id
        a.call_id = c.id
        if c.state is _CONNECTED:  # as after an answer: out of the queue, its deadlines dead
            del q.calls[c.id]
            c.wrap_up = q.config.wrap_up
        self._move_agent(a, outcome, now)

    def _on_call_abandoned(self, event: ev.CallAbandoned) -> None:
        c = self._calls.pop(event.call_id)
        assert self._leaves(c, _C_ABANDON), (c.id, c.state)
        self._queues[c.queue].calls.pop(c.id)
        if c.state is _WAITING:
            self._remove_waiting(c)
        if c.agent_id is not None:
            self._settle(self._agents[c.agent_id], _T_RETRACT, self._now)

    def _on_offer_answered(self, event: ev.OfferAnswered) -> None:
        c = self._calls[event.call_id]
        q = self._queues[c.queue]
        del q.calls[c.id]
        self._move_call(c, _C_ANSWER)
        c.answered_at = self._now
        c.wrap_up = q.config.wrap_up
        a = self._agents[event.agent_id]
        self._move_agent(a, self._agent_rows[_T_ANSWER][a.state], self._now)

    def _on_offer_failed(self, event: ev.OfferFailed) -> None:
        now = self._now
        c = self._calls[event.call_id]
        a = self._agents[event.agent_id]
        q = self._queues[c.queue]
        self._move_call(c, _C_FAIL)
        c.agent_id = None
        c.rona_count += 1
        self._add_waiting(c)
        had_pending = a.pending is not None
        self._settle(a, _T_FAIL, now)
        if not had_pending and a.state is _PAUSED and q.config.rona_action == RonaAction.DELAY:
            a.rona_until = now + q.config.rona_delay
            heapq.heappush(self._deadlines, (a.rona_until, _RONA_END, a.id))
        if c.id not in self._calls:
            return
        if c.max_wait_at is not None and c.max_wait_at <= now:
            self._max_wait(c, now)
        else:
            self._waiting_again(c, now)

    def _on_transfer_completed(self, event: ev.TransferCompleted) -> None:
        """The consultation (connected, so in no queue index) is absorbed by the call: its
        queue, agent, priority, skills, answer time and wrap-up are the call's from now on;
        the call's agent wraps up the call's own wrap-up."""
        now = self._now
        c = self._calls[event.call_id]
        k = self._calls.pop(event.consult_id)
        assert self._leaves(k, _C_MERGE), (k.id, k.state)
        a = self._agents[c.agent_id or ""]
        b = self._agents[k.agent_id or ""]
        self._move_agent(a, self._agent_rows[_T_TRANSFER][a.state], now)
        self._move_call(c, _C_HAND_OVER)
        wrap_up = c.wrap_up
        c.queue, c.priority, c.extra, c.extra_key = k.queue, k.priority, k.extra, k.extra_key
        c.steps, c.step, c.reqset = k.steps, k.step, k.reqset
        c.queue_entered_at, c.answered_at, c.wrap_up = k.queue_entered_at, k.answered_at, k.wrap_up
        c.order = (-c.priority, c.enqueued_at, c.order[2], c.id)
        c.agent_id = b.id
        b.call_id = c.id
        self._out.append(CallHandedOver(c.id, k.id, c.queue, a.id, b.id, now))
        self._wrap_up(a, wrap_up, now)

    def _on_call_ended(self, event: ev.CallEnded) -> None:
        now = self._now
        c = self._calls.pop(event.call_id)
        assert self._leaves(c, _C_END), (c.id, c.state)
        a = self._agents[c.agent_id or ""]
        self._move_agent(a, self._agent_rows[_T_HANG_UP][a.state], now)
        self._wrap_up(a, c.wrap_up, now)

    def _wrap_up(self, a: Agent, wrap_up: float, now: float) -> None:
        """`a` has just entered WRAP_UP for `wrap_up` seconds (0: its end step runs now)."""
        if wrap_up == 0:
            self._settle(a, _T_WRAP_END, now)
        else:
            a.wrap_until = now + wrap_up
            heapq.heappush(self._deadlines, (a.wrap_until, _WRAP_END, a.id))
            self._compact_deadlines()

    def _on_call_transferred(self, event: ev.CallTransferred) -> None:
        """The agent wraps up (after the call is placed when its wrap-up is 0, so it is not
        offered its own caller back while another agent could take it); the call enters the
        target queue as an arrival at `now` would, its place kept or taken anew."""
        now = self._now
        c = self._calls[event.call_id]
        a = self._agents[c.agent_id or ""]
        q = self._queues[event.queue]
        self._move_agent(a, self._agent_rows[_T_TRANSFER][a.state], now)
        self._move_call(c, _C_TRANSFER)
        self._out.append(CallRequeued(c.id, c.queue, q.config.name, a.id, event.keep_place, now))
        c.agent_id = None
        c.answered_at = None
        if event.extra_skills:
            c.extra = merge_requirements(c.extra, event.extra_skills)
            c.extra_key = _skills_key(c.extra)
        c.priority = max(c.priority, q.config.priority)
        if event.keep_place:
            c.order = (-c.priority, c.enqueued_at, c.order[2], c.id)
        else:
            self._seq += 1
            c.enqueued_at = now
            c.order = (-c.priority, now, self._seq, c.id)
        self._enter_queue(c, q, now, now)
        if not q.config.join_empty and not self._servable(c.steps):
            assert self._leaves(c, _C_EXIT), (c.id, c.state)
            del self._calls[c.id]
            del q.calls[c.id]
            self._out.append(CallExited(c.id, q.config.name, "join_empty", None, now))
        else:
            self._queue_up(c, now)
        self._wrap_up(a, c.wrap_up, now)

    # --- invariants ---------------------------------------------------------------------------

    def _check(self) -> None:
        """Assert every index invariant. Runtime complexity: O(n * sets) — tests only."""
        from acd.router._check import check_router

        check_router(self)


#: What `_derive` builds: left out of a snapshot, rebuilt on load.
_DERIVED = frozenset(
    {"_out", "_agent_rows", "_call_rows", "_agent_rows_for", "_call_rows_for", "_steps"}
)
#: What a snapshot holds: everything else `__init__` sets (computed, so a new field is kept).
_HELD = frozenset(vars(Router())) - _DERIVED


def _agent_view(a: Agent) -> AgentView:
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


def _call_view(c: Call) -> CallView:
    assert c.reqset is not None
    return CallView(
        c.id,
        c.queue,
        c.priority,
        frozen_skills(c.extra),
        frozen_skills(c.reqset.skills),
        c.state,
        c.agent_id,
        c.arrived_at,
        c.enqueued_at,
        c.queue_entered_at,
        c.step,
        c.rona_count,
        c.answered_at,
    )


__all__ = ["Router", "satisfies"]

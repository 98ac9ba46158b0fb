"""The indexed router's mutable records and the index entries that point at them.

Heap entries carry the epoch their record had when they were pushed; a record that leaves an
index sets its epoch to 0 (and gets a fresh one when it comes back), so an entry is live
exactly when `entry epoch == record.epoch`. Stale entries are dropped when they reach a heap's
top, and a heap is rebuilt once it holds more than twice its live entries plus a little slack.
"""

from __future__ import annotations

import heapq
from typing import Any

from acd.router.model import AgentPolicy, QueueConfig
from acd.router.states import AGENT_START, CALL_START

#: Rebuild a lazily cleaned heap when it holds more than 2 * live + this many entries.
HEAP_SLACK = 32

#: A requirement set satisfied by more agent classes than this keeps its own heaps of
#: dispatchable agents, so call-driven dispatch never compares more than this many class tops.
#: Own heaps cost a push per agent that becomes available; scanning costs a comparison per
#: class per call. Measured with bench/router.py at 10k agents (events/s, steady / levels):
#: limit 8: 165k / 100k, 16: 180k / 115k, 32: 205k / 110k, unlimited: 238k / 29k.
CLASS_SCAN_LIMIT = 32

AgentEntry = tuple[Any, ...]
"""(idle_since, id, epoch, agent) or (-level, idle_since, id, epoch, agent)."""

CallEntry = tuple[tuple[int, float, int, str], int, "Call"]
"""(call order, epoch, call)."""


class ReqSet:
    """One interned requirement set and the WAITING calls that need it (a heap in global
    order). `classes` are the agent classes whose agents satisfy it.

    Once more than CLASS_SCAN_LIMIT classes satisfy it, `heaps` holds its own heaps of
    dispatchable agents per ordering (like a class's) and `available` counts those agents;
    until then both are unused (None, 0) and dispatch scans the classes.
    """

    __slots__ = (
        "available",
        "classes",
        "heaps",
        "key",
        "serial",
        "skills",
        "waiting",
        "waiting_live",
    )

    def __init__(self, key: tuple[tuple[str, int], ...], serial: int) -> None:
        self.key = key
        self.serial = serial
        self.skills = dict(key)
        self.classes: list[AgentClass] = []
        self.heaps: dict[str | None, list[AgentEntry]] | None = None
        self.available = 0
        self.waiting: list[CallEntry] = []
        self.waiting_live = 0

    def satisfied_by(self, skills: dict[str, int]) -> bool:
        get = skills.get
        for skill, level in self.key:  # noqa: SIM110 - a plain loop beats all(genexpr) here
            if get(skill, 0) < level:
                return False
        return True


class AgentClass:
    """The agents that satisfy exactly the same requirement sets.

    Agents of one class are interchangeable for eligibility, so one heap per agent ordering
    serves every set the class satisfies: an agent that becomes available is pushed once, not
    once per set. `heaps[None]` (longest idle) always exists; a most-skilled ordering's heap
    is built the first time a call with that ordering looks at the class.
    """

    __slots__ = (
        "available",
        "direct",
        "heaps",
        "key",
        "logged_in",
        "members",
        "reqsets",
        "waiting",
    )

    def __init__(self, reqsets: tuple[ReqSet, ...]) -> None:
        self.reqsets = reqsets  # sorted by serial
        self.key = tuple(r.serial for r in reqsets)
        self.members: dict[str, Agent] = {}
        self.logged_in = 0  # members not LOGGED_OUT
        self.available = 0  # members dispatchable
        self.waiting = sum(r.waiting_live for r in reqsets)  # WAITING calls it could take
        self.heaps: dict[str | None, list[AgentEntry]] = {None: []}
        #: The sets among `reqsets` that keep their own agent heaps (see ReqSet).
        self.direct: tuple[ReqSet, ...] = tuple(r for r in reqsets if r.heaps is not None)


def compact(heaps: dict[str | None, list[AgentEntry]], live_count: int) -> None:
    """Drop stale entries from any heap holding too many of them."""
    limit = 2 * live_count + HEAP_SLACK
    for ordering, heap in heaps.items():
        if len(heap) > limit:
            live = [e for e in heap if e[-2] == e[-1].epoch]
            heapq.heapify(live)
            heaps[ordering] = live


class Agent:
    __slots__ = (
        "call_id",
        "cls",
        "epoch",
        "id",
        "idle_since",
        "pause_reason",
        "pending",
        "pending_reason",
        "reachable",
        "rona_until",
        "skills",
        "state",
        "state_since",
        "wrap_until",
    )

    def __init__(self, agent_id: str, skills: dict[str, int], cls: AgentClass) -> None:
        self.id = agent_id
        self.skills = skills
        self.cls = cls
        self.state = AGENT_START
        self.pause_reason: str | None = None
        self.idle_since: float | None = None
        self.reachable = True
        self.call_id: str | None = None
        self.pending: str | None = None
        self.pending_reason: str | None = None
        self.wrap_until: float | None = None
        self.rona_until: float | None = None
        self.state_since: float | None = None  # written with `state`, by Router._move_agent
        self.epoch = 0  # non-zero exactly while dispatchable

    def entry(self, ordering: str | None) -> AgentEntry:
        if ordering is None:
            return (self.idle_since, self.id, self.epoch, self)
        return (-self.skills.get(ordering, 0), self.idle_since, self.id, self.epoch, self)


class Call:
    __slots__ = (
        "agent_id",
        "answered_at",
        "arrived_at",
        "enqueued_at",
        "epoch",
        "escalation_at",
        "extra",
        "extra_key",
        "id",
        "max_wait_at",
        "order",
        "priority",
        "queue",
        "queue_entered_at",
        "reqset",
        "rona_count",
        "state",
        "step",
        "steps",
        "wrap_up",
    )

    def __init__(
        self,
        call_id: str,
        queue: str,
        priority: int,
        extra: dict[str, int],
        extra_key: tuple[tuple[str, int], ...],
        seq: int,
        now: float,
    ) -> None:
        self.id = call_id
        self.queue = queue
        self.priority = priority
        self.extra = extra
        self.extra_key = extra_key
        self.order = (-priority, now, seq, call_id)
        self.arrived_at = now
        self.enqueued_at = now
        self.queue_entered_at = now
        self.step = 0
        self.steps: tuple[ReqSet, ...] = ()
        self.reqset: ReqSet | None = None
        self.state = CALL_START
        self.agent_id: str | None = None
        self.rona_count = 0
        self.answered_at: float | None = None
        self.wrap_up = 0.0
        self.epoch = 0  # non-zero exactly while WAITING
        self.escalation_at: float | None = None
        self.max_wait_at: float | None = None


class Queue:
    """A queue's configuration plus the calls in it that are not connected yet."""

    __slots__ = ("afters", "calls", "config", "ordering", "step_cache", "waiting")

    def __init__(self, config: QueueConfig) -> None:
        self.calls: dict[str, Call] = {}  # WAITING and OFFERED calls of this queue
        self.waiting: list[tuple[int, float, int, str]] = []  # sorted orders of WAITING calls
        self.configure(config)

    def configure(self, config: QueueConfig) -> None:
        self.config = config
        ranked = config.ranked_skill() if config.policy == AgentPolicy.MOST_SKILLED else None
        self.ordering: str | None = ranked
        self.afters = tuple(step.after for step in config.escalation)
        self.step_cache: dict[tuple[tuple[str, int], ...], tuple[ReqSet, ...]] = {}

    def step_skills(self, step: int) -> Any:
        return self.config.skills if step == 0 else self.config.escalation[step - 1].skills

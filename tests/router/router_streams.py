"""Random event streams for the differential and stress tests, and the comparison of two routers.

Ids come from small pools so events keep hitting the same agents, calls and queues; answers,
failures and hang-ups usually name the offer the reference router actually made, and a few
events are deliberately wrong or malformed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from acd.router import events as ev
from acd.router.decisions import AgentStateChanged, Decision, EventRejected
from acd.router.model import (
    AgentPolicy,
    AgentState,
    CallState,
    EscalationStep,
    QueueConfig,
    RonaAction,
    frozen_skills,
)
from acd.router.reference import ReferenceRouter
from acd.router.router import Router


@dataclass(frozen=True, slots=True)
class Pools:
    agents: int = 6
    calls: int = 10
    queues: int = 3
    skills: int = 4
    max_level: int = 4


KINDS = (
    ("tick", 12),
    ("arrive", 14),
    ("abandon", 4),
    ("answer", 10),
    ("fail", 6),
    ("end", 9),
    ("login", 6),
    ("logout", 4),
    ("pause", 5),
    ("unpause", 5),
    ("wrap_done", 3),
    ("reach", 3),
    ("agent_upsert", 5),
    ("agent_remove", 1),
    ("queue_upsert", 4),
    ("queue_remove", 1),
    ("restore", 5),
    ("adopt", 6),
    ("transfer", 4),
    ("complete", 3),
    ("bad", 2),
)
_NAMES = [k for k, _ in KINDS]
_WEIGHTS = [w for _, w in KINDS]


class StreamMaker:
    def __init__(self, rng: random.Random, pools: Pools | None = None) -> None:
        self.rng = rng
        self.pools = pools or Pools()
        self.now = 0.0
        self._setup: list[ev.Event] = []

    # --- pieces -------------------------------------------------------------------------------

    def agent_id(self) -> str:
        return f"a{self.rng.randrange(self.pools.agents)}"

    def call_id(self) -> str:
        return f"c{self.rng.randrange(self.pools.calls)}"

    def queue_name(self) -> str:
        return f"q{self.rng.randrange(self.pools.queues)}"

    def skills(self, most: int = 3) -> dict[str, int]:
        rng = self.rng
        return {
            f"s{rng.randrange(self.pools.skills)}": rng.randint(1, self.pools.max_level)
            for _ in range(rng.randint(0, most))
        }

    def queue_config(self, name: str) -> QueueConfig:
        rng = self.rng
        afters = sorted(rng.choice([0.0, 2.0, 4.0, 8.0]) for _ in range(rng.randint(0, 2)))
        return QueueConfig(
            name,
            frozen_skills(self.skills(2)),
            priority=rng.randint(0, 2),
            wrap_up=rng.choice([0.0, 1.0, 3.0]),
            ring_timeout=rng.choice([5.0, 15.0]),
            max_wait=rng.choice([None, 3.0, 6.0, 20.0]),
            overflow=rng.choice(
                [None, self.queue_name(), self.queue_name(), "ivr,s,1", "missing", name]
            ),
            escalation=tuple(EscalationStep(a, frozen_skills(self.skills(2))) for a in afters),
            policy=rng.choice(list(AgentPolicy)),
            primary_skill=rng.choice([None, None, f"s{rng.randrange(self.pools.skills)}"]),
            rona_action=rng.choice(list(RonaAction)),
            rona_delay=rng.choice([0.0, 2.0, 5.0]),
            join_empty=rng.random() < 0.7,
            leave_empty=rng.random() < 0.3,
        )

    def setup(self) -> list[ev.Event]:
        """Every queue and agent created, most agents logged in."""
        events: list[ev.Event] = []
        for i in range(self.pools.queues):
            events.append(ev.QueueUpserted(0.0, self.queue_config(f"q{i}")))
        for i in range(self.pools.agents):
            events.append(ev.AgentUpserted(0.0, f"a{i}", frozen_skills(self.skills())))
            if self.rng.random() < 0.8:
                events.append(ev.AgentLoggedIn(0.0, f"a{i}"))
        return events

    def _pick_call(self, ref: ReferenceRouter, state: CallState) -> tuple[str, str]:
        """Usually a real (call, agent) pair in `state`; sometimes a random, likely wrong one."""
        candidates = [c for c in ref.calls() if c.state == state]
        if candidates and self.rng.random() < 0.9:
            c = self.rng.choice(candidates)
            return c.id, c.agent_id or self.agent_id()
        return self.call_id(), self.agent_id()

    def _bad(self, now: float) -> object:
        rng = self.rng
        return rng.choice(
            [
                ev.Tick(math.nan),
                ev.Tick(math.inf),
                ev.AgentUpserted(now, self.agent_id(), frozen_skills({"s0": 11})),
                ev.AgentUpserted(now, "", frozen_skills({})),
                ev.CallArrived(now, "", self.queue_name()),
                ev.CallArrived(now, self.call_id(), self.queue_name(), priority=1.5),  # type: ignore[arg-type]
                ev.QueueUpserted(now, QueueConfig(self.queue_name(), max_wait=0.0)),
                ev.QueueUpserted(now, QueueConfig(self.queue_name(), ring_timeout=0.0)),
                ev.AgentPaused(now, self.agent_id(), None),  # type: ignore[arg-type]
                ev.AgentRestored(now, self.agent_id(), AgentState.LOGGED_OUT, None, now),
                ev.AgentRestored(now, self.agent_id(), AgentState.AVAILABLE, None, math.nan),
                ev.AgentRestored(now, self.agent_id(), AgentState.AVAILABLE, None, now, "pause"),
                ev.AgentRestored(now, self.agent_id(), AgentState.PAUSED, None, now),
                ev.AgentRestored(now, self.agent_id(), AgentState.WRAP_UP, None, now),
                ev.AgentRestored(
                    now, self.agent_id(), AgentState.BUSY, None, now, "pause", pending_reason=None
                ),
                ev.AgentRestored(
                    now, self.agent_id(), AgentState.PAUSED, "lunch", now, rona_until=now
                ),
                ev.AgentRestored(now, self.agent_id(), "available", None, now),  # type: ignore[arg-type]
                ev.CallArrived(now, self.call_id(), self.queue_name(), entered_at=now + 1),
                ev.CallArrived(now, self.call_id(), self.queue_name(), entered_at=math.nan),
                ev.CallAdopted(now, self.call_id(), self.queue_name(), CallState.OFFERED, now, now),
                ev.CallAdopted(
                    now,
                    self.call_id(),
                    self.queue_name(),
                    CallState.WAITING,
                    now,
                    now,
                    agent_id="a0",
                ),
                ev.CallAdopted(
                    now, self.call_id(), self.queue_name(), CallState.WAITING, now, now - 1
                ),
                ev.CallAdopted(
                    now, self.call_id(), self.queue_name(), CallState.WAITING, now + 1, now + 1
                ),
                ev.CallAdopted(now, self.call_id(), self.queue_name(), "waiting", now, now),  # type: ignore[arg-type]
                ev.CallAdopted(
                    now, self.call_id(), self.queue_name(), CallState.WAITING, math.inf, math.inf
                ),
                "not an event",
            ]
        )

    def _restored(self, ref: ReferenceRouter, now: float) -> ev.AgentRestored:
        """Usually a logged-out agent given back a plausible stored state (idle_since
        earlier than now, sometimes equal to another's; wrap-up and rona deadlines past,
        due now or ahead); sometimes an agent that is logged in (`agent_logged_in`)."""
        rng = self.rng
        logged_out = [a.id for a in ref.agents() if a.state == AgentState.LOGGED_OUT]
        pick_logged_out = logged_out and rng.random() < 0.85
        agent_id = rng.choice(logged_out) if pick_logged_out else self.agent_id()
        state = rng.choice(
            [
                AgentState.AVAILABLE,
                AgentState.PAUSED,
                AgentState.WRAP_UP,
                AgentState.RESERVED,
                AgentState.BUSY,
                AgentState.AVAILABLE,
                AgentState.PAUSED,
                AgentState.WRAP_UP,
            ]
        )
        idle_since = max(0.0, now - rng.choice([0.0, 1.0, 4.0, 30.0]))
        reason = rng.choice(["", "lunch", "rona"]) if state == AgentState.PAUSED else None
        on_call = state in (AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP)
        pending = rng.choice([None, None, "pause", "logout"]) if on_call else None
        pending_reason = rng.choice(["", "lunch"]) if pending == "pause" else None
        ahead = rng.choice([-2.0, 0.0, 1.0, 4.0])
        wrap_until = now + ahead if state == AgentState.WRAP_UP else None
        rona_until = now + ahead if reason == "rona" and rng.random() < 0.6 else None
        # A row from before state_since was stored has none; else entered after idle_since.
        state_since = rng.choice([None, idle_since, min(now, idle_since + 2.0)])
        return ev.AgentRestored(
            now,
            agent_id,
            state,
            reason,
            idle_since,
            pending,
            pending_reason,
            wrap_until,
            rona_until,
            state_since,
        )

    def _adopted(self, ref: ReferenceRouter, now: float) -> ev.CallAdopted:
        """A call a restarted controller found: usually a new id (sometimes a live one:
        `duplicate_call`), entered a while ago (sometimes exactly when another call did, so
        the arrival sequence breaks the tie), waiting, or offered or connected to an agent
        that is usually not on a call (logged out, available or paused; else `agent_busy`,
        and now and then `unknown_agent`)."""
        rng = self.rng
        live = {c.id for c in ref.calls()}
        fresh = [f"c{i}" for i in range(self.pools.calls) if f"c{i}" not in live]
        call_id = rng.choice(fresh) if fresh and rng.random() < 0.9 else self.call_id()
        others = [c.enqueued_at for c in ref.calls()]
        if others and rng.random() < 0.2:
            enqueued = rng.choice(others)
        else:
            enqueued = now - rng.choice([0.0, 1.0, 3.0, 5.0, 10.0, 30.0])
        entered = min(now, enqueued + rng.choice([0.0, 0.0, 2.0, 10.0]))
        state = rng.choice([CallState.WAITING, CallState.OFFERED, CallState.CONNECTED])
        agent_id = None
        if state is not CallState.WAITING:
            free = [
                a.id
                for a in ref.agents()
                if a.state in (AgentState.LOGGED_OUT, AgentState.AVAILABLE, AgentState.PAUSED)
            ]
            roll = rng.random()
            if free and roll < 0.8:
                agent_id = rng.choice(free)
            else:
                agent_id = "ghost" if roll > 0.97 else self.agent_id()
        return ev.CallAdopted(
            now,
            call_id,
            self.queue_name(),
            state,
            enqueued,
            entered,
            rng.choice([None, None, 0, 1, 3]),
            frozen_skills(self.skills(1) if rng.random() < 0.3 else {}),
            agent_id,
        )

    # --- one event ----------------------------------------------------------------------------

    def event(self, ref: ReferenceRouter) -> ev.Event:
        rng = self.rng
        self.now += rng.choice([0.0, 0.0, 0.5, 1.0, 2.0])
        now = self.now - 3.0 if rng.random() < 0.03 else self.now  # late events count as latest
        kind = rng.choices(_NAMES, _WEIGHTS)[0]
        if kind == "tick":
            self.now += rng.choice([0.0, 1.0, 3.0, 10.0])
            return ev.Tick(self.now)
        if kind == "arrive":
            priority = rng.choice([None, None, 0, 1, 3])
            extra = self.skills(1) if rng.random() < 0.3 else {}
            # Some callers waited while the controller was unreachable.
            entered = now - rng.choice([0.0, 1.0, 4.0, 30.0]) if rng.random() < 0.25 else None
            return ev.CallArrived(
                now, self.call_id(), self.queue_name(), priority, frozen_skills(extra), entered
            )
        if kind == "abandon":
            call_id = rng.choice([c.id for c in ref.calls()] or [self.call_id()])
            return ev.CallAbandoned(now, call_id)
        if kind == "answer":
            return ev.OfferAnswered(now, *self._pick_call(ref, CallState.OFFERED))
        if kind == "fail":
            return ev.OfferFailed(now, *self._pick_call(ref, CallState.OFFERED), reason="no_answer")
        if kind == "end":
            return ev.CallEnded(now, self._pick_call(ref, CallState.CONNECTED)[0])
        if kind == "login":
            return ev.AgentLoggedIn(now, self.agent_id())
        if kind == "logout":
            return ev.AgentLoggedOut(now, self.agent_id())
        if kind == "pause":
            return ev.AgentPaused(now, self.agent_id(), rng.choice(["", "lunch", "rona"]))
        if kind == "unpause":
            return ev.AgentUnpaused(now, self.agent_id())
        if kind == "wrap_done":  # usually an agent in wrap-up: it ends it early
            wrapping = [a.id for a in ref.agents() if a.state == AgentState.WRAP_UP]
            pick = wrapping and rng.random() < 0.8
            return ev.AgentWrapUpDone(now, rng.choice(wrapping) if pick else self.agent_id())
        if kind == "reach":
            return ev.AgentReachabilityChanged(now, self.agent_id(), rng.random() < 0.6)
        if kind == "agent_upsert":
            return ev.AgentUpserted(now, self.agent_id(), frozen_skills(self.skills()))
        if kind == "agent_remove":
            return ev.AgentRemoved(now, self.agent_id())
        if kind == "queue_upsert":
            return ev.QueueUpserted(now, self.queue_config(self.queue_name()))
        if kind == "queue_remove":
            return ev.QueueRemoved(now, self.queue_name())
        if kind == "restore":
            return self._restored(ref, now)
        if kind == "adopt":
            return self._adopted(ref, now)
        if kind == "transfer":
            extra = self.skills(1) if rng.random() < 0.4 else {}
            return ev.CallTransferred(
                now,
                self._pick_call(ref, CallState.CONNECTED)[0],
                self.queue_name() if rng.random() < 0.95 else "nowhere",
                frozen_skills(extra),
                rng.random() < 0.5,
            )
        if kind == "complete":  # usually two connected calls: one becomes the other
            connected = [c.id for c in ref.calls() if c.state == CallState.CONNECTED]
            if len(connected) >= 2 and rng.random() < 0.9:
                call_id, consult_id = rng.sample(connected, 2)
            else:
                call_id, consult_id = self.call_id(), self.call_id()
            if call_id == consult_id:
                consult_id = consult_id + "x"
            return ev.TransferCompleted(now, call_id, consult_id)
        return self._bad(now)  # type: ignore[return-value]


def assert_same_views(ref: ReferenceRouter, idx: Router, pools: Pools) -> None:
    """Views compare whole: every field of AgentView (state_since too) and CallView
    (answered_at too)."""
    assert idx.agents() == ref.agents()
    assert idx.calls() == ref.calls()
    assert idx.queues() == ref.queues()
    assert idx.next_deadline() == ref.next_deadline()
    for i in range(pools.calls):
        call_id = f"c{i}"
        assert idx.position(call_id) == ref.position(call_id), call_id
        assert idx.call(call_id) == ref.call(call_id), call_id
    for i in range(pools.queues):
        name = f"q{i}"
        assert idx.waiting_count(name) == ref.waiting_count(name), name
        assert idx.queue(name) == ref.queue(name)
    for i in range(pools.agents):
        assert idx.agent(f"a{i}") == ref.agent(f"a{i}")


def decision_kind(decision: Decision) -> str:
    """`OfferCall`, `CallExited:timeout`, `EventRejected:wrong_state`, ..."""
    detail = getattr(decision, "reason", None) or getattr(decision, "code", None)
    if isinstance(decision, AgentStateChanged):
        detail = decision.state.value
    name = type(decision).__name__
    return f"{name}:{detail}" if detail else name


def run_differential(
    rng: random.Random, steps: int, pools: Pools | None = None, class_scan_limit: int | None = None
) -> Counter[str]:
    """Feed one random stream to both routers; fail on the first difference. Returns how
    often each kind of decision was seen, so callers can check the stream did something."""
    maker = StreamMaker(rng, pools)
    ref = ReferenceRouter()
    idx = Router() if class_scan_limit is None else Router(class_scan_limit=class_scan_limit)
    seen: Counter[str] = Counter()
    events = maker.setup()
    for n in range(len(events) + steps):
        event = events[n] if n < len(events) else maker.event(ref)
        expected = ref.handle(event)
        got = idx.handle(event)
        assert got == expected, f"step {n}: {event!r}"
        idx._check()
        assert_same_views(ref, idx, maker.pools)
        seen.update(decision_kind(d) for d in expected)
        if isinstance(event, ev.AgentRestored) and not any(
            isinstance(d, EventRejected) for d in expected
        ):
            seen[f"accepted:{event.state.value}"] += 1
        if isinstance(event, ev.AgentWrapUpDone) and expected:
            seen["wrap_done:accepted"] += 1
        if isinstance(event, ev.CallAdopted) and not any(
            isinstance(d, EventRejected) or getattr(d, "reason", "") == "unknown_queue"
            for d in expected
        ):
            seen[f"adopted:{event.state.value}"] += 1
    return seen


def first_difference(
    rng: random.Random, steps: int, pools: Pools | None = None
) -> tuple[int, ev.Event, list[Decision], list[Decision]] | None:
    """Feed one random stream to both routers and compare their decisions only (no views, no
    `_check()`): the first step where they differ, with the event and both decision lists,
    or None when they agree throughout."""
    maker = StreamMaker(rng, pools)
    ref = ReferenceRouter()
    idx = Router()
    events = maker.setup()
    for n in range(len(events) + steps):
        event = events[n] if n < len(events) else maker.event(ref)
        expected = ref.handle(event)
        got = idx.handle(event)
        if got != expected:
            return n, event, expected, got
    return None

"""A discrete-event simulation that drives the real router (`acd.router.router.Router`).

The simulator is the router's clock and its outside world: it keeps a heap of future
happenings (arrivals, hang-ups, patience running out), and before each one sends
`Tick(deadline)` for every router deadline that comes first (wrap-up ends, escalations, max
wait). It answers every OfferCall at once (no ring time), hangs up after the drawn talk time
(CallEnded; the router then applies the queue's wrap-up), and abandons a caller whose patience
ends while it is still waiting or ringing (CallAbandoned). Routing itself — who gets which call,
in which order, escalation, overflow — is entirely the router's.

Arrivals stop at the horizon; the run continues until every call has finished, so each
measured call has an outcome. Calls arriving during the warm-up are not measured.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from acd.router.decisions import (
    AgentStateChanged,
    CallExited,
    CallOverflowed,
    Decision,
    EventRejected,
    OfferCall,
)
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    CallEnded,
    Event,
    OfferAnswered,
    QueueUpserted,
    Tick,
)
from acd.router.model import AgentState
from acd.router.router import Router
from acd.staffing.scenario import HandleDistribution, QueueTraffic, Scenario

#: Agent states that count as occupied (working on a call) for occupancy.
OCCUPIED = frozenset({AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP})
#: Ticks in a row at one unchanged deadline before the run is declared stuck.
STUCK_TICKS = 1000


class SimulationError(RuntimeError):
    """The router rejected an event the simulator believed valid: a bug on one side."""


class Happening(IntEnum):
    # Order breaks ties at equal times: hang-ups free agents before new calls look for one.
    CALL_ENDS = 0
    PATIENCE_ENDS = 1
    ARRIVAL = 2


@dataclass(slots=True)
class CallRecord:
    queue: str  # the queue the call entered (overflow does not move its statistics)
    arrived_at: float
    answered_at: float | None = None
    abandoned_at: float | None = None
    exit_reason: str | None = None  # left without an agent (timeout, join_empty, ...)
    overflowed: bool = False
    talk: float = 0.0

    @property
    def finished(self) -> bool:
        return (
            self.answered_at is not None
            or self.abandoned_at is not None
            or self.exit_reason is not None
        )


@dataclass(slots=True)
class SimulationRun:
    """Everything measured; statistics are computed from it by `acd.staffing.report`."""

    scenario: Scenario
    start: float  # end of warm-up: calls arriving from here on are measured
    horizon: float  # arrivals stop here
    end: float  # last call finished
    calls: list[CallRecord] = field(default_factory=list)
    #: agent id → (start, end) intervals spent reserved, busy or in wrap-up
    occupied: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    router_events: int = 0


def _talk_sampler(scenario: Scenario, rng: random.Random) -> Callable[[QueueTraffic], float]:
    if scenario.handle_distribution is HandleDistribution.EXPONENTIAL:
        return lambda traffic: rng.expovariate(1.0 / traffic.mean_talk)
    sigma = math.sqrt(math.log1p(scenario.handle_cv**2))

    def lognormal(traffic: QueueTraffic) -> float:
        return rng.lognormvariate(math.log(traffic.mean_talk) - sigma * sigma / 2, sigma)

    return lognormal


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        hours: float,
        seed: int,
        warmup_hours: float,
        progress: Callable[[float], None] | None = None,
        check_invariants: bool = False,
    ) -> None:
        self.scenario = scenario
        self._check_invariants = check_invariants
        self.router = Router()
        # One stream per purpose, so changing e.g. patience leaves the arrivals identical.
        self._arrival_rng = random.Random(f"{seed}:arrivals")
        self._talk = _talk_sampler(scenario, random.Random(f"{seed}:talk"))
        self._patience_rng = random.Random(f"{seed}:patience")
        self._horizon = (warmup_hours + hours) * 3600.0
        self._progress = progress
        self._heap: list[tuple[float, int, int, str]] = []
        self._sequence = 0
        self._now = 0.0
        self._calls: dict[str, CallRecord] = {}
        self._traffic = {t.queue.name: t for t in scenario.queues}
        self._occupied_since: dict[str, float] = {}
        self.run_data = SimulationRun(
            scenario, start=warmup_hours * 3600.0, horizon=self._horizon, end=0.0
        )

    # --- the event heap ----------------------------------------------------------------

    def _schedule(self, at: float, what: Happening, subject: str) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (at, what, self._sequence, subject))

    def _next_arrival(self, queue: str, after: float) -> None:
        at = after + self._arrival_rng.expovariate(self._traffic[queue].rate)
        if at < self._horizon:
            self._schedule(at, Happening.ARRIVAL, queue)

    # --- talking to the router ---------------------------------------------------------

    def _feed(self, first: Event) -> None:
        pending = [first]
        while pending:
            event = pending.pop(0)
            self.run_data.router_events += 1
            for decision in self.router.handle(event):
                answer = self._apply(decision)
                if answer is not None:
                    pending.append(answer)
            if self._check_invariants:
                self.router._check()

    def _apply(self, decision: Decision) -> Event | None:
        if isinstance(decision, OfferCall):
            record = self._calls[decision.call_id]
            record.answered_at = self._now
            traffic = self._traffic[decision.queue]
            record.talk = self._talk(traffic)
            self._schedule(self._now + record.talk, Happening.CALL_ENDS, decision.call_id)
            return OfferAnswered(self._now, decision.call_id, decision.agent_id)
        if isinstance(decision, AgentStateChanged):
            self._track_occupancy(decision)
        elif isinstance(decision, CallExited):
            self._calls[decision.call_id].exit_reason = decision.reason
        elif isinstance(decision, CallOverflowed):
            self._calls[decision.call_id].overflowed = True
        elif isinstance(decision, EventRejected):
            raise SimulationError(f"router rejected {decision.event}: {decision.message}")
        return None

    def _track_occupancy(self, change: AgentStateChanged) -> None:
        since = self._occupied_since.get(change.agent_id)
        if change.state in OCCUPIED:
            if since is None:
                self._occupied_since[change.agent_id] = change.at
        elif since is not None:
            del self._occupied_since[change.agent_id]
            self.run_data.occupied.setdefault(change.agent_id, []).append((since, change.at))

    # --- the run -----------------------------------------------------------------------

    def _set_up(self) -> None:
        for traffic in self.scenario.queues:
            self._feed(QueueUpserted(0.0, traffic.queue))
        for group in self.scenario.groups:
            for agent_id in group.agent_ids():
                self._feed(AgentUpserted(0.0, agent_id, group.skills))
                self._feed(AgentLoggedIn(0.0, agent_id))
                self.run_data.occupied[agent_id] = []
        for traffic in self.scenario.queues:
            self._next_arrival(traffic.queue.name, 0.0)

    def _happen(self, what: Happening, subject: str) -> None:
        if what is Happening.ARRIVAL:
            call_id = f"c{len(self._calls) + 1}"
            record = CallRecord(queue=subject, arrived_at=self._now)
            self._calls[call_id] = record
            self.run_data.calls.append(record)
            patience = self._traffic[subject].patience
            if patience is not None:
                giving_up = self._now + self._patience_rng.expovariate(1.0 / patience)
                self._schedule(giving_up, Happening.PATIENCE_ENDS, call_id)
            self._next_arrival(subject, self._now)
            self._feed(CallArrived(self._now, call_id, subject))
        elif what is Happening.PATIENCE_ENDS:
            record = self._calls[subject]
            if not record.finished:
                record.abandoned_at = self._now
                self._feed(CallAbandoned(self._now, subject))
        else:
            self._feed(CallEnded(self._now, subject))

    def run(self) -> SimulationRun:
        self._set_up()
        next_report = 0.0
        heap = self._heap
        last_deadline: float | None = None
        repeats = 0
        while True:
            deadline = self.router.next_deadline()
            if heap and (deadline is None or heap[0][0] < deadline):
                at, what, _, subject = heapq.heappop(heap)
                self._now = max(self._now, at)
                self._happen(Happening(what), subject)
            elif deadline is not None:
                repeats = repeats + 1 if deadline == last_deadline else 0
                if repeats > STUCK_TICKS:
                    raise SimulationError(f"router deadline {deadline} does not advance")
                last_deadline = deadline
                self._now = max(self._now, deadline)
                self._feed(Tick(self._now))
            else:
                break
            if self._progress is not None and self._now >= next_report:
                self._progress(min(self._now / self._horizon, 1.0))
                next_report = self._now + self._horizon / 200
        for agent_id, since in self._occupied_since.items():
            self.run_data.occupied[agent_id].append((since, self._now))
        self.run_data.end = self._now
        if self._progress is not None:
            self._progress(1.0)
        return self.run_data


def simulate(
    scenario: Scenario,
    hours: float,
    seed: int,
    warmup_hours: float = 0.5,
    progress: Callable[[float], None] | None = None,
    check_invariants: bool = False,
) -> SimulationRun:
    """Run `scenario` for `hours` of measured arrivals after `warmup_hours`.

    `check_invariants` runs `Router._check()` after every event: a seeded stress test of the
    router under realistic traffic (slow; for tests)."""
    if not hours > 0:
        raise ValueError("hours must be positive")
    if warmup_hours < 0:
        raise ValueError("the warm-up must not be negative")
    return Simulation(scenario, hours, seed, warmup_hours, progress, check_invariants).run()

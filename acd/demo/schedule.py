"""The demo's schedule, sans-I/O: when the next simulated caller comes and what it is like,
when a waiting caller's patience runs out, when a demo agent takes a short break.

Time and the random source are passed in; `due(now, seen)` returns what to do now and
`next_due()` when to ask again. The driver (`acd.demo.driver`) carries the actions out.

Theory of operation
  Arrivals: the first caller comes at once (a newcomer sees a call at the start), then a
  Poisson process of rate `calls_per_minute / 60`: the gaps are exponential draws. Each
  caller is given a queue (by weight; without weights one of the queues the router has at
  that moment, alike), a talk time (exponential, mean `talk_mean`, at least
  MIN_TALK), the agents' ring time, a patience (exponential, mean `patience_mean`, at least
  MIN_PATIENCE; none when the mean is 0) and invented caller data.
  Patience: when it runs out, a caller the router still holds as waiting or ringing an agent
  hangs up (`GiveUp`); one connected (answered) or gone keeps its course (`gives_up`).
  Breaks: each demo agent's next break comes an exponential `break_every` after its last
  one ended. When it falls due, an available agent takes it while no other demo agent is on
  one (`Pause` with a drawn reason, for an exponential `break_mean`, at least MIN_BREAK);
  otherwise it is tried again BREAK_RETRY later. At the break's end the agent is unpaused
  only if the break is still what holds it: paused with that reason, or that pause still
  pending behind a call it took meanwhile (unpausing cancels it); a pause someone else gave
  is left alone.
  A caller due more than LATE_LIMIT ago (the loop stalled, the machine slept) is dropped,
  not sent in a burst: the stream goes on from now.

Three random streams are split from the one passed in (arrival gaps, callers, breaks), so
a seed gives the same callers whatever the breaks drew, and the same run twice.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from acd.config.settings import DemoSettings
from acd.router.model import AgentState, AgentView, CallState, CallView, QueueConfig

MIN_TALK = 1.0
#: Seconds: a caller hangs up no sooner (it must have entered first: the enter AGI).
MIN_PATIENCE = 2.0
MIN_BREAK = 5.0
#: Seconds before a break that found its agent unavailable is tried again.
BREAK_RETRY = 5.0
#: Seconds late beyond which a due caller is dropped instead of sent.
LATE_LIMIT = 10.0

_FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines",
    "Jonas", "Kenji", "Lena", "Mateo", "Nia", "Omar", "Priya", "Rosa", "Sven", "Tariq",
    "Uma", "Vera", "Wei", "Yara", "Zoe",
)  # fmt: skip
_LAST_NAMES = (
    "Adeyemi", "Bauer", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi",
    "Sato", "Tanaka", "Umar", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
_TIERS = ("gold", "silver", "bronze")


@dataclass(frozen=True, slots=True)
class Caller:
    """One simulated caller. `leg` is its Originate ChannelId; Asterisk names the dialplan
    half of the Local channel `<leg>;2`, and that uniqueid is the ACD's call id."""

    leg: str
    queue: str
    talk: float
    ring: float
    #: Epoch seconds its patience runs out; None: it never gives up.
    gives_up_at: float | None
    name: str
    number: str
    #: ACD_CALLER_DATA ("" for none): no commas or quotes (an Originate Variable header is
    #: split at commas).
    data: str

    @property
    def call_id(self) -> str:
        return f"{self.leg};2"


@dataclass(frozen=True, slots=True)
class Arrive:
    caller: Caller


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The caller hangs up: its patience ran out while it waited or rang an agent."""

    caller: Caller


@dataclass(frozen=True, slots=True)
class Pause:
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unpause:
    agent_id: str


Action = Arrive | GiveUp | Pause | Unpause


class Seen(Protocol):
    """What the schedule looks at (the router's reads: `acd.router.router.Router` is one)."""

    def call(self, call_id: str) -> CallView | None: ...
    def agent(self, agent_id: str) -> AgentView | None: ...
    def queues(self) -> Sequence[QueueConfig]: ...


def gives_up(state: CallState | None) -> bool:
    """The patience rule: at its end a caller still waiting or ringing hangs up; answered
    (connected) or gone (None: served and done, left, or never entered) it does not."""
    return state is CallState.WAITING or state is CallState.OFFERED


@dataclass(slots=True)
class _Break:
    ends: float
    reason: str


class DemoSchedule:
    def __init__(
        self,
        plan: DemoSettings,
        agents: Sequence[str],
        rng: random.Random,
        now: float,
        *,
        leg: str = "demo",
    ) -> None:
        """`agents`: the demo agents who take breaks. `leg`: the prefix of the callers'
        channel ids (`<leg>-1`, `<leg>-2`, …): one of its own per run."""
        self._plan = plan
        self._gaps = random.Random(rng.getrandbits(64))
        self._callers = random.Random(rng.getrandbits(64))
        self._breaks = random.Random(rng.getrandbits(64))
        self._leg = leg
        self._legs = itertools.count(1)
        self._pushed = itertools.count()  # ties in the patience heap: first in, first out
        self._rate = plan.calls_per_minute / 60.0
        self._next_arrival = now  # the first caller at once: the demo shows motion
        #: (gives_up_at, serial, caller): the callers whose patience has yet to run out.
        self._patience: list[tuple[float, int, Caller]] = []
        self._break_at: dict[str, float] = {}
        if plan.break_every > 0:
            self._break_at = {a: now + self._break_gap() for a in sorted(set(agents))}
        self._on_break: dict[str, _Break] = {}
        #: Callers never sent: due too late, or no queue to send them to.
        self.dropped = 0

    def next_due(self) -> float:
        """When `due` has something to do next (the stream always has a next caller).
        Runtime complexity: O(a) for a demo agents."""
        times = [self._next_arrival, *self._break_at.values()]
        times += [b.ends for b in self._on_break.values()]
        if self._patience:
            times.append(self._patience[0][0])
        return min(times)

    def due(self, now: float, seen: Seen) -> list[Action]:
        """Everything due at or before `now`, in this order: breaks ending, patience running
        out, callers arriving, breaks starting."""
        actions: list[Action] = []
        self._end_breaks(now, seen, actions)
        while self._patience and self._patience[0][0] <= now:
            _, _, impatient = heapq.heappop(self._patience)
            view = seen.call(impatient.call_id)
            if gives_up(None if view is None else view.state):
                actions.append(GiveUp(impatient))
        if self._next_arrival < now - LATE_LIMIT:
            self.dropped += 1
            self._next_arrival = now + self._gaps.expovariate(self._rate)
        while self._next_arrival <= now:
            caller = self._caller(self._next_arrival, seen)
            if caller is None:
                self.dropped += 1
            else:
                actions.append(Arrive(caller))
                if caller.gives_up_at is not None:
                    entry = (caller.gives_up_at, next(self._pushed), caller)
                    heapq.heappush(self._patience, entry)
            self._next_arrival += self._gaps.expovariate(self._rate)
        self._start_breaks(now, seen, actions)
        return actions

    # --- callers --------------------------------------------------------------------------

    def _caller(self, arrives: float, seen: Seen) -> Caller | None:
        draw = self._callers
        plan = self._plan
        if plan.queues:
            names = [name for name, _ in plan.queues]
            queue = draw.choices(names, [weight for _, weight in plan.queues])[0]
        else:
            available = sorted(q.name for q in seen.queues())
            if not available:
                return None
            queue = draw.choice(available)
        talk = max(MIN_TALK, round(draw.expovariate(1.0 / plan.talk_mean), 1))
        patience = None
        if plan.patience_mean > 0:
            patience = max(MIN_PATIENCE, draw.expovariate(1.0 / plan.patience_mean))
        name = f"{draw.choice(_FIRST_NAMES)} {draw.choice(_LAST_NAMES)}"
        number = f"+1555{draw.randrange(10**7):07d}"  # 555-01xx: numbers kept for fiction
        customer = draw.randrange(100_000, 1_000_000)
        tier = draw.choice(_TIERS)
        return Caller(
            leg=f"{self._leg}-{next(self._legs)}",
            queue=queue,
            talk=talk,
            ring=plan.ring,
            gives_up_at=None if patience is None else arrives + patience,
            name=name,
            number=number,
            data=f"customer={customer}; name={name}; tier={tier}" if plan.caller_data else "",
        )

    # --- breaks ---------------------------------------------------------------------------

    def _break_gap(self) -> float:
        return self._breaks.expovariate(1.0 / self._plan.break_every)

    def _end_breaks(self, now: float, seen: Seen, actions: list[Action]) -> None:
        for agent_id in sorted(a for a, b in self._on_break.items() if b.ends <= now):
            reason = self._on_break.pop(agent_id).reason
            self._break_at[agent_id] = now + self._break_gap()
            view = seen.agent(agent_id)
            if view is None:
                continue
            paused = view.state is AgentState.PAUSED and view.pause_reason == reason
            deferred = view.pending == "pause" and view.pending_reason == reason
            if paused or deferred:
                actions.append(Unpause(agent_id))

    def _start_breaks(self, now: float, seen: Seen, actions: list[Action]) -> None:
        for agent_id in sorted(a for a, t in self._break_at.items() if t <= now):
            view = seen.agent(agent_id)
            if self._on_break or view is None or view.state is not AgentState.AVAILABLE:
                self._break_at[agent_id] = now + BREAK_RETRY
                continue
            del self._break_at[agent_id]
            reason = self._breaks.choice(self._plan.break_reasons)
            length = max(MIN_BREAK, self._breaks.expovariate(1.0 / self._plan.break_mean))
            self._on_break[agent_id] = _Break(now + length, reason)
            actions.append(Pause(agent_id, reason))

"""Erlang B, Erlang C (M/M/N) and Erlang A (M/M/N+M) staffing figures.

Units: rates per second, times in seconds. `offered_load` A = rate x aht in erlangs.

Erlang B comes from its recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)): every step stays
in [0, 1], so hundreds or thousands of agents neither overflow nor lose precision (no
factorials, no powers). Erlang C follows from B: C = N B / (N - A (1 - B)).

Erlang A (Palm's model: exponential patience with mean 1/theta) has no closed form this module
trusts for large N, so it is computed from the birth-death chain of the number of calls in the
system, rates lambda up and min(n, N) mu + max(n - N, 0) theta down:
  * the stationary distribution pi is built in log space (so any N is safe) and truncated
    where the queue tail falls below e^-45 of the peak; that tail decays faster than
    geometrically once (n - N) theta > lambda, so the truncation point stays small;
  * an arrival sees pi (PASTA). Finding j calls already queued, it reaches an agent after
    V_j = sum_{i<=j} Exp(N mu + i theta) (the calls ahead leave by service or abandonment; the
    ones behind do not matter under FCFS) unless its own patience runs out first, so
    P(answered | j) = prod r_i / (r_i + theta) and E[V_j; answered] = P(answered | j) *
    sum 1 / (r_i + theta) (differentiate the Laplace transform of V_j at theta);
  * the split of answers and abandons into "within T" and "after T" (needed for the three
    service-level treatments of the contract) is the transient distribution at time T of the
    tagged caller's chain {j ahead, ..., 0 ahead, answered, abandoned}, computed by
    uniformisation (a Poisson-weighted sum of powers of a stochastic matrix: only
    non-negative terms, so it is stable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

#: Stationary probabilities below exp(-TAIL_LOG_CUTOFF) of the peak are dropped.
TAIL_LOG_CUTOFF = 45.0
#: The uniformisation sum stops once the Poisson weights left are below this.
POISSON_TAIL = 1e-13
#: Guard against configurations the truncated chain cannot represent in reasonable memory.
MAX_STATES = 2_000_000


class Treatment(StrEnum):
    """How abandoned calls count in the service level (CONTRACT.md, Definitions)."""

    IGNORE_ABANDONS = "ignore_abandons"
    ABANDONS_AGAINST = "abandons_against"
    ABANDONS_FOR = "abandons_for"


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Per-arrival probabilities of the four outcomes the service level is built from:
    answered within / after the threshold, abandoned within / after it."""

    answered_in: float
    answered_out: float
    abandoned_in: float
    abandoned_out: float

    def service_level(self, treatment: Treatment) -> float:
        a_in, a_out, b_in, b_out = (
            self.answered_in,
            self.answered_out,
            self.abandoned_in,
            self.abandoned_out,
        )
        if treatment is Treatment.IGNORE_ABANDONS:
            denominator = a_in + a_out + b_out
            return a_in / denominator if denominator > 0 else 1.0
        total = a_in + a_out + b_in + b_out
        if total <= 0:
            return 1.0
        if treatment is Treatment.ABANDONS_AGAINST:
            return a_in / total
        return (a_in + b_in) / total


@dataclass(frozen=True, slots=True)
class StaffingFigures:
    model: str  # "erlang_c" or "erlang_a"
    agents: int
    offered_load: float  # erlangs
    threshold: float  # seconds
    #: False when N <= A without abandonment: the queue grows without bound.
    stable: bool
    p_wait: float
    outcomes: Outcomes
    #: Mean wait of answered calls, zero waits included; inf when unstable.
    asa: float
    abandon_rate: float  # abandoned / offered
    occupancy: float  # carried load / agents

    def service_level(self, treatment: Treatment = Treatment.ABANDONS_AGAINST) -> float:
        return self.outcomes.service_level(treatment)

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "agents": self.agents,
            "offered_load_erlangs": self.offered_load,
            "threshold_seconds": self.threshold,
            "stable": self.stable,
            "p_wait": self.p_wait,
            "service_level": {t.value: self.service_level(t) for t in Treatment},
            "asa_seconds": self.asa if math.isfinite(self.asa) else None,
            "abandon_rate": self.abandon_rate,
            "occupancy": self.occupancy,
        }


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of M/M/N/N. O(N) time, O(1) space."""
    if agents < 0 or load < 0:
        raise ValueError("agents and load must not be negative")
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def _erlang_c_from_b(agents: int, load: float, blocking: float) -> float:
    if agents <= load:
        return 1.0
    return agents * blocking / (agents - load * (1.0 - blocking))


def erlang_c(agents: int, load: float) -> float:
    """Probability that a call waits in M/M/N (1.0 when N <= A: the queue is unstable)."""
    return _erlang_c_from_b(agents, load, erlang_b(agents, load))


def _check_inputs(rate: float, aht: float, agents: int, threshold: float) -> None:
    if not rate > 0 or not math.isfinite(rate):
        raise ValueError("the arrival rate must be a positive number")
    if not aht > 0 or not math.isfinite(aht):
        raise ValueError("the handle time must be a positive number")
    if agents < 1:
        raise ValueError("there must be at least one agent")
    if not threshold >= 0 or not math.isfinite(threshold):
        raise ValueError("the threshold must be a number of seconds >= 0")


def erlang_c_figures(rate: float, aht: float, agents: int, threshold: float) -> StaffingFigures:
    """M/M/N figures. O(N)."""
    _check_inputs(rate, aht, agents, threshold)
    return _erlang_c_with_b(rate, aht, agents, threshold, erlang_b(agents, rate * aht))


def _erlang_c_with_b(
    rate: float, aht: float, agents: int, threshold: float, blocking: float
) -> StaffingFigures:
    load = rate * aht
    if agents <= load:
        return StaffingFigures(
            model="erlang_c",
            agents=agents,
            offered_load=load,
            threshold=threshold,
            stable=False,
            p_wait=1.0,
            outcomes=Outcomes(0.0, 1.0, 0.0, 0.0),
            asa=math.inf,
            abandon_rate=0.0,
            occupancy=1.0,
        )
    p_wait = _erlang_c_from_b(agents, load, blocking)
    drain = agents / aht - rate  # rate at which the waiting time's tail decays
    late = p_wait * math.exp(-drain * threshold)
    return StaffingFigures(
        model="erlang_c",
        agents=agents,
        offered_load=load,
        threshold=threshold,
        stable=True,
        p_wait=p_wait,
        outcomes=Outcomes(1.0 - late, late, 0.0, 0.0),
        asa=p_wait / drain,
        abandon_rate=0.0,
        occupancy=load / agents,
    )


def _stationary(rate: float, aht: float, agents: int, patience: float) -> np.ndarray:
    """pi(n), n = 0..N+K, of the M/M/N+M chain, normalised; K where the tail is negligible."""
    mu, theta = 1.0 / aht, 1.0 / patience
    log_pi = [0.0]
    for n in range(1, agents + 1):
        log_pi.append(log_pi[-1] + math.log(rate / (n * mu)))
    peak = max(log_pi)
    queued = 0
    while True:
        queued += 1
        log_pi.append(log_pi[-1] + math.log(rate / (agents * mu + queued * theta)))
        peak = max(peak, log_pi[-1])
        decaying = agents * mu + queued * theta > rate
        if decaying and log_pi[-1] < peak - TAIL_LOG_CUTOFF:
            break
        if len(log_pi) > MAX_STATES:
            raise ValueError("patience too long for this load: use Erlang C (no --patience)")
    weights: np.ndarray = np.exp(np.array(log_pi) - peak)
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def _within_threshold(
    seen_queued: np.ndarray, agents: int, mu: float, theta: float, threshold: float
) -> tuple[float, float]:
    """(P(answered within T), P(abandoned within T)) for calls that found `seen_queued[j]`
    callers ahead of them, by uniformisation of the tagged caller's chain."""
    ahead = np.arange(seen_queued.size, dtype=float)
    advance = agents * mu + ahead * theta  # rate at which the caller moves one place up
    uniform_rate = float(advance[-1]) + theta
    mean_jumps = uniform_rate * threshold
    if mean_jumps == 0.0:
        return 0.0, 0.0
    step_up = advance / uniform_rate
    stay = 1.0 - step_up - theta / uniform_rate
    leave = theta / uniform_rate
    jumps_needed = int(mean_jumps + 12.0 * math.sqrt(mean_jumps) + 30.0)
    if jumps_needed * seen_queued.size > 4e9:
        raise ValueError("threshold too long for this load to compute the service level")
    mass = seen_queued.astype(float)
    answered = abandoned = 0.0
    answered_at_t = abandoned_at_t = 0.0
    weight_left = 1.0
    log_mean = math.log(mean_jumps)
    for k in range(jumps_needed + 1):
        weight = math.exp(-mean_jumps + k * log_mean - math.lgamma(k + 1))
        answered_at_t += weight * answered
        abandoned_at_t += weight * abandoned
        weight_left -= weight
        if k > mean_jumps and weight_left < POISSON_TAIL:
            break
        moved = mass * step_up
        answered += float(moved[0])
        abandoned += float(mass.sum()) * leave
        mass = mass * stay
        mass[:-1] += moved[1:]
    # Whatever Poisson weight was not summed lies beyond the last step: use the last masses.
    answered_at_t += max(weight_left, 0.0) * answered
    abandoned_at_t += max(weight_left, 0.0) * abandoned
    return answered_at_t, abandoned_at_t


def erlang_a_figures(
    rate: float, aht: float, agents: int, threshold: float, patience: float
) -> StaffingFigures:
    """M/M/N+M figures (see the module docstring for the method).

    Cost: O(N + K) for the chain, O(K * (Lambda T + sqrt(Lambda T))) for the service level,
    where K ~ (lambda - N mu) / theta + a few dozen is the truncated queue length and
    Lambda = N mu + (K + 1) theta.
    """
    _check_inputs(rate, aht, agents, threshold)
    if not patience > 0 or not math.isfinite(patience):
        raise ValueError("the mean patience must be a positive number of seconds")
    mu, theta = 1.0 / aht, 1.0 / patience
    pi = _stationary(rate, aht, agents, patience)
    seen_queued = pi[agents:]  # an arrival finding j = 0, 1, ... callers queued ahead
    p_wait = float(seen_queued.sum())
    advance = agents * mu + np.arange(seen_queued.size) * theta
    answered_given_ahead = np.cumprod(advance / (advance + theta))
    mean_wait_given_ahead = np.cumsum(1.0 / (advance + theta))
    p_abandon = float((seen_queued * (1.0 - answered_given_ahead)).sum())
    p_answered = 1.0 - p_abandon
    answered_wait = float((seen_queued * answered_given_ahead * mean_wait_given_ahead).sum())
    late_answered, late_abandoned = _within_threshold(seen_queued, agents, mu, theta, threshold)
    answered_in = (1.0 - p_wait) + late_answered
    return StaffingFigures(
        model="erlang_a",
        agents=agents,
        offered_load=rate * aht,
        threshold=threshold,
        stable=True,
        p_wait=p_wait,
        outcomes=Outcomes(
            answered_in=answered_in,
            answered_out=max(p_answered - answered_in, 0.0),
            abandoned_in=late_abandoned,
            abandoned_out=max(p_abandon - late_abandoned, 0.0),
        ),
        asa=answered_wait / p_answered if p_answered > 0 else math.inf,
        abandon_rate=p_abandon,
        occupancy=rate * p_answered * aht / agents,
    )


def figures(
    rate: float, aht: float, agents: int, threshold: float, patience: float | None = None
) -> StaffingFigures:
    """Erlang A when a mean patience is given, else Erlang C."""
    if patience is None:
        return erlang_c_figures(rate, aht, agents, threshold)
    return erlang_a_figures(rate, aht, agents, threshold, patience)


def agents_for_target(
    rate: float,
    aht: float,
    threshold: float,
    target: float,
    patience: float | None = None,
    treatment: Treatment = Treatment.ABANDONS_AGAINST,
) -> StaffingFigures:
    """The fewest agents whose service level (by `treatment`) reaches `target`.

    Erlang C: one O(N) pass (B is extended one agent at a time from ceil(A)). Erlang A:
    doubling then bisection, relying on the service level growing with N.
    """
    if not 0.0 < target < 1.0:
        raise ValueError("the target service level must be between 0 and 1 (exclusive)")
    _check_inputs(rate, aht, 1, threshold)
    load = rate * aht
    if patience is None:
        agents = max(1, math.floor(load) + 1)
        blocking = erlang_b(agents, load)
        while True:
            result = _erlang_c_with_b(rate, aht, agents, threshold, blocking)
            if result.service_level(treatment) >= target:
                return result
            agents += 1
            blocking = load * blocking / (agents + load * blocking)

    def meets(n: int) -> StaffingFigures | None:
        result = erlang_a_figures(rate, aht, n, threshold, patience)
        return result if result.service_level(treatment) >= target else None

    low, high = 0, 1  # invariant: `low` agents miss the target (0 trivially), `high` unknown
    found = meets(high)
    while found is None:
        low, high = high, high * 2
        found = meets(high)
    while high - low > 1:
        middle = (low + high) // 2
        candidate = meets(middle)
        if candidate is None:
            low = middle
        else:
            high, found = middle, candidate
    return found

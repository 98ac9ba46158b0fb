from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from acd.staffing.erlang import (
    Treatment,
    agents_for_target,
    erlang_a_figures,
    erlang_b,
    erlang_c,
    erlang_c_figures,
)


def exact_erlang_b(agents: int, load: Fraction) -> Fraction:
    """The textbook formula (A^N/N!) / sum A^k/k!, in exact rationals: an independent check."""
    terms = [load**k / math.factorial(k) for k in range(agents + 1)]
    return terms[-1] / sum(terms)


def test_erlang_b_matches_published_table_values() -> None:
    # Standard Erlang B tables (e.g. the tables in Cooper, "Introduction to Queueing Theory",
    # and every Erlang B calculator): 10 erlangs on 10 lines block 21.46 % of calls; the load
    # 10 lines carry at 1 % blocking is 4.461 erlangs, 11 lines 5.160 erlangs.
    assert erlang_b(10, 10.0) == pytest.approx(0.2146, abs=5e-5)
    assert erlang_b(10, 4.461) == pytest.approx(0.01, rel=0.01)
    assert erlang_b(11, 5.160) == pytest.approx(0.01, rel=0.01)


@pytest.mark.parametrize(("agents", "load"), [(1, "0.5"), (5, "3.2"), (20, "17"), (40, "25.5")])
def test_erlang_b_recursion_equals_exact_formula(agents: int, load: str) -> None:
    exact = exact_erlang_b(agents, Fraction(load))
    assert erlang_b(agents, float(Fraction(load))) == pytest.approx(float(exact), rel=1e-12)


def test_erlang_c_call_centre_helper_worked_example() -> None:
    # Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example":
    # 100 calls in 30 minutes, AHT 180 s, 14 agents, 80/20 target -> 10 erlangs,
    # P(wait) 17.4 %, service level 88.8 %, ASA 7.8 s, occupancy 71.4 %.
    result = erlang_c_figures(rate=100 / 1800, aht=180, agents=14, threshold=20)
    assert result.offered_load == pytest.approx(10.0)
    assert round(result.p_wait, 3) == 0.174
    assert round(result.service_level(), 3) == 0.888
    assert round(result.asa, 1) == 7.8
    assert round(result.occupancy, 3) == 0.714
    assert agents_for_target(100 / 1800, 180, 20, 0.8).agents == 14


def test_erlang_c_equals_exact_formula_for_westbay_example() -> None:
    # Westbay Engineers' step-by-step Erlang-C example: 360 calls per half hour, 4 minute
    # calls, 55 agents, 15 s target (48 erlangs). Checked against the factorial formula
    # C = N B / (N - A (1 - B)) in exact rationals and SL = 1 - C exp(-(N - A) T / AHT).
    load = Fraction(48)
    blocking = exact_erlang_b(55, load)
    exact_c = 55 * blocking / (55 - load * (1 - blocking))
    result = erlang_c_figures(rate=360 / 1800, aht=240, agents=55, threshold=15)
    assert result.p_wait == pytest.approx(float(exact_c), rel=1e-12)
    expected_sl = 1 - float(exact_c) * math.exp(-(55 - 48) * 15 / 240)
    assert result.service_level() == pytest.approx(expected_sl, rel=1e-12)
    assert result.asa == pytest.approx(float(exact_c) * 240 / 7, rel=1e-12)


def test_erlang_c_reports_overload_as_unstable() -> None:
    result = erlang_c_figures(rate=1.0, aht=10.0, agents=10, threshold=20)
    assert not result.stable
    assert result.p_wait == 1.0
    assert result.service_level() == 0.0
    assert math.isinf(result.asa)
    assert result.as_dict()["asa_seconds"] is None


@pytest.mark.parametrize("agents", [500, 2000])
def test_large_agent_counts_stay_finite(agents: int) -> None:
    load = agents * 0.97
    assert 0.0 < erlang_b(agents, load) < 1.0
    assert 0.0 < erlang_c(agents, load) < 1.0
    for result in (
        erlang_c_figures(load / 180, 180, agents, 20),
        erlang_a_figures(load / 180, 180, agents, 20, 120),
        # Overloaded: only abandonment keeps Erlang A stable.
        erlang_a_figures(1.2 * load / 180, 180, agents, 20, 120),
    ):
        values = [result.p_wait, result.asa, result.abandon_rate, result.occupancy]
        values += [result.service_level(t) for t in Treatment]
        assert all(math.isfinite(v) and v >= 0 for v in values), result
        assert all(result.service_level(t) <= 1.0 + 1e-12 for t in Treatment)
    assert agents_for_target(load / 180, 180, 20, 0.8).agents > load


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    c = erlang_c_figures(100 / 1800, 180, 14, 20)
    a = erlang_a_figures(100 / 1800, 180, 14, 20, patience=1e7)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-4)
    assert a.service_level() == pytest.approx(c.service_level(), rel=1e-4)
    assert a.asa == pytest.approx(c.asa, rel=1e-3)
    assert a.abandon_rate < 1e-5


def test_erlang_a_abandonment_agrees_with_littles_law() -> None:
    # Independent of the per-caller derivation: abandons per second = theta * E[queue length].
    rate, aht, agents, patience = 0.07, 180.0, 11, 90.0
    result = erlang_a_figures(rate, aht, agents, 20, patience)
    mu, theta = 1 / aht, 1 / patience
    weights = [1.0]
    for n in range(1, 400):
        weights.append(weights[-1] * rate / (min(n, agents) * mu + max(n - agents, 0) * theta))
    pi = np.array(weights) / sum(weights)
    queue_length = float(sum(max(n - agents, 0) * p for n, p in enumerate(pi)))
    assert result.abandon_rate == pytest.approx(theta * queue_length / rate, rel=1e-9)
    busy = float(sum(min(n, agents) * p for n, p in enumerate(pi)))
    assert result.occupancy == pytest.approx(busy / agents, rel=1e-9)


def test_erlang_a_service_level_matches_direct_integration() -> None:
    # The uniformised transient solution against a plain RK4 integration of the same tagged
    # caller's forward equations (places ahead 0..K, answered, abandoned) up to T.
    rate, aht, agents, patience, threshold = 0.07, 180.0, 11, 90.0, 30.0
    result = erlang_a_figures(rate, aht, agents, threshold, patience)
    mu, theta = 1 / aht, 1 / patience
    weights = [1.0]
    for n in range(1, 400):
        weights.append(weights[-1] * rate / (min(n, agents) * mu + max(n - agents, 0) * theta))
    pi = np.array(weights) / sum(weights)
    ahead = pi[agents:]
    advance = agents * mu + np.arange(ahead.size) * theta

    def derivative(state: np.ndarray) -> np.ndarray:
        mass = state[:-2]
        change = np.zeros_like(state)
        change[:-2] -= mass * (advance + theta)
        change[:-3] += mass[1:] * advance[1:]
        change[-2] = mass[0] * advance[0]
        change[-1] = mass.sum() * theta
        return change

    state = np.concatenate([ahead, [0.0, 0.0]])
    steps = 3000
    dt = threshold / steps
    for _ in range(steps):
        k1 = derivative(state)
        k2 = derivative(state + dt / 2 * k1)
        k3 = derivative(state + dt / 2 * k2)
        k4 = derivative(state + dt * k3)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    no_wait = float(pi[:agents].sum())
    assert result.outcomes.answered_in == pytest.approx(no_wait + state[-2], rel=1e-9)
    assert result.outcomes.abandoned_in == pytest.approx(state[-1], rel=1e-9)


def test_erlang_a_target_is_the_smallest_staffing_that_meets_it() -> None:
    rate, aht, patience = 200 / 3600, 180.0, 120.0
    found = agents_for_target(rate, aht, 20, 0.8, patience)
    assert found.service_level() >= 0.8
    below = erlang_a_figures(rate, aht, found.agents - 1, 20, patience)
    assert below.service_level() < 0.8


def test_treatments_follow_the_contract_definitions() -> None:
    result = erlang_a_figures(200 / 3600, 180, 10, 20, 60)
    o = result.outcomes
    total = o.answered_in + o.answered_out + o.abandoned_in + o.abandoned_out
    assert total == pytest.approx(1.0)
    assert result.service_level(Treatment.IGNORE_ABANDONS) == pytest.approx(
        o.answered_in / (o.answered_in + o.answered_out + o.abandoned_out)
    )
    assert result.service_level(Treatment.ABANDONS_AGAINST) == pytest.approx(o.answered_in)
    assert result.service_level(Treatment.ABANDONS_FOR) == pytest.approx(
        o.answered_in + o.abandoned_in
    )
    assert o.abandoned_in + o.abandoned_out == pytest.approx(result.abandon_rate)

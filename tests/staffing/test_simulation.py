"""The simulator, driving the real router, against Erlang C / Erlang A, and multi-skill runs.

Seeds are fixed, so each run is deterministic; the intervals are 99 % ones so that a change in
the router's (statistically irrelevant) tie-breaking is unlikely to push a correct figure out.
`test_confidence_intervals_cover_the_truth_at_their_rate` checks the intervals themselves.
"""

from __future__ import annotations

from typing import Any

import pytest

from acd.config import ConfigError
from acd.staffing.erlang import Treatment, figures
from acd.staffing.report import summarise
from acd.staffing.scenario import HandleDistribution, parse_scenario, single_queue
from acd.staffing.simulation import simulate
from acd.staffing.stats import t_quantile

CONFIDENCE = 0.99


@pytest.mark.parametrize(
    ("rate", "aht", "agents", "seed"),
    [
        (200.0, 180.0, 13, 11),  # 10 erlangs, 77 % occupancy
        (600.0, 120.0, 23, 12),  # 20 erlangs, 87 % occupancy
        (40.0, 300.0, 5, 13),  # 3.3 erlangs on few agents
    ],
)
def test_fcfs_queue_agrees_with_erlang_c(rate: float, aht: float, agents: int, seed: int) -> None:
    run = simulate(single_queue(rate, aht, agents, threshold=20), hours=120, seed=seed)
    report = summarise(run, batches=20, confidence=CONFIDENCE)
    expected = figures(rate / 3600, aht, agents, 20)
    queue = report.queue("queue")
    assert queue.totals.offered > 4000
    assert queue.totals.abandoned == 0
    assert queue.service_level[Treatment.ABANDONS_AGAINST].covers(expected.service_level())
    assert queue.asa.covers(expected.asa)
    assert report.occupancy.covers(expected.occupancy)
    # The intervals must be informative, not merely wide enough to cover anything.
    assert queue.service_level[Treatment.ABANDONS_AGAINST].half_width < 0.08
    assert report.occupancy.half_width < 0.03


@pytest.mark.parametrize(
    ("rate", "aht", "agents", "patience", "seed"),
    [
        (200.0, 180.0, 11, 120.0, 21),  # under-staffed: abandonment keeps it stable
        (400.0, 180.0, 20, 300.0, 22),
    ],
)
def test_impatient_callers_agree_with_erlang_a(
    rate: float, aht: float, agents: int, patience: float, seed: int
) -> None:
    run = simulate(single_queue(rate, aht, agents, 20, patience=patience), hours=100, seed=seed)
    report = summarise(run, batches=20, confidence=CONFIDENCE)
    expected = figures(rate / 3600, aht, agents, 20, patience)
    queue = report.queue("queue")
    assert queue.totals.abandoned > 200
    for treatment in Treatment:
        assert queue.service_level[treatment].covers(expected.service_level(treatment)), treatment
    assert queue.asa.covers(expected.asa)
    assert queue.abandon_rate.covers(expected.abandon_rate)
    assert report.occupancy.covers(expected.occupancy)


@pytest.mark.slow
def test_confidence_intervals_cover_the_truth_at_their_rate() -> None:
    # 95 % intervals over 30 independent seeds: about 28.5 should cover Erlang C's figure;
    # fewer than 24 (binomial tail < 0.1 %) would mean the intervals are too narrow.
    expected = figures(300 / 3600, 180, 17, 20)
    covered = 0
    for seed in range(100, 130):
        run = simulate(single_queue(300, 180, 17, 20), hours=40, seed=seed)
        report = summarise(run, batches=20, confidence=0.95)
        covered += (
            report.queue("queue")
            .service_level[Treatment.ABANDONS_AGAINST]
            .covers(expected.service_level())
        )
    assert covered >= 24


def test_wrap_up_is_part_of_the_handle_time() -> None:
    # aht 180 = talk 150 + wrap-up 30: the agents stay as occupied as with 180 s of talk.
    run = simulate(single_queue(200, 180, 13, 20, wrap_up=30), hours=60, seed=5)
    report = summarise(run, confidence=CONFIDENCE)
    assert report.occupancy.covers(200 / 3600 * 180 / 13)
    talks = [c.talk for c in run.calls if c.answered_at is not None]
    assert sum(talks) / len(talks) == pytest.approx(150, rel=0.03)


def test_lognormal_handle_times_keep_their_mean_and_spread() -> None:
    scenario = single_queue(
        200, 180, 13, 20, handle_distribution=HandleDistribution.LOGNORMAL, handle_cv=0.5
    )
    run = simulate(scenario, hours=120, seed=6)
    talks = [c.talk for c in run.calls if c.answered_at is not None]
    mean = sum(talks) / len(talks)
    spread = (sum((t - mean) ** 2 for t in talks) / len(talks)) ** 0.5
    assert mean == pytest.approx(180, rel=0.03)
    assert spread / mean == pytest.approx(0.5, rel=0.08)
    # Less variable service than exponential: shorter waits than Erlang C predicts (by about
    # (1 + cv^2) / 2, the Allen-Cunneen factor).
    report = summarise(run, confidence=CONFIDENCE)
    erlang = figures(200 / 3600, 180, 13, 20)
    assert report.queue("queue").asa.high < erlang.asa


def test_same_seed_same_run() -> None:
    first = simulate(single_queue(200, 180, 12, 20, patience=60), hours=5, seed=9)
    second = simulate(single_queue(200, 180, 12, 20, patience=60), hours=5, seed=9)
    assert first.calls == second.calls
    assert first.occupied == second.occupied


def two_teams(escalate: bool) -> dict[str, Any]:
    sales: dict[str, Any] = {
        "name": "sales",
        "skills": {"sales": 5},
        "wrap_up": 10,
        "max_wait": 0,
        "rate": 100,
        "aht": 240,
        "patience": 300,
    }
    if escalate:
        sales["escalation"] = [{"after": 15, "skills": {"sales": 1}}]
    return {
        "queues": [
            sales,
            {
                "name": "support",
                "skills": {"support": 5},
                "sl_threshold": 30,
                "wrap_up": 10,
                "max_wait": 0,
                "rate": 60,
                "aht": 240,
                "patience": 300,
            },
        ],
        "groups": [
            {"name": "sales-team", "agents": 7, "skills": {"sales": 8}},
            {"name": "support-team", "agents": 7, "skills": {"support": 8, "sales": 2}},
        ],
    }


def test_an_escalation_step_lets_a_second_group_help() -> None:
    reports = {}
    for escalate in (False, True):
        run = simulate(parse_scenario(two_teams(escalate)), hours=60, seed=4)
        reports[escalate] = summarise(run, confidence=CONFIDENCE)
    before = reports[False].queue("sales").service_level[Treatment.ABANDONS_AGAINST]
    after = reports[True].queue("sales").service_level[Treatment.ABANDONS_AGAINST]
    assert after.low > before.high
    # The help comes from the support team, which gets busier.
    busier = reports[True].group_occupancy["support-team"]
    assert busier.low > reports[False].group_occupancy["support-team"].high
    # Without escalation no support agent ever served sales: sales is the sales team's alone.
    assert reports[False].queue("sales").totals.answered > 0


def test_max_wait_timeouts_are_reported_as_exits() -> None:
    document = two_teams(escalate=False)
    document["queues"][0]["max_wait"] = 30
    run = simulate(parse_scenario(document), hours=10, seed=2)
    totals = summarise(run).queue("sales").totals
    assert totals.exited > 0
    assert totals.offered == (
        totals.answered + totals.abandoned + totals.short_abandoned + totals.exited
    )


def test_router_invariants_hold_under_multi_skill_traffic() -> None:
    # Overflow, escalation, wrap-up and abandonment together, Router._check() after each event.
    document = two_teams(escalate=True)
    document["queues"][0].update(max_wait=40, overflow="support")
    document["queues"][1].update(max_wait=120)
    for group in document["groups"]:
        group["agents"] = 5  # overloaded, so that max wait and overflow happen
    run = simulate(parse_scenario(document), hours=1.5, seed=8, check_invariants=True)
    totals = summarise(run).total.totals
    assert totals.overflowed > 0
    assert totals.abandoned > 0
    assert totals.exited > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["queues"][0].pop("rate"), "queues[0].rate: is required"),
        (lambda d: d["queues"][0].update(aht=5), "queues[0].aht: must be longer than"),
        (lambda d: d["groups"][0].update(agents=-1), "groups[0].agents"),
        (lambda d: d["queues"][1].update(colour="red"), "queues[1].colour: unknown key"),
        (lambda d: d.update(groups=[]), "groups: a scenario needs"),
    ],
)
def test_bad_scenarios_name_the_field(change: Any, message: str) -> None:
    document = two_teams(escalate=True)
    change(document)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(document)


@pytest.mark.parametrize(
    ("degrees", "expected"), [(5, 2.5706), (10, 2.2281), (19, 2.0930), (30, 2.0423)]
)
def test_t_quantile_matches_tables(degrees: int, expected: float) -> None:
    assert t_quantile(0.975, degrees) == pytest.approx(expected, abs=2e-3)

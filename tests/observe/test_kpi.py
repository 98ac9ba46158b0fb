"""The contract's service-level definitions against hand-computed cases."""

from __future__ import annotations

import pytest

from acd.observe.kpi import (
    SlCounts,
    Treatment,
    classify,
    is_short_abandon,
    mean,
    occupancy,
    service_level,
    service_levels,
    tally,
)

T = 20.0


def test_classify_each_outcome_at_the_threshold_edges() -> None:
    assert classify("answered", 20.0, T) == SlCounts(a_in=1)  # exactly T is within
    assert classify("answered", 20.001, T) == SlCounts(a_out=1)
    assert classify("abandoned", 0.0, T) == SlCounts(b_in=1)
    assert classify("abandoned", 45.0, T) == SlCounts(b_out=1)
    for nowhere in ("short_abandoned", "overflowed", "exited", "interrupted"):
        assert classify(nowhere, 3.0, T) == SlCounts()


def test_short_abandon_threshold() -> None:
    assert is_short_abandon(4.99, 5.0)
    assert not is_short_abandon(5.0, 5.0)
    assert not is_short_abandon(0.0, 0.0)  # threshold 0: nothing is short


def test_three_treatments_by_hand() -> None:
    # 6 answered within, 2 answered after, 1 abandoned within, 1 abandoned after, and two
    # short abandons that must not move any number.
    visits = (
        [("answered", 5.0, T)] * 6
        + [("answered", 30.0, T)] * 2
        + [("abandoned", 10.0, T), ("abandoned", 60.0, T)]
        + [("short_abandoned", 2.0, T)] * 2
    )
    counts = tally(visits)
    assert counts == SlCounts(a_in=6, a_out=2, b_in=1, b_out=1)
    assert service_level(counts, Treatment.IGNORE_ABANDONS) == pytest.approx(6 / 9)
    assert service_level(counts, Treatment.ABANDONS_AGAINST) == pytest.approx(6 / 10)
    assert service_level(counts, Treatment.ABANDONS_FOR) == pytest.approx(7 / 10)
    assert service_levels(counts) == {
        "ignore_abandons": pytest.approx(6 / 9),
        "abandons_against": pytest.approx(0.6),
        "abandons_for": pytest.approx(0.7),
    }


def test_empty_denominators_are_none() -> None:
    assert service_levels(SlCounts()) == dict.fromkeys(
        ("ignore_abandons", "abandons_against", "abandons_for")
    )
    # Only quick abandons: ignore_abandons has nothing to divide by, the others do.
    only_b_in = SlCounts(b_in=3)
    assert service_level(only_b_in, Treatment.IGNORE_ABANDONS) is None
    assert service_level(only_b_in, Treatment.ABANDONS_AGAINST) == 0.0
    assert service_level(only_b_in, Treatment.ABANDONS_FOR) == 1.0


def test_means_and_occupancy() -> None:
    assert mean(90.0, 3) == 30.0
    assert mean(0.0, 0) is None
    assert occupancy(30.0, 120.0) == 0.25
    assert occupancy(0.0, 0.0) is None

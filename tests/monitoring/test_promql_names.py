"""The name extraction the metric-name tests rely on (tests/monitoring/promql_names.py)."""

from __future__ import annotations

from .promql_names import Matcher, exported_names, matchers, recorded_names

EXPR = (
    'sum by (queue) (rate(acd_wait_seconds_sum{outcome="answered", queue=~"$queue"}[5m])'
    " unless on (job, instance) (acd_cluster_leader == 0))"
    ' / queue:acd_calls_offered:rate5m{treatment="acd_not_a_series"}'
)


def test_exported_and_recorded_series_are_told_apart() -> None:
    assert exported_names(EXPR) == {"acd_wait_seconds_sum", "acd_cluster_leader"}
    assert recorded_names(EXPR) == {"queue:acd_calls_offered:rate5m"}


def test_matchers_of_exported_series() -> None:
    assert matchers(EXPR) == [
        Matcher("acd_wait_seconds_sum", "outcome", "=", "answered"),
        Matcher("acd_wait_seconds_sum", "queue", "=~", "$queue"),
    ]

"""monitoring/grafana/acd-dashboard.json: valid JSON of a recent schema, its datasource a
variable, a `queue` variable, every query valid PromQL for the real promtool, every series it
reads exposed or recorded, and the views issue #13 asks for all there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .conftest import DASHBOARD, RULES, run_promtool
from .promql_names import exported_names, matchers, recorded_names

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
#: What Grafana puts in before the query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$queue": ".*"}

#: The views the issue asks for, each by a series one of its panels must read.
VIEWS = {
    "service level per treatment": "queue_treatment:acd_service_level:ratio",
    "its objective": "queue_treatment:acd_service_level_objective:ratio",
    "waiting": "queue:acd_calls_waiting:max",
    "oldest wait": "queue:acd_oldest_call_wait_seconds:max",
    "offered rate": "queue:acd_calls_offered:rate5m",
    "answered rate": "queue:acd_calls_answered:rate5m",
    "lost rate": "queue:acd_calls_lost:rate5m",
    "ASA": "queue:acd_speed_of_answer_seconds:mean5m",
    "AHT": "queue:acd_handle_seconds:mean5m",
    "agents by state": "state:acd_agents:sum",
    "dispatch latency": "acd:acd_dispatch_seconds:p99_5m",
    "AMI link": "acd_ami_connected",
    "cluster leader": "acd_cluster_leader",
    "replication lag": "acd_replication_lag_seconds",
}


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _queries() -> list[tuple[str, str]]:
    """(panel title and refId, expr) of every target."""
    return [
        (f"{panel['title']} {target['refId']}", target["expr"])
        for panel in _panels()
        for target in panel["targets"]
    ]


def _as_prometheus_sees_it(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def _variable(name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        v for v in _dashboard()["templating"]["list"] if v["name"] == name
    ]
    (variable,) = found
    return variable


def test_a_recent_schema_and_unique_panel_ids() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_datasource_and_the_queue_are_variables() -> None:
    datasource = _variable("DS_PROMETHEUS")
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    queue = _variable("queue")
    assert queue["type"] == "query"
    assert queue["datasource"] == DATASOURCE
    assert queue["query"]["query"] == "label_values(acd_calls_waiting, queue)"
    for panel in _panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


def test_every_query_is_valid_promql_for_promtool(promtool: str, tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": _as_prometheus_sees_it(expr)}
        for i, (_, expr) in enumerate(_queries())
    ]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = run_promtool(promtool, "check", "rules", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules)} rules found" in done.stdout


def test_every_queue_panel_follows_the_queue_variable() -> None:
    for where, expr in _queries():
        if any(name.startswith("queue") for name in recorded_names(expr)):
            assert 'queue=~"$queue"' in expr, where


def test_every_series_the_dashboard_reads_is_exposed_or_recorded(
    exposed: dict[str, dict[str, set[str]]],
) -> None:
    recorded = {r["record"] for g in yaml.safe_load(RULES.read_text())["groups"]
                for r in g["rules"] if "record" in r}  # fmt: skip
    variable = _variable("queue")["query"]["query"]
    for where, expr in [*_queries(), ("queue variable", variable)]:
        assert exported_names(expr) <= exposed.keys(), where
        assert recorded_names(expr) <= recorded, where
        for matcher in matchers(expr):
            assert matcher.label in exposed[matcher.series], (where, matcher)


def test_the_views_of_the_issue_are_all_there() -> None:
    read = set().union(*(exported_names(e) | recorded_names(e) for _, e in _queries()))
    missing = {view: series for view, series in VIEWS.items() if series not in read}
    assert not missing

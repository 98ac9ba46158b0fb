"""monitoring/prometheus/acd.rules.yml through the real promtool: it checks, its unit tests
(acd.rules.test.yml) pass, those tests fail when an alert never fires or fires without waiting
its `for`, and every series the rules read is one the real /metrics serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import RULES, RULES_TESTS, run_promtool
from .promql_names import exported_names, matchers, recorded_names


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"]]


ALERTS = [rule["alert"] for rule in _rules() if "alert" in rule]


def _alert_checks(case: dict[str, Any], alert: str) -> list[dict[str, Any]]:
    checks = [c for c in case.get("alert_rule_test", []) if c["alertname"] == alert]
    return sorted(checks, key=lambda c: _seconds(c["eval_time"]))


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    total, number = 0, ""
    for char in duration:
        if char.isdigit():
            number += char
        else:
            total, number = total + int(number) * units[char], ""
    return total


def _fires(case: dict[str, Any], alert: str) -> bool:
    return any(c["exp_alerts"] for c in _alert_checks(case, alert))


def _sees_pending(case: dict[str, Any], alert: str) -> bool:
    """A check expecting nothing while the condition already holds: an empty expectation
    followed, later in the same case, by a firing one."""
    checks = _alert_checks(case, alert)
    return any(
        not early["exp_alerts"] and any(late["exp_alerts"] for late in checks[i + 1 :])
        for i, early in enumerate(checks)
    )


def _promtool_test(
    promtool: str, tmp_path: Path, rules: dict[str, Any], cases: list[dict[str, Any]]
) -> tuple[int, str]:
    tests = _load(RULES_TESTS)
    tests["tests"] = cases
    (tmp_path / RULES.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp_path / RULES_TESTS.name).write_text(yaml.safe_dump(tests, sort_keys=False))
    done = run_promtool(promtool, "test", "rules", tmp_path / RULES_TESTS.name)
    return done.returncode, done.stdout + done.stderr


def _mutated(alert: str, **changes: str | None) -> dict[str, Any]:
    rules = _load(RULES)
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                for key, value in changes.items():
                    if value is None:
                        rule.pop(key, None)
                    else:
                        rule[key] = value
    return rules


def test_rules_pass_promtool_check(promtool: str) -> None:
    done = run_promtool(promtool, "check", "rules", RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rules_unit_tests_pass(promtool: str) -> None:
    done = run_promtool(promtool, "test", "rules", RULES_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_firing_pending_and_quiet() -> None:
    cases = _load(RULES_TESTS)["tests"]
    for alert in ALERTS:
        assert any(_fires(case, alert) for case in cases), f"{alert}: never seen firing"
        assert any(_sees_pending(case, alert) for case in cases), f"{alert}: no pending check"
        quiet = [c for case in cases for c in _alert_checks(case, alert) if not c["exp_alerts"]]
        assert quiet, f"{alert}: never seen quiet"


@pytest.mark.parametrize("alert", ALERTS)
def test_unit_tests_fail_when_the_alert_never_fires(
    promtool: str, tmp_path: Path, alert: str
) -> None:
    cases = [case for case in _load(RULES_TESTS)["tests"] if _fires(case, alert)]
    code, output = _promtool_test(promtool, tmp_path, _mutated(alert, expr="vector(1) == 0"), cases)
    assert code != 0, output
    assert f"alertname: {alert}" in output


@pytest.mark.parametrize("alert", ALERTS)
def test_unit_tests_fail_when_the_alert_fires_at_once(
    promtool: str, tmp_path: Path, alert: str
) -> None:
    cases = [case for case in _load(RULES_TESTS)["tests"] if _sees_pending(case, alert)]
    code, output = _promtool_test(promtool, tmp_path, _mutated(alert, **{"for": None}), cases)
    assert code != 0, output
    assert f"alertname: {alert}" in output


def test_every_series_the_rules_read_is_exposed_or_recorded(
    exposed: dict[str, dict[str, set[str]]],
) -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    for rule in _rules():
        name = rule.get("record") or rule["alert"]
        assert exported_names(rule["expr"]) <= exposed.keys(), name
        assert recorded_names(rule["expr"]) <= recorded, name
    # Not vacuous: the extraction finds the exported series behind the recorded ones, the
    # queues' objective among them (the rules hold no objective of their own).
    read = set().union(*(exported_names(rule["expr"]) for rule in _rules()))
    assert {
        "acd_service_level_ratio",
        "acd_service_level_target_ratio",
        "acd_wait_seconds_sum",
        "acd_agents",
    } <= read


def test_every_label_matcher_of_the_rules_matches_the_exposition(
    exposed: dict[str, dict[str, set[str]]],
) -> None:
    found = [m for rule in _rules() for m in matchers(rule["expr"])]
    assert found, "no matcher found: the extraction is broken"
    for matcher in found:
        labels = exposed[matcher.series]
        assert matcher.label in labels, matcher
        if matcher.op in ("=", "!="):
            assert matcher.value in labels[matcher.label], matcher

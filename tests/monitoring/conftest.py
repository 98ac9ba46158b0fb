"""promtool, the monitoring files and the names the real /metrics exposition serves.

`promtool` is Debian's (package `prometheus`, installed by `make test`). Missing, it skips
with the reason on a developer machine and fails under CI=true, as tests/cluster/conftest.py
does for Redis.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from unavailable import unavailable

from acd.observe.metrics import Metrics
from acd.router import events as ev
from acd.router.model import QueueConfig
from acd.router.router import Router

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "prometheus" / "acd.rules.yml"
RULES_TESTS = MONITORING / "prometheus" / "acd.rules.test.yml"
DASHBOARD = MONITORING / "grafana" / "acd-dashboard.json"


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool not installed (`make promtool`: Debian package prometheus)")
    assert found is not None
    return found


def run_promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


class _Leader:
    """The cluster gauges' source as `acd.cluster.node` gives it (a node id, leading, lag)."""

    node_id = "a"
    leading = True
    lag = 0.0


@pytest.fixture(scope="session")
def exposed() -> dict[str, dict[str, set[str]]]:
    """Every sample name of a real `Metrics` scrape, with its labels and their values: a
    router with a queue and an agent, one observation in each histogram and a cluster node,
    so every family has samples."""
    router = Router()
    router.handle(ev.QueueUpserted(now=0.0, queue=QueueConfig(name="sales")))
    router.handle(ev.AgentUpserted(now=0.0, agent_id="1001"))
    metrics = Metrics(router, clock=lambda: 10.0)
    metrics.offered("sales")
    metrics.answered("sales", at=5.0, wait=3.0, threshold=20.0)
    metrics.abandoned("sales", at=6.0, wait=30.0, threshold=20.0)
    metrics.talked("sales", 60.0)
    metrics.handled("sales", 65.0)
    metrics.dispatched(0.002)
    metrics.cluster = _Leader()
    series: dict[str, dict[str, set[str]]] = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            labels = series.setdefault(sample.name, {})
            for label, value in sample.labels.items():
                labels.setdefault(label, set()).add(value)
    return series

"""The soak, short: a couple of hundred calls with abandons, ring-no-answer, pauses and
logouts while the controller is SIGKILLed once; nothing lost, every count agrees. The long
run is `make soak` (bench/soak.py: 10,000 calls, three kills)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.asterisk.testing import RunningAsterisk

from .harness import Probe
from .soak import SoakPlan, run_soak, soak_controller

pytestmark = pytest.mark.asterisk

SHORT = SoakPlan(
    calls=200, rate=12.0, agents=10, mean_talk=0.8, kills=1, max_wait=6.0, drain_within=60.0
)


async def test_short_soak_loses_nothing_across_a_sigkill(
    asterisk: RunningAsterisk, probe: Probe, tmp_path: Path
) -> None:
    acd = soak_controller(asterisk, tmp_path / "acd", SHORT)
    try:
        result = await run_soak(acd, probe, SHORT)
    finally:
        await acd.close()
    print(result.table())
    assert len(result.kills) == 1
    assert result.live_calls_at_end == 0
    assert result.agents_inconsistent == []
    assert result.open_records == 0
    assert result.calls_without_one_final_record == []
    for name, row in result.counts.items():
        assert len(set(row.values())) == 1, (name, row)
    assert result.calls_with_records >= 0.9 * result.originated

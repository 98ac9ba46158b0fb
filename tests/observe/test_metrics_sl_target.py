"""acd_service_level_target_ratio{queue}: each queue's objective (its sl_target), beside the
service level it is held against; it follows the queue's changes and leaves with it."""

from __future__ import annotations

from recording_rig import Rig

from acd.router.events import QueueRemoved, QueueUpserted
from acd.router.model import QueueConfig

TARGET = "acd_service_level_target_ratio"


def _target(rig: Rig, queue: str) -> float | None:
    return rig.metrics.registry.get_sample_value(TARGET, {"queue": queue})


async def test_the_objective_follows_the_queue(rig: Rig) -> None:
    await rig.at(0, lambda now: QueueUpserted(now, QueueConfig("support", sl_target=0.9)))
    await rig.at(0, lambda now: QueueUpserted(now, QueueConfig("sales")))
    assert (_target(rig, "support"), _target(rig, "sales")) == (0.9, 0.8)

    await rig.at(1, lambda now: QueueUpserted(now, QueueConfig("support", sl_target=0.95)))
    assert _target(rig, "support") == 0.95

    await rig.at(2, lambda now: QueueRemoved(now, "support"))
    assert _target(rig, "support") is None
    assert _target(rig, "sales") == 0.8


async def test_the_series_is_described_for_prometheus(rig: Rig) -> None:
    await rig.at(0, lambda now: QueueUpserted(now, QueueConfig("support")))
    families = {family.name: family for family in rig.metrics.registry.collect()}
    assert families[TARGET].type == "gauge"

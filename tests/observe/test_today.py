"""Today's figures (GET /stats/queues `today`): since local midnight, by entry into the queue,
rolled over at midnight and kept across a restart — the real Router, Engine and SQLite store
(`acd.compose.observe`'s wiring), with a hand-driven clock around a midnight in Berlin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from recording_rig import FakeClock, Rig, build_rig, close_rig

from acd.observe.reports import Reports
from acd.observe.today import local_midnight
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    CallEnded,
    OfferAnswered,
    QueueUpserted,
)
from acd.router.model import QueueConfig

BERLIN = ZoneInfo("Europe/Berlin")
#: Midnight that began 2026-06-10 in Berlin (CEST, UTC+2).
MIDNIGHT = datetime(2026, 6, 10, tzinfo=BERLIN).timestamp()
SUPPORT = QueueConfig("support", skills={"support": 1}, wrap_up=0, short_abandon=5)
QUIET_DAY = {"offered": 0, "answered": 0, "abandoned": 0, "short_abandoned": 0,
             "transferred": 0, "asa": None}  # fmt: skip


@pytest.fixture(autouse=True)
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _today(rig: Rig) -> dict[str, object]:
    return rig.observers.today.figures("support", rig.clock.now)


async def _evening(rig: Rig) -> None:
    """Offsets from midnight: three calls before it, one still waiting across it."""
    await rig.at(-300, lambda now: QueueUpserted(now, SUPPORT))
    await rig.at(-300, lambda now: AgentUpserted(now, "1001", {"support": 1}))
    await rig.at(-300, lambda now: CallArrived(now, "c1", "support"))
    await rig.at(-290, lambda now: AgentLoggedIn(now, "1001"))
    await rig.at(-280, lambda now: OfferAnswered(now, "c1", "1001"))  # waited 20 s
    await rig.at(-200, lambda now: CallArrived(now, "c2", "support"))
    await rig.at(-190, lambda now: CallAbandoned(now, "c2"))  # lost after 10 s
    await rig.at(-60, lambda now: CallArrived(now, "c3", "support"))  # waits into the night
    await rig.writer.flush()


async def _rig_at(tmp_path: Path, clock: FakeClock, offset: float) -> Rig:
    clock.now = MIDNIGHT + offset
    rig = await build_rig(tmp_path, clock)
    rig.start = MIDNIGHT
    return rig


def test_local_midnight_follows_the_zone_and_its_daylight_saving() -> None:
    assert local_midnight(MIDNIGHT + 13 * 3600) == MIDNIGHT
    assert local_midnight(MIDNIGHT) == MIDNIGHT
    assert local_midnight(MIDNIGHT - 1) == MIDNIGHT - 86_400
    # 2026-03-29 lost an hour at 02:00: that day began at 00:00 CET and lasted 23 hours.
    spring = datetime(2026, 3, 29, tzinfo=BERLIN).timestamp()
    assert local_midnight(spring + 22 * 3600) == spring
    assert local_midnight(spring + 23 * 3600) == spring + 23 * 3600


async def test_today_rolls_over_at_midnight_and_counts_visits_by_their_entry(
    tmp_path: Path,
) -> None:
    rig = await _rig_at(tmp_path, FakeClock(), -400)
    try:
        await _evening(rig)
        assert _today(rig) == {"offered": 3, "answered": 1, "abandoned": 1,
                               "short_abandoned": 0, "transferred": 0, "asa": 20.0,
                               "since": MIDNIGHT - 86_400}  # fmt: skip

        rig.clock.now = MIDNIGHT + 5  # nothing happened since midnight: read lazily
        assert _today(rig) == {**QUIET_DAY, "since": MIDNIGHT}
        # c3 entered yesterday: its answer is yesterday's too (as in the interval report).
        await rig.at(10, lambda now: CallEnded(now, "c1"))
        await rig.at(20, lambda now: OfferAnswered(now, "c3", "1001"))
        await rig.at(30, lambda now: CallArrived(now, "c4", "support"))
        await rig.at(32, lambda now: CallAbandoned(now, "c4"))  # a short abandon
        await rig.at(40, lambda now: CallEnded(now, "c3"))
        await rig.at(50, lambda now: CallArrived(now, "c5", "support"))
        await rig.at(56, lambda now: OfferAnswered(now, "c5", "1001"))
        await rig.at(60, lambda now: CallArrived(now, "c6", "support"))
        await rig.at(75, lambda now: CallAbandoned(now, "c6"))
        today = _today(rig)
        assert today == {"offered": 3, "answered": 1, "abandoned": 1, "short_abandoned": 1,
                         "transferred": 0, "asa": 6.0, "since": MIDNIGHT}  # fmt: skip

        await rig.writer.flush()
        report = await Reports(rig.database.records, rig.clock).queue_report(
            MIDNIGHT, rig.clock.now, 3600
        )
        [totals] = report["totals"]
        assert {key: totals[key] for key in QUIET_DAY} == {key: today[key] for key in QUIET_DAY}
    finally:
        await close_rig(rig)


async def test_a_restart_keeps_todays_figures_and_not_yesterdays(tmp_path: Path) -> None:
    clock = FakeClock()
    first = await _rig_at(tmp_path, clock, -400)
    try:
        await _evening(first)
        await first.at(30, lambda now: CallArrived(now, "c4", "support"))
        await first.at(45, lambda now: CallAbandoned(now, "c4"))
        await first.at(50, lambda now: CallArrived(now, "c5", "support"))
        await first.at(52, lambda now: CallAbandoned(now, "c5"))
        before = _today(first)
        assert before == {"offered": 2, "answered": 0, "abandoned": 1, "short_abandoned": 1,
                          "transferred": 0, "asa": None, "since": MIDNIGHT}  # fmt: skip
    finally:
        await close_rig(first)

    second = await _rig_at(tmp_path, clock, 3600)  # an hour later, the same day
    try:
        assert _today(second) == before
        await second.at(3600, lambda now: QueueUpserted(now, SUPPORT))  # the rig has no store
        await second.at(3600, lambda now: CallArrived(now, "c6", "support"))
        assert _today(second)["offered"] == 3
    finally:
        await close_rig(second)

    third = await _rig_at(tmp_path, clock, 86_400 + 60)  # the next day
    try:
        assert _today(third) == {**QUIET_DAY, "since": MIDNIGHT + 86_400}
    finally:
        await close_rig(third)

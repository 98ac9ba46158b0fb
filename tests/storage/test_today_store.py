"""Today's figures (`acd.observe.today`) restored from the records stored on SQLite and on the
real PostgreSQL server: what a restart finds is today's visits, not yesterday's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from acd.observe.today import TodayCounts
from acd.storage import CallRecord, Database

BERLIN = ZoneInfo("Europe/Berlin")
MIDNIGHT = datetime(2026, 3, 29, tzinfo=BERLIN).timestamp()  # the day clocks go forward


@pytest.fixture(autouse=True)
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def visit(row_id: str, entered: float, **changes: object) -> CallRecord:
    record = CallRecord(
        id=row_id,
        call_id=row_id,
        leg=0,
        queue="support",
        priority=0,
        arrived=entered,
        entered=entered,
        sl_threshold=20.0,
        short_abandon=5.0,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


async def test_a_restart_counts_todays_stored_visits_only(database: Database) -> None:
    records = [
        # yesterday: answered, and one entered before midnight, answered after it
        visit("y1", MIDNIGHT - 600, answered=MIDNIGHT - 590, wait=10.0, outcome="answered"),
        visit("y2", MIDNIGHT - 5, answered=MIDNIGHT + 5, wait=10.0, outcome="answered"),
        # today: two answered, one lost, one short abandon, one still waiting
        visit("t1", MIDNIGHT + 60, answered=MIDNIGHT + 64, wait=4.0, outcome="answered"),
        visit("t2", MIDNIGHT + 120, answered=MIDNIGHT + 128, wait=8.0, outcome="answered"),
        visit("t3", MIDNIGHT + 180, ended=MIDNIGHT + 210, wait=30.0, outcome="abandoned"),
        visit("t4", MIDNIGHT + 240, ended=MIDNIGHT + 242, wait=2.0, outcome="short_abandoned"),
        visit("t5", MIDNIGHT + 300),
    ]
    await database.records.save(records)
    now = MIDNIGHT + 3600

    today = TodayCounts()
    today.restore(await database.records.all_calls(), now)
    assert today.figures("support", now) == {
        "offered": 5,
        "answered": 2,
        "abandoned": 1,
        "short_abandoned": 1,
        "transferred": 0,
        "asa": 6.0,
        "since": MIDNIGHT,
    }

    tomorrow = datetime(2026, 3, 30, tzinfo=BERLIN).timestamp()  # 23 hours later
    later = TodayCounts()
    later.restore(await database.records.all_calls(), tomorrow + 1)
    assert later.figures("support", tomorrow + 1)["offered"] == 0
    assert later.figures("support", tomorrow + 1)["since"] == tomorrow

"""Interval reports and live stats over the scripted run, against hand-computed figures."""

from __future__ import annotations

import pytest
from recording_rig import Rig
from test_recorded_run import play_script

from acd.errors import Invalid
from acd.observe.reports import Reports
from acd.observe.stats import QueueStats
from acd.router.events import CallArrived

NO_SERVICE_LEVEL = {"ignore_abandons": None, "abandons_against": None, "abandons_for": None}


async def test_queue_report_by_interval(rig: Rig) -> None:
    await play_script(rig)
    reports = Reports(rig.database.records, rig.clock)
    s = rig.start
    report = await reports.queue_report(s, s + 900, 300)

    rows = {(row["queue"], row["from"] - s): row for row in report["queues"]}
    assert sorted(rows) == [(q, t) for q in ("sales", "support") for t in (0, 300, 600)]
    support = rows[("support", 0)]
    assert {k: support[k] for k in support if k not in ("from", "to", "queue")} == {
        "offered": 5,
        "answered": 2,
        "answered_within_threshold": 1,
        "abandoned": 1,
        "short_abandoned": 1,
        "overflowed": 1,
        "exited": 0,
        "transferred": 0,
        "service_level": {
            "ignore_abandons": 0.5,
            "abandons_against": pytest.approx(1 / 3),
            "abandons_for": pytest.approx(2 / 3),
        },
        "asa": 32.0,  # (4 + 60) / 2
        "aht": 70.5,  # ((60 + 5) + (71 + 5)) / 2
        "longest_wait": 60.0,
    }
    sales = rows[("sales", 0)]
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (2, 1, 1)
    assert sales["service_level"] == {
        "ignore_abandons": 0.0,
        "abandons_against": 0.0,
        "abandons_for": 0.5,
    }
    assert (sales["asa"], sales["aht"], sales["longest_wait"]) == (42.0, 33.0, 42.0)
    empty = rows[("support", 300)]
    assert (empty["offered"], empty["asa"], empty["longest_wait"]) == (0, None, None)
    assert empty["service_level"] == NO_SERVICE_LEVEL
    assert [t["queue"] for t in report["totals"]] == ["sales", "support"]
    assert report["totals"][1]["offered"] == 5

    agents = {a["agent"]: a for a in report["agents"]}
    ada = agents["1001"]
    assert (ada["calls"], ada["talk"], ada["wrap_up"]) == (2, 131.0, 10.0)
    assert ada["states"] == {
        "available": 10.0,
        "reserved": 5.0,
        "busy": 131.0,
        "wrap_up": 10.0,
        "paused": 24.0,
    }
    assert ada["pause"] == {"lunch": 24.0}
    assert ada["occupancy"] == pytest.approx(146 / 156)
    bob = agents["1002"]  # still available at the report's "now" (186 s): open interval
    assert bob["pause"] == {"rona": 25.0}
    assert bob["staffed"] == 51.0
    assert bob["occupancy"] == pytest.approx(40 / 51)

    with pytest.raises(Invalid):
        await reports.queue_report(s, s, 900)


async def test_live_queue_stats(rig: Rig) -> None:
    await play_script(rig)
    await rig.at(190, lambda now: CallArrived(now, "c8", "support"))
    rig.clock.now = rig.start + 200
    stats = {
        row["queue"]: row
        for row in QueueStats(rig.router, rig.metrics, rig.observers.today, rig.clock).queue_stats()
    }
    support = stats["support"]
    assert (support["waiting"], support["ringing"], support["connected"]) == (1, 0, 0)
    assert support["oldest_wait"] == 10.0
    assert support["agents"]["logged_out"] == 1
    assert support["agents"]["available"] == 0
    assert support["service_level"]["abandons_against"] == pytest.approx(1 / 3)
    assert support["totals"]["offered"] == 6
    assert support["totals"]["short_abandoned"] == 1
    sales = stats["sales"]
    assert sales["agents"]["available"] == 1
    assert sales["window"] == {
        "answered_within": 0,
        "answered_after": 1,
        "abandoned_within": 1,
        "abandoned_after": 0,
    }

from __future__ import annotations

from api_support import Api

from acd.compose import Assembly
from acd.router.events import CallArrived, CallEnded, OfferAnswered


async def _answered_call(api: Api, assembly: Assembly, call_id: str) -> None:
    await assembly.engine.submit(lambda now: CallArrived(now, call_id, "support"))
    await api.post("/api/v1/agents/1001/login")
    await assembly.engine.submit(lambda now: OfferAnswered(now, call_id, "1001"))
    await assembly.engine.submit(lambda now: CallEnded(now, call_id))


async def test_live_stats_per_queue(api: Api, assembly: Assembly) -> None:
    await assembly.engine.submit(lambda now: CallArrived(now, "w1", "sales"))
    await _answered_call(api, assembly, "a1")
    status, stats = await api.get("/api/v1/stats/queues")
    assert status == 200
    by_queue = {s["queue"]: s for s in stats}
    assert set(by_queue) == {"sales", "support"}
    assert by_queue["sales"]["waiting"] == 1
    assert by_queue["support"]["totals"]["answered"] == 1
    assert by_queue["support"]["service_level"]["ignore_abandons"] == 1.0


async def test_interval_report_includes_a_call_that_just_ended(
    api: Api, assembly: Assembly
) -> None:
    start = assembly.engine.now()
    await _answered_call(api, assembly, "a1")
    end = int(assembly.engine.now()) + 60
    status, report = await api.get(f"/api/v1/reports/queues?from={start - 1}&to={end}&interval=60")
    assert status == 200
    totals = {row["queue"]: row for row in report["totals"]}
    assert totals["support"]["offered"] == 1
    assert totals["support"]["answered"] == 1
    assert sum(row["answered"] for row in report["queues"]) == 1

    status, report = await api.get(
        "/api/v1/reports/queues?from=2000-01-01T00:00:00&to=2000-01-02T00:00:00Z"
    )
    assert (status, report["totals"], report["interval"]) == (200, [], 900)

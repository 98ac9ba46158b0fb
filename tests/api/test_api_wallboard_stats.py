"""GET /api/v1/stats/queues: what the wallboard shows beyond the live KPIs — today's figures
since local midnight, restored at a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from api_support import Api, make_settings

from acd.compose import Assembly, assemble
from acd.observe.today import local_midnight
from acd.router.events import CallAbandoned, CallArrived, OfferAnswered


async def _stats(api: Api) -> dict[str, dict[str, Any]]:
    status, stats = await api.get("/api/v1/stats/queues")
    assert status == 200
    return {row["queue"]: row for row in stats}


async def _todays_calls(api: Api, assembly: Assembly) -> None:
    engine = assembly.engine
    await engine.submit(lambda now: CallArrived(now, "a1", "support"))
    await api.post("/api/v1/agents/1001/login")
    await engine.submit(lambda now: OfferAnswered(now, "a1", "1001"))
    await engine.submit(lambda now: CallArrived(now, "s1", "support"))
    await engine.submit(lambda now: CallAbandoned(now, "s1"))  # at once: a short abandon
    await engine.submit(lambda now: CallArrived(now, "w1", "sales"))


async def test_today_counts_the_calls_since_local_midnight(api: Api, assembly: Assembly) -> None:
    await _todays_calls(api, assembly)
    stats = await _stats(api)
    support = stats["support"]["today"]
    assert {k: support[k] for k in ("offered", "answered", "abandoned", "short_abandoned")} == {
        "offered": 2,
        "answered": 1,
        "abandoned": 0,
        "short_abandoned": 1,
    }
    assert support["asa"] is not None
    assert 0 <= support["asa"] < 5
    assert support["since"] == local_midnight(assembly.engine.now())
    assert stats["sales"]["today"] == {"offered": 1, "answered": 0, "abandoned": 0,
                                       "short_abandoned": 0, "transferred": 0, "asa": None,
                                       "since": support["since"]}  # fmt: skip


async def test_a_restart_keeps_todays_figures(tmp_path: Path) -> None:
    before: dict[str, Any] = {}
    for run in range(2):
        assembly = await assemble(make_settings(tmp_path))
        client: TestClient[Any, Any] = TestClient(TestServer(assembly.app))
        await client.start_server()
        try:
            api = Api(client)
            if run == 0:
                await _todays_calls(api, assembly)
                await assembly.writer.flush()  # type: ignore[union-attr]
                before.update({q: s["today"] for q, s in (await _stats(api)).items()})
            else:
                after = {q: s["today"] for q, s in (await _stats(api)).items()}
                assert after == before
                assert after["support"]["offered"] == 2
        finally:
            await client.close()
            await assembly.close()


async def test_each_queue_brings_its_objective_and_its_pause_reasons(api: Api) -> None:
    reasons = [{"code": "1", "label": "Lunch"}, {"code": "coach", "label": "Coaching"}]
    status, _ = await api.put(
        "/api/v1/queues/support",
        {"skills": {"support": 1}, "sl_target": 0.9, "pause_reasons": reasons},
    )
    assert status == 200
    stats = await _stats(api)
    assert (stats["support"]["sl_target"], stats["support"]["pause_reasons"]) == (0.9, reasons)
    assert (stats["sales"]["sl_target"], stats["sales"]["pause_reasons"]) == (0.8, [])

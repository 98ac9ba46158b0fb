from __future__ import annotations

from api_support import Api

from acd.compose import Assembly
from acd.router.events import CallArrived, CallEnded, OfferAnswered
from acd.storage import CallRecord

C = "/api/v1/calls"


async def test_live_calls_with_positions(api: Api, assembly: Assembly) -> None:
    status, calls = await api.get(C)
    assert (status, calls) == (200, [])
    for call_id in ("c1", "c2"):
        await assembly.engine.submit(lambda now, c=call_id: CallArrived(now, c, "support"))
    await api.post("/api/v1/agents/1001/login")  # takes c1

    status, calls = await api.get(C)
    assert status == 200
    by_id = {c["id"]: c for c in calls}
    assert by_id["c1"]["state"] == "offered"
    assert by_id["c1"]["agent_id"] == "1001"
    assert by_id["c1"]["position"] is None
    assert by_id["c1"]["answered_at"] is None  # ringing: not answered yet
    assert (by_id["c2"]["state"], by_id["c2"]["position"]) == ("waiting", 1)

    status, call = await api.get(f"{C}/c2")
    assert (status, call["live"], call["queue"]) == (200, True, "support")


async def test_finished_call_from_the_records(api: Api, assembly: Assembly) -> None:
    record = CallRecord(
        id="r1", call_id="done-1", leg=0, queue="support", priority=0, arrived=100.0,
        entered=100.0, sl_threshold=20.0, short_abandon=5.0, answered=104.0, ended=160.0,
        agent_id="1001", outcome="answered", wait=4.0, talk=56.0, caller_data="order 42",
    )  # fmt: skip
    await assembly.database.records.save([record])
    status, call = await api.get(f"{C}/done-1")
    assert status == 200
    assert (call["live"], call["outcome"], call["caller_data"]) == (False, "answered", "order 42")
    assert [leg["queue"] for leg in call["legs"]] == ["support"]


async def test_unknown_call_is_404(api: Api) -> None:
    status, error = await api.get(f"{C}/nope")
    assert (status, error["error"]["code"]) == (404, "unknown_call")


async def test_a_call_is_live_then_finished(api: Api, assembly: Assembly) -> None:
    assert assembly.recorder is not None
    assembly.recorder.caller_data("c9", "vip customer")
    await assembly.engine.submit(lambda now: CallArrived(now, "c9", "support"))
    status, call = await api.get(f"{C}/c9")
    assert (call["state"], call["position"]) == ("waiting", 1)
    assert call["caller"]["caller_data"] == "vip customer"

    await api.post("/api/v1/agents/1001/login")
    await assembly.engine.submit(lambda now: OfferAnswered(now, "c9", "1001"))
    status, call = await api.get(f"{C}/c9")
    assert (call["live"], call["state"], call["agent_id"]) == (True, "connected", "1001")
    answered = assembly.engine.router.call("c9").answered_at  # type: ignore[union-attr]
    assert answered is not None
    assert call["answered_at"] == answered
    await assembly.engine.submit(lambda now: CallEnded(now, "c9"))

    status, call = await api.get(f"{C}/c9")
    assert status == 200
    assert (call["live"], call["outcome"], call["agent_id"]) == (False, "answered", "1001")
    assert call["caller_data"] == "vip customer"
    status, calls = await api.get(C)
    assert calls == []

"""A warm transfer through the real Router + Engine + CallRecorder (recording_rig.py): the
consultation is no caller's visit — no record, no queue_log line, no count — and once the
transfer completes the call's first visit ends answered and transferred (ATTENDEDTRANSFER)
and its next visit is what the consultation was: entered, offered and answered by the
specialist then. A cancelled consultation leaves nothing."""

from __future__ import annotations

from recording_rig import Rig

from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    CallEnded,
    OfferAnswered,
    QueueUpserted,
    TransferCompleted,
)
from acd.router.model import QueueConfig

SUPPORT = QueueConfig("support", skills={"support": 1}, sl_threshold=20, wrap_up=5)
SALES = QueueConfig("sales", skills={"sales": 1}, sl_threshold=30, wrap_up=5)


def sample(rig: Rig, name: str, **labels: str) -> float:
    return rig.metrics.registry.get_sample_value(name, labels) or 0.0


async def consulting(rig: Rig) -> None:
    """c1 in support answered by 1001 at 14; at 30 1001 consults sales: k1 enters there,
    is offered to 1002 and answered at 36."""
    await rig.at(0, lambda now: QueueUpserted(now, SUPPORT))
    await rig.at(0, lambda now: QueueUpserted(now, SALES))
    await rig.at(0, lambda now: AgentUpserted(now, "1001", {"support": 5}))
    await rig.at(0, lambda now: AgentUpserted(now, "1002", {"sales": 5}))
    await rig.at(0, lambda now: AgentLoggedIn(now, "1001"))
    await rig.at(0, lambda now: AgentLoggedIn(now, "1002"))
    rig.recorder.caller_data("c1", "account 42")
    await rig.at(10, lambda now: CallArrived(now, "c1", "support"))
    await rig.at(14, lambda now: OfferAnswered(now, "c1", "1001"))
    rig.recorder.consult_started("k1", "c1")
    await rig.at(30, lambda now: CallArrived(now, "k1", "sales"))
    await rig.at(36, lambda now: OfferAnswered(now, "k1", "1002"))


async def test_a_completed_warm_transfer_is_two_legs_of_one_call(rig: Rig) -> None:
    s = int(rig.start)
    await consulting(rig)
    await rig.at(50, lambda now: TransferCompleted(now, "c1", "k1"))
    await rig.tick(55)  # 1001's wrap-up ends
    rig.recorder.hung_up_by("c1", "caller")
    await rig.at(90, lambda now: CallEnded(now, "c1"))
    await rig.tick(95)
    await rig.writer.flush()

    legs = await rig.database.records.call_legs("c1")
    assert [(leg.leg, leg.queue, leg.outcome, leg.agent_id) for leg in legs] == [
        (0, "support", "answered", "1001"),
        (1, "sales", "answered", "1002"),
    ]
    first, second = legs
    t = rig.start
    assert (first.transferred_to, first.wait, first.talk, first.wrap_up) == ("sales", 4, 36, 5)
    assert (second.entered, second.offered, second.answered) == (t + 30, t + 30, t + 36)
    # The specialist talks from its answer: the consultation, then the caller.
    assert (second.wait, second.talk, second.caller_data) == (6, 54, "account 42")
    assert await rig.database.records.call_legs("k1") == []
    lines = [line for line in rig.queue_log() if int(line.split("|")[0]) >= s + 30]
    assert lines == [
        f"{s + 50}|c1|support|1001|ATTENDEDTRANSFER|BRIDGE|sales|4|36|1",
        f"{s + 30}|c1|sales|NONE|ENTERQUEUE|||1",
        f"{s + 36}|c1|sales|1002|CONNECT|6||6",
        f"{s + 90}|c1|sales|1002|COMPLETECALLER|6|54|1",
    ]
    assert not any("|k1|" in line for line in rig.queue_log())
    assert sample(rig, "acd_calls_offered_total", queue="sales") == 1
    assert sample(rig, "acd_calls_answered_total", queue="sales") == 1
    assert sample(rig, "acd_calls_transferred_total", queue="support") == 1


async def test_a_cancelled_consultation_leaves_no_record_and_no_count(rig: Rig) -> None:
    await consulting(rig)
    await rig.at(40, lambda now: CallEnded(now, "k1"))  # cancelled after the answer
    rig.recorder.consult_started("k2", "c1")
    await rig.at(41, lambda now: CallArrived(now, "k2", "sales"))  # 1002 in wrap-up: waits
    await rig.at(42, lambda now: CallAbandoned(now, "k2", "consult_cancelled"))
    await rig.at(60, lambda now: CallEnded(now, "c1"))
    await rig.tick(70)
    await rig.writer.flush()
    legs = await rig.database.records.call_legs("c1")
    assert [(leg.queue, leg.outcome, leg.transferred_to) for leg in legs] == [
        ("support", "answered", None)
    ]
    for consult in ("k1", "k2"):
        assert await rig.database.records.call_legs(consult) == []
    assert not any("|k1|" in line or "|k2|" in line for line in rig.queue_log())
    for name in ("acd_calls_offered_total", "acd_calls_abandoned_total"):
        assert sample(rig, name, queue="sales") == 0
    assert sample(rig, "acd_calls_short_abandoned_total", queue="sales") == 0

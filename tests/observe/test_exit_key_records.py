"""A caller who left by the queue's exit key: the record says `exited` with exit_reason
`exit_key` and the key, the queue_log line is app_queue's EXITWITHKEY|key|position|origposition|
waittime, and it counts as no lost call (nor a short abandon): it is the caller's choice of
another service, counted nowhere in the service level, as app_queue does.

The rig: the observers as `acd serve` wires them (recording_rig.py), a hand-driven clock."""

from __future__ import annotations

import pytest
from recording_rig import Rig

from acd.observe.happenings import VisitEnded
from acd.observe.queue_log import lines_for
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    OfferAnswered,
    QueueUpserted,
)
from acd.router.model import QueueConfig
from acd.storage.record_store import CallRecord

SUPPORT = QueueConfig("support", sl_threshold=20, exit_key="#", exit_target="vm,s,1")


def _sample(rig: Rig, name: str, **labels: str) -> float | None:
    return rig.metrics.registry.get_sample_value(name, labels)


async def test_an_exit_by_key_is_recorded_and_logged_and_is_no_lost_call(rig: Rig) -> None:
    s = int(rig.start)
    await rig.at(0, lambda now: QueueUpserted(now, SUPPORT))
    await rig.at(0, lambda now: AgentUpserted(now, "1001"))
    await rig.at(1, lambda now: CallArrived(now, "c1", "support"))
    await rig.at(2, lambda now: CallArrived(now, "c2", "support"))
    # c2 leaves by the key after 3 s: under short_abandon (5 s), still no short abandon.
    await rig.at(5, lambda now: CallAbandoned(now, "c2", "exit_key"))
    await rig.at(30, lambda now: CallAbandoned(now, "c1"))  # lost, after 29 s
    await rig.at(31, lambda now: CallArrived(now, "c3", "support"))
    await rig.at(31, lambda now: AgentLoggedIn(now, "1001"))
    await rig.at(35, lambda now: OfferAnswered(now, "c3", "1001"))  # answered within 20 s
    await rig.at(36, lambda now: CallArrived(now, "c4", "support"))
    await rig.at(76, lambda now: CallAbandoned(now, "c4", "exit_key"))  # after T: still none
    await rig.writer.flush()

    assert f"{s + 5}|c2|support|NONE|EXITWITHKEY|#|2|2|3" in rig.queue_log()
    assert f"{s + 76}|c4|support|NONE|EXITWITHKEY|#|1|1|40" in rig.queue_log()
    assert [line.split("|")[4] for line in rig.queue_log()].count("ABANDON") == 1  # c1

    c2 = await rig.database.records.get_call("c2")
    assert c2 is not None
    assert (c2.outcome, c2.exit_reason, c2.exit_key, c2.wait) == ("exited", "exit_key", "#", 3)
    assert c2.ended == rig.start + 5

    for name, value in {
        "acd_calls_offered_total": 4,
        "acd_calls_answered_total": 1,
        "acd_calls_abandoned_total": 1,  # c1 only
        "acd_calls_short_abandoned_total": 0,
    }.items():
        assert _sample(rig, name, queue="support") == value, name
    assert _sample(rig, "acd_wait_seconds_count", queue="support", outcome="abandoned") == 1
    # A_in = 1 (c3), B_out = 1 (c1); the exits count in no treatment.
    for treatment, value in {
        "ignore_abandons": 1 / 2,
        "abandons_against": 1 / 2,
        "abandons_for": 1 / 2,
    }.items():
        got = _sample(rig, "acd_service_level_ratio", queue="support", treatment=treatment)
        assert got == pytest.approx(value), treatment


def test_the_exitwithkey_line_has_app_queue_s_fields() -> None:
    record = CallRecord(
        "r1", "c9", 0, "support", 0, 100.0, 100.0, 20.0, 5.0,
        ended=112.4, outcome="exited", exit_reason="exit_key", exit_key="*", wait=12.4,
    )  # fmt: skip
    assert list(lines_for(VisitEnded(112.4, record, 3))) == [
        "112|c9|support|NONE|EXITWITHKEY|*|3|3|12"
    ]

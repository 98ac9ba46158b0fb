"""A scripted day through the real Router + Engine: records, queue_log and metrics must agree
call for call with numbers computed by hand from the script (offsets in seconds)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from recording_rig import FakeClock, Rig, build_rig, close_rig

from acd.router.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentUnpaused,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    CallEnded,
    OfferAnswered,
    OfferFailed,
    QueueUpserted,
)
from acd.router.model import QueueConfig

SUPPORT = QueueConfig(
    "support",
    skills={"support": 1},
    sl_threshold=20,
    wrap_up=5,
    short_abandon=5,
    max_wait=60,
    overflow="sales",
)
SALES = QueueConfig("sales", skills={"sales": 1}, sl_threshold=20, wrap_up=5, max_wait=None)


async def play_script(rig: Rig) -> None:
    await rig.at(0, lambda now: QueueUpserted(now, SUPPORT))
    await rig.at(0, lambda now: QueueUpserted(now, SALES))
    await rig.at(0, lambda now: AgentUpserted(now, "1001", {"support": 5}))
    await rig.at(0, lambda now: AgentUpserted(now, "1002", {"sales": 5}))
    await rig.at(0, lambda now: AgentLoggedIn(now, "1001"))
    rig.recorder.caller_data("c1", "account 42")  # before the call reaches the router
    await rig.at(10, lambda now: CallArrived(now, "c1", "support"))
    await rig.at(14, lambda now: OfferAnswered(now, "c1", "1001"))
    await rig.at(20, lambda now: CallArrived(now, "c2", "support"))
    await rig.at(22, lambda now: CallArrived(now, "c3", "support"))
    await rig.at(24, lambda now: CallAbandoned(now, "c3"))
    await rig.tick(30)
    rig.recorder.callback_requested("c2")
    rig.recorder.callback_requested("c2")  # a second press counts once
    await rig.at(40, lambda now: CallArrived(now, "c4", "support"))
    rig.recorder.hung_up_by("c1", "agent")
    await rig.at(74, lambda now: CallEnded(now, "c1"))
    await rig.tick(79)  # 1001's wrap-up ends: it takes c2
    await rig.at(80, lambda now: OfferAnswered(now, "c2", "1001"))
    await rig.tick(100)  # c4 has waited max_wait in support: overflow to sales
    await rig.at(110, lambda now: AgentLoggedIn(now, "1002"))
    await rig.at(115, lambda now: OfferFailed(now, "c4", "1002"))
    await rig.at(120, lambda now: CallArrived(now, "c5", "sales"))
    await rig.at(135, lambda now: CallAbandoned(now, "c5"))
    await rig.at(140, lambda now: AgentUnpaused(now, "1002"))
    await rig.at(142, lambda now: OfferAnswered(now, "c4", "1002"))
    await rig.at(150, lambda now: AgentPaused(now, "1001", "lunch"))  # deferred: busy
    await rig.at(151, lambda now: CallEnded(now, "c2"))
    await rig.at(152, lambda now: CallArrived(now, "c6", "support"))
    await rig.tick(156)  # wrap-up ends, the pending pause applies
    await rig.at(160, lambda now: CallAbandoned(now, "c6"))
    rig.recorder.hung_up_by("c4", "caller")
    await rig.at(170, lambda now: CallEnded(now, "c4"))
    await rig.tick(175)
    await rig.at(180, lambda now: AgentLoggedOut(now, "1001"))
    await rig.at(185, lambda now: CallArrived(now, "c7", "nope"))  # unknown queue
    # Things the recorder must shrug off: unknown ids, outcomes for calls it never saw.
    await rig.at(186, lambda now: CallEnded(now, "ghost"))
    await rig.at(186, lambda now: OfferAnswered(now, "ghost", "1001"))
    rig.recorder.callback_requested("ghost")
    rig.recorder.hung_up_by("ghost", "agent")
    await rig.writer.flush()


def expected_queue_log(s: int) -> list[str]:
    return [
        f"{s}|NONE|NONE|1001|ADDMEMBER|",
        f"{s + 10}|c1|support|NONE|ENTERQUEUE|||1",
        f"{s + 14}|c1|support|1001|CONNECT|4||4",
        f"{s + 20}|c2|support|NONE|ENTERQUEUE|||1",
        f"{s + 22}|c3|support|NONE|ENTERQUEUE|||2",
        f"{s + 24}|c3|support|NONE|ABANDON|2|2|2",
        f"{s + 40}|c4|support|NONE|ENTERQUEUE|||2",
        f"{s + 74}|c1|support|1001|COMPLETEAGENT|4|60|1",
        f"{s + 80}|c2|support|1001|CONNECT|60||1",
        f"{s + 100}|c4|support|NONE|EXITWITHTIMEOUT|2|2|60",
        f"{s + 100}|c4|sales|NONE|ENTERQUEUE|||1",
        f"{s + 110}|NONE|NONE|1002|ADDMEMBER|",
        f"{s + 115}|c4|sales|1002|RINGNOANSWER|5000",
        f"{s + 115}|NONE|NONE|1002|PAUSE|rona",
        f"{s + 120}|c5|sales|NONE|ENTERQUEUE|||2",
        f"{s + 135}|c5|sales|NONE|ABANDON|2|2|15",
        f"{s + 140}|NONE|NONE|1002|UNPAUSE|rona",
        f"{s + 142}|c4|sales|1002|CONNECT|42||2",
        f"{s + 151}|c2|support|1001|COMPLETECALLER|60|71|1",
        f"{s + 152}|c6|support|NONE|ENTERQUEUE|||1",
        f"{s + 156}|NONE|NONE|1001|PAUSE|lunch",
        f"{s + 160}|c6|support|NONE|ABANDON|1|1|8",
        f"{s + 170}|c4|sales|1002|COMPLETECALLER|42|28|1",
        f"{s + 180}|NONE|NONE|1001|REMOVEMEMBER|",
    ]


# Hand-computed from the script. support: c1 answered after 4 s (within 20), c2 after 60 s,
# c3 left after 2 s (short), c4 overflowed after 60 s, c6 left after 8 s (lost, within 20).
# sales: c4 (entered at 100) answered after 42 s, c5 abandoned after 15 s.
COUNTERS = {
    "acd_calls_offered_total": {"support": 5, "sales": 2},
    "acd_calls_answered_total": {"support": 2, "sales": 1},
    "acd_calls_answered_within_threshold_total": {"support": 1, "sales": 0},
    "acd_calls_abandoned_total": {"support": 1, "sales": 1},
    "acd_calls_short_abandoned_total": {"support": 1, "sales": 0},
    "acd_calls_overflowed_total": {"support": 1, "sales": 0},
    "acd_calls_callback_requested_total": {"support": 1, "sales": 0},
}
SERVICE_LEVEL = {
    ("support", "ignore_abandons"): 1 / 2,  # c6 (B_in) counts neither way
    ("support", "abandons_against"): 1 / 3,
    ("support", "abandons_for"): 2 / 3,
    ("sales", "ignore_abandons"): 0 / 1,  # B_in does not count against, nor for
    ("sales", "abandons_against"): 0 / 2,
    ("sales", "abandons_for"): 1 / 2,
}
HISTOGRAMS = {  # (name, labels): (count, sum)
    ("acd_wait_seconds", ("support", "answered")): (2, 64.0),
    ("acd_wait_seconds", ("sales", "answered")): (1, 42.0),
    ("acd_wait_seconds", ("support", "abandoned")): (1, 8.0),
    ("acd_wait_seconds", ("sales", "abandoned")): (1, 15.0),
    ("acd_talk_seconds", ("support",)): (2, 131.0),
    ("acd_talk_seconds", ("sales",)): (1, 28.0),
    ("acd_handle_seconds", ("support",)): (2, 141.0),  # (60 + 5) + (71 + 5)
    ("acd_handle_seconds", ("sales",)): (1, 33.0),
}


def sample(rig: Rig, name: str, **labels: str) -> float | None:
    return rig.metrics.registry.get_sample_value(name, labels)


def assert_counters_and_histograms(rig: Rig, still_waiting: int = 0) -> None:
    for name, per_queue in COUNTERS.items():
        for queue, value in per_queue.items():
            if name == "acd_calls_offered_total" and queue == "support":
                value += still_waiting
            assert sample(rig, name, queue=queue) == value, (name, queue)
        assert sample(rig, name, queue="nope") is None, name
    for (name, labels), (count, total) in HISTOGRAMS.items():
        label_names = ("queue", "outcome")[: len(labels)]
        named = dict(zip(label_names, labels, strict=True))
        assert sample(rig, f"{name}_count", **named) == count, (name, labels)
        assert sample(rig, f"{name}_sum", **named) == pytest.approx(total), (name, labels)
        assert sample(rig, f"{name}_bucket", **named, le="+Inf") == count
    quick = sample(rig, "acd_wait_seconds_bucket", queue="support", outcome="answered", le="5.0")
    assert quick == 1  # c1's 4 s wait; c2's 60 s falls in a later bucket


async def test_records_queue_log_and_metrics_agree(rig: Rig) -> None:
    await play_script(rig)
    s = int(rig.start)

    assert rig.queue_log() == expected_queue_log(s)
    assert_counters_and_histograms(rig)
    for (queue, treatment), value in SERVICE_LEVEL.items():
        got = sample(rig, "acd_service_level_ratio", queue=queue, treatment=treatment)
        assert got == pytest.approx(value), (queue, treatment)
    assert sample(rig, "acd_agents", state="available") == 1
    assert sample(rig, "acd_agents", state="logged_out") == 1
    assert sample(rig, "acd_agents", state="busy") == 0
    assert sample(rig, "acd_calls_waiting", queue="support") == 0
    assert sample(rig, "acd_oldest_call_wait_seconds", queue="sales") == 0
    # Four offers (c1, c2, c4 twice), each made at the moment that allowed it.
    assert sample(rig, "acd_dispatch_seconds_count") == 4
    assert sample(rig, "acd_dispatch_seconds_sum") == 0
    assert sample(rig, "acd_ami_connected") == 0
    rig.metrics.set_ami_connected(True)
    assert sample(rig, "acd_ami_connected") == 1

    records = rig.database.records
    c1 = await records.get_call("c1")
    assert c1 is not None
    assert (c1.outcome, c1.wait, c1.talk, c1.wrap_up) == ("answered", 4, 60, 5)
    assert (c1.agent_id, c1.caller_data, c1.hung_up_by) == ("1001", "account 42", "agent")
    assert (c1.offered, c1.answered, c1.ended) == (rig.start + 10, rig.start + 14, rig.start + 74)
    c2 = await records.get_call("c2")
    assert c2 is not None
    assert (c2.callback_requested, c2.wait, c2.talk, c2.wrap_up) == (True, 60, 71, 5)
    legs = await records.call_legs("c4")
    assert [(leg.leg, leg.queue, leg.outcome, leg.wait) for leg in legs] == [
        (0, "support", "overflowed", 60),
        (1, "sales", "answered", 42),
    ]
    assert legs[0].overflowed_to == "sales"
    assert (legs[1].rona_count, legs[1].agent_id, legs[1].talk, legs[1].wrap_up) == (
        1,
        "1002",
        28,
        5,
    )
    assert legs[1].arrived == rig.start + 40  # the call's ACD entry survives the overflow
    c3 = await records.get_call("c3")
    c5 = await records.get_call("c5")
    c6 = await records.get_call("c6")
    c7 = await records.get_call("c7")
    assert c3 is not None
    assert (c3.outcome, c3.wait) == ("short_abandoned", 2)
    assert c5 is not None
    assert (c5.outcome, c5.wait) == ("abandoned", 15)
    assert c6 is not None
    assert (c6.outcome, c6.exit_reason, c6.wait) == ("abandoned", "hangup", 8)
    assert c7 is not None
    assert (c7.outcome, c7.exit_reason) == ("exited", "unknown_queue")
    assert await records.get_call("ghost") is None

    # Metrics are the records, counted: the same numbers from the rows.
    rows = await records.all_calls()
    for queue in ("support", "sales"):
        mine = [r for r in rows if r.queue == queue]
        assert len(mine) == COUNTERS["acd_calls_offered_total"][queue]
        answered = [r for r in mine if r.answered is not None]
        assert len(answered) == COUNTERS["acd_calls_answered_total"][queue]
        abandoned = [r for r in mine if r.outcome == "abandoned"]
        assert len(abandoned) == COUNTERS["acd_calls_abandoned_total"][queue]

    intervals = await records.intervals_overlapping(rig.start, rig.start + 1000)
    ada = [
        (i.state, i.reason, i.start - rig.start, i.end) for i in intervals if i.agent_id == "1001"
    ]
    assert [(state, reason, start) for state, reason, start, _ in ada] == [
        ("available", None, 0),
        ("reserved", None, 10),
        ("busy", None, 14),
        ("wrap_up", None, 74),
        ("available", None, 79),  # wrap-up ends, and in the same step c2 is offered
        ("reserved", None, 79),
        ("busy", None, 80),
        ("wrap_up", None, 151),
        ("paused", "lunch", 156),
    ]
    assert ada[-1][3] == rig.start + 180  # closed by the logout
    assert all(end is not None for *_, end in ada)

    detail = await rig.calls.get_call("c4")
    assert detail is not None
    assert detail["queue"] == "sales"
    legs_seen = detail["legs"]
    assert isinstance(legs_seen, list)
    assert [leg["queue"] for leg in legs_seen] == ["support", "sales"]


async def test_a_restart_keeps_the_counters(tmp_path: Path) -> None:
    clock = FakeClock()
    first = await build_rig(tmp_path, clock)
    try:
        await play_script(first)
        await first.engine.submit(lambda now: CallArrived(now, "open", "support"))
    finally:
        await close_rig(first)

    clock.now += 30  # the controller was down for half a minute
    second = await build_rig(tmp_path, clock)
    try:
        second.start = first.start
        assert_counters_and_histograms(second, still_waiting=1)
        for (queue, treatment), value in SERVICE_LEVEL.items():
            got = sample(second, "acd_service_level_ratio", queue=queue, treatment=treatment)
            assert got == pytest.approx(value), (queue, treatment)
        # What the stopped run left open stays open at the restart, pending adoption; the
        # agents' intervals end (restored agents open new ones).
        records = second.database.records
        left_open = await records.get_call("open")
        assert left_open is not None
        assert (left_open.outcome, left_open.ended) == (None, None)
        assert [r.call_id for r in second.recorder.pending_records()] == ["open"]
        intervals = await records.intervals_overlapping(0, math.inf)
        assert all(i.end is not None for i in intervals)
        # Nobody adopted it by the first resync: it ends once, lost, its wait up to then.
        abandoned_before = sample(second, "acd_calls_abandoned_total", queue="support")
        assert second.recorder.close_unadopted(clock.now) == 1
        assert second.recorder.close_unadopted(clock.now) == 0
        await second.writer.flush()
        lost = await records.get_call("open")
        assert lost is not None
        assert (lost.outcome, lost.exit_reason, lost.ended) == (
            "abandoned",
            "lost_unobserved",
            clock.now,
        )
        assert lost.wait == pytest.approx(clock.now - lost.entered)
        assert sample(second, "acd_calls_abandoned_total", queue="support") == (
            abandoned_before + 1
        )
        assert second.queue_log()[-1].endswith("|open|support|NONE|ABANDON|1|1|30")
        # New calls keep counting on top.
        await second.at(clock.now - second.start, lambda now: QueueUpserted(now, SUPPORT))
        await second.engine.submit(lambda now: CallArrived(now, "next", "support"))
        await second.writer.flush()
        assert sample(second, "acd_calls_offered_total", queue="support") == 7
    finally:
        await close_rig(second)

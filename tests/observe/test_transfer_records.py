"""A blind transfer through the real Router + Engine + CallRecorder (the observers as `acd
serve` wires them, recording_rig.py): one call id, one record per queue visit linked by leg;
the first visit answered and transferred (its talk ends at the transfer, the agent's wrap-up
follows), the next one offered in the target queue, its wait counted from the transfer, then
answered, lost or turned away there; app_queue's TRANSFER line then ENTERQUEUE in the target;
`acd_calls_transferred_total` in the source queue, kept across a restart; the report's and
the live stats' `transferred`; the transfer's note on the visit it opens."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from recording_rig import FakeClock, Rig, build_rig, close_rig
from test_recorder_tolerance import QUEUES, random_event

from acd.engine import Step
from acd.observe.happenings import RecordHappening, VisitEnded, VisitOpened
from acd.observe.queue_log import attended_transfer_line, lines_for
from acd.observe.records import CallRecorder
from acd.observe.reports import Reports
from acd.observe.stats import QueueStats
from acd.router.events import (
    AgentLoggedIn,
    AgentPaused,
    AgentUpserted,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    CallTransferred,
    OfferAnswered,
    QueueUpserted,
)
from acd.router.model import CallState, QueueConfig
from acd.storage.record_store import CallRecord
from api.views import finished_call_doc

SUPPORT = QueueConfig("support", skills={"support": 1}, sl_threshold=20, wrap_up=5)
SALES = QueueConfig("sales", skills={"sales": 1}, sl_threshold=30, wrap_up=5, join_empty=False)


def sample(rig: Rig, name: str, **labels: str) -> float | None:
    return rig.metrics.registry.get_sample_value(name, labels)


async def answered_in_support(rig: Rig, *, sales_agent: str = "login") -> None:
    """c1 enters support at 10, 1001 answers at 14 (a 4 s wait); 1002 (sales) logs in and
    stays available, pauses, or is never logged in (`sales_agent` login | pause | none)."""
    await rig.at(0, lambda now: QueueUpserted(now, SUPPORT))
    await rig.at(0, lambda now: QueueUpserted(now, SALES))
    await rig.at(0, lambda now: AgentUpserted(now, "1001", {"support": 5}))
    await rig.at(0, lambda now: AgentUpserted(now, "1002", {"sales": 5}))
    await rig.at(0, lambda now: AgentLoggedIn(now, "1001"))
    if sales_agent != "none":
        await rig.at(0, lambda now: AgentLoggedIn(now, "1002"))
    if sales_agent == "pause":
        await rig.at(0, lambda now: AgentPaused(now, "1002", "lunch"))
    rig.recorder.caller_data("c1", "account 42")
    await rig.at(10, lambda now: CallArrived(now, "c1", "support"))
    await rig.at(14, lambda now: OfferAnswered(now, "c1", "1001"))


async def test_a_transfer_gives_two_linked_records(rig: Rig) -> None:
    s = int(rig.start)
    await answered_in_support(rig)
    rig.recorder.transfer_noted("c1", "wants a refund | call back")
    await rig.at(74, lambda now: CallTransferred(now, "c1", "sales"))  # offered to 1002 at once
    info = rig.recorder.caller_info("c1")
    assert info is not None
    assert (info["leg"], info["transfer_note"]) == (1, "wants a refund | call back")
    await rig.tick(79)  # 1001's wrap-up ends
    await rig.at(80, lambda now: OfferAnswered(now, "c1", "1002"))
    rig.recorder.hung_up_by("c1", "agent")
    await rig.at(100, lambda now: CallEnded(now, "c1"))
    await rig.tick(105)
    await rig.writer.flush()

    legs = await rig.database.records.call_legs("c1")
    assert [(leg.leg, leg.call_id, leg.queue) for leg in legs] == [
        (0, "c1", "support"),
        (1, "c1", "sales"),
    ]
    first, second = legs
    t = rig.start
    assert (first.outcome, first.transferred_to, first.agent_id) == ("answered", "sales", "1001")
    assert (first.answered, first.ended) == (t + 14, t + 74)
    assert (first.wait, first.talk, first.wrap_up) == (4, 60, 5)  # talk ends at the transfer
    assert (first.transfer_note, first.kept_place, first.hung_up_by) == (None, None, None)
    assert (second.arrived, second.entered, second.offered, second.answered) == (
        t + 10, t + 74, t + 74, t + 80,
    )  # fmt: skip
    assert (second.outcome, second.agent_id, second.transferred_to) == ("answered", "1002", None)
    assert (second.wait, second.talk, second.wrap_up) == (6, 20, 5)  # the wait from the transfer
    assert (second.sl_threshold, second.kept_place) == (30, False)
    assert (second.transfer_note, second.caller_data) == (
        "wants a refund | call back",
        "account 42",
    )

    # app_queue's BLINDTRANSFER fields (extension|context|holdtime|calltime|origposition): the
    # caller went to the target queue's entry (acd-inbound, the queue), then entered it there.
    assert [line for line in rig.queue_log() if int(line.split("|")[0]) >= s + 74] == [
        f"{s + 74}|c1|support|1001|TRANSFER|sales|acd-inbound|4|60|1",
        f"{s + 74}|c1|sales|NONE|ENTERQUEUE|||1",
        f"{s + 80}|c1|sales|1002|CONNECT|6||6",
        f"{s + 100}|c1|sales|1002|COMPLETEAGENT|6|20|1",
    ]

    for name, support, sales in (
        ("acd_calls_offered_total", 1, 1),
        ("acd_calls_answered_total", 1, 1),
        ("acd_calls_answered_within_threshold_total", 1, 1),
        ("acd_calls_transferred_total", 1, 0),
        ("acd_calls_abandoned_total", 0, 0),
        ("acd_talk_seconds_sum", 60, 20),
        ("acd_handle_seconds_sum", 65, 25),
    ):
        assert sample(rig, name, queue="support") == support, name
        assert sample(rig, name, queue="sales") == sales, name

    doc = finished_call_doc("c1", await rig.calls.get_call("c1") or {})
    assert [(leg["queue"], leg["transferred_to"], leg["transfer_note"]) for leg in doc["legs"]] == [
        ("support", "sales", None),
        ("sales", None, "wants a refund | call back"),
    ]


async def test_lost_in_the_target_queue_counts_from_the_transfer(rig: Rig) -> None:
    s = int(rig.start)
    await answered_in_support(rig, sales_agent="pause")  # sales could serve it: it waits
    await rig.at(74, lambda now: CallTransferred(now, "c1", "sales", keep_place=True))
    await rig.at(114, lambda now: CallAbandoned(now, "c1"))
    await rig.writer.flush()

    first, second = await rig.database.records.call_legs("c1")
    assert (first.outcome, first.transferred_to, first.talk) == ("answered", "sales", 60)
    assert (second.outcome, second.wait, second.offered, second.kept_place) == (
        "abandoned", 40, None, True,
    )  # fmt: skip
    assert second.transfer_note is None
    assert rig.queue_log()[-1] == f"{s + 114}|c1|sales|NONE|ABANDON|1|1|40"
    assert sample(rig, "acd_calls_abandoned_total", queue="sales") == 1
    assert sample(rig, "acd_calls_transferred_total", queue="support") == 1
    # 40 s after the transfer, not 104 s after its arrival: B_out against a 30 s threshold
    got = sample(rig, "acd_service_level_ratio", queue="sales", treatment="abandons_for")
    assert got == 0.0
    assert sample(rig, "acd_wait_seconds_sum", queue="sales", outcome="abandoned") == 40
    got = sample(rig, "acd_service_level_ratio", queue="support", treatment="abandons_against")
    assert got == 1.0  # answered within 20 s there: the transfer does not undo it


async def test_a_target_nobody_could_serve_turns_the_caller_away(rig: Rig) -> None:
    s = int(rig.start)
    await answered_in_support(rig, sales_agent="none")  # sales has join_empty False
    await rig.at(74, lambda now: CallTransferred(now, "c1", "sales"))
    await rig.writer.flush()

    first, second = await rig.database.records.call_legs("c1")
    assert (first.outcome, first.transferred_to) == ("answered", "sales")
    assert (second.outcome, second.exit_reason, second.wait) == ("exited", "join_empty", 0)
    assert rig.queue_log()[-2:] == [
        f"{s + 74}|c1|sales|NONE|ENTERQUEUE|||1",
        f"{s + 74}|c1|sales|NONE|EXITEMPTY|1|1|0",
    ]
    assert sample(rig, "acd_calls_offered_total", queue="sales") == 1


async def test_a_refused_transfer_keeps_no_note(rig: Rig) -> None:
    await answered_in_support(rig)
    rig.recorder.transfer_noted("c1", "for nobody")
    await rig.at(30, lambda now: CallTransferred(now, "c1", "nope"))  # unknown_queue
    await rig.at(40, lambda now: CallTransferred(now, "c1", "support"))  # back into its own
    await rig.writer.flush()

    first, second = await rig.database.records.call_legs("c1")
    assert (first.transferred_to, first.talk, second.queue) == ("support", 26, "support")
    assert second.transfer_note is None
    assert sample(rig, "acd_calls_transferred_total", queue="support") == 1
    assert sample(rig, "acd_calls_offered_total", queue="support") == 2


async def test_the_report_and_the_live_stats_count_transfers(rig: Rig) -> None:
    await answered_in_support(rig)
    await rig.at(74, lambda now: CallTransferred(now, "c1", "sales"))
    await rig.at(80, lambda now: OfferAnswered(now, "c1", "1002"))
    await rig.at(100, lambda now: CallEnded(now, "c1"))
    await rig.writer.flush()

    s = rig.start
    report = await Reports(rig.database.records, rig.clock).queue_report(s, s + 900, 900)
    rows = {row["queue"]: row for row in report["queues"]}
    assert (rows["support"]["transferred"], rows["support"]["answered"]) == (1, 1)
    assert (rows["sales"]["transferred"], rows["sales"]["offered"]) == (0, 1)
    assert {t["queue"]: t["transferred"] for t in report["totals"]} == {"sales": 0, "support": 1}

    stats = {q["queue"]: q for q in QueueStats(rig.router, rig.metrics, rig.observers.today,
                                                 rig.clock).queue_stats()}  # fmt: skip
    assert stats["support"]["totals"]["transferred"] == 1
    assert stats["support"]["today"]["transferred"] == 1
    assert stats["sales"]["today"]["transferred"] == 0


async def test_a_restart_keeps_the_transfer_counts(tmp_path: Path) -> None:
    clock = FakeClock()
    first = await build_rig(tmp_path, clock)
    try:
        await answered_in_support(first)
        await first.at(74, lambda now: CallTransferred(now, "c1", "sales"))
        await first.at(80, lambda now: OfferAnswered(now, "c1", "1002"))
    finally:
        await close_rig(first)

    clock.now += 30
    second = await build_rig(tmp_path, clock)
    try:
        assert sample(second, "acd_calls_transferred_total", queue="support") == 1
        assert sample(second, "acd_calls_transferred_total", queue="sales") == 0
        assert sample(second, "acd_calls_offered_total", queue="sales") == 1
        assert sample(second, "acd_calls_answered_total", queue="support") == 1
        assert second.observers.today.figures("support", clock.now)["transferred"] == 1
        [open_leg] = second.recorder.pending_records()
        assert (open_leg.queue, open_leg.leg, open_leg.outcome) == ("sales", 1, "answered")
    finally:
        await close_rig(second)


def test_the_transfer_lines_have_app_queue_s_fields() -> None:
    record = CallRecord(
        "r1", "c9", 0, "support", 0, 100.0, 100.0, 20.0, 5.0, offered=101.0, answered=112.4,
        ended=170.6, agent_id="1001", outcome="answered", wait=12.4, talk=58.2,
        transferred_to="sales",
    )  # fmt: skip
    assert list(lines_for(VisitEnded(170.6, record, 3))) == [
        "170|c9|support|1001|TRANSFER|sales|acd-inbound|12|58|3"
    ]
    # The warm transfer is not built yet: app_queue's line for it, method and its data first.
    assert attended_transfer_line(170.6, record, 3, "BRIDGE", "b|1") == (
        "170|c9|support|1001|ATTENDEDTRANSFER|BRIDGE|b/1|12|58|3"
    )


@pytest.mark.parametrize("queue", ["support", "sales"])
async def test_a_call_transferred_twice_has_three_legs(rig: Rig, queue: str) -> None:
    await answered_in_support(rig)
    await rig.at(20, lambda now: CallTransferred(now, "c1", "sales"))
    await rig.at(22, lambda now: OfferAnswered(now, "c1", "1002"))
    await rig.tick(25)
    await rig.at(30, lambda now: CallTransferred(now, "c1", queue))
    await rig.writer.flush()
    legs = await rig.database.records.call_legs("c1")
    assert [(leg.leg, leg.queue, leg.transferred_to) for leg in legs] == [
        (0, "support", "sales"),
        (1, "sales", queue),
        (2, queue, None),
    ]
    assert sample(rig, "acd_calls_transferred_total", queue="sales") == 1


class Told(list[RecordHappening]):
    def on_record(self, happening: RecordHappening) -> None:
        self.append(happening)


@pytest.mark.parametrize(
    ("queue", "state", "agent"),
    [
        ("sales", CallState.WAITING, None),
        ("support", CallState.WAITING, None),  # into its own queue
        ("support", CallState.CONNECTED, "1002"),  # and answered there by another agent
    ],
)
def test_a_transfer_whose_records_died_with_the_last_batch(
    queue: str, state: CallState, agent: str | None
) -> None:
    """The stored leg is still answered and open, the call is found elsewhere: it was
    transferred at its entry into the queue it is found in. The stored leg ends there (not
    as an overflow); the next leg opens, its place kept or not unknown."""
    recorder = CallRecorder()
    told = Told()
    recorder.subscribe(told)
    stored = CallRecord(
        "r1", "c1", 0, "support", 0, 10.0, 10.0, 20.0, 5.0, offered=10.0, answered=14.0,
        agent_id="1001", outcome="answered", wait=4.0,
    )  # fmt: skip
    recorder.pending([stored])
    adopted = CallAdopted(100.0, "c1", queue, state, 10.0, 74.0, agent_id=agent)
    recorder.on_step(Step(adopted, []))

    ended = [h.record for h in told if isinstance(h, VisitEnded)]
    opened = [h.record for h in told if isinstance(h, VisitOpened)]
    assert [(r.leg, r.outcome, r.transferred_to, r.ended, r.talk) for r in ended] == [
        (0, "answered", queue, 74.0, 60.0)
    ]
    assert [(r.leg, r.queue, r.entered, r.arrived, r.kept_place) for r in opened] == [
        (1, queue, 74.0, 10.0, None)
    ]
    assert recorder.close_unadopted(100.0) == 0


def test_a_call_found_talking_to_its_agent_is_no_transfer() -> None:
    recorder = CallRecorder()
    told = Told()
    recorder.subscribe(told)
    stored = CallRecord(
        "r1", "c1", 0, "support", 0, 10.0, 10.0, 20.0, 5.0, offered=10.0, answered=14.0,
        agent_id="1001", outcome="answered", wait=4.0,
    )  # fmt: skip
    recorder.pending([stored])
    adopted = CallAdopted(100.0, "c1", "support", CallState.CONNECTED, 10.0, 10.0, agent_id="1001")
    recorder.on_step(Step(adopted, []))
    assert [type(h).__name__ for h in told] == ["VisitAdopted"]


async def test_random_steps_with_transfers_keep_the_counts_the_rows(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """test_recorder_tolerance's stream with transfers (refused ones too) and their notes."""
    rng = random.Random(14)
    for queue in QUEUES:
        await rig.at(0, lambda now, q=queue: QueueUpserted(now, q))
    for i in range(4):
        skills = {"x": 1, "y": 1} if i % 2 else {"x": 1}
        await rig.at(0, lambda now, a=str(i), s=skills: AgentUpserted(now, a, s))
    offset = 0.0
    for _ in range(600):
        offset += rng.choice([0.0, 0.5, 2.0, 7.0])
        rig.clock.now = rig.start + offset
        event = random_event(rng, rig.clock.now)
        offered = [c for c in rig.router.calls() if c.state is CallState.OFFERED]
        if offered and rng.random() < 0.3:  # calls must connect before they can be transferred
            ringing = rng.choice(offered)
            event = OfferAnswered(rig.clock.now, ringing.id, ringing.agent_id or "")
        elif rng.random() < 0.25:  # mostly a connected call, else any (refused)
            connected = [c.id for c in rig.router.calls() if c.state is CallState.CONNECTED]
            call = rng.choice(connected) if connected and rng.random() < 0.8 else "c1"
            rig.recorder.transfer_noted(call, "note")
            target = rng.choice(["a", "b", "zz"])
            event = CallTransferred(rig.clock.now, call, target, keep_place=rng.random() < 0.5)
        await rig.engine.submit(lambda now, e=event: e)
    await rig.writer.flush()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []

    rows = await rig.database.records.all_calls()
    transferred = [r for r in rows if r.transferred_to is not None]
    assert transferred, "the stream transferred no call"
    legs: dict[str, list[CallRecord]] = {}
    for row in rows:
        legs.setdefault(row.call_id, []).append(row)
    for queue in ("a", "b"):
        mine = [r for r in rows if r.queue == queue and r.exit_reason != "unknown_queue"]
        got = rig.metrics.count
        assert got("acd_calls_offered", queue) == len(mine)
        assert got("acd_calls_answered", queue) == sum(r.answered is not None for r in mine)
        assert got("acd_calls_transferred", queue) == sum(
            r.transferred_to is not None for r in mine
        )
    for row in transferred:
        assert (row.outcome, row.ended) == ("answered", row.ended)
        # (the stream reuses call ids: the next leg is the one that entered at the transfer)
        following = [r for r in legs[row.call_id] if (r.leg, r.entered) == (row.leg + 1, row.ended)]
        assert [(r.queue, r.kept_place is not None) for r in following] == [
            (row.transferred_to, True)
        ]
        assert all(r.transfer_note in (None, "note") for r in following)
    lines = rig.queue_log()
    assert sum("|TRANSFER|" in line for line in lines) == len(transferred)

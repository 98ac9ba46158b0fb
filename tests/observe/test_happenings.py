"""What the call records tell their subscribers, and how the batch writer copes with outputs
that fail. The scripted day is the one of test_recorded_run.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from recording_rig import Rig
from test_recorded_run import play_script

from acd.engine import Step
from acd.observe.happenings import (
    AgentIntervalChanged,
    RecordHappening,
    RingNoAnswer,
    VisitAnswered,
    VisitEnded,
    VisitOffered,
    VisitOpened,
    WrapUpEnded,
)
from acd.observe.queue_log import QueueLog, QueueLogWriter
from acd.observe.records import CallRecorder
from acd.observe.store_writer import StoreWriter
from acd.observe.writer import BatchWriter
from acd.router.decisions import AgentStateChanged, CallExited, OfferCall
from acd.router.events import CallArrived, OfferAnswered
from acd.router.model import AgentState
from acd.storage.record_store import AgentInterval, CallRecord


class Heard:
    def __init__(self) -> None:
        self.happenings: list[RecordHappening] = []

    def on_record(self, happening: RecordHappening) -> None:
        self.happenings.append(happening)

    def of_call(self, call_id: str) -> list[tuple[str, str, str | None]]:
        return [
            (type(h).__name__, h.record.queue, h.record.outcome)
            for h in self.happenings
            if not isinstance(h, AgentIntervalChanged) and h.record.call_id == call_id
        ]


async def test_an_overflowing_call_told_change_by_change(rig: Rig) -> None:
    heard = Heard()
    rig.recorder.subscribe(heard)
    await play_script(rig)

    assert heard.of_call("c4") == [
        ("VisitOpened", "support", None),
        ("VisitEnded", "support", "overflowed"),
        ("VisitOpened", "sales", None),
        ("VisitOffered", "sales", None),
        ("RingNoAnswer", "sales", None),
        ("VisitOffered", "sales", None),
        ("VisitAnswered", "sales", "answered"),
        ("VisitEnded", "sales", "answered"),
        ("WrapUpEnded", "sales", "answered"),
    ]
    c4 = [h for h in heard.happenings if not isinstance(h, AgentIntervalChanged)]
    c4 = [h for h in c4 if h.record.call_id == "c4"]
    opened = c4[2]
    assert isinstance(opened, VisitOpened)
    assert opened.position == 1
    rona = c4[4]
    assert isinstance(rona, RingNoAnswer)
    assert (rona.agent_id, rona.ring) == ("1002", 5.0)
    offered = c4[5]
    assert isinstance(offered, VisitOffered)
    assert offered.at == rig.start + 140
    answered = c4[6]
    assert isinstance(answered, VisitAnswered)
    assert answered.ring == 2.0
    ended = c4[7]
    assert isinstance(ended, VisitEnded)
    assert ended.record.talk == 28
    wrapped = c4[8]
    assert isinstance(wrapped, WrapUpEnded)
    assert wrapped.record.wrap_up == 5

    # Every snapshot a subscriber saw last is the row that was stored.
    last: dict[str, CallRecord] = {}
    for h in heard.happenings:
        if not isinstance(h, AgentIntervalChanged):
            last[h.record.id] = h.record
    stored = await rig.database.records.all_calls()
    assert sorted(stored, key=lambda r: r.id) == sorted(last.values(), key=lambda r: r.id)


async def test_a_call_to_an_unknown_queue_opens_no_visit(rig: Rig) -> None:
    heard = Heard()
    rig.recorder.subscribe(heard)
    await rig.at(0, lambda now: CallArrived(now, "lost", "nowhere"))
    assert heard.of_call("lost") == [("VisitEnded", "nowhere", "exited")]
    (ended,) = heard.happenings
    assert isinstance(ended, VisitEnded)
    assert ended.record.exit_reason == "unknown_queue"


def test_the_agent_intervals_close_and_open_in_one_happening() -> None:
    recorder = CallRecorder(new_id=iter(["i1", "i2"]).__next__)
    heard = Heard()
    recorder.subscribe(heard)
    for at, state in ((10.0, AgentState.AVAILABLE), (20.0, AgentState.LOGGED_OUT)):
        change = AgentStateChanged("1001", state, None, None, at)
        recorder.on_step(Step(OfferAnswered(at, "x", "1001"), [change]))
    login, logout = heard.happenings
    assert login == AgentIntervalChanged(
        10.0,
        "1001",
        AgentState.LOGGED_OUT,
        None,
        AgentState.AVAILABLE,
        None,
        None,
        AgentInterval("i1", "1001", "available", None, 10.0),
    )
    assert isinstance(logout, AgentIntervalChanged)
    assert logout.closed == AgentInterval("i1", "1001", "available", None, 10.0, 20.0)
    assert logout.opened is None


class FlakyStore:
    """Fails its first `failures` saves, then keeps what it is given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.saved: list[CallRecord] = []

    async def save(
        self, calls: Sequence[CallRecord] = (), intervals: Sequence[AgentInterval] = ()
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is away")
        self.saved.extend(calls)


def visit(call_id: str) -> VisitOpened:
    record = CallRecord(call_id, call_id, 0, "q", 0, 1.0, 1.0, 20.0, 5.0)
    return VisitOpened(1.0, record, 1)


async def test_the_writer_retries_the_store_and_flush_waits_for_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(failures=2)
    lines = tmp_path / "queue_log"
    writer = BatchWriter([QueueLogWriter(QueueLog(lines)), StoreWriter(store)], retry=0.01)
    writer.on_record(visit("a"))
    await writer.flush()
    writer.on_record(visit("b"))
    await writer.close()
    assert [r.call_id for r in store.saved] == ["a", "b"]
    assert len(lines.read_text().splitlines()) == 2  # written once each, not per retry
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 2
    assert "retrying" in failures[0].getMessage()


async def test_a_queue_log_that_cannot_be_written_holds_nothing_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    store = FlakyStore(failures=0)
    broken = QueueLog(tmp_path / "file" / "queue_log")  # its directory is a file
    writer = BatchWriter([QueueLogWriter(broken), StoreWriter(store)])
    writer.on_record(visit("a"))
    await writer.close()
    assert [r.call_id for r in store.saved] == ["a"]
    assert any("1 lines lost" in r.getMessage() for r in caplog.records)


def test_exit_decisions_of_unseen_calls_are_ignored() -> None:
    recorder = CallRecorder()
    heard = Heard()
    recorder.subscribe(heard)
    exit_ = CallExited("ghost", "q", "timeout", None, 5.0)
    offer = OfferCall("ghost", "1001", "q", 15.0)
    recorder.on_step(Step(OfferAnswered(5.0, "ghost", "1001"), [exit_, offer]))
    assert heard.happenings == []

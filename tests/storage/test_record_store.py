"""Call records and agent intervals on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from dataclasses import replace

from acd.storage import AgentInterval, CallRecord, Database

T0 = 1_700_000_000.0


def visit(row_id: str, call_id: str, entered: float, **changes: object) -> CallRecord:
    record = CallRecord(
        id=row_id,
        call_id=call_id,
        leg=0,
        queue="support",
        priority=0,
        arrived=entered,
        entered=entered,
        sl_threshold=20.0,
        short_abandon=5.0,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


async def test_upsert_and_queries(database: Database) -> None:
    records = database.records
    waiting = visit("r1", "c1", T0 + 10, caller_data="VIP | 42")
    await records.save([waiting])
    answered = replace(waiting, answered=T0 + 14, agent_id="1001", outcome="answered", wait=4.0)
    other = visit("r2", "c2", T0 + 20, outcome="abandoned", ended=T0 + 40, wait=20.0)
    overflow_leg = visit("r3", "c2b", T0 + 30, leg=1, queue="sales")
    await records.save([answered, other, overflow_leg])

    assert await records.get_call("c1") == answered
    assert await records.get_call("nope") is None
    assert [r.id for r in await records.calls_entered(T0 + 10, T0 + 30)] == ["r1", "r2"]
    assert [r.id for r in await records.calls_answered(T0, T0 + 100)] == ["r1"]
    assert [r.id for r in await records.calls_finished_since(T0 + 15)] == ["r2"]
    assert len(await records.all_calls()) == 3


async def test_intervals_overlap_and_close_open(database: Database) -> None:
    records = database.records
    closed = AgentInterval("i1", "1001", "available", None, T0, T0 + 10)
    paused = AgentInterval("i2", "1001", "paused", "lunch", T0 + 10)
    await records.save(intervals=[closed, paused])
    await records.save([visit("r1", "c1", T0 + 5), visit("r2", "c2", T0 + 6, answered=T0 + 8)])

    assert [i.id for i in await records.intervals_overlapping(T0 + 10, T0 + 20)] == ["i2"]
    assert [i.id for i in await records.intervals_overlapping(T0 - 5, T0 + 1)] == ["i1"]
    assert [i.id for i in await records.intervals_overlapping(T0 + 500, T0 + 600)] == ["i2"]

    assert await records.close_open(T0 + 60) == (2, 1)
    reopened = await records.intervals_overlapping(T0, T0 + 100)
    assert [i.end for i in reopened] == [T0 + 10, T0 + 60]
    assert await records.intervals_overlapping(T0 + 500, T0 + 600) == []
    c1 = await records.get_call("c1")
    assert c1 is not None
    assert (c1.outcome, c1.ended) == ("interrupted", T0 + 60)
    assert await records.close_open(T0 + 70) == (0, 0)


async def test_a_batch_writes_each_row_once_and_its_last_version_wins(database: Database) -> None:
    records = database.records
    batch = [visit(f"r{i}", f"c{i}", T0 + i) for i in range(50)]
    first = batch[0]
    ended = replace(first, outcome="abandoned", ended=T0 + 9, wait=9.0)
    interval = AgentInterval("i1", "1001", "available", None, T0)
    await records.save([first, *batch[1:], ended], [interval, replace(interval, end=T0 + 5)])
    assert await records.get_call("c0") == ended
    assert len(await records.all_calls()) == 50
    assert await records.intervals_overlapping(T0, T0 + 10) == [replace(interval, end=T0 + 5)]
    # A later batch updates rows written by an earlier one.
    await records.save([replace(ended, caller_data="later")])
    assert (await records.get_call("c0")) == replace(ended, caller_data="later")

"""The standby's replica on a real Redis: it ends holding what the leader holds, through
snapshots, trims and a change of leader, and drains to the journal's head for a promotion."""

from __future__ import annotations

import asyncio
import os
import pickle
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from router.router_streams import Pools, assert_same_views

from acd.cluster.journal import Applied, HolderChanged, JournalFollower
from acd.cluster.lease import leader_key
from acd.cluster.replica import Replica
from acd.cluster.snapshot import dump_router, journal_key, snapshot_key, write_snapshot
from acd.router.router import Router
from cluster.conftest import RedisTarget
from cluster.router_graph import assert_same_graph
from cluster.test_journal import Leader, new_writer, random_batches

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_target.url, socket_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture
def prefix(redis_target: RedisTarget) -> str:
    return redis_target.prefix


def last_entry(leader: Leader) -> str:
    return next(reversed(leader.decisions), "0-0")


async def store_snapshot(
    redis: Redis, prefix: str, leader: Leader, entry_id: str | None = None, trim: bool = False
) -> None:
    """The leader's snapshot step: its router at its journal head, then the stream trimmed."""
    assert leader.writer.next_seq is not None
    seq = leader.writer.next_seq - 1
    entry_id = entry_id or last_entry(leader)
    data = dump_router(leader.router)
    await write_snapshot(redis, prefix, leader.writer._holder, seq, entry_id, data)
    if trim and seq:
        await leader.writer.trim_before(entry_id)


async def caught_up(replica: Replica, leader: Leader, task: asyncio.Task[None]) -> None:
    """The replica holds the leader's every entry, and the same state (or the test fails)."""
    assert leader.writer.next_seq is not None
    head = leader.writer.next_seq - 1
    if not await replica.caught_up(head, 20):
        if task.done():
            task.result()  # the replica stopped: show why
        raise AssertionError(f"replica at {replica.applied_seq}, the journal at {head}")
    assert_same_views(leader.router, replica.router, Pools())  # type: ignore[arg-type]
    assert_same_graph(leader.router, replica.router)


async def stopped(replica: Replica, task: asyncio.Task[None]) -> None:
    replica.stop()
    # asyncio.wait, not a timeout around `await task`: that would cancel the task a second
    # time, and a stop that needs two cancels must fail here.
    await asyncio.wait({task}, timeout=5)
    assert task.done(), "stop() did not end run()"
    assert task.result() is None  # returns: a stop is not an error


@pytest.mark.parametrize("seed", [3, 2026])
async def test_replicas_hold_the_leaders_state_through_snapshots_and_trims(
    redis: Redis, prefix: str, seed: int
) -> None:
    leader = Leader(await new_writer(redis, prefix))
    await store_snapshot(redis, prefix, leader)  # a new leader's first step: its router at 0
    applied: list[Applied] = []
    loaded: list[Router] = []
    early = Replica(redis, prefix, on_applied=applied.append, on_reset=loaded.append, block=0.2)
    tasks = {early: asyncio.create_task(early.run())}
    late: Replica | None = None
    try:
        for n, batch in enumerate(random_batches(seed, 4000)):
            await leader.step(batch)
            if n % 40 == 39:  # a replica that keeps up; then the snapshot step trims
                await caught_up(early, leader, tasks[early])
                await store_snapshot(redis, prefix, leader, trim=True)
            if n == 100:  # starts from a snapshot: the journal's start is gone
                late = Replica(redis, prefix, block=0.2)
                tasks[late] = asyncio.create_task(late.run())
        for replica, task in tasks.items():
            await caught_up(replica, leader, task)
            replica.router._check()
    finally:
        for replica, task in tasks.items():
            await stopped(replica, task)
    assert late is not None
    assert late.snapshot is not None
    assert late.snapshot.seq > 0
    assert await redis.xlen(journal_key(prefix)) < len(leader.decisions) / 2, "nothing trimmed"
    # Snapshots of the same holder reset nobody that keeps up; the one router loaded stays.
    assert (early.resets, late.resets) == (0, 0)
    assert loaded == [early.router]
    assert [a.seq for a in applied] == list(range(1, len(applied) + 1))
    assert {a.entry_id: list(a.decisions) for a in applied} == leader.decisions


async def test_a_new_leaders_snapshot_replaces_the_replicas_router(
    redis: Redis, prefix: str
) -> None:
    old = Leader(await new_writer(redis, prefix, "n1"))
    await store_snapshot(redis, prefix, old)
    loaded: list[Router] = []
    replica = Replica(redis, prefix, on_reset=loaded.append, block=0.2)
    task = asyncio.create_task(replica.run())
    try:
        for batch in list(random_batches(31, 600)):
            await old.step(batch)
        await caught_up(replica, old, task)
        first = replica.router
        await redis.delete(leader_key(prefix))  # n1's lease lapsed; n2 is elected
        # n2 built its router from the store, not from n1's (here: started empty), and
        # stores it at the journal's head before its first entry.
        new = Leader(await new_writer(redis, prefix, "n2"))
        await store_snapshot(redis, prefix, new, entry_id=last_entry(old))
        for batch in random_batches(32, 600):
            await new.step(batch)
        await caught_up(replica, new, task)
    finally:
        await stopped(replica, task)
    assert replica.resets == 1
    assert replica.reset_reason is not None
    assert replica.reset_reason.startswith("HolderChanged")
    assert replica.snapshot is not None
    assert replica.snapshot.holder == new.writer._holder
    assert loaded == [first, replica.router]
    assert replica.router is not first


async def test_a_stopped_replica_whose_entries_were_trimmed_reloads_and_converges(
    redis: Redis, prefix: str
) -> None:
    leader = Leader(await new_writer(redis, prefix))
    batches = random_batches(41, 3000)
    replica = Replica(redis, prefix, block=0.2)
    task = asyncio.create_task(replica.run())
    for _ in range(30):
        await leader.step(next(batches))
    await caught_up(replica, leader, task)
    await stopped(replica, task)
    behind = replica.applied_seq
    for _ in range(30):
        await leader.step(next(batches))
    await store_snapshot(redis, prefix, leader, trim=True)
    task = asyncio.create_task(replica.run())  # goes on from `behind`: those entries are gone
    try:
        for batch in batches:
            await leader.step(batch)
        await caught_up(replica, leader, task)
    finally:
        await stopped(replica, task)
    assert replica.resets == 1
    assert replica.reset_reason is not None
    assert replica.reset_reason.startswith("JournalGap")
    assert f"expected {behind + 1}" in replica.reset_reason


async def test_drain_reaches_the_head_and_a_stopped_replica_says_it_cannot(
    redis: Redis, prefix: str
) -> None:
    leader = Leader(await new_writer(redis, prefix))
    replica = Replica(redis, prefix, block=0.2)
    task = asyncio.create_task(replica.run())
    for batch in random_batches(51, 1500):
        await leader.step(batch)
    assert leader.writer.next_seq is not None
    try:
        assert await replica.drain(20) == leader.writer.next_seq - 1
        assert_same_graph(leader.router, replica.router)
    finally:
        await stopped(replica, task)
    await leader.step(next(random_batches(52, 30)))
    draining = asyncio.create_task(replica.drain(60))
    await asyncio.wait({draining}, timeout=5)  # stopped behind the head: no waiting it out
    assert draining.done()
    assert draining.result() is None
    assert not replica.following


async def test_a_snapshot_that_would_run_code_is_not_loaded_and_a_good_one_is(
    redis: Redis, prefix: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"

    class RunsCode:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return os.system, (f"touch {marker}",)

    leader = Leader(await new_writer(redis, prefix))
    for batch in random_batches(61, 300):
        await leader.step(batch)
    bomb = dump_router(Router()).split(b"\n", 1)[0] + b"\n" + pickle.dumps(RunsCode())
    entry_id = last_entry(leader)
    fields = {"holder": leader.writer._holder, "seq": len(leader.decisions), "entry_id": entry_id}
    await redis.hset(snapshot_key(prefix), mapping={**fields, "data": bomb})  # Redis's writer
    replica = Replica(redis, prefix, block=0.2, retry_max=0.1)
    task = asyncio.create_task(replica.run())
    try:
        async with asyncio.timeout(10):
            while replica.load_error is None:  # noqa: ASYNC110 (an attribute, no event)
                await asyncio.sleep(0.01)
        assert "does not name posix.system" in replica.load_error
        assert not replica.following
        assert not marker.exists()
        await store_snapshot(redis, prefix, leader)
        for batch in random_batches(62, 300):
            await leader.step(batch)
        await caught_up(replica, leader, task)
    finally:
        await stopped(replica, task)
    assert not marker.exists()


async def test_a_one_holder_follower_stops_at_another_holders_entry(
    redis: Redis, prefix: str
) -> None:
    old = Leader(await new_writer(redis, prefix, "n1"))
    await old.step(next(random_batches(71, 40)))
    await redis.delete(leader_key(prefix))
    new = Leader(await new_writer(redis, prefix, "n2"))
    await new.step(next(random_batches(72, 40)))
    follower = JournalFollower(redis, journal_key(prefix), Router(), block=0.1, one_holder=True)
    with pytest.raises(HolderChanged, match=f"written by {new.writer._holder}, not n1:"):
        async with asyncio.timeout(10):
            await follower.run()
    assert follower.applied_seq == len(old.decisions)
    assert follower.holder == old.writer._holder


async def test_a_replica_outlasts_an_error_that_is_not_transient(redis: Redis, prefix: str) -> None:
    await redis.set(journal_key(prefix), "not a stream")  # XREAD: WRONGTYPE, every time
    replica = Replica(redis, prefix, block=0.2, retry_max=0.1)
    task = asyncio.create_task(replica.run())
    try:
        async with asyncio.timeout(10):
            while replica.resets < 2:  # noqa: ASYNC110 (a counter, no event)
                await asyncio.sleep(0.01)
        assert replica.reset_reason is not None
        assert "WRONGTYPE" in replica.reset_reason
        assert not task.done()
        await redis.delete(journal_key(prefix))
        leader = Leader(await new_writer(redis, prefix))
        for batch in random_batches(81, 300):
            await leader.step(batch)
        await caught_up(replica, leader, task)
    finally:
        await stopped(replica, task)


async def test_a_replica_runs_once_at_a_time(redis: Redis, prefix: str) -> None:
    replica = Replica(redis, prefix, block=0.2)
    task = asyncio.create_task(replica.run())
    try:
        await asyncio.sleep(0)  # the first run() has started
        second = asyncio.create_task(replica.run())
        await asyncio.wait({second}, timeout=5)
        second.cancel()  # if it did run: the test fails below, and stops it here
        assert second.done()
        with pytest.raises(RuntimeError, match="already running"):
            second.result()
    finally:
        await stopped(replica, task)

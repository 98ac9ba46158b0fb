"""The journal on a real Redis: a follower fed through it ends where the leader is; a fenced
writer appends nothing; a gap or a bad entry stops the follower; Redis restarts lose nothing."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis
from router.router_streams import Pools, StreamMaker, assert_same_views

from acd.cluster.journal import (
    Applied,
    Fenced,
    JournalCorrupt,
    JournalError,
    JournalFollower,
    JournalGap,
    JournalWriter,
)
from acd.cluster.lease import LeaseTiming, RedisLease, leader_key
from acd.router.decisions import Decision, EventRejected
from acd.router.events import AgentUpserted, Event
from acd.router.reference import ReferenceRouter
from acd.router.router import Router
from cluster.conftest import PrivateRedis, RedisTarget

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_target.url, socket_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture
def prefix(redis_target: RedisTarget) -> str:
    return redis_target.prefix


@dataclass
class Leader:
    """The leader's side as the engine will run it: stamp a batch, journal it, then apply it."""

    writer: JournalWriter
    router: Router = field(default_factory=Router)
    decisions: dict[str, list[Decision]] = field(default_factory=dict)
    skipped: int = 0

    async def step(self, events: list[Event]) -> None:
        ids = await self.writer.append(events)
        for event, entry_id in zip(events, ids, strict=True):
            decisions = self.router.handle(event)
            if entry_id is None:  # the codec refused it: the router must have rejected it
                assert [type(d) for d in decisions] == [EventRejected], event
                self.skipped += 1
            else:
                self.decisions[entry_id] = decisions


async def elect(redis: Redis, prefix: str, node_id: str) -> str:
    # A lease nobody renews, long enough for the test: these tests are about the journal.
    timing = LeaseTiming(ttl=600.0, renew_every=1.0, margin=0.5)
    lease = RedisLease(redis, node_id, prefix=prefix, timing=timing)
    for _ in range(20):  # the first command after a Redis restart may meet the dead link
        await lease.step()
        if lease.holder is not None:
            return lease.holder
        await asyncio.sleep(0.05)
    raise AssertionError("the lease was not acquired")


async def new_writer(redis: Redis, prefix: str, node_id: str = "n1") -> JournalWriter:
    holder = await elect(redis, prefix, node_id)
    writer = JournalWriter(redis, f"{prefix}:journal", leader_key(prefix), holder)
    await writer.open()
    return writer


def random_batches(seed: int, steps: int) -> Iterator[list[Event]]:
    """A seeded random stream (router_streams), cut into batches of 1 to 25 inputs."""
    rng = random.Random(seed)
    maker = StreamMaker(rng)
    ref = ReferenceRouter()  # the maker picks plausible calls from a router's state
    pending: list[Event] = maker.setup()
    for event in pending:
        ref.handle(event)
    for _ in range(steps):
        event = maker.event(ref)
        ref.handle(event)
        pending.append(event)
        if len(pending) >= rng.randint(1, 25):
            yield pending
            pending = []
    if pending:
        yield pending


async def caught_up(follower: JournalFollower, seq: int, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(20):
        while follower.applied_seq < seq:
            if task.done():
                task.result()  # the follower stopped: show why
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("seed", [3, 12, 2026])
async def test_follower_ends_with_the_leaders_views_and_decisions(
    redis: Redis, prefix: str, seed: int
) -> None:
    leader = Leader(await new_writer(redis, prefix))
    applied: list[Applied] = []
    follower = JournalFollower(
        redis, f"{prefix}:journal", Router(), on_applied=applied.append, block=0.2
    )
    task = asyncio.create_task(follower.run())
    try:
        for batch in random_batches(seed, 3000):
            await leader.step(batch)
        assert leader.writer.next_seq is not None
        await caught_up(follower, leader.writer.next_seq - 1, task)
    finally:
        task.cancel()
    assert_same_views(leader.router, follower.router, Pools())  # type: ignore[arg-type]
    follower.router._check()
    assert [a.seq for a in applied] == list(range(1, len(applied) + 1))
    assert {a.entry_id: list(a.decisions) for a in applied} == leader.decisions
    assert leader.skipped > 0, "the stream had no input the codec refuses"
    lags = sorted(a.commit_delay for a in applied)
    print(f"append->apply delay p50 {lags[len(lags) // 2] * 1000:.2f} ms over {len(lags)}")


async def test_concurrent_appends_share_round_trips_and_keep_their_order(
    redis: Redis, prefix: str
) -> None:
    writer = await new_writer(redis, prefix)
    events = [ev for batch in random_batches(5, 200) for ev in batch]
    results = await asyncio.gather(*(writer.append([event]) for event in events))
    ids = [entry_id for [entry_id] in results if entry_id is not None]
    assert len(writer.round_trips) < len(ids) / 4, writer.round_trips
    stored = await redis.xrange(f"{prefix}:journal")
    assert [entry_id.decode() for entry_id, _ in stored] == ids
    assert [int(fields[b"s"]) for _, fields in stored] == list(range(1, len(ids) + 1))
    sizes = [size for size, _ in writer.round_trips]
    per_event = sum(t for _, t in writer.round_trips) / len(ids)
    print(f"{len(ids)} appends in {len(sizes)} round trips (largest {max(sizes)}),"
          f" {per_event * 1e6:.0f} us of round trip per event")  # fmt: skip


async def test_a_writer_whose_lease_moved_on_is_fenced_and_appends_nothing(
    redis: Redis, prefix: str
) -> None:
    old = await new_writer(redis, prefix, "n1")
    batches = random_batches(8, 100)
    await old.append(next(batches))
    length = await redis.xlen(f"{prefix}:journal")
    await redis.delete(leader_key(prefix))  # n1's lease expired (it froze), n2 is elected
    new = await new_writer(redis, prefix, "n2")

    with pytest.raises(Fenced):
        await old.append(next(batches))
    assert old.fenced
    assert await redis.xlen(f"{prefix}:journal") == length
    trips = len(old.round_trips)
    with pytest.raises(Fenced):  # refused at once, without asking Redis again
        await old.append(next(batches))
    assert len(old.round_trips) == trips

    assert new.next_seq == length + 1  # the new leader continues the same sequence
    await new.append(next(batches))
    stored = await redis.xrange(f"{prefix}:journal")
    assert [int(f[b"s"]) for _, f in stored] == list(range(1, len(stored) + 1))
    assert {f[b"t"].decode() for _, f in stored[length:]} == {f"n2:{2}"}


async def test_a_retried_batch_that_had_landed_is_not_appended_twice(
    redis: Redis, prefix: str
) -> None:
    first = await new_writer(redis, prefix)
    # Same holder, opened at the same head: what a retry after a lost reply looks like.
    retry = JournalWriter(redis, f"{prefix}:journal", leader_key(prefix), first._holder)
    await retry.open()
    batch = next(random_batches(9, 50))
    ids = await first.append(batch)
    assert await retry.append(batch) == ids
    assert await redis.xlen(f"{prefix}:journal") == len([i for i in ids if i is not None])


async def test_a_journal_a_restarted_redis_lost_stops_writer_and_follower(
    private_redis: PrivateRedis,
) -> None:
    """Redis without persistence comes back empty: the old journal cannot be continued."""
    prefix = "acd-test"
    leader_redis = Redis.from_url(private_redis.url, socket_timeout=2)
    follower_redis = Redis.from_url(private_redis.url, socket_timeout=2)
    try:
        writer = await new_writer(leader_redis, prefix, "n1")
        batches = random_batches(10, 100)
        await writer.append(next(batches))
        follower = JournalFollower(follower_redis, f"{prefix}:journal", Router(), block=0.1)
        task = asyncio.create_task(follower.run())
        await caught_up(follower, writer.next_seq - 1, task)  # type: ignore[operator]
        private_redis.stop()
        private_redis.start()
        await elect(leader_redis, prefix, "n1")  # the lease too was lost; n1 wins it again
        with pytest.raises(JournalError, match="lost the journal"):
            await writer.append(next(batches))
        assert await leader_redis.xlen(f"{prefix}:journal") == 0
        await leader_redis.delete(leader_key(prefix))  # n1 steps down on that error
        fresh = await new_writer(leader_redis, prefix, "n2")  # a leader starting over at 1
        await fresh.append(next(batches))
        with pytest.raises(JournalGap, match="expected"):
            async with asyncio.timeout(10):
                await task
    finally:
        await leader_redis.aclose()
        await follower_redis.aclose()


async def run_until_stopped(follower: JournalFollower) -> JournalError:
    with pytest.raises(JournalError) as caught:
        async with asyncio.timeout(10):
            await follower.run()
    return caught.value


async def test_a_gap_stops_the_follower_at_its_position(redis: Redis, prefix: str) -> None:
    writer = await new_writer(redis, prefix)
    await writer.append(next(random_batches(11, 30)))
    good = await redis.xlen(f"{prefix}:journal")
    stray = await redis.xadd(f"{prefix}:journal", {"e": b"[1]", "t": b"n1:1", "s": good + 2})
    follower = JournalFollower(redis, f"{prefix}:journal", Router(), block=0.1)
    error = await run_until_stopped(follower)
    assert isinstance(error, JournalGap)
    assert f"sequence {good + 2}, expected {good + 1}" in str(error)
    assert stray.decode() in str(error)
    assert follower.applied_seq == good


async def test_a_trimmed_journal_is_a_gap_for_a_follower_without_snapshot(
    redis: Redis, prefix: str
) -> None:
    writer = await new_writer(redis, prefix)
    ids = [i for i in await writer.append(next(random_batches(12, 40))) if i is not None]
    assert await writer.trim_before(ids[3]) == 3
    follower = JournalFollower(redis, f"{prefix}:journal", Router(), block=0.1)
    error = await run_until_stopped(follower)
    assert isinstance(error, JournalGap)
    assert "sequence 4, expected 1" in str(error)
    assert follower.applied_seq == 0
    # From the trimmed-to position (what a snapshot gives), it follows.
    resumed = JournalFollower(
        redis, f"{prefix}:journal", Router(), after_id=ids[2], after_seq=3, block=0.1
    )
    task = asyncio.create_task(resumed.run())
    try:
        await caught_up(resumed, len(ids), task)
    finally:
        task.cancel()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"e": b"not json", "t": b"n1:1"}, "cannot decode"),
        ({"e": b'[1,"NoSuchEvent"]', "t": b"n1:1"}, "cannot decode"),
        ({"t": b"n1:1"}, "malformed fields"),
    ],
)
async def test_a_bad_entry_stops_the_follower_with_its_position(
    redis: Redis, prefix: str, fields: dict[str, bytes], message: str
) -> None:
    writer = await new_writer(redis, prefix)
    await writer.append(next(random_batches(13, 30)))
    good = await redis.xlen(f"{prefix}:journal")
    bad = await redis.xadd(f"{prefix}:journal", {**fields, "s": good + 1})
    follower = JournalFollower(redis, f"{prefix}:journal", Router(), block=0.1)
    error = await run_until_stopped(follower)
    assert isinstance(error, JournalCorrupt)
    assert message in str(error)
    assert bad.decode() in str(error)
    assert follower.applied_seq == good


async def test_writer_and_follower_survive_a_redis_restart(durable_redis: PrivateRedis) -> None:
    prefix = "acd-test"
    leader_redis = Redis.from_url(durable_redis.url, socket_timeout=2)
    follower_redis = Redis.from_url(durable_redis.url, socket_timeout=2)
    leader = Leader(await new_writer(leader_redis, prefix))
    applied: list[Applied] = []
    follower = JournalFollower(
        follower_redis, f"{prefix}:journal", Router(), on_applied=applied.append, block=0.2
    )
    task = asyncio.create_task(follower.run())
    restarted = 0
    try:
        for n, batch in enumerate(random_batches(21, 2000)):
            if n in (20, 60):  # mid-stream, while the follower is reading
                durable_redis.kill()
                asyncio.get_running_loop().call_later(0.3, durable_redis.start)
                restarted += 1
            await leader.step(batch)
        assert leader.writer.next_seq is not None
        await caught_up(follower, leader.writer.next_seq - 1, task)
    finally:
        task.cancel()
        await leader_redis.aclose()
        await follower_redis.aclose()
    assert restarted == 2
    assert [a.seq for a in applied] == list(range(1, len(applied) + 1))  # none lost or repeated
    assert {a.entry_id: list(a.decisions) for a in applied} == leader.decisions
    assert_same_views(leader.router, follower.router, Pools())  # type: ignore[arg-type]


async def test_a_follower_caught_up_with_an_idle_leader_has_no_lag(
    redis: Redis, prefix: str
) -> None:
    leader = Leader(await new_writer(redis, prefix))
    follower = JournalFollower(redis, f"{prefix}:journal", Router(), block=0.1)
    await leader.step([AgentUpserted(time.time() - 30.0, "a1")])  # an input 30 s old
    task = asyncio.create_task(follower.run())
    try:
        await caught_up(follower, 1, task)
        assert follower.lag >= 29.0  # that entry's lag, as applied
        for _ in range(250):  # a whole block (0.1 s) without an entry: caught up
            if follower.lag == 0.0:
                break
            await asyncio.sleep(0.02)
        assert follower.lag == 0.0
    finally:
        task.cancel()

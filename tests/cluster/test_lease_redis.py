"""The lease on a real Redis: races, renewals, takeover, a frozen process, fencing, a restart.

Measured times are printed (`pytest -s`), not asserted; what is asserted is the fencing rule:
no moment at which two nodes may act.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from acd.cluster.lease import (
    FENCE_CHECK_LUA,
    FENCED_ERROR,
    Change,
    Elected,
    LeaseTiming,
    RedisLease,
    Role,
    SteppedDown,
    epoch_key,
    fenced,
    leader_key,
    lease_clock,
)

if TYPE_CHECKING:  # the fixtures' types (tests/cluster is not a package)
    from conftest import PrivateRedis, RedisTarget

pytestmark = pytest.mark.redis

FAST = LeaseTiming(ttl=1.0, renew_every=0.3, margin=0.2)
DEFAULT = LeaseTiming()


@asynccontextmanager
async def client(url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        yield redis
    finally:
        await redis.aclose()


class Node:
    """A lease with its run task and a log of (clock, change)."""

    def __init__(self, redis: Redis, name: str, prefix: str, timing: LeaseTiming) -> None:
        self.changes: list[tuple[float, Change]] = []
        self.lease = RedisLease(redis, name, prefix=prefix, timing=timing, on_change=self._changed)
        self.task: asyncio.Task[None] | None = None

    def _changed(self, change: Change) -> None:
        self.changes.append((lease_clock(), change))

    def start(self) -> None:
        self.task = asyncio.create_task(self.lease.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    def elected_at(self) -> float:
        return next(t for t, c in self.changes if isinstance(c, Elected))


async def wait_until(predicate: Callable[[], bool], within: float) -> None:
    deadline = lease_clock() + within
    while not predicate():
        if lease_clock() > deadline:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.005)


async def seed_epoch(redis: Redis, prefix: str) -> None:
    """As a cluster that has run before: a first token (1) would make its leader wait a ttl."""
    await redis.set(epoch_key(prefix), 40)


def leaders(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if n.lease.role is Role.LEADER]


async def test_one_leader_among_three_racing(redis_target: RedisTarget) -> None:
    async with client(redis_target.url) as redis:
        for round_ in range(20):
            prefix = f"{redis_target.prefix}:r{round_}"
            await seed_epoch(redis, prefix)
            leases = [RedisLease(redis, f"n{i}", prefix=prefix, timing=FAST) for i in range(3)]
            await asyncio.gather(*(lease.step() for lease in leases))
            winners = [lease for lease in leases if lease.role is Role.LEADER]
            assert len(winners) == 1
            winner = winners[0]
            assert winner.may_act()
            assert sum(lease.may_act() for lease in leases) == 1
            assert (await redis.get(leader_key(prefix))).decode() == winner.holder
            assert int(await redis.get(epoch_key(prefix))) == winner.token


async def test_renewing_keeps_the_lease_with_its_token(redis_target: RedisTarget) -> None:
    async with client(redis_target.url) as redis:
        await seed_epoch(redis, redis_target.prefix)
        # The default timing: a loaded test machine stalling 0.5 s must not fail the test.
        nodes = [Node(redis, f"n{i}", redis_target.prefix, DEFAULT) for i in range(3)]
        for node in nodes:
            node.start()
        try:
            await wait_until(lambda: len(leaders(nodes)) == 1, 5)
            leader = leaders(nodes)[0]
            token = leader.lease.token
            end = lease_clock() + 2.5 * DEFAULT.ttl  # past two ttls: renewals kept it
            while lease_clock() < end:
                assert [n.lease.may_act() for n in nodes].count(True) == 1
                await asyncio.sleep(0.01)
            assert leader.lease.role is Role.LEADER
            assert leader.lease.token == token
            assert all(len(n.changes) == (n is leader) for n in nodes)
        finally:
            for node in nodes:
                await node.stop()


async def test_a_leader_that_stops_renewing_stops_acting_before_it_is_replaced(
    redis_target: RedisTarget,
) -> None:
    async with client(redis_target.url) as redis:
        await seed_epoch(redis, redis_target.prefix)
        nodes = [Node(redis, f"n{i}", redis_target.prefix, DEFAULT) for i in range(3)]
        for node in nodes:
            node.start()
        try:
            await wait_until(lambda: len(leaders(nodes)) == 1, 5)
            await asyncio.sleep(1.5)  # a renew or two
            old = leaders(nodes)[0]
            await old.stop()  # dead: no renew, no release
            stopped_at = lease_clock()
            old_deadline = old.lease.rules.act_until
            others = [n for n in nodes if n is not old]
            await wait_until(lambda: len(leaders(others)) == 1, 3 * DEFAULT.ttl)
            new = leaders(others)[0]
            elected_at = new.elected_at()
            assert old_deadline <= elected_at
            assert not old.lease.may_act()
            assert new.lease.token is not None
            assert old.changes[-1][1] == SteppedDown(old.changes[0][1].token, "expired")  # type: ignore[union-attr]
            print(
                f"\nlease takeover (ttl {DEFAULT.ttl}, renew {DEFAULT.renew_every}, margin "
                f"{DEFAULT.margin}): new leader {elected_at - stopped_at:.3f} s after the old one "
                f"died; the old one had stopped acting {elected_at - old_deadline:.3f} s before"
            )
        finally:
            for node in nodes:
                await node.stop()


async def test_release_hands_over_at_once(redis_target: RedisTarget) -> None:
    async with client(redis_target.url) as redis:
        await seed_epoch(redis, redis_target.prefix)
        a = RedisLease(redis, "a", prefix=redis_target.prefix, timing=DEFAULT)
        b = RedisLease(redis, "b", prefix=redis_target.prefix, timing=DEFAULT)
        await a.step()
        await b.step()
        assert a.role is Role.LEADER
        assert b.role is Role.FOLLOWER
        start = lease_clock()
        await a.release()
        assert not a.may_act()
        await b.step()
        assert b.role is Role.LEADER
        assert b.may_act()
        print(f"\nrelease → new leader: {1000 * (lease_clock() - start):.1f} ms")


async def test_the_old_leaders_token_is_fenced_after_a_new_acquisition(
    redis_target: RedisTarget,
) -> None:
    prefix = redis_target.prefix
    journal = f"{prefix}:fence-test"
    append = FENCE_CHECK_LUA + "return redis.call('RPUSH', KEYS[2], ARGV[2])"
    async with client(redis_target.url) as redis:
        write = redis.register_script(append)
        a = RedisLease(redis, "a", prefix=prefix, timing=FAST)
        b = RedisLease(redis, "b", prefix=prefix, timing=FAST)
        await a.step()
        old = a.holder
        assert old is not None
        assert not await fenced(redis, prefix, old)
        assert await write(keys=[leader_key(prefix), journal], args=[old, "a1"]) == 1
        await asyncio.sleep(FAST.ttl + 0.1)  # a froze: its lease expired in Redis
        assert await fenced(redis, prefix, old)  # no successor yet: still refused
        await b.step()
        new = b.holder
        assert new is not None
        assert b.token is not None
        assert a.token is not None
        assert b.token > a.token
        assert await fenced(redis, prefix, old)
        assert not await fenced(redis, prefix, new)
        with pytest.raises(ResponseError, match=FENCED_ERROR):
            await write(keys=[leader_key(prefix), journal], args=[old, "a2"])
        assert await write(keys=[leader_key(prefix), journal], args=[new, "b1"]) == 2
        assert await redis.lrange(journal, 0, -1) == [b"a1", b"b1"]
        # a's own renew now finds b's lease: it steps down without touching b's
        await a.step()
        assert a.role is Role.FOLLOWER
        assert (await redis.get(leader_key(prefix))).decode() == new


async def test_a_frozen_leader_resumes_without_acting_and_steps_down(
    redis_target: RedisTarget,
) -> None:
    child_script = Path(__file__).with_name("lease_child.py")
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(child_script), redis_target.url, redis_target.prefix, "child",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    lines: list[str] = []

    async def read() -> None:
        assert child.stdout is not None
        async for raw in child.stdout:
            lines.append(raw.decode().strip())

    reader = asyncio.create_task(read())

    def ticks() -> list[tuple[float, bool, int, str]]:
        out = []
        for line in lines:
            if line.startswith("TICK "):
                _, clock, acting, replies, role = line.split()
                out.append((float(clock), acting == "1", int(replies), role))
        return out

    async with client(redis_target.url) as redis:
        parent = Node(redis, "parent", redis_target.prefix, DEFAULT)
        try:
            await wait_until(lambda: any(t[1] for t in ticks()), 10)
            parent.start()
            await asyncio.sleep(1.5)
            assert parent.lease.role is Role.FOLLOWER
            child.send_signal(signal.SIGSTOP)
            stopped_at = lease_clock()
            await wait_until(lambda: parent.lease.role is Role.LEADER, 3 * DEFAULT.ttl)
            elected_at = parent.elected_at()
            await asyncio.sleep(0.5)
            resumed_at = lease_clock()
            child.send_signal(signal.SIGCONT)
            await wait_until(lambda: any("SteppedDown" in line for line in lines), 5)
            await wait_until(lambda: any(t[0] >= resumed_at for t in ticks()), 5)
        finally:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGCONT)
                child.kill()
            await child.wait()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await parent.stop()
    before = [t for t in ticks() if t[0] < stopped_at]
    after = [t for t in ticks() if t[0] >= resumed_at]
    assert before[-1][1], "the child was acting when it was stopped"
    assert after, "the child printed nothing after SIGCONT"
    assert not any(acting for _, acting, _, _ in after)
    assert not any(acting and clock >= elected_at for clock, acting, _, _ in ticks())
    last_acting = max(clock for clock, acting, _, _ in ticks() if acting)
    stepped = next(line for line in lines if "SteppedDown" in line)
    print(
        f"\nfrozen leader: stopped {resumed_at - stopped_at:.2f} s; its last may_act True "
        f"{elected_at - last_acting:.3f} s before the new leader's election; first tick after "
        f"SIGCONT: may_act {after[0][1]}, Redis replies {after[0][2]} (before the stop: "
        f"{before[-1][2]}); {stepped}"
    )


async def test_redis_restarted_the_leader_stops_acting_in_time_and_a_node_reacquires(
    private_redis: PrivateRedis,
) -> None:
    async with client(private_redis.url) as redis_a, client(private_redis.url) as redis_b:
        nodes = [Node(r, f"n{i}", "acd-test", DEFAULT) for i, r in enumerate((redis_a, redis_b))]
        for node in nodes:
            node.start()
        try:
            await wait_until(lambda: len(leaders(nodes)) == 1, 5)
            await asyncio.sleep(1.2)
            leader = leaders(nodes)[0]
            down_at = lease_clock()
            private_redis.stop()
            deadline = leader.lease.rules.act_until  # no renew can succeed from here on
            assert deadline <= down_at + DEFAULT.ttl - DEFAULT.margin
            samples: list[tuple[float, bool]] = []
            while leader.lease.role is Role.LEADER:
                now = lease_clock()
                samples.append((now, leader.lease.may_act()))
                assert now < down_at + 3 * DEFAULT.ttl, "the leader never stepped down"
                await asyncio.sleep(0.005)
            stepped_at = lease_clock()
            assert not any(acting for t, acting in samples if t >= deadline)
            assert not any(n.lease.may_act() for n in nodes)
            assert isinstance(leader.changes[-1][1], SteppedDown)
            await asyncio.sleep(0.5)
            up_at = lease_clock()
            private_redis.start()
            await wait_until(lambda: len(leaders(nodes)) == 1, 5 * DEFAULT.ttl)
            again = leaders(nodes)[0]
            reacquired_at = again.changes[-1][0]
            assert again.lease.token == 1  # Redis came back empty
            assert not again.lease.may_act()
            await wait_until(again.lease.may_act, 2 * DEFAULT.ttl)
            acting_at = lease_clock()
            print(
                f"\nredis restart: the leader stopped acting {stepped_at - down_at:.3f} s after "
                f"Redis went down (deadline {deadline - down_at:.3f} s); "
                f"{again.lease.node_id} leads again {reacquired_at - up_at:.3f} s after Redis "
                f"came back and acts {acting_at - up_at:.3f} s after (first token: waits a ttl)"
            )
        finally:
            for node in nodes:
                await node.stop()


async def test_a_leader_whose_lease_vanished_and_was_retaken_steps_down_on_its_next_renew(
    redis_target: RedisTarget,
) -> None:
    """As after a Redis restart without persistence: the keys are gone while the old leader is
    still inside its deadline, and another node takes the lease. Only the holder may renew, and
    the new leader (token 1 again) does not act while the old one may."""
    prefix = redis_target.prefix
    async with client(redis_target.url) as redis:
        await seed_epoch(redis, prefix)
        a = RedisLease(redis, "a", prefix=prefix, timing=DEFAULT)
        b = RedisLease(redis, "b", prefix=prefix, timing=DEFAULT)
        await a.step()
        await redis.delete(leader_key(prefix), epoch_key(prefix))
        await b.step()
        assert b.role is Role.LEADER
        assert b.token == 1
        assert a.may_act()  # a cannot know yet: its deadline has not come
        assert not b.may_act()
        await a.step()
        assert a.role is Role.FOLLOWER
        assert not a.may_act()
        renewing = asyncio.create_task(b.run())
        try:
            await wait_until(b.may_act, DEFAULT.ttl + 0.5)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        assert (await redis.get(leader_key(prefix))).decode() == b.holder

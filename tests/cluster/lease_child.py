"""A lease contender in its own process, for the SIGSTOP test (test_lease_redis.py).

python lease_child.py <redis_url> <prefix> <node_id>: contends with the default timing and
prints, every 20 ms, `TICK <lease_clock> <may_act 0/1> <replies> <role>`, and `CHANGE <change>`
on each election or step-down, flushing each line.
"""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from acd.cluster.lease import Change, RedisLease, lease_clock


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(url: str, prefix: str, node_id: str) -> None:
    redis = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def changed(change: Change) -> None:
        say(f"CHANGE {change!r}")

    lease = RedisLease(redis, node_id, prefix=prefix, on_change=changed)
    runner = asyncio.create_task(lease.run())
    try:
        while True:
            # The clock is read before may_act so the line's time is no later than its answer.
            now = lease_clock()
            acting = lease.may_act()
            say(f"TICK {now:.6f} {int(acting)} {lease.replies} {lease.role.value}")
            await asyncio.sleep(0.02)
    finally:
        runner.cancel()
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

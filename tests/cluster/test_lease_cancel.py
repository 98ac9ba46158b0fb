"""Stopping a lease's run loop always works, even when the stop lands in the same loop turn
as a Redis reply. Python 3.11's `asyncio.wait_for` returns the inner result in that case and
swallows the cancel (the task stays `cancelling()`), so a loop that only checked for the
CancelledError would contend forever and its owner's `await task` never return (seen in a
clean-clone run: a Redis-restart test's teardown hung until pytest's 300 s timeout).

The Redis client is a stand-in at the I/O edge: its script call returns a future the test
completes at the very moment it cancels the task."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.cluster.lease import RedisLease


class _HeldScripts:
    """`register_script` stand-in: every call returns the next future of `pending`."""

    def __init__(self) -> None:
        self.pending: list[asyncio.Future[Any]] = []

    def register_script(self, _source: str) -> Any:
        def call(keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.pending.append(future)
            return future

        return call


async def test_a_cancel_landing_with_the_reply_still_stops_the_run_loop() -> None:
    redis = _HeldScripts()
    lease = RedisLease(redis, "n0")  # type: ignore[arg-type]
    task = asyncio.create_task(lease.run())
    await asyncio.sleep(0.01)  # the acquire is awaited inside wait_for
    assert len(redis.pending) == 1
    redis.pending[-1].set_result(None)  # not acquired: the loop would try again
    task.cancel()  # in the same turn as the reply
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert done, "the run loop went on after its cancel"
    assert task.cancelled()

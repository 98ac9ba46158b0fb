"""Replication lag of the journal at 50 calls/s on the local Redis (127.0.0.1:6379).

A leader loop runs as the engine will: it drains what is queued, stamps it, appends the batch
(`JournalWriter`) and only then applies it to its Router. Calls arrive (Poisson, 50/s) for 150
logged-in agents; an offered call is answered 0.2-1 s later and ends after 0.5-3 s; ticks come
at the router's deadlines. A follower in the same process tails the stream. Printed per run:
lag (follower apply - event `now`) and append->apply delay p50/p99/max, and the append round
trip per batch and per event. The follower shares the process and the 2-core machine with the
leader: the numbers include that contention.

    .venv/bin/python bench/replication.py --runs 3 --seconds 20 \
        --out bench/results/replication.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from acd.cluster.journal import Applied, JournalFollower, JournalWriter
from acd.cluster.lease import LeaseTiming, RedisLease, leader_key
from acd.router import events as ev
from acd.router.decisions import OfferCall
from acd.router.model import QueueConfig, frozen_skills
from acd.router.router import Router


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_run(url: str, seconds: float, rate: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    prefix = f"acd-bench-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(url, socket_timeout=5)
    follower_redis = Redis.from_url(url, socket_timeout=5)
    lease = RedisLease(redis, "bench", prefix=prefix, timing=LeaseTiming(600.0, 1.0, 0.5))
    await lease.step()
    assert lease.holder is not None
    writer = JournalWriter(redis, f"{prefix}:journal", leader_key(prefix), lease.holder)
    await writer.open()
    router = Router()
    applied: list[Applied] = []
    follower = JournalFollower(
        follower_redis, f"{prefix}:journal", Router(), on_applied=applied.append
    )
    follow = asyncio.create_task(follower.run())
    loop = asyncio.get_running_loop()
    ingress: asyncio.Queue[Any] = asyncio.Queue()

    def later(delay: float, factory: Any) -> None:
        loop.call_later(delay, ingress.put_nowait, factory)

    setup: list[ev.Event] = [ev.QueueUpserted(time.time(), QueueConfig("q", frozen_skills({})))]
    for i in range(150):
        setup += [ev.AgentUpserted(time.time(), f"a{i}"), ev.AgentLoggedIn(time.time(), f"a{i}")]
    for item in setup:
        ingress.put_nowait(lambda now, e=item: e)

    async def arrivals() -> None:
        n = 0
        while True:
            await asyncio.sleep(rng.expovariate(rate))
            n += 1
            ingress.put_nowait(lambda now, c=f"c{n}": ev.CallArrived(now, c, "q"))

    async def engine() -> None:
        while True:
            deadline = router.next_deadline()
            try:
                timeout = None if deadline is None else max(0.0, deadline - time.time())
                async with asyncio.timeout(timeout):
                    factories = [await ingress.get()]
            except TimeoutError:
                factories = [lambda now: ev.Tick(now)]
            while not ingress.empty():
                factories.append(ingress.get_nowait())
            now = time.time()
            batch = [f(now) for f in factories]
            await writer.append(batch)  # journal first, then apply
            for event in batch:
                for d in router.handle(event):
                    if isinstance(d, OfferCall):
                        answer = rng.uniform(0.2, 1.0)
                        c, a = d.call_id, d.agent_id
                        later(answer, lambda now, c=c, a=a: ev.OfferAnswered(now, c, a))
                        later(answer + rng.uniform(0.5, 3.0), lambda now, c=c: ev.CallEnded(now, c))

    tasks = [asyncio.create_task(arrivals()), asyncio.create_task(engine())]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert writer.next_seq is not None
    async with asyncio.timeout(10):
        while follower.applied_seq < writer.next_seq - 1:  # noqa: ASYNC110 (a bench polls)
            await asyncio.sleep(0.01)
    follow.cancel()
    await asyncio.gather(follow, return_exceptions=True)
    same = router.agents() == follower.router.agents() and router.calls() == follower.router.calls()
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
    await follower_redis.aclose()
    steady = applied[len(setup) :]
    lags = [a.lag for a in steady]
    delays = [a.commit_delay for a in steady]
    trips = [t for _, t in writer.round_trips]
    events = sum(n for n, _ in writer.round_trips)
    ms = 1000.0
    return {
        "seconds": seconds,
        "calls_per_s": rate,
        "events": len(steady),
        "events_per_s": round(len(steady) / seconds, 1),
        "batches": len(trips),
        "events_per_batch_mean": round(events / len(trips), 2),
        "lag_ms": {k: round(pct(lags, q) * ms, 3) for k, q in (("p50", 0.5), ("p99", 0.99))}
        | {"max": round(max(lags) * ms, 3)},
        "append_to_apply_ms": {
            k: round(pct(delays, q) * ms, 3) for k, q in (("p50", 0.5), ("p99", 0.99))
        }
        | {"max": round(max(delays) * ms, 3)},
        "append_round_trip_ms": {
            "p50": round(statistics.median(trips) * ms, 3),
            "p99": round(pct(trips, 0.99) * ms, 3),
            "max": round(max(trips) * ms, 3),
            "per_event_mean": round(sum(trips) / events * ms, 3),
        },
        "follower_state_equal": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        result = asyncio.run(one_run(args.url, args.seconds, args.rate, seed=n))
        runs.append(result)
        print(
            f"run {n}: {result['events_per_s']} events/s in {result['batches']} batches;"
            f" lag ms {result['lag_ms']}; append->apply ms {result['append_to_apply_ms']};"
            f" round trip ms {result['append_round_trip_ms']};"
            f" equal {result['follower_state_equal']}"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"workload": __doc__.splitlines()[0], "runs": runs}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()

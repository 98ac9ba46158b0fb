"""Router snapshot cost: `dump_router` / `load_router` time and size, and the fenced write and
the read on the local Redis (127.0.0.1:6379), median of 5 runs per size.

Populations come from bench/router.py (`Driver.setup`: 500 queues, agents logged in, half of
them on a call); "+ N waiting" then adds arrivals until N calls wait (the rest of the agents
answer theirs first). Times are wall clock with gc enabled, as on a node.

    .venv/bin/python bench/snapshot.py [--runs 5] [--out bench/results/snapshot.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis.asyncio import Redis
from router import Driver, make_population  # bench/router.py

from acd.cluster.journal import JournalWriter
from acd.cluster.lease import LeaseTiming, RedisLease, leader_key
from acd.cluster.snapshot import (
    dump_router,
    journal_key,
    load_router,
    read_snapshot,
    write_snapshot,
)
from acd.router import events as ev
from acd.router.router import Router

SIZES = [(1_000, 1_000), (10_000, 0), (10_000, 1_000)]


def build(agents: int, waiting: int) -> Router:
    router = Router()
    driver = Driver(router, make_population(), agents, seed=11)
    driver.setup()
    while len(driver.waiting) < waiting:
        driver.arrive()
        driver.answer_offers()
    return router


def timed(fn: Any, runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def redis_round_trip(url: str, data: bytes, runs: int) -> tuple[float, float] | None:
    """Median seconds of a fenced write and of a read of `data`; None without a Redis."""
    redis = Redis.from_url(url, socket_timeout=30)
    prefix = f"acd-bench-{uuid.uuid4().hex[:8]}"
    try:
        lease = RedisLease(redis, "bench", prefix=prefix, timing=LeaseTiming(600.0, 1.0, 0.5))
        await lease.step()
        assert lease.holder is not None
        writer = JournalWriter(redis, journal_key(prefix), leader_key(prefix), lease.holder)
        await writer.open()
        [entry_id] = await writer.append([ev.Tick(1.0)])
        assert entry_id is not None
        writes, reads = [], []
        for _ in range(runs):
            started = time.perf_counter()
            await write_snapshot(redis, prefix, lease.holder, 1, entry_id, data)
            writes.append(time.perf_counter() - started)
            started = time.perf_counter()
            stored = await read_snapshot(redis, prefix)
            reads.append(time.perf_counter() - started)
            assert stored is not None
            assert stored.data == data
        return statistics.median(writes), statistics.median(reads)
    except OSError:
        return None
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for agents, waiting in SIZES:
        router = build(agents, waiting)
        dump_s, data = timed(lambda router=router: dump_router(router), args.runs)
        load_s, loaded = timed(lambda data=data: load_router(data), args.runs)
        assert loaded.agents() == router.agents()
        assert loaded.calls() == router.calls()
        trip = asyncio.run(redis_round_trip(args.redis, data, args.runs))
        row = {
            "agents": agents,
            "waiting_calls": sum(router.waiting_count(q.name) for q in router.queues()),
            "calls": len(router.calls()),
            "bytes": len(data),
            "dump_ms": round(dump_s * 1000, 2),
            "load_ms": round(load_s * 1000, 2),
            "redis_write_ms": None if trip is None else round(trip[0] * 1000, 2),
            "redis_read_ms": None if trip is None else round(trip[1] * 1000, 2),
        }
        results.append(row)
        print(
            f"{agents:>6} agents {row['waiting_calls']:>5} waiting ({row['calls']} calls):"
            f" {len(data) / 1e6:6.2f} MB, dump {row['dump_ms']:7.1f} ms,"
            f" load {row['load_ms']:7.1f} ms, Redis write {row['redis_write_ms']} ms,"
            f" read {row['redis_read_ms']} ms"
        )
    if args.out:
        meta = {"python": platform.python_version(), "machine": platform.machine(),
                "runs": args.runs, "statistic": "median"}  # fmt: skip
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

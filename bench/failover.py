"""Failover of a two-node cluster on a real Asterisk, real Redis and real PostgreSQL (issue
#12 item 6): two `acd serve` nodes with [cluster] (tests/ha/rig.py's ClusterRig).

    takeover  Steady traffic: 20 simulated agents talking 1-3 s, a feeder keeping about 10
              callers waiting. The leader is SIGKILLed `--kills` times (restarted as a standby
              after each); per kill, seen from outside: seconds from the SIGKILL to the new
              leader's /readyz 200, to its first AMI Redirect (its AMI proxy's tap), and to the
              first offer after that Redirect (an Asterisk DialBegin of a waiting call, by
              Asterisk's own Timestamp). Plus lost calls, calls offered twice and duplicated
              records over the whole run.
    lag       `--lag-rate` calls/s (Poisson) for `--lag-seconds` with every agent logged in;
              the standby's acd_replication_lag_seconds (its /metrics, sampled every 0.1 s).

p50/p99/max of each; prints a table, writes JSON with the machine's description.

    .venv/bin/python bench/failover.py [--kills 20] [--lag-rate 50] [--lag-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

import redis  # noqa: E402
from _machine import machine  # noqa: E402  (bench/, the script's folder)
from faults.harness import Probe, queue, sim_agent  # noqa: E402
from ha.rig import CallBook, ClusterNode, ClusterRig, actors, fresh_database, verdict  # noqa: E402

from acd.asterisk.install import install  # noqa: E402
from acd.asterisk.testing import start_with_free_ports  # noqa: E402

QUEUE = "failover"
REDIS_URL = os.environ.get("ACD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float | None]:
    return {"n": len(values), "p50": pct(values, 0.5), "p99": pct(values, 0.99),
            "max": max(values) if values else None}  # fmt: skip


class Feeder:
    """Keeps about `waiting` callers waiting (placed, not yet connected), each talking
    `talk` (uniform) once answered, or arrives at `rate` calls/s (Poisson) when given."""

    def __init__(self, book: CallBook, rng: random.Random, talk: tuple[float, float]) -> None:
        self.book = book
        self.rng = rng
        self.talk = talk
        self.refused = 0

    def waiting(self) -> int:
        return sum(
            1
            for call_id, t in self.book.callers.items()
            if self.book.bridged_at(call_id) is None and self.book.ended_at(t.caller) is None
        )

    async def _one(self) -> None:
        talk = round(self.rng.uniform(*self.talk), 2)
        try:
            await self.book.place(QUEUE, 1, talk=talk, hold=600, spacing=0)
        except Exception:  # a refused originate is a caller that never came
            self.refused += 1

    async def keep_waiting(self, target: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.waiting() < target:
                await self._one()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.05)

    async def at_rate(self, rate: float, seconds: float) -> int:
        placed, end = 0, time.monotonic() + seconds
        next_at = time.monotonic()
        # Each Originate its own task: a slow reply must not pace the arrivals.
        pending: set[asyncio.Task[None]] = set()
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            task = asyncio.create_task(self._one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            placed += 1
            next_at += self.rng.expovariate(rate)
        await asyncio.gather(*pending)
        return placed


async def one_kill(rig: ClusterRig, book: CallBook) -> dict[str, Any]:
    old = await rig.wait_leader(within=30)
    killed_wall, killed = time.time(), time.monotonic()
    await rig.kill(old, signal.SIGKILL)
    new = await rig.wait_leader(within=30, exclude=[old])
    ready_s = time.monotonic() - killed
    redirect = await _first(new, "redirect", since=killed, within=30)
    offer_s = None
    if redirect is not None:
        offers = await _offers_after(book, redirect.wall, within=15)
        offer_s = float(offers[0]["Timestamp"]) - killed_wall if offers else None
    await rig.restart(old)
    return {
        "killed": old.node_id,
        "killed_at": killed_wall,
        "new_leader": new.node_id,
        "ready_s": ready_s,
        "first_redirect_s": None if redirect is None else redirect.at - killed,
        "first_offer_s": offer_s,
    }


async def _first(node: ClusterNode, name: str, since: float, within: float) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for action in node.actions.sent:
            if action.at >= since and action.name.lower() == name:
                return action
        await asyncio.sleep(0.02)
    return None


async def _offers_after(book: CallBook, wall: float, within: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if offers := book.offers_since(wall):
            return offers
        await asyncio.sleep(0.02)
    return []


async def sample_lag(node: ClusterNode, stop: asyncio.Event, into: list[float]) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):
            for name, value in (await node.metrics()).items():
                if name.startswith("acd_replication_lag_seconds"):
                    into.append(value)
                    break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    running = start_with_free_ports(install().installation, "failover-bench")
    probe = Probe(running)
    await probe.start()
    prefix = f"acd-bench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="acd-failover-"))
    agents = [sim_agent(str(5001 + i)) for i in range(args.agents)]
    result: dict[str, Any] = {"machine": machine(), "args": vars(args).copy()}
    result["args"]["out"] = str(args.out)
    try:
        async with fresh_database() as database:
            rig = ClusterRig(
                running, workdir, probe, database=database, redis_url=REDIS_URL,
                key_prefix=prefix, queues=[queue(QUEUE, ring_timeout=15, announce_every=3600)],
                agents=agents, source=args.source,
            )  # fmt: skip
            try:
                result |= await _measure(rig, rng, args)
            finally:
                await rig.close()
    finally:
        await probe.close(hangup=True)
        running.instance.stop()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    return result


async def _measure(rig: ClusterRig, rng: random.Random, args: argparse.Namespace) -> dict[str, Any]:
    leader = await rig.start()
    # The nodes reach AMI and Redis through this process's proxies (the rig's): a full
    # collection here (200-330 ms once the run had built its call book) held every proxied
    # journal append and read, and showed as replication lag the nodes did not have. Settled
    # now, and no full passes while measuring (the process lives for one run).
    gc.collect()
    gc.freeze()
    gc.set_threshold(gc.get_threshold()[0], gc.get_threshold()[1], 1_000_000)
    for agent in rig.nodes[0].agents[: args.takeover_agents]:
        reply = await leader.api("POST", f"/agents/{agent['id']}/login")
        assert reply.status in (200, 204), reply
    book = CallBook(rig.probe)
    feeder = Feeder(book, rng, (1.0, 3.0))
    stop = asyncio.Event()
    feeding = asyncio.create_task(feeder.keep_waiting(args.waiting, stop))
    kills: list[dict[str, Any]] = []
    try:
        await asyncio.sleep(args.settle)
        for n in range(args.kills):
            kills.append(await one_kill(rig, book))
            print(f"kill {n + 1}/{args.kills}: {_kill_row(kills[-1])}", flush=True)
            await asyncio.sleep(args.settle)
    finally:
        stop.set()
        await feeding
    lag: list[float] = []
    placed = 0
    if args.lag_seconds > 0:
        leader = await rig.wait_leader()
        for agent in rig.nodes[0].agents[args.takeover_agents :]:
            await leader.api("POST", f"/agents/{agent['id']}/login")
        standby = rig.others(leader)[0]
        lag_feeder = Feeder(book, rng, (0.5, 1.5))
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_lag(standby, stop, lag))
        try:
            placed = await lag_feeder.at_rate(args.lag_rate, args.lag_seconds)
        finally:
            stop.set()
            await sampler
    await book.wait_all_gone(within=120)
    outcome = await verdict(rig, book)
    # The evidence of every call that went wrong, before the database is dropped.
    suspects = set(outcome.lost) | set(outcome.offered_twice) | set(outcome.not_one_final_record)
    evidence = {}
    for call_id in sorted(suspects):
        tracked = book.callers[call_id]
        evidence[call_id] = {
            "records": [
                [str(v) for v in row]
                for row in await rig.database.rows(
                    "SELECT leg, outcome, entered, offered, answered, ended, agent_id,"
                    " exit_reason FROM acd_call_records WHERE call_id = $1 ORDER BY leg",
                    call_id,
                )
            ],
            "offered_at": [float(o["Timestamp"]) for o in book.offers(call_id)],
            "bridged_at": book.bridged_at(call_id),
            "caller_gone_at": book.ended_at(tracked.caller),
            "talk": tracked.talk,
        }
    return {
        "evidence": evidence,
        "kills": kills,
        "takeover": {
            key: summary([k[key] for k in kills if k[key] is not None])
            for key in ("ready_s", "first_redirect_s", "first_offer_s")
        },
        "lag": {
            "calls_per_s": args.lag_rate,
            "seconds": args.lag_seconds,
            "placed": placed,
            "samples_ms": summary([v * 1000 for v in lag]),
            "samples_over_50ms": sorted(round(v * 1000, 1) for v in lag if v > 0.05),
        },
        "calls": len(book.callers),
        "refused_originates": feeder.refused,
        "lost": outcome.lost,
        "offered_twice": outcome.offered_twice,
        "duplicated_records": outcome.duplicated_records,
        "not_one_final_record": outcome.not_one_final_record,
        "actors_switches": len(actors(rig.nodes)) - 1,
    }


def _kill_row(kill: dict[str, Any]) -> str:
    return ", ".join(
        f"{key} {kill[key]:.2f}" if isinstance(kill[key], float) else f"{key} {kill[key]}"
        for key in ("ready_s", "first_redirect_s", "first_offer_s")
    )


def fmt(value: Any, scale: float = 1.0, spec: str = ".2f") -> str:
    return "-" if value is None else format(value * scale, spec)


def table(result: dict[str, Any]) -> str:
    rows = [(f"takeover over {len(result['kills'])} kills (s)", "p50", "p99", "max")]
    names = {
        "ready_s": "  kill -> new leader ready",
        "first_redirect_s": "  kill -> first Redirect",
        "first_offer_s": "  kill -> first offer (DialBegin)",
    }
    for key, label in names.items():
        s = result["takeover"][key]
        rows.append((label, fmt(s["p50"]), fmt(s["p99"]), fmt(s["max"])))
    lag = result["lag"]["samples_ms"]
    rows.append((f"replication lag at {result['lag']['calls_per_s']:.0f} calls/s (ms)",
                 fmt(lag["p50"]), fmt(lag["p99"]), fmt(lag["max"])))  # fmt: skip
    width = max(len(r[0]) for r in rows)
    lines = [f"{r[0]:<{width}}  {r[1]:>7} {r[2]:>7} {r[3]:>7}" for r in rows]
    lines += [
        f"calls {result['calls']}, lost {len(result['lost'])}, offered twice "
        f"{len(result['offered_twice'])}, duplicated records {len(result['duplicated_records'])}"
        f", not one final record {len(result['not_one_final_record'])}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--agents", type=int, default=100, help="agents in the store")
    parser.add_argument("--takeover-agents", type=int, default=20, help="logged in for kills")
    parser.add_argument("--waiting", type=int, default=10, help="callers kept waiting")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds between kills")
    parser.add_argument("--lag-rate", type=float, default=50.0)
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source", type=Path, help="run `python -m acd` from this tree")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "failover.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    # Other processes on the machine show here (the lag is sensitive to a loaded CPU).
    result["machine"]["loadavg_end"] = os.getloadavg()
    print(table(result))
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a controller restart costs the callers, on a real Asterisk (issue #10's targets).

    kill     100 callers waiting and 50 talking; `acd serve` is SIGKILLed and started again on
             the same store: how many of the 150 calls the new process lists again (same id,
             same state, waiting ones in the same order) and its time from spawn to ready.
             The reference, measured in the same run: the time to ready of the same restart
             with no call in Asterisk.
    outage   the controller is down for 30 s while 20 callers enter; once it is back: how many
             are registered, and whether each one's entry time is its real one (the wait the
             records will show includes the outage).

Median of --runs runs each; prints a table and writes JSON.

    python bench/restart.py [--runs 3] [--waiting 100] [--talking 50] [--outage 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from faults.harness import ControllerProcess, Probe, queue, sim_agent  # noqa: E402

from acd.asterisk.install import install  # noqa: E402
from acd.asterisk.testing import RunningAsterisk, start_with_free_ports  # noqa: E402

QUEUE = "restart"


def _controller(asterisk: RunningAsterisk, workdir: Path, agents: int) -> ControllerProcess:
    return ControllerProcess(
        asterisk,
        workdir,
        queues=[queue(QUEUE, announce_every=3600, max_wait=None)],
        agents=[sim_agent(str(4001 + i)) for i in range(agents)],
    )


async def _until(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.2)


async def kill_run(
    asterisk: RunningAsterisk, probe: Probe, waiting: int, talking: int
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="acd-restart-"))
    acd = _controller(asterisk, workdir, talking)
    try:
        await acd.start()
        reference = await acd.restart(signal.SIGKILL)  # nothing live: the reference
        await acd.login_all()
        for _ in range(talking + waiting):
            await probe.call(QUEUE, talk=600, hold=900)
            await asyncio.sleep(0.02)

        async def all_in() -> bool:
            calls = await acd.live_calls()
            states = [c["state"] for c in calls]
            return states.count("connected") == talking and states.count("waiting") == waiting

        await _until(all_in, 60)
        before = await acd.live_calls()
        ready = await acd.restart(signal.SIGKILL)
        after = await acd.live_calls()
        by_id = {c["id"]: c for c in after}
        kept = sum(
            1
            for c in before
            if c["id"] in by_id
            and by_id[c["id"]]["state"] == c["state"]
            and by_id[c["id"]].get("agent_id") == c.get("agent_id")
        )
        waiting_before = [c["id"] for c in before if c["state"] == "waiting"]
        waiting_after = [c["id"] for c in after if c["state"] == "waiting"]
        return {
            "calls": len(before),
            "readopted": kept,
            "lost": len(before) - kept,
            "order_kept": waiting_before == waiting_after,
            "ready_s": ready,
            "reference_ready_s": reference,
        }
    finally:
        await probe.hangup_all()
        await acd.close()


async def outage_run(
    asterisk: RunningAsterisk, probe: Probe, outage: float, callers: int
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="acd-outage-"))
    acd = _controller(asterisk, workdir, 1)
    try:
        await acd.start()
        await acd.kill(signal.SIGKILL)
        entered: dict[str, float] = {}
        started = time.time()
        for _ in range(callers):
            caller = await probe.call(QUEUE, talk=600, hold=900)
            entered[caller.call_id] = time.time()
            await asyncio.sleep(outage / callers)
        await asyncio.sleep(max(0.0, started + outage - time.time()))
        await acd.start()

        async def registered() -> bool:
            ids = {c["id"] for c in await acd.live_calls()}
            return all(call_id in ids for call_id in entered)

        with contextlib.suppress(TimeoutError):  # the count below says how many made it
            await _until(registered, 30)
        calls = {c["id"]: c for c in await acd.live_calls()}
        skew = [
            abs(float(calls[call_id]["enqueued_at"]) - at)
            for call_id, at in entered.items()
            if call_id in calls and calls[call_id].get("enqueued_at") is not None
        ]
        return {
            "callers": callers,
            "registered": sum(1 for call_id in entered if call_id in calls),
            "lost": sum(1 for call_id in entered if call_id not in calls),
            "entry_time_error_max_s": max(skew) if skew else None,
        }
    finally:
        await probe.hangup_all()
        await acd.close()


async def main(args: argparse.Namespace) -> int:
    running = start_with_free_ports(install().installation, "restart-bench")
    probe = Probe(running)
    await probe.start()
    results: dict[str, Any] = {"kill": [], "outage": []}
    try:
        for _ in range(args.runs):
            results["kill"].append(await kill_run(running, probe, args.waiting, args.talking))
        for _ in range(args.runs):
            results["outage"].append(await outage_run(running, probe, args.outage, args.callers))
    finally:
        await probe.close(hangup=True)
        running.instance.stop()
    kills, outages = results["kill"], results["outage"]
    ready = statistics.median(r["ready_s"] for r in kills)
    reference = statistics.median(r["reference_ready_s"] for r in kills)
    readopted = statistics.median(r["readopted"] for r in kills)
    errors = [e for r in outages if (e := r["entry_time_error_max_s"]) is not None]
    rows = [
        (f"kill: {args.waiting} waiting + {args.talking} talking, SIGKILL", ""),
        ("  re-adopted (median)", f"{readopted} of {kills[0]['calls']}"),
        ("  lost (max)", str(max(r["lost"] for r in kills))),
        ("  waiting order kept", str(all(r["order_kept"] for r in kills))),
        ("  ready after (median)", f"{ready:.2f} s"),
        ("  reference: empty restart", f"{reference:.2f} s (ratio {ready / reference:.2f})"),
        (f"outage: {args.callers} callers during {args.outage:.0f} s down", ""),
        ("  registered (min)", f"{min(r['registered'] for r in outages)} of {args.callers}"),
        ("  lost (max)", str(max(r["lost"] for r in outages))),
        ("  entry time error (max)", f"{max(errors):.2f} s" if errors else "n/a"),
    ]
    print(f"{args.runs} runs each, medians unless noted")
    for name, value in rows:
        print(f"{name:<44} {value}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--waiting", type=int, default=100)
    parser.add_argument("--talking", type=int, default=50)
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "restart.json")
    sys.exit(asyncio.run(main(parser.parse_args())))

"""`make soak`: 10,000 calls through a real Asterisk while the controller is SIGKILLed and
restarted three times; prints a table (counts, outcomes, the controller's RSS per process)
and writes JSON. The driver is tests/faults/soak.py (the short version runs in `make test`).

    python bench/soak.py [--calls 10000] [--rate 20] [--agents 40] [--kills 3] [--seed 1]
                         [--out bench/results/soak.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from faults.harness import Probe  # noqa: E402
from faults.soak import SoakPlan, run_soak, soak_controller  # noqa: E402

from acd.asterisk.install import install  # noqa: E402
from acd.asterisk.testing import start_with_free_ports  # noqa: E402


async def main(args: argparse.Namespace) -> int:
    plan = replace(
        SoakPlan(),
        calls=args.calls,
        rate=args.rate,
        agents=args.agents,
        kills=args.kills,
        seed=args.seed,
    )
    installation = install().installation
    running = start_with_free_ports(installation, "soak")
    workdir = Path(tempfile.mkdtemp(prefix="acd-soak-"))
    probe = Probe(running)
    acd = soak_controller(running, workdir / "acd", plan)
    try:
        await probe.start()
        result = await run_soak(acd, probe, plan)
    finally:
        await acd.close()
        await probe.close(hangup=True)
        running.instance.stop()
    print(result.table())
    print(f"controller log: {acd.log_path}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result.as_json(), indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    sys.exit(asyncio.run(main(parser.parse_args())))

"""What the replication codec costs per router input: encode + decode of one event, on the
event mix of the router's differential streams (tests/router/router_streams.py, seeded), with
the stdlib json serializer (acd/cluster/codec.py as shipped), the same rules with msgspec's
JSON serializer instead, the rules alone (no serializer) and pickle (the reference: no type
checks at all), all measured in the same run.

    python bench/codec.py                   median of 7 runs over 20 000 events each
    python bench/codec.py --quick           3 runs over 2 000
    python bench/codec.py --out FILE.json   also write the figures as JSON

Figures: µs per event (encode then decode), median (min-max) over runs, each run after a
warm-up; ratio is the median against pickle's median; bytes is the mean message size. The
`Tick` and `QueueUpserted` rows are the smallest and the largest event alone.
"""

from __future__ import annotations

import argparse
import copyreg
import json
import pickle
import platform
import random
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "router"))

from router_streams import Pools, StreamMaker

from acd.cluster import codec
from acd.router import events as ev
from acd.router.router import Router


def stream(count: int, seed: int = 12) -> list[ev.Event]:
    """A differential stream's events that the codec carries (its malformed ones left out)."""
    maker = StreamMaker(random.Random(seed), Pools(agents=20, calls=60, queues=4, skills=5))
    router = Router()
    out: list[ev.Event] = []
    pending = maker.setup()
    while len(out) < count:
        event = pending.pop(0) if pending else maker.event(router)  # type: ignore[arg-type]
        router.handle(event)
        try:
            codec.encode(event)
        except codec.CodecError:
            continue
        out.append(event)
    return out


_MSGSPEC_ENC = msgspec.json.Encoder()
_MSGSPEC_DEC = msgspec.json.Decoder()


def _stdlib(event: ev.Event) -> bytes:
    data = codec.encode(event)
    codec.decode(data)
    return data


def _msgspec(event: ev.Event) -> bytes:
    data = _MSGSPEC_ENC.encode(codec.to_wire(event))
    codec.from_wire(_MSGSPEC_DEC.decode(data))
    return data


def _rules_only(event: ev.Event) -> bytes:
    codec.from_wire(codec.to_wire(event))
    return b""


# pickle has no rule for the read-only skill mappings; this one rebuilds them from a dict.
def _proxy(items: dict[str, int]) -> types.MappingProxyType[str, int]:
    return types.MappingProxyType(items)


copyreg.pickle(types.MappingProxyType, lambda m: (_proxy, (dict(m),)))


def _pickle(event: ev.Event) -> bytes:
    data = pickle.dumps(event, pickle.HIGHEST_PROTOCOL)
    pickle.loads(data)
    return data


CANDIDATES: dict[str, Callable[[ev.Event], bytes]] = {
    "pickle": _pickle,
    "json (shipped)": _stdlib,
    "msgspec json": _msgspec,
    "rules only": _rules_only,
}


def once(fn: Callable[[ev.Event], bytes], events: list[ev.Event]) -> float:
    for event in events[:200]:
        fn(event)
    start = time.perf_counter()
    for event in events:
        fn(event)
    return (time.perf_counter() - start) / len(events) * 1e6


def measure(workloads: dict[str, list[ev.Event]], runs: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for workload, events in workloads.items():
        # Runs interleaved across candidates so a noisy neighbour hits them alike.
        times: dict[str, list[float]] = {name: [] for name in CANDIDATES}
        for _ in range(runs):
            for name, fn in CANDIDATES.items():
                times[name].append(once(fn, events))
        reference = statistics.median(times["pickle"])
        for name, fn in CANDIDATES.items():
            median = statistics.median(times[name])
            size = sum(len(fn(e)) for e in events[:2000]) / min(len(events), 2000)
            rows.append(
                {
                    "workload": workload,
                    "candidate": name,
                    "median_us": median,
                    "min_us": min(times[name]),
                    "max_us": max(times[name]),
                    "ratio": median / reference,
                    "bytes": size,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs, number = (3, 2000) if args.quick else (7, 20000)
    mix = stream(number)
    kinds: dict[str, int] = {}
    for event in mix:
        kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
    workloads = {
        "stream mix": mix,
        "Tick": [e for e in mix if isinstance(e, ev.Tick)],
        "QueueUpserted": [e for e in mix if isinstance(e, ev.QueueUpserted)],
    }
    rows = measure(workloads, runs)
    print(
        f"{runs} runs, {number} events of the mix: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    )
    head = f"{'workload':<15}{'candidate':<16}{'µs/event median (min-max)':>28}"
    print(f"{head}{'ratio':>8}{'bytes':>8}")
    for r in rows:
        spread = f"{r['median_us']:.2f} ({r['min_us']:.2f}-{r['max_us']:.2f})"
        print(
            f"{r['workload']:<15}{r['candidate']:<16}{spread:>28}{r['ratio']:>8.2f}{r['bytes']:>8.0f}"
        )
    if args.out:
        doc = {
            "runs": runs,
            "number": number,
            "mix": kinds,
            "versions": {"python": platform.python_version(), "msgspec": msgspec.__version__},
            "results": rows,
        }
        args.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Routing benchmark: named workloads against the indexed Router (and the naive reference).

    python bench/router.py            full run: 100, 1k, 10k, 100k agents; median of 5 runs
    python bench/router.py --quick    smoke run: 100 and 1k agents, 2 runs, few events
    python bench/router.py --json     print the results as JSON (also with --out FILE)

Population (the same recipe at every size, seeded): 50 skills; 100 skill *profiles* (2-4
skills each, popularity skewed); agent i takes profile i mod 100 with levels 3..10.
500 queues, each with its own requirement set of 1-3 skills of one profile at minimum level
1..3, so every set is served by some agent at every size. A fifth of the queues escalate
after 20 s; max wait 120 s then timeout; wrap-up 0 (a hang-up frees the agent at once).
Steady and backlog ask for minimum levels 1..3, which every agent of the profile meets.

Workloads (one *operation* is one `Router.handle` call; an offer is answered right away by
one more `handle` call, and those count as events too):
  steady    40% call arrival, 40% agent free (a connected call ends), 20% other
            (abandon 7, pause/unpause 6, skill change 4, tick 2, ring-no-answer 1)
  backlog   55% arrival, 25% agent free, 20% other: queues grow, agent-driven dispatch
            scans the waiting-call heaps of every set an agent serves
  levels    the steady mix, but requirement sets ask for minimum levels up to 8 (agents have
            3..10), so agents of one profile differ in which sets they satisfy: many more
            agent classes, and call-driven dispatch compares more heap tops (the index's
            weak spot, shown on purpose)

Per run: the driver builds the population, puts half the agents on calls, warms up and
runs the timed operations against a router of its own while the event stream is recorded;
the stream is then replayed into fresh routers (see `timed_run`). Reported: events/s (timed
events / batch time of one replay), p50/p99 µs per event (every event timed in a second
replay), median over runs; bytes per agent and per waiting call from tracemalloc. gc is
frozen after the untimed part and disabled for the timed part, at every size.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acd.router import events as ev
from acd.router.decisions import CallExited, Decision, OfferCall
from acd.router.model import EscalationStep, QueueConfig, frozen_skills
from acd.router.reference import ReferenceRouter
from acd.router.router import Router

SKILLS = 50
PROFILES = 100
QUEUES = 500
TICK_STEP = 0.001  # simulated seconds per operation

Routerish = Router | ReferenceRouter


class Bag:
    """A set with O(1) add, remove and random choice (swap-remove)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self.index:
            self.index[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: str) -> None:
        i = self.index.pop(item, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.index[last] = i

    def choice(self, rng: random.Random) -> str | None:
        return self.items[rng.randrange(len(self.items))] if self.items else None

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class Population:
    profiles: list[dict[str, int]]  # skill -> max level in the profile
    queues: list[QueueConfig]


def make_population(seed: int = 7, top_min_level: int = 3) -> Population:
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(SKILLS)]  # a few skills are common
    names = [f"skill{i:02d}" for i in range(SKILLS)]
    profiles: list[dict[str, int]] = []
    for _ in range(PROFILES):
        chosen: set[str] = set()
        while len(chosen) < rng.randint(2, 4):
            chosen.add(rng.choices(names, weights)[0])
        profiles.append(dict.fromkeys(sorted(chosen), 10))
    queues: list[QueueConfig] = []
    seen: set[tuple[tuple[str, int], ...]] = set()
    while len(queues) < QUEUES:
        profile = rng.choice(profiles)
        picked = rng.sample(sorted(profile), rng.randint(1, min(3, len(profile))))
        req = {s: rng.randint(1, top_min_level) for s in picked}
        key = tuple(sorted(req.items()))
        if key in seen:
            continue
        seen.add(key)
        escalation: tuple[EscalationStep, ...] = ()
        if len(queues) % 5 == 0:
            relaxed = dict(list(req.items())[:1])
            escalation = (EscalationStep(20.0, frozen_skills(dict.fromkeys(relaxed, 1))),)
        queues.append(
            QueueConfig(
                f"q{len(queues)}",
                frozen_skills(req),
                wrap_up=0.0,
                max_wait=120.0,
                escalation=escalation,
                priority=rng.choice([0, 0, 0, 1]),
            )
        )
    return Population(profiles, queues)


def agent_skills(pop: Population, index: int, rng: random.Random) -> dict[str, int]:
    return {s: rng.randint(3, 10) for s in pop.profiles[index % PROFILES]}


class Driver:
    """Keeps just enough of the router's state (from its decisions) to pick valid events."""

    def __init__(self, router: Routerish, pop: Population, agents: int, seed: int) -> None:
        self.router = router
        self.pop = pop
        self.rng = random.Random(seed)
        self.now = 0.0
        self.agent_count = agents
        self.waiting = Bag()
        self.offered: dict[str, str] = {}  # call -> agent
        self.connected = Bag()
        self.available = Bag()
        self.paused = Bag()
        self.next_call = 0
        self.events = 0

    def send(self, event: ev.Event) -> list[Decision]:
        decisions = self.router.handle(event)
        self.events += 1
        self.observe(event, decisions)
        return decisions

    def observe(self, event: ev.Event, decisions: list[Decision]) -> None:
        for d in decisions:
            if isinstance(d, OfferCall):
                self.waiting.discard(d.call_id)
                self.available.discard(d.agent_id)
                self.offered[d.call_id] = d.agent_id
            elif isinstance(d, CallExited):
                self.waiting.discard(d.call_id)
                self.offered.pop(d.call_id, None)
            elif d.__class__.__name__ == "AgentStateChanged":
                agent_id = d.agent_id  # type: ignore[union-attr]
                state = d.state.value  # type: ignore[union-attr]
                if state == "available":
                    self.available.add(agent_id)
                    self.paused.discard(agent_id)
                elif state == "paused":
                    self.paused.add(agent_id)
                    self.available.discard(agent_id)
        if (
            isinstance(event, ev.CallArrived)
            and event.call_id not in self.offered
            and not any(isinstance(d, CallExited) for d in decisions)
        ):
            self.waiting.add(event.call_id)

    def setup(self) -> None:
        rng = self.rng
        for q in self.pop.queues:
            self.send(ev.QueueUpserted(0.0, q))
        for i in range(self.agent_count):
            agent_id = f"agent{i:06d}"
            skills = frozen_skills(agent_skills(self.pop, i, rng))
            self.send(ev.AgentUpserted(0.0, agent_id, skills))
            self.send(ev.AgentLoggedIn(0.0, agent_id))
        for _ in range(self.agent_count // 2):
            self.arrive()
            self.answer_offers()

    def arrive(self) -> None:
        queue = self.pop.queues[self.rng.randrange(QUEUES)].name
        self.next_call += 1
        self.send(ev.CallArrived(self.now, f"call{self.next_call}", queue))

    def answer_offers(self) -> None:
        while self.offered:
            call_id, agent_id = self.offered.popitem()
            self.send(ev.OfferAnswered(self.now, call_id, agent_id))
            self.connected.add(call_id)

    def agent_free(self) -> None:
        call_id = self.connected.choice(self.rng)
        if call_id is None:
            self.arrive()
            return
        self.connected.discard(call_id)
        self.send(ev.CallEnded(self.now, call_id))

    def other(self) -> None:
        rng = self.rng
        roll = rng.randrange(20)
        if roll < 7:
            call_id = self.waiting.choice(rng)
            if call_id is not None:
                self.waiting.discard(call_id)
                self.send(ev.CallAbandoned(self.now, call_id))
                return
            self.arrive()
        elif roll < 13:
            if len(self.paused) > self.agent_count // 50 or not len(self.available):
                agent_id = self.paused.choice(rng)
                if agent_id is not None:
                    self.send(ev.AgentUnpaused(self.now, agent_id))
                    return
            agent_id = self.available.choice(rng)
            if agent_id is not None:
                self.send(ev.AgentPaused(self.now, agent_id, "break"))
        elif roll < 17:
            i = rng.randrange(self.agent_count)
            skills = frozen_skills(agent_skills(self.pop, rng.randrange(PROFILES), rng))
            self.send(ev.AgentUpserted(self.now, f"agent{i:06d}", skills))
        elif roll < 19:
            self.send(ev.Tick(self.now))
        elif self.offered:
            call_id, agent_id = next(iter(self.offered.items()))
            del self.offered[call_id]
            self.waiting.add(call_id)
            self.send(ev.OfferFailed(self.now, call_id, agent_id))

    def operation(self, arrive: float, free: float) -> None:
        self.now += TICK_STEP
        roll = self.rng.random()
        if roll < arrive:
            self.arrive()
        elif roll < arrive + free:
            self.agent_free()
        else:
            self.other()
        self.answer_offers()


#: name -> (arrival share, agent-free share, highest minimum level in the requirement sets)
WORKLOADS: dict[str, tuple[float, float, int]] = {
    "steady": (0.40, 0.40, 3),
    "backlog": (0.55, 0.25, 3),
    "levels": (0.40, 0.40, 8),
}


@dataclass(frozen=True, slots=True)
class Result:
    workload: str
    router: str
    agents: int
    events: int
    events_per_s: float
    p50_us: float
    p99_us: float
    waiting_calls_at_end: int
    runs: int


def timed_run(
    router_class: Callable[[], Routerish], workload: str, agents: int, events: int, seed: int
) -> tuple[float, float, float, int]:
    """Record one stream with the driver, then replay it into fresh routers and time those.

    The driver picks each event from the decisions of a router of its own, so timing inside
    the driver would mix its bookkeeping (and the cache lines it touches) into every event.
    Replaying the recorded stream gives the same router the same events in the same order
    (the router is deterministic) with nothing else in between. The timed events run in one
    batch: events/s = timed events / (perf_counter_ns at the end - at the start). Every
    `SAMPLE_EVERY`th event is also timed on its own for p50/p99 (two extra clock reads per
    sampled event, about 0.01 µs per event averaged into the batch figure).
    The population, the half of the agents on calls and the warm-up replay untimed; then
    gc.collect() + gc.freeze() (the long-lived setup objects leave the generations the
    collector scans) and gc is disabled for the timed part. The same is done at every size.
    """
    arrive, free, top_min_level = WORKLOADS[workload]
    driver = Driver(router_class(), make_population(top_min_level=top_min_level), agents, seed)
    stream: list[ev.Event] = []
    original_send = driver.send

    def recording_send(event: ev.Event) -> list[Decision]:
        stream.append(event)
        return original_send(event)

    driver.send = recording_send  # type: ignore[method-assign]
    driver.setup()
    for _ in range(min(events, 20_000)):  # warm up: heaps built, queues at their level
        driver.operation(arrive, free)
    untimed = len(stream)
    while len(stream) - untimed < events:
        driver.operation(arrive, free)
    waiting = len(driver.waiting)
    del driver
    samples: list[int] = []
    elapsed = _replay(router_class, stream[:untimed], stream[untimed:], samples)
    samples.sort()
    p50 = samples[len(samples) // 2] / 1000
    p99 = samples[int(len(samples) * 0.99)] / 1000
    return (len(stream) - untimed) / (elapsed / 1e9), p50, p99, waiting


SAMPLE_EVERY = 8


def _replay(
    router_class: Callable[[], Routerish],
    untimed: list[ev.Event],
    timed: list[ev.Event],
    samples: list[int],
) -> int:
    """Feed `untimed` then `timed` to a fresh router; return the nanoseconds `timed` took,
    and the duration of every SAMPLE_EVERY-th timed event in `samples`."""
    handle = router_class().handle
    for event in untimed:
        handle(event)
    clock = time.perf_counter_ns
    append = samples.append
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        start = clock()
        for i, event in enumerate(timed):
            if i % SAMPLE_EVERY:
                handle(event)
            else:
                before = clock()
                handle(event)
                append(clock() - before)
        return clock() - start
    finally:
        gc.enable()
        gc.unfreeze()


def measure(router_name: str, workload: str, agents: int, events: int, runs: int) -> Result:
    router_class: Callable[[], Routerish] = Router if router_name == "indexed" else ReferenceRouter
    samples = [timed_run(router_class, workload, agents, events, seed) for seed in range(runs)]
    return Result(
        workload,
        router_name,
        agents,
        events,
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
        statistics.median(s[2] for s in samples),
        int(statistics.median(s[3] for s in samples)),
        runs,
    )


def memory(agents: int, waiting_calls: int) -> dict[str, float]:
    """Bytes per logged-in agent (heaps built) and per waiting call, from tracemalloc."""
    pop = make_population()
    rng = random.Random(1)
    tracemalloc.start()
    router = Router()
    for q in pop.queues:
        router.handle(ev.QueueUpserted(0.0, q))
    for q in pop.queues:  # intern every requirement set before measuring agents
        router.handle(ev.CallArrived(0.0, "probe", q.name))
        router.handle(ev.CallAbandoned(0.0, "probe"))
    gc.collect()
    before_agents = tracemalloc.get_traced_memory()[0]
    for i in range(agents):
        agent_id = f"agent{i:06d}"
        router.handle(ev.AgentUpserted(0.0, agent_id, frozen_skills(agent_skills(pop, i, rng))))
        router.handle(ev.AgentLoggedIn(0.0, agent_id))
    for q in pop.queues:  # build the agent heaps the way calls do
        router.handle(ev.CallArrived(0.0, "probe", q.name))
        router.handle(ev.CallAbandoned(0.0, "probe"))
    gc.collect()
    after_agents = tracemalloc.get_traced_memory()[0]
    for i in range(agents):
        router.handle(ev.AgentPaused(0.0, f"agent{i:06d}", "lunch"))
    gc.collect()
    before_calls = tracemalloc.get_traced_memory()[0]
    for i in range(waiting_calls):
        queue = pop.queues[rng.randrange(QUEUES)].name
        router.handle(ev.CallArrived(1.0, f"call{i}", queue))
    gc.collect()
    after_calls = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert router.waiting_count(pop.queues[0].name) >= 0
    return {
        "agents": agents,
        "bytes_per_agent": (after_agents - before_agents) / agents,
        "waiting_calls": waiting_calls,
        "bytes_per_waiting_call": (after_calls - before_calls) / waiting_calls,
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", type=Path, help="also write the JSON results to this file")
    parser.add_argument("--runs", type=int, help="runs per figure (median is reported)")
    parser.add_argument("--sizes", help="comma-separated agent counts for the indexed router")
    parser.add_argument("--workloads", help="comma-separated workload names")
    args = parser.parse_args(argv)

    if args.quick:
        sizes, runs, events, ref_sizes, ref_events, mem = [100, 1000], 2, 5_000, [100], 300, 1000
    else:
        sizes, runs = [100, 1_000, 10_000, 100_000], 5
        events, ref_sizes, ref_events, mem = 50_000, [100, 1_000], 2_000, 10_000
    runs = args.runs or runs
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
        ref_sizes = [x for x in ref_sizes if x in sizes]
    workloads = args.workloads.split(",") if args.workloads else list(WORKLOADS)

    results: list[Result] = []
    for workload in workloads:
        for size in sizes:
            results.append(measure("indexed", workload, size, events, runs))
            _progress(results[-1], args.json)
        for size in ref_sizes:
            results.append(measure("reference", workload, size, ref_events, runs))
            _progress(results[-1], args.json)
    mem_figures = memory(mem, mem)
    report = {
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "results": [asdict(r) for r in results],
        "memory": mem_figures,
        "targets": targets(results, mem_figures),
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


def targets(results: list[Result], mem: dict[str, float]) -> dict[str, Any]:
    steady = {r.agents: r for r in results if r.workload == "steady" and r.router == "indexed"}
    found: dict[str, Any] = {}
    if 10_000 in steady:
        rate = steady[10_000].events_per_s
        found["events_per_s_at_10k >= 200000"] = {"value": round(rate), "holds": rate >= 200_000}
    if 1_000 in steady and 100_000 in steady:
        growth = steady[1_000].events_per_s / steady[100_000].events_per_s
        found["cost_growth_1k_to_100k <= 1.5"] = {"value": round(growth, 2), "holds": growth <= 1.5}
    found["bytes_per_waiting_call <= 1024"] = {
        "value": round(mem["bytes_per_waiting_call"]),
        "holds": mem["bytes_per_waiting_call"] <= 1024,
    }
    found["bytes_per_agent <= 2048"] = {
        "value": round(mem["bytes_per_agent"]),
        "holds": mem["bytes_per_agent"] <= 2048,
    }
    return found


def _progress(result: Result, quiet: bool) -> None:
    if not quiet:
        print(
            f"  {result.workload:8} {result.router:9} {result.agents:>7} agents: "
            f"{result.events_per_s:>10,.0f} events/s",
            file=sys.stderr,
            flush=True,
        )


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(
        f"# router benchmark ({report['mode']}): {m['cpu']}, nproc {m['nproc']}, "
        f"Python {m['python']}"
    )
    print(
        f"{'workload':9} {'router':10} {'agents':>7} {'events/s':>11} {'p50 µs':>8} "
        f"{'p99 µs':>8} {'waiting':>8}"
    )
    for r in report["results"]:
        print(
            f"{r['workload']:9} {r['router']:10} {r['agents']:>7} {r['events_per_s']:>11,.0f} "
            f"{r['p50_us']:>8.1f} {r['p99_us']:>8.1f} {r['waiting_calls_at_end']:>8}"
        )
    mem = report["memory"]
    print(
        f"memory: {mem['bytes_per_agent']:.0f} bytes per agent ({mem['agents']} agents), "
        f"{mem['bytes_per_waiting_call']:.0f} bytes per waiting call"
    )
    for name, figure in report["targets"].items():
        print(f"target {name}: {figure['value']} -> {'holds' if figure['holds'] else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())

"""The soak: many calls through the real Asterisk while the controller is SIGKILLed and
restarted, then a check that nothing was lost and every count agrees.

Each caller is a Local channel into acd-inbound; its far end waits `patience` seconds and hangs
up, so an impatient caller abandons while waiting or while an agent rings. Simulated agents
answer after the caller's ring time and talk an exponential time. A few callers carry
`ACD_SIM_RING=-1` (no agent ever answers them: ring-no-answer, then the queue's max wait). A
chaos task pauses, unpauses, logs agents out and in through the API. At the kill points the
controller is SIGKILLed, stays down for a moment (callers keep arriving) and starts again on
the same store.

At the end, with every caller gone: no call live, every agent available, paused or logged out
with nothing pending, every call with exactly one final record (overflowed legs aside), and
the Prometheus counters equal to the stored records and to the queue_log lines. The
controller's RSS is sampled all along (a curve per process).

Used by `bench/soak.py` (`make soak`: 10,000 calls, three kills) and, short, by
tests/faults/test_soak.py inside `make test`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from acd.asterisk.testing import RunningAsterisk

from .harness import ControllerProcess, Probe, queue, sim_agent

QUEUE = "soak"
FINAL = ("answered", "abandoned", "short_abandoned", "exited")


@dataclass(frozen=True)
class SoakPlan:
    calls: int = 10_000
    rate: float = 20.0  # callers per second (Poisson)
    agents: int = 40
    mean_talk: float = 1.5
    kills: int = 3
    outage: tuple[float, float] = (0.5, 3.0)  # seconds the controller stays down
    impatient: float = 0.12  # share of callers with a short patience
    never_answered: float = 0.03  # share of callers no agent answers (ACD_SIM_RING=-1)
    chaos_every: float = 1.5  # seconds between agent pause/logout changes
    seed: int = 1
    max_wait: float = 20.0  # the never-answered callers leave after this (timeout)
    drain_within: float = 180.0


@dataclass
class SoakResult:
    plan: dict[str, Any]
    originated: int = 0
    kills: list[dict[str, float]] = field(default_factory=list)
    duration: float = 0.0
    live_calls_at_end: int = -1
    agent_states: dict[str, int] = field(default_factory=dict)
    agents_inconsistent: list[str] = field(default_factory=list)
    calls_with_records: int = 0
    calls_never_registered: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    calls_without_one_final_record: list[str] = field(default_factory=list)
    open_records: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rss_kib: list[list[tuple[float, int]]] = field(default_factory=list)

    @property
    def counts_agree(self) -> bool:
        return all(len(set(row.values())) == 1 for row in self.counts.values())

    @property
    def ok(self) -> bool:
        return (
            self.live_calls_at_end == 0
            and not self.agents_inconsistent
            and not self.calls_without_one_final_record
            and self.open_records == 0
            and self.counts_agree
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts_agree"] = self.counts_agree
        data["ok"] = self.ok
        return data

    def table(self) -> str:
        rows = [
            ("calls originated", str(self.originated)),
            ("controller kills (at s, ready after s)", _kills(self.kills)),
            ("duration", f"{self.duration:.0f} s"),
            ("live calls at the end", str(self.live_calls_at_end)),
            ("agents", _counts(self.agent_states)),
            ("agents inconsistent", str(len(self.agents_inconsistent))),
            ("calls with records", str(self.calls_with_records)),
            ("callers gone before registration", str(self.calls_never_registered)),
            ("final outcomes", _counts(self.outcomes)),
            (
                "calls without exactly one final record",
                str(len(self.calls_without_one_final_record)),
            ),
            ("records still open", str(self.open_records)),
        ]
        for name, row in self.counts.items():
            rows.append(
                (f"{name}: metric / records / queue_log", " / ".join(map(str, row.values())))
            )
        for i, curve in enumerate(self.rss_kib, start=1):
            rows.append((f"controller RSS, process {i} (MiB)", _curve(curve)))
        rows.append(("result", "OK" if self.ok else "FAILED"))
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _kills(kills: list[dict[str, float]]) -> str:
    return ", ".join(f"{k['at']:.0f}/{k['ready_after']:.2f}" for k in kills) or "none"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _curve(curve: list[tuple[float, int]]) -> str:
    if not curve:
        return "no samples"
    step = max(1, len(curve) // 8)
    return " ".join(f"{rss / 1024:.0f}" for _, rss in curve[::step])


def soak_controller(asterisk: RunningAsterisk, workdir: Path, plan: SoakPlan) -> ControllerProcess:
    agents = [sim_agent(str(3001 + i)) for i in range(plan.agents)]
    soak_queue = queue(
        QUEUE,
        wrap_up=0.2,
        ring_timeout=3.0,
        max_wait=plan.max_wait,
        rona_action="delay",
        rona_delay=1.0,
        announce_every=3600,
        short_abandon=1.0,
    )
    return ControllerProcess(asterisk, workdir, queues=[soak_queue], agents=agents)


async def run_soak(acd: ControllerProcess, probe: Probe, plan: SoakPlan) -> SoakResult:
    rng = random.Random(plan.seed)
    result = SoakResult(asdict(plan))
    await acd.start()
    await acd.login_all()
    agent_ids = [str(a["id"]) for a in acd.agents]
    started = time.monotonic()
    kill_at = sorted(rng.uniform(0.15, 0.85) * plan.calls for _ in range(plan.kills))
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(acd, result, stop))
    chaos = asyncio.create_task(_chaos(acd, agent_ids, plan, rng, stop))
    try:
        for n in range(plan.calls):
            while kill_at and n >= kill_at[0]:
                kill_at.pop(0)
                await _kill_and_restart(acd, plan, rng, started, result)
            await _originate(probe, plan, rng)
            result.originated += 1
            await asyncio.sleep(rng.expovariate(plan.rate))
        await _drain(probe, plan.drain_within)
        await _settle(acd)
    finally:
        stop.set()
        for task in (sampler, chaos):
            with contextlib.suppress(Exception):
                await task
    result.duration = time.monotonic() - started
    await _check(acd, result)
    return result


async def _originate(probe: Probe, plan: SoakPlan, rng: random.Random) -> None:
    talk = min(rng.expovariate(1 / plan.mean_talk), 8 * plan.mean_talk)
    ring: float = 0.0
    hold = 300
    draw = rng.random()
    if draw < plan.never_answered:
        ring = -1
    elif draw < plan.never_answered + plan.impatient:
        hold = max(1, round(rng.uniform(0.5, 6.0)))
        ring = rng.choice([0.0, 0.0, 2.0])  # some abandon while the agent rings
    with contextlib.suppress(Exception):  # a refused originate is a caller that never came
        await probe.call(QUEUE, talk=round(talk, 2), ring=ring, hold=hold)


async def _kill_and_restart(
    acd: ControllerProcess,
    plan: SoakPlan,
    rng: random.Random,
    started: float,
    result: SoakResult,
) -> None:
    at = time.monotonic() - started
    await acd.kill(signal.SIGKILL)
    await asyncio.sleep(rng.uniform(*plan.outage))
    ready_after = await acd.start()
    result.kills.append({"at": at, "ready_after": ready_after})


async def _chaos(
    acd: ControllerProcess,
    agents: list[str],
    plan: SoakPlan,
    rng: random.Random,
    stop: asyncio.Event,
) -> None:
    """Pauses, unpauses, logouts and logins at random; afterwards every agent is logged in
    and unpaused again so the backlog drains."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), plan.chaos_every)
        if stop.is_set():
            break
        agent = rng.choice(agents)
        action = rng.choice(["pause", "unpause", "unpause", "logout", "login", "login"])
        body = {"reason": rng.choice(["lunch", "meeting", "01"])} if action == "pause" else None
        with contextlib.suppress(Exception):  # the controller may be down right now
            await acd.api("POST", f"/agents/{agent}/{action}", body, within=2.0)
    for agent in agents:
        with contextlib.suppress(Exception):
            await acd.api("POST", f"/agents/{agent}/login", within=5.0)
            await acd.api("POST", f"/agents/{agent}/unpause", within=5.0)


async def _sample_rss(acd: ControllerProcess, result: SoakResult, stop: asyncio.Event) -> None:
    pid: int | None = None
    t0 = time.monotonic()
    while not stop.is_set():
        current = acd.pid if acd.running else None
        if current is not None:
            if current != pid:
                pid = current
                result.rss_kib.append([])
            rss = _rss_kib(current)
            if rss is not None:
                result.rss_kib[-1].append((time.monotonic() - t0, rss))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


async def _drain(probe: Probe, within: float) -> None:
    """Until no caller channel is left (every call over), or `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        channels = await probe.channels()
        if not any("acd-inbound" in str(c.get("Channel", "")) for c in channels):
            return
        await asyncio.sleep(1.0)


async def _settle(acd: ControllerProcess) -> None:
    """Let wrap-ups end and the record batches reach the store."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if not await acd.live_calls():
                break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)


async def _check(acd: ControllerProcess, result: SoakResult) -> None:
    result.live_calls_at_end = len(await acd.live_calls())
    agents = (await acd.api("GET", "/agents")).body
    result.agent_states = dict(Counter(str(a["state"]) for a in agents))
    result.agents_inconsistent = [
        str(a["id"])
        for a in agents
        if a["state"] not in ("available", "paused", "logged_out") or a.get("pending")
    ]
    _check_records(acd, result)
    metrics = (await acd.api("GET", "/metrics", token="")).body
    _check_counts(acd, result, metrics if isinstance(metrics, str) else "")


def _check_records(acd: ControllerProcess, result: SoakResult) -> None:
    with contextlib.closing(sqlite3.connect(acd.database_path)) as db:
        rows = db.execute(
            "select call_id, leg, outcome, ended, answered, talk, exit_reason"
            " from acd_call_records order by call_id, leg"
        ).fetchall()
    by_call: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_call.setdefault(row[0], []).append(row)
    result.calls_with_records = len(by_call)
    result.calls_never_registered = max(0, result.originated - len(by_call))
    outcomes: Counter[str] = Counter()
    for call_id, legs in by_call.items():
        *earlier, last = legs
        final = last[2] in FINAL and last[3] is not None
        answered_whole = last[2] != "answered" or last[5] is not None
        if not (final and answered_whole and all(leg[2] == "overflowed" for leg in earlier)):
            result.calls_without_one_final_record.append(call_id)
        outcomes[str(last[2])] += 1
    result.outcomes = dict(outcomes)
    result.open_records = sum(1 for row in rows if row[2] is None or row[3] is None)


def _check_counts(acd: ControllerProcess, result: SoakResult, metrics: str) -> None:
    samples: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("queue") == QUEUE:
                samples[sample.name] += int(sample.value)
    with contextlib.closing(sqlite3.connect(acd.database_path)) as db:

        def count(where: str) -> int:
            query = f"select count(*) from acd_call_records where queue = ? and ({where})"
            return int(db.execute(query, (QUEUE,)).fetchone()[0])

        offered = count("coalesce(exit_reason, '') != 'unknown_queue'")
        answered = count("answered is not null")
        abandoned = count("outcome in ('abandoned', 'short_abandoned')")
    events: Counter[str] = Counter()
    for line in acd.queue_log_path.read_text().splitlines():
        parts = line.split("|")
        if len(parts) > 4 and parts[2] == QUEUE:
            events[parts[4]] += 1
    result.counts = {
        "offered": {
            "metric": samples["acd_calls_offered_total"],
            "records": offered,
            "queue_log": events["ENTERQUEUE"],
        },
        "answered": {
            "metric": samples["acd_calls_answered_total"],
            "records": answered,
            "queue_log": events["CONNECT"],
        },
        "abandoned (incl. short)": {
            "metric": samples["acd_calls_abandoned_total"]
            + samples["acd_calls_short_abandoned_total"],
            "records": abandoned,
            "queue_log": events["ABANDON"],
        },
    }

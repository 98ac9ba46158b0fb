"""Turning one run's AMI event log into the figures `bench/e2e.py` prints (no I/O here).

Per caller (Local/<entry>@<context> originated with ChannelId `bench-<n>`; its `;2` half runs
the dialplan and has uniqueid `bench-<n>;2`):
    up        Newstate Up of the `;2` half: the dialplan answered, the queue comes next
    enter     up + ANSWER_MEDIA_WAIT: `Answer()` on a Local channel waits 500 ms for media
              before the next priority runs (QueueCallerJoin lands exactly there)
    dial      first DialBegin from the caller to an agent
    answer    DialEnd ANSWER of that dial
    gone      first Hangup of either half
Per agent leg (Local/<id>@acd-sim-agent-XXXX;1/;2): dial (DialBegin), end (first Hangup).

wait = answer - up (answered) or gone - up (abandoned). Both sides include the same Answer()
media wait; ASA and service level use this wait.

Dispatch latency, per issue #6: an agent's call ends → the next waiting caller's Dial to that
agent begins, measured from `end + wrap_up` (the moment the agent may take a call again).
A sample is taken only when at that moment at least as many callers were waiting in the queue
(entered, not yet dialled, not gone) as agents were free (this one included), so a caller
was there for this agent and any gap is the dispatcher's.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

ANSWER_MEDIA_WAIT = 0.5
AGENT_LEG = re.compile(r"^Local/(\d+)@acd-sim-agent-([0-9a-f]+);[12]$")
CALLER_ID = re.compile(r"^bench-(\d+)(;2)?$")


@dataclass
class Caller:
    n: int
    up: float | None = None
    dial: float | None = None
    answer: float | None = None
    agent: str | None = None
    gone: float | None = None
    abandoned_by_us: bool = False


@dataclass
class AgentLeg:
    agent: str
    dial: float
    end: float | None = None


@dataclass
class EventLog:
    """What the load generator saw, filled live from AMI events."""

    callers: dict[int, Caller] = field(default_factory=dict)
    legs: dict[str, AgentLeg] = field(default_factory=dict)
    #: (time, callers waiting) sampled during the arrivals, for the saturation test.
    waiting_samples: list[tuple[float, int]] = field(default_factory=list)
    waiting_now: set[int] = field(default_factory=set)

    def caller(self, n: int) -> Caller:
        caller = self.callers.get(n)
        if caller is None:
            caller = self.callers[n] = Caller(n)
        return caller

    def on_event(self, message: dict[str, str]) -> None:
        kind = message.get("Event", "")
        try:
            stamp = float(message.get("Timestamp", "nan"))
        except ValueError:
            return
        if kind == "Newstate":
            match = CALLER_ID.match(message.get("Uniqueid", ""))
            if match and match.group(2) and message.get("ChannelStateDesc") == "Up":
                caller = self.caller(int(match.group(1)))
                if caller.up is None and caller.gone is None:
                    caller.up = stamp
                    self.waiting_now.add(caller.n)
        elif kind == "DialBegin":
            match = CALLER_ID.match(message.get("Uniqueid", ""))
            dest = AGENT_LEG.match(message.get("DestChannel", ""))
            if match and dest:
                caller = self.caller(int(match.group(1)))
                if caller.dial is None:
                    caller.dial = stamp
                    self.waiting_now.discard(caller.n)
                key = _leg_key(message["DestChannel"])
                self.legs[key] = AgentLeg(dest.group(1), stamp)
        elif kind == "DialEnd":
            match = CALLER_ID.match(message.get("Uniqueid", ""))
            dest = AGENT_LEG.match(message.get("DestChannel", ""))
            if match and dest and message.get("DialStatus") == "ANSWER":
                caller = self.caller(int(match.group(1)))
                if caller.answer is None:
                    caller.answer = stamp
                    caller.agent = dest.group(1)
        elif kind == "Hangup":
            channel = message.get("Channel", "")
            match = CALLER_ID.match(message.get("Uniqueid", ""))
            if match:
                caller = self.caller(int(match.group(1)))
                if caller.gone is None:
                    caller.gone = stamp
                    self.waiting_now.discard(caller.n)
            elif AGENT_LEG.match(channel):
                leg = self.legs.get(_leg_key(channel))
                if leg is not None and leg.end is None:
                    leg.end = stamp

    def sample_waiting(self, now: float) -> None:
        self.waiting_samples.append((now, len(self.waiting_now)))


def _leg_key(channel: str) -> str:
    return channel.rsplit(";", 1)[0]


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def dispatch_latencies(log: EventLog, agent_ids: Iterable[str], wrap_up: float) -> list[float]:
    """Seconds from an agent's `end + wrap_up` to its next Dial, when a caller waited for it."""
    enters = sorted(c.up + ANSWER_MEDIA_WAIT for c in log.callers.values() if c.up is not None)
    leaves = sorted(
        min(t for t in (c.dial, c.gone) if t is not None)
        for c in log.callers.values()
        if c.up is not None and (c.dial is not None or c.gone is not None)
    )
    by_agent: dict[str, list[AgentLeg]] = {agent: [] for agent in agent_ids}
    for leg in log.legs.values():
        by_agent.setdefault(leg.agent, []).append(leg)
    free_from: list[float] = []  # each moment an agent became free again
    free_until: list[float] = []  # ... and the dial that ended that free spell
    first_dials: list[float] = []
    pairs: list[tuple[float, float]] = []  # (free at, next dial) per leg with a successor
    for legs in by_agent.values():
        legs.sort(key=lambda leg: leg.dial)
        if legs:
            first_dials.append(legs[0].dial)
        for leg, nxt in zip(legs, [*legs[1:], None], strict=True):
            if leg.end is None:
                continue
            free_at = leg.end + wrap_up
            free_from.append(free_at)
            if nxt is not None:
                free_until.append(nxt.dial)
                pairs.append((free_at, nxt.dial))
    free_from.sort()
    free_until.sort()
    first_dials.sort()
    agents = len(by_agent)
    samples: list[float] = []
    for free_at, next_dial in pairs:
        waiting = bisect_right(enters, free_at) - bisect_right(leaves, free_at)
        never_dialled = agents - bisect_right(first_dials, free_at)
        idle = never_dialled + bisect_right(free_from, free_at) - bisect_right(free_until, free_at)
        if waiting >= idle >= 1:
            samples.append(next_dial - free_at)
    return samples


def summarise(
    log: EventLog,
    *,
    offered: int,
    window: tuple[float, float],
    agent_ids: Sequence[str],
    wrap_up: float,
    sl_threshold: float,
) -> dict[str, Any]:
    callers = [log.callers.get(n) or Caller(n) for n in range(offered)]
    answered = [c for c in callers if c.answer is not None and c.up is not None]
    abandoned = [c for c in callers if c.answer is None and c.abandoned_by_us]
    failed = [c for c in callers if c.answer is None and not c.abandoned_by_us]
    waits = [c.answer - c.up for c in answered]  # type: ignore[operator]
    within = sum(1 for w in waits if w <= sl_threshold)
    start, end = window
    answered_in_window = sum(1 for c in answered if start <= c.answer <= end)  # type: ignore[operator]
    latencies = dispatch_latencies(log, agent_ids, wrap_up)
    handled = len(answered) + len(abandoned)
    return {
        "offered": offered,
        "answered": len(answered),
        "abandoned": len(abandoned),
        "failed": len(failed),
        "asa_s": sum(waits) / len(waits) if waits else None,
        "wait_p90_s": percentile(waits, 90),
        "service_level": within / handled if handled else None,
        "abandon_rate": len(abandoned) / offered if offered else None,
        "fail_rate": len(failed) / offered if offered else None,
        "calls_per_s": answered_in_window / (end - start) if end > start else None,
        "dispatch_samples": len(latencies),
        "dispatch_p50_ms": _ms(percentile(latencies, 50)),
        "dispatch_p99_ms": _ms(percentile(latencies, 99)),
        "dispatch_max_ms": _ms(max(latencies) if latencies else None),
        "dispatch_latencies_ms": [round(x * 1000, 3) for x in latencies],
        "waiting_growth": waiting_growth(log.waiting_samples),
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def waiting_growth(samples: Sequence[tuple[float, int]]) -> float | None:
    """Least-squares slope (callers per second) of the waiting count over the second half of
    the arrivals; a queue that grows without bound shows a clearly positive slope."""
    half = list(samples[len(samples) // 2 :])
    if len(half) < 4:
        return None
    n = len(half)
    mean_t = sum(t for t, _ in half) / n
    mean_w = sum(w for _, w in half) / n
    var = sum((t - mean_t) ** 2 for t, _ in half)
    if var == 0:
        return None
    return sum((t - mean_t) * (w - mean_w) for t, w in half) / var

"""Interval reports from the stored records, as plain dicts ready for JSON.

Queues: each queue visit (record) belongs to the interval in which it entered the queue, so
within one row offered = answered + abandoned + short abandoned + overflowed + exited (+ still
waiting or interrupted); `transferred` counts the answered visits an agent transferred on
(the call's next visit is offered in the target queue). Per row: those counts, the three
service levels (acd.observe.kpi, null when undefined), ASA (mean wait of the answered), AHT
(mean talk + wrap-up of the answered whose wrap-up has ended) and the longest wait of any
visit that ended waiting. `totals` has the same figures for the whole range per queue.

Agents, over the whole range (intervals clipped to it; open ones run until now): calls
(visits answered in the range), talk and wrap-up seconds of those calls, seconds per state,
pause seconds by reason, and occupancy = time on calls (reserved + busy + wrap-up) / staffed
time (that + available). Paused and logged-out time is outside both, so a paused agent is
neither idle nor occupied.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from acd.errors import Invalid
from acd.observe.kpi import mean, occupancy, service_levels, tally
from acd.router.model import AgentState
from acd.storage.record_store import CallRecord, RecordStore

ON_CALLS = (AgentState.RESERVED.value, AgentState.BUSY.value, AgentState.WRAP_UP.value)


def summarize(visits: Iterable[CallRecord]) -> dict[str, Any]:
    """The queue figures for a set of visits (one queue, one interval or the whole range)."""
    visits = list(visits)
    outcomes: defaultdict[str, int] = defaultdict(int)
    for visit in visits:
        outcomes[visit.outcome or "waiting"] += 1
    answered = [v for v in visits if v.answered is not None and v.wait is not None]
    handled = [v for v in answered if v.talk is not None and v.wrap_up is not None]
    counts = tally((v.outcome or "", v.wait or 0.0, v.sl_threshold) for v in visits)
    waits = [v.wait for v in visits if v.wait is not None]
    return {
        "offered": sum(1 for v in visits if v.exit_reason != "unknown_queue"),
        "answered": len(answered),
        "answered_within_threshold": counts.a_in,
        "abandoned": outcomes["abandoned"],
        "short_abandoned": outcomes["short_abandoned"],
        "overflowed": outcomes["overflowed"],
        "exited": outcomes["exited"],
        # Answered here, then transferred on (among `answered`; the target counts an offer).
        "transferred": sum(1 for v in visits if v.transferred_to is not None),
        "service_level": service_levels(counts),
        "asa": mean(sum(v.wait or 0.0 for v in answered), len(answered)),
        "aht": mean(sum((v.talk or 0.0) + (v.wrap_up or 0.0) for v in handled), len(handled)),
        "longest_wait": max(waits) if waits else None,
    }


class Reports:
    def __init__(self, records: RecordStore, clock: Callable[[], float] = time.time) -> None:
        self.records = records
        self._clock = clock

    async def queue_report(
        self, start: float, end: float, interval: float = 900.0
    ) -> dict[str, Any]:
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start or interval <= 0:
            raise Invalid("need finite from < to and a positive interval", field="interval")
        visits = await self.records.calls_entered(start, end)
        by_queue: defaultdict[str, list[CallRecord]] = defaultdict(list)
        for visit in visits:
            if visit.exit_reason != "unknown_queue":
                by_queue[visit.queue].append(visit)
        slots = math.ceil((end - start) / interval)
        rows: list[dict[str, Any]] = []
        totals: list[dict[str, Any]] = []
        for queue in sorted(by_queue):
            buckets: list[list[CallRecord]] = [[] for _ in range(slots)]
            for visit in by_queue[queue]:
                buckets[int((visit.entered - start) // interval)].append(visit)
            for i, bucket in enumerate(buckets):
                slot_start = start + i * interval
                rows.append(
                    {
                        "queue": queue,
                        "from": slot_start,
                        "to": min(end, slot_start + interval),
                        **summarize(bucket),
                    }
                )
            totals.append({"queue": queue, "from": start, "to": end, **summarize(by_queue[queue])})
        return {
            "from": start,
            "to": end,
            "interval": interval,
            "queues": rows,
            "totals": totals,
            "agents": await self.agent_report(start, end),
        }

    async def agent_report(self, start: float, end: float) -> list[dict[str, Any]]:
        now = self._clock()
        seconds: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        pauses: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        for interval in await self.records.intervals_overlapping(start, end):
            stop = interval.end if interval.end is not None else max(interval.start, now)
            length = max(0.0, min(stop, end) - max(interval.start, start))
            seconds[interval.agent_id][interval.state] += length
            if interval.state == AgentState.PAUSED.value:
                pauses[interval.agent_id][interval.reason or ""] += length
        calls: defaultdict[str, list[CallRecord]] = defaultdict(list)
        for visit in await self.records.calls_answered(start, end):
            if visit.agent_id is not None:
                calls[visit.agent_id].append(visit)
        report = []
        for agent in sorted(set(seconds) | set(calls)):
            states = seconds[agent]
            on_calls = sum(states[s] for s in ON_CALLS)
            staffed = on_calls + states[AgentState.AVAILABLE.value]
            report.append(
                {
                    "agent": agent,
                    "calls": len(calls[agent]),
                    "talk": sum(v.talk or 0.0 for v in calls[agent]),
                    "wrap_up": sum(v.wrap_up or 0.0 for v in calls[agent]),
                    "states": {s.value: states[s.value] for s in AgentState if s.value in states},
                    "pause": dict(sorted(pauses[agent].items())),
                    "staffed": staffed,
                    "occupancy": occupancy(on_calls, staffed),
                }
            )
        return report

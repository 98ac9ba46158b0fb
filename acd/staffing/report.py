"""Service level, ASA, abandon rate and occupancy of a simulation run, with batch-means
confidence intervals.

The measured period (warm-up end to horizon) is cut into equal batches; a call belongs to the
batch it arrived in, occupancy to the batch the occupied time falls in. Each figure is the
mean of its per-batch values, with a Student-t interval over the batches (batch means: long
batches are nearly independent even though consecutive calls are not).

Counting follows CONTRACT.md: abandons shorter than the queue's short_abandon count nowhere;
calls that left without an agent for another reason (max wait, join/leave empty) are reported
as `exited` and, like short abandons, are outside the service level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from acd.staffing.erlang import Outcomes, Treatment
from acd.staffing.simulation import CallRecord, SimulationRun
from acd.staffing.stats import Estimate, batch_means

MIN_BATCHES = 5


@dataclass(slots=True)
class Tally:
    """Counts of one queue (or all) over one stretch of arrivals."""

    offered: int = 0
    answered_in: int = 0
    answered_out: int = 0
    abandoned_in: int = 0
    abandoned_out: int = 0
    short_abandoned: int = 0
    exited: int = 0
    overflowed: int = 0
    answered_wait: float = 0.0

    def add(self, call: CallRecord, threshold: float, short_abandon: float) -> None:
        self.offered += 1
        self.overflowed += call.overflowed
        if call.answered_at is not None:
            wait = call.answered_at - call.arrived_at
            self.answered_wait += wait
            if wait <= threshold:
                self.answered_in += 1
            else:
                self.answered_out += 1
        elif call.abandoned_at is not None:
            wait = call.abandoned_at - call.arrived_at
            if wait < short_abandon:
                self.short_abandoned += 1
            elif wait <= threshold:
                self.abandoned_in += 1
            else:
                self.abandoned_out += 1
        else:
            self.exited += 1

    @property
    def answered(self) -> int:
        return self.answered_in + self.answered_out

    @property
    def abandoned(self) -> int:
        return self.abandoned_in + self.abandoned_out

    def outcomes(self) -> Outcomes:
        return Outcomes(
            float(self.answered_in),
            float(self.answered_out),
            float(self.abandoned_in),
            float(self.abandoned_out),
        )

    def service_level(self, treatment: Treatment) -> float:
        if self.answered + self.abandoned == 0:
            return math.nan
        return self.outcomes().service_level(treatment)

    def asa(self) -> float:
        return self.answered_wait / self.answered if self.answered else math.nan

    def abandon_rate(self) -> float:
        """Abandoned (not short) / offered."""
        return self.abandoned / self.offered if self.offered else math.nan


@dataclass(frozen=True, slots=True)
class QueueFigures:
    name: str
    totals: Tally
    service_level: dict[Treatment, Estimate]
    asa: Estimate
    abandon_rate: Estimate

    def as_dict(self) -> dict[str, object]:
        t = self.totals
        return {
            "queue": self.name,
            "offered": t.offered,
            "answered": t.answered,
            "answered_within_threshold": t.answered_in,
            "abandoned": t.abandoned,
            "abandoned_within_threshold": t.abandoned_in,
            "short_abandoned": t.short_abandoned,
            "exited": t.exited,
            "overflowed": t.overflowed,
            "service_level": {k.value: v.as_dict() for k, v in self.service_level.items()},
            "asa_seconds": self.asa.as_dict(),
            "abandon_rate": self.abandon_rate.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class SimulationReport:
    hours: float
    batches: int
    confidence: float
    queues: tuple[QueueFigures, ...]
    total: QueueFigures
    occupancy: Estimate
    group_occupancy: dict[str, Estimate]
    router_events: int

    def queue(self, name: str) -> QueueFigures:
        for figures in self.queues:
            if figures.name == name:
                return figures
        raise KeyError(name)

    def as_dict(self) -> dict[str, object]:
        return {
            "measured_hours": self.hours,
            "batches": self.batches,
            "confidence": self.confidence,
            "queues": [q.as_dict() for q in self.queues],
            "total": self.total.as_dict(),
            "occupancy": self.occupancy.as_dict(),
            "group_occupancy": {k: v.as_dict() for k, v in self.group_occupancy.items()},
            "router_events": self.router_events,
        }


def _figures(name: str, totals: Tally, batches: Sequence[Tally], confidence: float) -> QueueFigures:
    return QueueFigures(
        name=name,
        totals=totals,
        service_level={
            t: batch_means([b.service_level(t) for b in batches], confidence) for t in Treatment
        },
        asa=batch_means([b.asa() for b in batches], confidence),
        abandon_rate=batch_means([b.abandon_rate() for b in batches], confidence),
    )


def _occupied_per_batch(
    intervals: Iterable[tuple[float, float]], start: float, width: float, batches: int
) -> list[float]:
    """Occupied seconds falling into each batch window."""
    seconds = [0.0] * batches
    for begin, end in intervals:
        first = max(int((begin - start) // width), 0)
        last = min(int((end - start) // width), batches - 1)
        for b in range(first, last + 1):
            low = start + b * width
            overlap = min(end, low + width) - max(begin, low)
            if overlap > 0:
                seconds[b] += overlap
    return seconds


def summarise(run: SimulationRun, batches: int = 20, confidence: float = 0.95) -> SimulationReport:
    """O(calls + occupied intervals)."""
    if batches < MIN_BATCHES:
        # Fewer batches make a poor interval, and the t approximation needs 3+ degrees.
        raise ValueError(f"at least {MIN_BATCHES} batches are needed for a confidence interval")
    if not 0 < confidence < 1:
        raise ValueError("the confidence level must be between 0 and 1")
    queues = {t.queue.name: t.queue for t in run.scenario.queues}
    width = (run.horizon - run.start) / batches
    per_queue = {name: [Tally() for _ in range(batches)] for name in queues}
    for call in run.calls:
        if call.arrived_at < run.start:
            continue
        batch = min(int((call.arrived_at - run.start) // width), batches - 1)
        queue = queues[call.queue]
        per_queue[call.queue][batch].add(call, queue.sl_threshold, queue.short_abandon)
    all_batches = [Tally() for _ in range(batches)]
    queue_figures = []
    for name, tallies in per_queue.items():
        totals = Tally()
        for b, tally in enumerate(tallies):
            for target in (totals, all_batches[b]):
                _merge(target, tally)
        queue_figures.append(_figures(name, totals, tallies, confidence))
    grand = Tally()
    for tally in all_batches:
        _merge(grand, tally)
    group_occupancy: dict[str, Estimate] = {}
    everyone = [0.0] * batches
    agents_total = 0
    for group in run.scenario.groups:
        seconds = [0.0] * batches
        for agent_id in group.agent_ids():
            share = _occupied_per_batch(run.occupied.get(agent_id, []), run.start, width, batches)
            seconds = [a + b for a, b in zip(seconds, share, strict=True)]
        everyone = [a + b for a, b in zip(everyone, seconds, strict=True)]
        agents_total += group.agents
        if group.agents:
            group_occupancy[group.name] = batch_means(
                [s / (group.agents * width) for s in seconds], confidence
            )
    occupancy = batch_means(
        [s / (agents_total * width) if agents_total else math.nan for s in everyone], confidence
    )
    return SimulationReport(
        hours=(run.horizon - run.start) / 3600.0,
        batches=batches,
        confidence=confidence,
        queues=tuple(queue_figures),
        total=_figures("all", grand, all_batches, confidence),
        occupancy=occupancy,
        group_occupancy=group_occupancy,
        router_events=run.router_events,
    )


def _merge(target: Tally, source: Tally) -> None:
    target.offered += source.offered
    target.answered_in += source.answered_in
    target.answered_out += source.answered_out
    target.abandoned_in += source.abandoned_in
    target.abandoned_out += source.abandoned_out
    target.short_abandoned += source.short_abandoned
    target.exited += source.exited
    target.overflowed += source.overflowed
    target.answered_wait += source.answered_wait

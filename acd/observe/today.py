"""Today's per-queue figures for the wallboard: offered, answered, abandoned, short abandoned,
transferred (answered here, then transferred on) and ASA since local midnight.

A queue visit belongs to the day in which it entered the queue, as in the interval reports
(`acd.observe.reports`), so today's figures are the report's totals from midnight to now: a
call that entered at 23:59:50 and was answered at 00:00:05 is yesterday's, and answered +
abandoned + short abandoned never exceed offered. The day is the controller's local one (the
process's time zone, TZ), daylight-saving days included.

Like the Prometheus counters (`acd.observe.metrics_feed`) the figures are fed by the call
records' happenings, and at start by the stored records through the same handlers, so a
restart keeps today's numbers. Nothing here reads a clock: the day rolls over lazily, when a
visit of a later day is counted or the figures are read with a `now` past midnight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from acd.observe.happenings import RecordHappening, VisitAnswered, VisitEnded, VisitOpened
from acd.observe.kpi import mean
from acd.storage.record_store import CallRecord

#: Longer than any day (23 to 25 hours across a daylight-saving change), shorter than two.
_INTO_NEXT_DAY = 26 * 3600.0


def local_midnight(at: float) -> float:
    """Epoch seconds of the local midnight that began the day holding `at`."""
    local = time.localtime(at)
    midnight = time.mktime(
        (local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1)  # -1: DST as it was
    )
    return min(midnight, at)  # a zone whose clocks skip midnight: the day still holds `at`


@dataclass(slots=True)
class _Day:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    transferred: int = 0
    answered_wait: float = 0.0


class TodayCounts:
    """A `RecordListener`; `figures(queue, now)` is the JSON the API shows as `today`.

    Every method is O(1), except a rollover, which forgets the previous day's queues."""

    def __init__(self, day_start: Callable[[float], float] = local_midnight) -> None:
        self._day_start = day_start
        self._since = -math.inf
        self._until = -math.inf
        self._queues: dict[str, _Day] = {}

    def on_record(self, happening: RecordHappening) -> None:
        match happening:
            case VisitOpened(record=record):
                self._opened(record)
            case VisitAnswered(record=record):
                self._answered(record)
            case VisitEnded(record=record):
                self._ended(record)
            case _:
                pass  # adoptions were counted when their visit opened; the rest counts nowhere

    def restore(self, records: Iterable[CallRecord], now: float) -> None:
        """Count the stored records of the day holding `now` (the others are skipped), as
        their happenings would have been counted live."""
        self._roll_to(now)
        for record in records:
            if record.exit_reason != "unknown_queue":  # such a call never opened a visit
                self._opened(record)
            if record.answered is not None:
                self._answered(record)
            if record.ended is not None:
                self._ended(record)

    def figures(self, queue: str, now: float) -> dict[str, Any]:
        if now >= self._until:
            self._roll_to(now)
        day = self._queues.get(queue) or _Day()
        return {
            "offered": day.offered,
            "answered": day.answered,
            "abandoned": day.abandoned,
            "short_abandoned": day.short_abandoned,
            "transferred": day.transferred,
            "asa": mean(day.answered_wait, day.answered),
            "since": self._since,
        }

    def _roll_to(self, at: float) -> None:
        self._since = self._day_start(at)
        self._until = max(self._day_start(self._since + _INTO_NEXT_DAY), at + 1e-6)
        self._queues.clear()

    def _day(self, record: CallRecord) -> _Day | None:
        """The record's queue's figures if it entered the queue today (a later day: the
        day rolls over to it first)."""
        if record.entered >= self._until:
            self._roll_to(record.entered)
        if record.entered < self._since:
            return None
        return self._queues.setdefault(record.queue, _Day())

    def _opened(self, record: CallRecord) -> None:
        day = self._day(record)
        if day is not None:
            day.offered += 1

    def _answered(self, record: CallRecord) -> None:
        day = self._day(record)
        if day is not None and record.answered is not None and record.wait is not None:
            day.answered += 1
            day.answered_wait += record.wait

    def _ended(self, record: CallRecord) -> None:
        day = self._day(record)
        if day is None:
            return
        if record.outcome == "abandoned":
            day.abandoned += 1
        elif record.outcome == "short_abandoned":
            day.short_abandoned += 1
        if record.outcome == "answered" and record.transferred_to is not None:
            day.transferred += 1

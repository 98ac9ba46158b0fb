"""Live queue statistics and interval reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from acd.engine import Engine
from acd.errors import Invalid


class QueueStatsSource(Protocol):
    def queue_stats(self) -> Sequence[Mapping[str, Any]]: ...


class QueueReportSource(Protocol):
    async def queue_report(
        self, start: float, end: float, interval: float
    ) -> Mapping[str, Any]: ...


MIN_INTERVAL = 60
MAX_INTERVAL = 86_400 * 31
MAX_INTERVALS = 10_000


class ReportService:
    def __init__(self, engine: Engine, stats: QueueStatsSource, reports: QueueReportSource) -> None:
        self.engine = engine
        self.stats = stats
        self.reports = reports

    def live(self) -> Sequence[Mapping[str, Any]]:
        return self.stats.queue_stats()

    async def queues(
        self, start: float | None, end: float | None, interval: int = 900
    ) -> Mapping[str, Any]:
        """Interval report; `end` defaults to now and `start` to 24 hours before `end`."""
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise Invalid(f"must be {MIN_INTERVAL}..{MAX_INTERVAL} seconds", field="interval")
        end = self.engine.now() if end is None else end
        start = end - 86_400 if start is None else start
        if start >= end:
            raise Invalid("must be before to", field="from")
        if (end - start) / interval > MAX_INTERVALS:
            raise Invalid(f"the range holds more than {MAX_INTERVALS} intervals", field="interval")
        return await self.reports.queue_report(start, end, float(interval))

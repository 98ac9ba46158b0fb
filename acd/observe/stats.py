"""Live per-queue statistics for GET /stats/queues: the router's present plus the records'
counters and rolling service level.

Per queue: calls waiting (not yet ringing), ringing (offered), connected; the oldest wait of
a call not yet connected; agents by state among those whose skills meet the queue's base
requirements; the service level over the queue's sl_window (three treatments, null when
undefined) with the A_in/A_out/B_in/B_out behind it; the all-time counters (the same
numbers as the Prometheus counters, restored from the records at start); and today's figures
since local midnight (`acd.observe.today`, restored from the records too). Beside them the
queue's service-level objective (`sl_target`) and pause reasons, so one request gives a
wallboard everything per queue.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from acd.observe.kpi import service_levels
from acd.observe.metrics import COUNTERS, Metrics
from acd.observe.today import TodayCounts
from acd.router.model import AgentState, AgentView, CallState, CallView, QueueConfig, satisfies


class LiveRouter(Protocol):
    def calls(self) -> list[CallView]: ...
    def agents(self) -> list[AgentView]: ...
    def queues(self) -> list[QueueConfig]: ...


class QueueStats:
    def __init__(
        self,
        router: LiveRouter,
        metrics: Metrics,
        today: TodayCounts,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.router = router
        self.metrics = metrics
        self.today = today
        self._clock = clock

    def queue_stats(self) -> list[dict[str, Any]]:
        now = self._clock()
        calls = self.router.calls()
        agents = self.router.agents()
        result = []
        for queue in self.router.queues():
            mine = [c for c in calls if c.queue == queue.name]
            states = Counter(c.state for c in mine)
            waits = [now - c.queue_entered_at for c in mine if c.state is not CallState.CONNECTED]
            staff = Counter(a.state for a in agents if satisfies(a.skills, queue.skills))
            window = self.metrics.window_counts(queue.name)
            result.append(
                {
                    "queue": queue.name,
                    "waiting": states[CallState.WAITING],
                    "ringing": states[CallState.OFFERED],
                    "connected": states[CallState.CONNECTED],
                    "oldest_wait": max(waits) if waits else 0.0,
                    "agents": {s.value: staff[s] for s in AgentState},
                    "sl_threshold": queue.sl_threshold,
                    "sl_target": queue.sl_target,
                    "sl_window": queue.sl_window,
                    "service_level": service_levels(window),
                    "window": {
                        "answered_within": window.a_in,
                        "answered_after": window.a_out,
                        "abandoned_within": window.b_in,
                        "abandoned_after": window.b_out,
                    },
                    "totals": {
                        name.removeprefix("acd_calls_"): self.metrics.count(name, queue.name)
                        for name in COUNTERS
                    },
                    "today": self.today.figures(queue.name, now),
                    # What a wallboard or agent panel offers (the queue document's list).
                    "pause_reasons": [
                        {"code": r.code, "label": r.label} for r in queue.pause_reasons
                    ],
                }
            )
        return result

"""Dispatch latency (`acd_dispatch_seconds`): an engine listener of its own, because it
measures the running process, not a record (it is not restored at start).

For each offer: from the moment that made it possible, which the router stamps on the
agent's reservation (the event's time, or the deadline of a timed step such as a wrap-up
end), to the moment the step reaches this listener, on the engine's clock. It is added to
the engine before the call records, so their work is not in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from acd.engine import Step
from acd.observe.metrics import Metrics
from acd.router.decisions import AgentStateChanged, OfferCall
from acd.router.model import AgentState


class DispatchLatency:
    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self._metrics = metrics
        self._clock = clock
        self._reserved_at: dict[str, float] = {}  # by agent: its latest reservation

    def on_step(self, step: Step) -> None:
        for decision in step.decisions:
            if isinstance(decision, AgentStateChanged):
                if decision.state is AgentState.RESERVED:
                    self._reserved_at[decision.agent_id] = decision.at
            elif isinstance(decision, OfferCall):
                since = self._reserved_at.get(decision.agent_id, step.event.now)
                self._metrics.dispatched(self._clock() - since)

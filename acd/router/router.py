"""The router the rest of the ACD uses (interim: the naive reference; the indexed one follows).

The public surface every other part codes against:
    handle(event) -> list[Decision]
    next_deadline() -> float | None      earliest pending deadline (send Tick then)
    agent(id) -> AgentView | None        agents() -> list[AgentView]   (sorted by id)
    call(id) -> CallView | None          calls() -> list[CallView]     (global order, then
                                                                       offered/connected by id)
    queue(name) -> QueueConfig | None    queues() -> list[QueueConfig] (sorted by name)
    position(call_id) -> int | None      1-based place among the WAITING calls of its queue in
                                         global order (None unless WAITING)
    waiting_count(queue) -> int
    _check() -> None                     asserts every index invariant
"""

from __future__ import annotations

from acd.router.reference import ReferenceRouter


class Router(ReferenceRouter):
    """Interim: behaves exactly like `ReferenceRouter` until the indexed router lands."""

"""Placeholder: the indexed Router is being written (see acd/router/__init__.py for its policy).

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

from acd.router.decisions import Decision
from acd.router.events import Event
from acd.router.model import AgentView, CallView, QueueConfig


class Router:
    def handle(self, event: Event) -> list[Decision]:
        raise NotImplementedError

    def next_deadline(self) -> float | None:
        raise NotImplementedError

    def agent(self, agent_id: str) -> AgentView | None:
        raise NotImplementedError

    def agents(self) -> list[AgentView]:
        raise NotImplementedError

    def call(self, call_id: str) -> CallView | None:
        raise NotImplementedError

    def calls(self) -> list[CallView]:
        raise NotImplementedError

    def queue(self, name: str) -> QueueConfig | None:
        raise NotImplementedError

    def queues(self) -> list[QueueConfig]:
        raise NotImplementedError

    def position(self, call_id: str) -> int | None:
        raise NotImplementedError

    def waiting_count(self, queue: str) -> int:
        raise NotImplementedError

    def _check(self) -> None:
        raise NotImplementedError

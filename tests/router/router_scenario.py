"""A small driver for hand-written router scenarios: it keeps the clock and checks invariants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acd.router import events as ev
from acd.router.decisions import AgentStateChanged, Decision, OfferCall
from acd.router.model import AgentState, EscalationStep, QueueConfig, frozen_skills
from acd.router.reference import ReferenceRouter
from acd.router.router import Router


class Scenario:
    def __init__(self, router_class: type[ReferenceRouter] | type[Router]) -> None:
        self.router = router_class()
        self.now = 0.0

    def at(self, now: float) -> Scenario:
        self.now = now
        return self

    def send(self, event: ev.Event) -> list[Decision]:
        decisions = self.router.handle(event)
        self.router._check()
        return decisions

    def queue(
        self, name: str, skills: Mapping[str, int] | None = None, **options: Any
    ) -> QueueConfig:
        steps = options.pop("escalation", ())
        config = QueueConfig(
            name,
            frozen_skills(skills),
            escalation=tuple(EscalationStep(after, frozen_skills(s)) for after, s in steps),
            **options,
        )
        assert self.send(ev.QueueUpserted(self.now, config)) == []
        return config

    def agent(
        self, agent_id: str, skills: Mapping[str, int] | None = None, *, login: bool = True
    ) -> list[Decision]:
        assert self.send(ev.AgentUpserted(self.now, agent_id, frozen_skills(skills))) == []
        return self.send(ev.AgentLoggedIn(self.now, agent_id)) if login else []

    def arrive(
        self,
        call_id: str,
        queue: str,
        priority: int | None = None,
        extra: Mapping[str, int] | None = None,
    ) -> list[Decision]:
        return self.send(ev.CallArrived(self.now, call_id, queue, priority, frozen_skills(extra)))

    def connect(self, call_id: str, queue: str, agent_id: str) -> None:
        """Arrive, be offered to `agent_id`, answer."""
        decisions = self.arrive(call_id, queue)
        assert offers(decisions) == [(call_id, agent_id)], decisions
        assert self.send(ev.OfferAnswered(self.now, call_id, agent_id)) == [
            AgentStateChanged(
                agent_id, AgentState.BUSY, None, self.router.agent(agent_id).idle_since, self.now
            )  # type: ignore[union-attr]
        ]

    def tick(self, now: float) -> list[Decision]:
        self.now = now
        return self.send(ev.Tick(now))


def offers(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, OfferCall)]


def reserved(agent_id: str, idle_since: float, at: float) -> AgentStateChanged:
    return AgentStateChanged(agent_id, AgentState.RESERVED, None, idle_since, at)

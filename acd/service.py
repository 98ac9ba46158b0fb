"""Use cases shared by the HTTP API and the agents' feature codes (FastAGI).

Each use case validates against the directory, submits one event to the engine and turns a
rejection into a domain error. Persistence of configuration is layered on by the storage
(`ConfigStore`) where one is attached.
"""

from __future__ import annotations

from acd.directory import AgentDirectory
from acd.engine import Engine
from acd.errors import Conflict, DomainError, NotFound
from acd.router.decisions import Decision, EventRejected
from acd.router.events import AgentLoggedIn, AgentLoggedOut, AgentPaused, AgentUnpaused, Event
from acd.router.model import AgentView

_REJECTION_ERRORS: dict[str, type[DomainError]] = {
    "unknown_agent": NotFound,
    "unknown_call": NotFound,
    "unknown_queue": NotFound,
}


def raise_if_rejected(decisions: list[Decision]) -> None:
    for decision in decisions:
        if isinstance(decision, EventRejected):
            error = _REJECTION_ERRORS.get(decision.code, Conflict)
            raise error(decision.message, code=decision.code)


class AgentService:
    def __init__(self, engine: Engine, directory: AgentDirectory) -> None:
        self.engine = engine
        self.directory = directory

    def _known(self, agent_id: str) -> None:
        if self.directory.get(agent_id) is None and self.engine.router.agent(agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")

    async def _apply(self, agent_id: str, event: Event | None = None) -> AgentView:
        view = self.engine.router.agent(agent_id)
        if view is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")
        return view

    async def login(self, agent_id: str) -> AgentView:
        self._known(agent_id)
        raise_if_rejected(await self.engine.submit(lambda now: AgentLoggedIn(now, agent_id)))
        return await self._apply(agent_id)

    async def logout(self, agent_id: str) -> AgentView:
        self._known(agent_id)
        raise_if_rejected(await self.engine.submit(lambda now: AgentLoggedOut(now, agent_id)))
        return await self._apply(agent_id)

    async def pause(self, agent_id: str, reason: str = "") -> AgentView:
        self._known(agent_id)
        raise_if_rejected(await self.engine.submit(lambda now: AgentPaused(now, agent_id, reason)))
        return await self._apply(agent_id)

    async def unpause(self, agent_id: str) -> AgentView:
        self._known(agent_id)
        raise_if_rejected(await self.engine.submit(lambda now: AgentUnpaused(now, agent_id)))
        return await self._apply(agent_id)

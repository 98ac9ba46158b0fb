"""Agent use cases: configuration (create, replace, delete) and state (login, pause, …)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acd.config import AgentInput, AgentSeed, ConfigError, parse_pause
from acd.engine import Engine, EventFactory
from acd.errors import Conflict, NotFound
from acd.router.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentRemoved,
    AgentUnpaused,
    AgentUpserted,
    AgentWrapUpDone,
)
from acd.router.model import AgentState, AgentView
from acd.service.common import ConfigStoreLike, invalid, raise_if_rejected, validated
from acd.service.directory import AgentDirectory


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent as the API shows it: who it is (directory) and where it stands (router)."""

    seed: AgentSeed
    state: AgentState
    pause_reason: str | None
    idle_since: float | None
    reachable: bool
    call_id: str | None
    pending: str | None
    #: When the agent entered `state` (None: never logged in since the router knew it).
    state_since: float | None = None


class AgentService:
    """Agent CRUD and state changes (login, logout, pause, unpause, end of wrap-up)."""

    def __init__(
        self, engine: Engine, directory: AgentDirectory, store: ConfigStoreLike | None = None
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.store = store

    # reads

    def record(self, agent_id: str) -> AgentRecord:
        seed = self.directory.get(agent_id)
        view = self.engine.router.agent(agent_id)
        if seed is None and view is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")
        if seed is None:
            seed = AgentSeed(agent_id, skills=view.skills if view else {})
        return _record(seed, view)

    def list(self) -> list[AgentRecord]:
        ids = {seed.id for seed in self.directory.all()}
        ids.update(view.id for view in self.engine.router.agents())
        return [self.record(agent_id) for agent_id in sorted(ids)]

    # configuration

    async def create(self, document: Any) -> AgentRecord:
        agent = self._parse(document)
        if self.directory.get(agent.id) is not None or self.engine.router.agent(agent.id):
            raise Conflict(f"agent {agent.id!r} already exists", code="agent_exists")
        return await self._save(agent)

    async def replace(self, agent_id: str, document: Any) -> AgentRecord:
        """Replace an agent's name, contact and skills; its state is kept."""
        self.record(agent_id)
        if isinstance(document, Mapping) and "id" not in document:
            document = {**document, "id": agent_id}
        agent = self._parse(document)
        if agent.id != agent_id:
            raise Conflict(  # as for a queue (acd/service/queues.py)
                "must match the agent in the path (agents cannot be renamed)",
                code="rename_refused",
            )
        return await self._save(agent)

    async def delete(self, agent_id: str) -> None:
        """Refused (`agent_busy`) while the agent is ringing, on a call or in wrap-up."""
        self.record(agent_id)
        raise_if_rejected(await self.engine.submit(lambda now: AgentRemoved(now, agent_id)))
        if self.store is not None:
            await self.store.delete_agent(agent_id)
        # Gone from the directory before its tokens are revoked: a token issued meanwhile
        # either is stored before the revocation (and revoked by it) or finds the agent gone
        # when TokenService.issue looks again after storing it (and revokes it itself).
        self.directory.remove(agent_id)
        if self.store is not None:
            # A token outliving its agent would control the next agent given this id.
            await self.store.delete_agent_tokens(agent_id)

    def _parse(self, document: Any) -> AgentSeed:
        agent = validated(AgentInput, document, "agent", self.directory.rules).to_seed()
        if agent.contact:
            holder = self.directory.by_contact(agent.contact)
            if holder is not None and holder.id != agent.id:
                raise Conflict(
                    f"contact {agent.contact!r} belongs to agent {holder.id!r}",
                    code="contact_in_use",
                )
        return agent

    async def _save(self, agent: AgentSeed) -> AgentRecord:
        if self.store is not None:
            await self.store.put_agent(agent)
        raise_if_rejected(
            await self.engine.submit(lambda now: AgentUpserted(now, agent.id, agent.skills))
        )
        self.directory.put(agent)
        return self.record(agent.id)

    # state

    def _known(self, agent_id: str) -> None:
        if self.directory.get(agent_id) is None and self.engine.router.agent(agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")

    async def _change(self, agent_id: str, factory: EventFactory) -> AgentView:
        """Submit one state event for a known agent; a rejection becomes a domain error."""
        self._known(agent_id)
        raise_if_rejected(await self.engine.submit(factory))
        view = self.engine.router.agent(agent_id)
        if view is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")
        return view

    async def login(self, agent_id: str) -> AgentView:
        return await self._change(agent_id, lambda now: AgentLoggedIn(now, agent_id))

    async def logout(self, agent_id: str) -> AgentView:
        return await self._change(agent_id, lambda now: AgentLoggedOut(now, agent_id))

    async def pause(self, agent_id: str, reason: str = "") -> AgentView:
        """Pause with a reason (the dialplan's reason code); the pause request's rules apply."""
        return await self.pause_request(agent_id, {"reason": reason})

    async def pause_request(self, agent_id: str, document: Any) -> AgentView:
        """Pause with the API's body (`{"reason": "..."}`, or None for no reason)."""
        try:
            reason = parse_pause(document)
        except ConfigError as exc:
            raise invalid(exc) from None
        return await self._change(agent_id, lambda now: AgentPaused(now, agent_id, reason))

    async def unpause(self, agent_id: str) -> AgentView:
        return await self._change(agent_id, lambda now: AgentUnpaused(now, agent_id))

    async def end_wrap_up(self, agent_id: str) -> AgentView:
        """The agent is done before its wrap-up time is over: as at the wrap-up's end (a
        pending pause or logout applies, else available now). A no-op outside wrap-up."""
        return await self._change(agent_id, lambda now: AgentWrapUpDone(now, agent_id))


def _record(seed: AgentSeed, view: AgentView | None) -> AgentRecord:
    if view is None:
        return AgentRecord(seed, AgentState.LOGGED_OUT, None, None, True, None, None)
    return AgentRecord(
        seed,
        view.state,
        view.pause_reason,
        view.idle_since,
        view.reachable,
        view.call_id,
        view.pending,
        view.state_since,
    )

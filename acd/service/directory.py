"""Who each agent is outside the router: display name and the contact to dial.

The router knows agents only by id and skills; the effects layer needs the contact
(`PJSIP/1001`, `Local/1001@acd-sim-agent`) and the feature codes need the reverse lookup.
"""

from __future__ import annotations

from acd.config import AgentSeed


class AgentDirectory:
    def __init__(self) -> None:
        self._by_id: dict[str, AgentSeed] = {}
        self._by_contact: dict[str, str] = {}

    def put(self, agent: AgentSeed) -> None:
        self.remove(agent.id)
        self._by_id[agent.id] = agent
        if agent.contact:
            self._by_contact[agent.contact.lower()] = agent.id

    def remove(self, agent_id: str) -> None:
        old = self._by_id.pop(agent_id, None)
        if old is not None and old.contact:
            self._by_contact.pop(old.contact.lower(), None)

    def get(self, agent_id: str) -> AgentSeed | None:
        return self._by_id.get(agent_id)

    def by_contact(self, contact: str) -> AgentSeed | None:
        """`PJSIP/1001` (any case) → the agent whose contact it is."""
        agent_id = self._by_contact.get(contact.lower())
        return None if agent_id is None else self._by_id.get(agent_id)

    def all(self) -> list[AgentSeed]:
        return [self._by_id[k] for k in sorted(self._by_id)]

"""Who each agent is outside the router: display name and the contact to dial.

The router knows agents only by id and skills; the effects layer needs the contact
(`PJSIP/1001`, `Local/1001@acd-sim-agent`) and the feature codes need the reverse lookup.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from acd.config import AgentSeed
from acd.config.dialstrings import DEFAULT_RULES, DialRules, DialStringError

log = logging.getLogger(__name__)


class AgentDirectory:
    """`rules`: which contacts may be dialled (the `[dial]` settings); the agent use cases
    validate with them, the effects check each contact against them again before use."""

    def __init__(self, rules: DialRules = DEFAULT_RULES) -> None:
        self.rules = rules
        self._by_id: dict[str, AgentSeed] = {}
        self._by_contact: dict[str, str] = {}

    def restore(self, agent: AgentSeed) -> AgentSeed:
        """Put a stored agent; a contact stored before these rules is left out (the agent
        stays, unreachable until given a good contact) rather than ever dialled."""
        if agent.contact:
            try:
                self.rules.check_dial(agent.contact)
            except DialStringError as exc:
                log.error(
                    "stored agent %r: contact not valid any more, left out (PUT a new one): %s",
                    agent.id,
                    exc,
                )
                agent = replace(agent, contact="")
        self.put(agent)
        return agent

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

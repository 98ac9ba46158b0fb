"""What every use case shares: rejections and invalid documents as domain errors, the store's
shape. The documents' rules themselves are declared once, in acd/config/documents.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from acd.config import AgentSeed, ConfigError, validate
from acd.config.dialstrings import DEFAULT_RULES, DialRules
from acd.config.documents import Document
from acd.errors import Conflict, DomainError, Invalid, NotFound
from acd.router.decisions import Decision, EventRejected
from acd.router.model import QueueConfig

D = TypeVar("D", bound=Document)

_REJECTION_ERRORS: dict[str, type[DomainError]] = {
    "unknown_agent": NotFound,
    "unknown_call": NotFound,
    "unknown_queue": NotFound,
}


def raise_if_rejected(decisions: Sequence[Decision]) -> None:
    for decision in decisions:
        if isinstance(decision, EventRejected):
            error = _REJECTION_ERRORS.get(decision.code, Conflict)
            raise error(decision.message, code=decision.code)


def invalid(error: ConfigError) -> Invalid:
    return Invalid(error.message, field=error.field)


def validated(document: type[D], data: Any, where: str, rules: DialRules = DEFAULT_RULES) -> D:
    """`data` as `document` (acd.config.documents), or Invalid naming the field; `rules`: the
    dial strings a contact may be."""
    try:
        return validate(document, data, where, rules=rules)
    except ConfigError as exc:
        raise invalid(exc) from None


# --- what the use cases need from storage (acd.storage implements these) -------------------


class TokenRecord(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def agent_id(self) -> str | None: ...


class ConfigStoreLike(Protocol):
    async def list_queues(self) -> list[QueueConfig]: ...
    async def get_queue(self, name: str) -> QueueConfig | None: ...
    async def put_queue(self, queue: QueueConfig) -> None: ...
    async def delete_queue(self, name: str) -> Any: ...
    async def list_agents(self) -> list[AgentSeed]: ...
    async def get_agent(self, agent_id: str) -> AgentSeed | None: ...
    async def put_agent(self, agent: AgentSeed) -> None: ...
    async def delete_agent(self, agent_id: str) -> Any: ...
    async def add_token(
        self,
        name: str,
        role: str,
        secret: str,
        agent_id: str | None = None,
        *,
        chosen: bool = False,
    ) -> Any: ...
    async def find_token(self, secret: str) -> TokenRecord | None: ...
    async def stored_hash(self, name: str) -> str | None: ...

    async def holds_current(self, name: str, secret: str) -> bool: ...
    async def list_tokens(self) -> Sequence[TokenRecord]: ...
    async def delete_token(self, name: str) -> bool: ...
    async def delete_agent_tokens(self, agent_id: str) -> Sequence[str]: ...

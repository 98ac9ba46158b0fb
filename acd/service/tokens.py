"""API tokens: issue (the secret shown once), list, revoke, authenticate."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from acd.config import TokenInput
from acd.errors import Conflict, Invalid, NotFound
from acd.service.common import ConfigStoreLike, validated
from acd.service.directory import AgentDirectory


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name, its role, and for the agent role the agent it is."""

    name: str
    role: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    principal: Principal
    secret: str  # shown once, stored only as a hash


class TokenService:
    def __init__(self, store: ConfigStoreLike, directory: AgentDirectory) -> None:
        self.store = store
        self.directory = directory

    async def authenticate(self, secret: str) -> Principal | None:
        if not secret:
            return None
        found = await self.store.find_token(secret)
        if found is None:
            return None
        return Principal(found.name, found.role, found.agent_id)

    async def list(self) -> list[Principal]:
        tokens = await self.store.list_tokens()
        return sorted((Principal(t.name, t.role, t.agent_id) for t in tokens), key=_by_name)

    async def ensure_admin(self, secret: str, name: str = "ACD_API_TOKEN") -> None:
        """Make `secret` an admin token (the configured api_token); idempotent."""
        if secret and await self.store.find_token(secret) is None:
            await self.store.add_token(self._free_name(name, await self.list()), "admin", secret)

    async def issue(self, document: Any) -> IssuedToken:
        request = validated(TokenInput, document, "token")
        name, role, agent_id = request.name, request.role, request.agent_id
        # The pairing of role and agent needs the directory: the declaration only describes it.
        if role == "agent":
            if agent_id is None or self.directory.get(agent_id) is None:
                raise Invalid(
                    "an agent token needs the id of a known agent", field="token.agent_id"
                )
        elif agent_id is not None:
            raise Invalid("only agent tokens name an agent", field="token.agent_id")
        if any(p.name == name for p in await self.list()):
            raise Conflict(f"a token named {name!r} exists", code="token_exists")
        secret = secrets.token_urlsafe(32)
        await self.store.add_token(name, role, secret, agent_id)
        return IssuedToken(Principal(name, role, agent_id), secret)

    async def revoke(self, name: str) -> None:
        if not await self.store.delete_token(name):
            raise NotFound(f"no token named {name!r}", code="unknown_token_name")

    @staticmethod
    def _free_name(name: str, existing: Sequence[Principal]) -> str:
        taken = {p.name for p in existing}
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}-{n}"
        return candidate


def _by_name(principal: Principal) -> str:
    return principal.name

"""API tokens: issue (the secret shown once), list, revoke, authenticate.

The configured admin token (`api_token`, `ACD_API_TOKEN`) is kept under one fixed name,
`ACD_API_TOKEN`, and stored again at every start: a changed value replaces the previous one,
an unset one removes it. A person chose it, so it gets the store's slow salted hash; issued
tokens are random. Tokens naming an agent that no longer exists are revoked at start.

No slow hash runs on the request path (a flood of wrong tokens would queue everyone behind
it): the process knows the configured secret, so a request is compared with it in memory, in
constant time, and accepted while the stored `ACD_API_TOKEN` row is still the one this start
wrote (revoking it with DELETE /tokens/ACD_API_TOKEN holds until the next start); any other
secret is looked up by its SHA-256 digest, which only issued tokens are stored under.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from acd.config import TokenInput
from acd.errors import Conflict, NotFound
from acd.service.common import ConfigStoreLike, validated
from acd.service.directory import AgentDirectory

log = logging.getLogger(__name__)

#: The configured admin token's name (reserved: POST /tokens cannot take it).
CONFIGURED_NAME = "ACD_API_TOKEN"
#: What earlier versions named each new value of ACD_API_TOKEN, beside the old ones.
_EARLIER_CONFIGURED = re.compile(re.escape(CONFIGURED_NAME) + r"-[0-9]+")


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
        # SHA-256 of the configured secret (compared digest to digest: equal lengths, so the
        # comparison tells nothing of the secret's length) and the stored hash this start
        # wrote for it.
        self._configured: tuple[bytes, str] | None = None

    async def authenticate(self, secret: str) -> Principal | None:
        if not secret:
            return None
        configured = self._configured
        if configured is not None and hmac.compare_digest(_digest(secret), configured[0]):
            stored = await self.store.stored_hash(CONFIGURED_NAME)
            if stored != configured[1]:
                # Replaced since this start: revoked, unless another node sharing the store
                # stored the same secret again (two nodes starting on an empty store).
                if stored is None or not await self.store.holds_current(CONFIGURED_NAME, secret):
                    return None
                self._configured = (configured[0], stored)
            return Principal(CONFIGURED_NAME, "admin")
        found = await self.store.find_token(secret)
        if found is None:
            return None
        return Principal(found.name, found.role, found.agent_id)

    async def list(self) -> list[Principal]:
        tokens = await self.store.list_tokens()
        return sorted((Principal(t.name, t.role, t.agent_id) for t in tokens), key=_by_name)

    async def configure_admin(self, secret: str) -> None:
        """At start: the configured admin token is `secret` (none if empty), and only it."""
        for token in await self.store.list_tokens():
            if _EARLIER_CONFIGURED.fullmatch(token.name) and token.role == "admin":
                await self.store.delete_token(token.name)
                log.warning("revoked token %r, an earlier value of ACD_API_TOKEN", token.name)
        self._configured = None
        if secret:
            # The same secret keeps its row: another node sharing the store compares with it.
            if not await self.store.holds_current(CONFIGURED_NAME, secret):
                await self.store.add_token(CONFIGURED_NAME, "admin", secret, chosen=True)
            stored = await self.store.stored_hash(CONFIGURED_NAME)
            if stored is not None:
                self._configured = (_digest(secret), stored)
        elif await self.store.delete_token(CONFIGURED_NAME):
            log.warning("api_token / ACD_API_TOKEN is not set: revoked the stored one")

    async def revoke_orphans(self) -> tuple[str, ...]:
        """At start: revoke the tokens of agents that no longer exist (kept by versions that
        did not revoke them with the agent); the names revoked."""
        revoked: tuple[str, ...] = ()
        for token in await self.store.list_tokens():
            if token.agent_id is not None and self.directory.get(token.agent_id) is None:
                await self.store.delete_token(token.name)
                revoked += (token.name,)
        if revoked:
            log.warning(
                "revoked %d token(s) of agents that no longer exist: %s",
                len(revoked),
                ", ".join(sorted(revoked)),
            )
        return revoked

    async def issue(self, document: Any) -> IssuedToken:
        request = validated(TokenInput, document, "token")
        name, role, agent_id = request.name, request.role, request.agent_id
        # The pairing of role and agent is the document's (TokenInput); the agent's existence
        # is state, as everywhere an unknown agent is named: 404.
        if agent_id is not None and self.directory.get(agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")
        if name == CONFIGURED_NAME or _EARLIER_CONFIGURED.fullmatch(name):
            raise Conflict(
                f"{name!r} is reserved for the configured token (api_token, ACD_API_TOKEN)",
                code="token_exists",
            )
        if any(p.name == name for p in await self.list()):
            raise Conflict(f"a token named {name!r} exists", code="token_exists")
        secret = secrets.token_urlsafe(32)
        await self.store.add_token(name, role, secret, agent_id)
        if agent_id is not None and self.directory.get(agent_id) is None:
            # The agent was deleted while this token was being stored (AgentService.delete
            # leaves the directory before revoking): the revocation may have run already.
            await self.store.delete_token(name)
            raise NotFound(f"no agent {agent_id!r} (deleted meanwhile)", code="unknown_agent")
        return IssuedToken(Principal(name, role, agent_id), secret)

    async def revoke(self, name: str) -> None:
        if not await self.store.delete_token(name):
            raise NotFound(f"no token named {name!r}", code="unknown_token_name")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _by_name(principal: Principal) -> str:
    return principal.name

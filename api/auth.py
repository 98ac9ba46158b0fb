"""Bearer tokens and roles.

    admin       everything
    supervisor  read everything, change any agent's state, listen / whisper / barge
    agent       read everything, change its own state (the token's agent_id)
    reader      read everything

Token management (/tokens) is admin only. Each handler declares what it needs with
`@requires(...)`; the check runs before the handler, so a handler never sees a caller it
should not serve.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from acd.service import Principal
from api.context import SERVICES
from api.errors import ForbiddenError, UnauthorizedError
from api.principal import PRINCIPAL, STILL_VALID

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Permission(enum.Enum):
    READ = "read"
    AGENT_STATE = "agent_state"  # the route has {agent_id}; agents may act only on their own
    ADMIN = "admin"
    SUPERVISE = "supervise"  # listen, whisper, barge on an agent's call; their audit log
    TRANSFER = "transfer"  # hand a connected call on; an agent only its own (acd.service)


_ALLOWED: dict[Permission, frozenset[str]] = {
    Permission.READ: frozenset({"admin", "supervisor", "agent", "reader"}),
    Permission.AGENT_STATE: frozenset({"admin", "supervisor", "agent"}),
    Permission.ADMIN: frozenset({"admin"}),
    Permission.SUPERVISE: frozenset({"admin", "supervisor"}),
    Permission.TRANSFER: frozenset({"admin", "supervisor", "agent"}),
}


def bearer_secret(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


async def authenticate(request: web.Request) -> Principal:
    secret = bearer_secret(request)
    if secret is None:
        raise UnauthorizedError("send Authorization: Bearer <token>", code="missing_token")
    principal = await request.app[SERVICES].tokens.authenticate(secret)
    if principal is None:
        raise UnauthorizedError("unknown token", code="unknown_token")
    return principal


async def still_valid(request: web.Request) -> bool:
    """For a long request: its token is still the principal it was (not revoked since)."""
    secret = bearer_secret(request)
    if secret is None:
        return False
    return await request.app[SERVICES].tokens.authenticate(secret) == request.get(PRINCIPAL)


def authorize(principal: Principal, permission: Permission, request: web.Request) -> None:
    if principal.role not in _ALLOWED[permission]:
        raise ForbiddenError(f"role {principal.role!r} may not {request.method} {request.path}")
    if permission is Permission.AGENT_STATE and principal.role == "agent":
        target = request.match_info.get("agent_id")
        if target != principal.agent_id:
            raise ForbiddenError("an agent token may change only its own agent's state")


def requires(permission: Permission) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            principal = await authenticate(request)
            authorize(principal, permission, request)
            request[PRINCIPAL] = principal
            request[STILL_VALID] = still_valid
            return await handler(request)

        return guarded

    return decorate

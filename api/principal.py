"""The request keys under which `api.auth.requires` leaves who the caller is and how to ask
again whether its token is still valid, for long requests (the event streams). Their own
module: `api.events` needs them and `api.auth` depends, through `api.context`, on
`api.events`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from acd.service import Principal

PRINCIPAL = web.RequestKey("principal", Principal)
#: `await request[STILL_VALID](request)`: the token authenticates as the same principal.
STILL_VALID: web.RequestKey[Callable[[web.Request], Awaitable[bool]]] = web.RequestKey(
    "still_valid"
)

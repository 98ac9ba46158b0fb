"""A cluster's standby forwards API writes to the leader (reads it answers from its replica).

Every request whose method changes something (POST, PUT, DELETE, PATCH) is sent on, with its
path, query, body and headers (the bearer token included: the leader authenticates it), to the
leader's advertised `[cluster] api_url`; the leader's answer comes back as it is. No leader
known: 503 `no_leader`; the leader unreachable or too slow: 503 `leader_unreachable`. A request
that was forwarded already is never forwarded again (`FORWARDED_BY`): two nodes that each
believe the other leads answer 503 instead of passing a request back and forth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from redis.exceptions import RedisError

from api.errors import error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LeaderUrl = Callable[[], Awaitable[str | None]]

#: Seconds to find the leader's address (Redis) before answering 503 no_leader.
LOOKUP_TIMEOUT = 2.0
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORWARDED_BY = "X-ACD-Forwarded-By"
#: Connection-level headers are the hop's own (RFC 9110 7.6.1), and aiohttp sets the length.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def forward_writes(
    node_id: str, leader_url: LeaderUrl, session: aiohttp.ClientSession, timeout: float
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in READ_METHODS:
            return await handler(request)
        if FORWARDED_BY in request.headers:
            return error_response(
                503, "no_leader", "forwarded by another standby; no leader known here"
            )
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                url = await leader_url()
        except (RedisError, OSError, TimeoutError):  # the leader's address is in Redis
            url = None
        if url is None:
            return error_response(503, "no_leader", "no cluster leader at the moment; retry")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers[FORWARDED_BY] = node_id
        try:
            async with session.request(
                request.method,
                url + request.rel_url.path_qs,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as reply:
                payload = await reply.read()
                kept = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP}
                return web.Response(status=reply.status, body=payload, headers=kept)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return error_response(
                503, "leader_unreachable", f"the cluster's leader at {url} did not answer: {exc!r}"
            )

    return middleware

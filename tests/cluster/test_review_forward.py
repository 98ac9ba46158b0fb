"""Review of api/forward.py (fresh-eyes review, 2026-12-02): the standby looks the leader up
in Redis (`ClusterNode._leader_url`, an MGET on the data link) with nothing around it, so a
Redis that is away turns a forwarded write into a 500 (and a Redis that stops answering, on
the data link without a socket timeout, into a request that never ends) instead of the
documented 503 `no_leader`. Fixed; kept as a regression test."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.exceptions import ConnectionError as RedisConnectionError

from api.forward import forward_writes


async def _redis_away() -> str | None:
    raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


async def test_a_write_on_a_standby_whose_redis_is_away_is_a_503() -> None:
    async def read(request: web.Request) -> web.Response:
        return web.json_response({"standby": True})

    async with aiohttp.ClientSession() as session:
        app = web.Application(middlewares=[forward_writes("node-b", _redis_away, session, 2.0)])
        app.router.add_route("*", "/{tail:.*}", read)
        server = TestServer(app)
        await server.start_server()
        try:
            async with session.post(server.make_url("/api/v1/agents/2001/login")) as reply:
                status = reply.status
        finally:
            await server.close()
    assert status == 503

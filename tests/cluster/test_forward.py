"""A standby forwards API writes to the leader as they came (method, path, query, body, the
bearer token) and hands back the leader's answer; reads stay local; without a reachable
leader the caller gets a clear 503, and a forwarded request is never forwarded again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acd.cluster.node import HttpSlot, stepping_down_app
from acd.config import load_settings
from acd.engine import EngineHalted
from acd.serve import SHUTDOWN_TIMEOUT, http_runner
from api.errors import error_middleware
from api.forward import FORWARDED_BY, forward_writes


async def _leader_app(seen: list[dict[str, Any]]) -> web.Application:
    async def anything(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "path_qs": request.rel_url.path_qs,
                "body": await request.text(),
                "authorization": request.headers.get("Authorization"),
                "forwarded_by": request.headers.get(FORWARDED_BY),
            }
        )
        return web.json_response({"leader": True}, status=201, headers={"X-Leader": "yes"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


def _standby_app(
    leader_url: Callable[[], Awaitable[str | None]], session: aiohttp.ClientSession
) -> web.Application:
    async def read(request: web.Request) -> web.Response:
        return web.json_response({"standby": True})

    app = web.Application(middlewares=[forward_writes("node-b", leader_url, session, 2.0)])
    app.router.add_route("*", "/{tail:.*}", read)
    return app


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app)
    await server.start_server()
    return server


async def test_writes_reach_the_leader_as_sent_and_its_answer_comes_back(
    session: aiohttp.ClientSession,
) -> None:
    seen: list[dict[str, Any]] = []
    leader = await _serve(await _leader_app(seen))
    leader_url = str(leader.make_url("")).rstrip("/")

    async def where() -> str | None:
        return leader_url

    standby = await _serve(_standby_app(where, session))
    try:
        body = json.dumps({"reason": "lunch"})
        async with session.post(
            standby.make_url("/api/v1/agents/1001/pause?x=1"),
            data=body,
            headers={"Authorization": "Bearer t0k", "Content-Type": "application/json"},
        ) as reply:
            assert reply.status == 201
            assert await reply.json() == {"leader": True}
            assert reply.headers["X-Leader"] == "yes"
        assert seen == [
            {
                "method": "POST",
                "path_qs": "/api/v1/agents/1001/pause?x=1",
                "body": body,
                "authorization": "Bearer t0k",
                "forwarded_by": "node-b",
            }
        ]
        for method in ("PUT", "DELETE"):
            async with session.request(method, standby.make_url("/api/v1/queues/q")) as reply:
                assert reply.status == 201
        async with session.get(standby.make_url("/api/v1/queues")) as reply:
            assert await reply.json() == {"standby": True}  # reads answered here
        assert [s["method"] for s in seen] == ["POST", "PUT", "DELETE"]
    finally:
        await standby.close()
        await leader.close()


async def test_no_leader_known_or_reachable_is_a_clear_503(
    session: aiohttp.ClientSession,
) -> None:
    answer: list[str | None] = [None]

    async def where() -> str | None:
        return answer[0]

    standby = await _serve(_standby_app(where, session))
    try:
        async with session.post(standby.make_url("/api/v1/queues"), data="{}") as reply:
            assert reply.status == 503
            assert (await reply.json())["error"]["code"] == "no_leader"
        answer[0] = "http://127.0.0.1:9"  # nobody listens there
        async with session.post(standby.make_url("/api/v1/queues"), data="{}") as reply:
            assert reply.status == 503
            assert (await reply.json())["error"]["code"] == "leader_unreachable"
        async with session.post(
            standby.make_url("/api/v1/queues"), data="{}", headers={FORWARDED_BY: "node-a"}
        ) as reply:
            assert reply.status == 503  # forwarded once already: never again
            assert (await reply.json())["error"]["code"] == "no_leader"
    finally:
        await standby.close()


async def test_a_write_on_a_node_whose_engine_halted_is_a_503_not_leader(
    session: aiohttp.ClientSession,
) -> None:
    async def halted(request: web.Request) -> web.Response:
        raise EngineHalted("journal writer closed mid-batch")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/api/v1/queues", halted)
    server = await _serve(app)
    try:
        async with session.post(server.make_url("/api/v1/queues"), data="{}") as reply:
            assert reply.status == 503
            assert (await reply.json())["error"]["code"] == "not_leader"
    finally:
        await server.close()


async def test_a_hung_request_holds_the_port_swap_for_the_shutdown_timeout_only(
    session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    """A node changing role swaps the app on its port; a request that never finishes (a
    forward to a leader that stopped answering) holds that up for SHUTDOWN_TIMEOUT, not for
    aiohttp's default 60 s, during which the node would watch neither its lease nor SIGTERM."""
    settings = load_settings(env={"ACD_HTTP_PORT": str(unused_tcp_port)})
    slot = HttpSlot(settings, lambda app: http_runner(app, settings))

    async def never(request: web.Request) -> web.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def fine(request: web.Request) -> web.Response:
        return web.json_response({"new": True})

    hung_app, new_app = web.Application(), web.Application()
    hung_app.router.add_get("/x", never)
    new_app.router.add_get("/x", fine)
    await slot.serve(hung_app)
    try:
        hung = asyncio.ensure_future(session.get(f"http://127.0.0.1:{unused_tcp_port}/x"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await asyncio.wait_for(slot.serve(new_app), SHUTDOWN_TIMEOUT + 3.0)
        assert time.monotonic() - started < SHUTDOWN_TIMEOUT + 3.0
        async with session.get(f"http://127.0.0.1:{unused_tcp_port}/x") as reply:
            assert await reply.json() == {"new": True}
        hung.cancel()
    finally:
        await slot.close()


class _SteppedDown:
    node_id = "node-a"
    role = "standby"
    following = False
    leading = False
    lag = float("nan")


async def test_a_node_that_stepped_down_says_so_until_its_standby_side_is_up(
    session: aiohttp.ClientSession,
) -> None:
    server = await _serve(stepping_down_app(_SteppedDown()))  # type: ignore[arg-type]
    try:
        async with session.get(server.make_url("/readyz")) as reply:
            assert reply.status == 503
            body = await reply.json()
            assert (body["status"], body["role"], body["node"]) == (
                "not_ready",
                "standby",
                "node-a",
            )
            assert body["checks"]["replica_following"] is False
        async with session.get(server.make_url("/metrics")) as reply:
            assert reply.status == 200
            text = await reply.text()
            assert 'acd_cluster_leader{node="node-a"} 0.0' in text
        async with session.post(server.make_url("/api/v1/queues"), data="{}") as reply:
            assert reply.status == 503
            assert (await reply.json())["error"]["code"] == "not_leader"
    finally:
        await server.close()

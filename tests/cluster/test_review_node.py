"""Review of the #12 cluster node (fresh-eyes review, 2026-12-02): defects found in
acd/cluster/node.py and acd/compose.py, each shown on in-process `ClusterNode`s against the
real Redis and PostgreSQL (no Asterisk: the AMI port is closed, the leader leads unready).

Each failed (strict xfail) until its defect was fixed; they stay as regression tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import redis.asyncio
from aiohttp import web
from faults.harness import TcpProxy

from acd.cluster.node import ClusterNode
from acd.config import load_settings
from acd.config.settings import Settings
from acd.storage import Database

from .conftest import RedisTarget, free_port

pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("cluster-nodes")]

PG = "postgresql://postgres@127.0.0.1:5432"
TOKEN = "cluster-review-token-0123456789abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTACT = "Local/2001@acd-sim-agent"


def _settings(workdir: Path, name: str, redis_url: str, prefix: str, storage: str) -> Settings:
    workdir.mkdir(mode=0o700)
    path = workdir / "acd.toml"
    path.write_text(
        f"""api_token = "{TOKEN}"
[http]
port = {free_port()}
[agi]
port = {free_port()}
secret = "agi-secret-of-this-test-0123456789"
[ami]
port = {free_port()}
secret = "ami-secret-of-this-test"
[storage]
url = "{storage}"
var_dir = "{workdir / "var"}"
[cluster]
redis_url = "{redis_url}"
node_id = "{name}"
key_prefix = "{prefix}"
snapshot_every = 30
[[queues]]
name = "support"
skills = {{ support = 1 }}
[[agents]]
id = "2001"
contact = "{CONTACT}"
skills = {{ support = 1 }}
"""
    )
    return load_settings(path, env={})


class Running:
    """One in-process `ClusterNode` on its own task."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.node = ClusterNode(settings, lambda app: web.AppRunner(app))
        self.task = asyncio.create_task(self.node.run())
        self.base = f"http://127.0.0.1:{settings.http.port}"

    async def stop(self) -> None:
        self.node.stop()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 30)
        except BaseException:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


@pytest.fixture
async def running() -> AsyncIterator[Callable[[Settings], Running]]:
    made: list[Running] = []

    def start(settings: Settings) -> Running:
        made.append(Running(settings))
        return made[-1]

    yield start
    for node in reversed(made):
        await node.stop()


async def _until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


async def _role(session: aiohttp.ClientSession, node: Running, role: str) -> bool:
    if node.task.done():
        raise AssertionError(f"node stopped: {node.task.exception()!r}")
    try:
        async with session.get(node.base + "/readyz") as reply:
            body = await reply.json()
    except aiohttp.ClientError:
        return False
    return bool(body.get("role") == role)


# --- (5) a node crashes when PostgreSQL is away ------------------------------------------------


async def test_a_node_keeps_running_while_postgresql_is_away(
    tmp_path: Path, redis_target: RedisTarget, running: Callable[[Settings], Running]
) -> None:
    # Another node leads (its lease held for the whole test): this one is a standby only.
    client = redis.asyncio.Redis.from_url(redis_target.url)
    try:
        await client.set(f"{redis_target.prefix}:leader", "node-z:7", px=60_000)
    finally:
        await client.aclose()
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    node = running(_settings(tmp_path / "a", "node-a", redis_target.url, redis_target.prefix,
                             closed))  # fmt: skip
    # A standby whose PostgreSQL is away (or that reloads its replica at a takeover while it
    # is) must wait for it, not end. Today run() raises ConnectionRefusedError from
    # assemble_standby's migrate as soon as the replica has loaded.
    await asyncio.wait([node.task], timeout=6)
    assert not node.task.done(), f"node ended: {node.task.exception()!r}"


# --- (3) records dropped on stepping down though nobody else owns the store ------------------


async def test_records_buffered_at_a_step_down_reach_the_store_nobody_else_claimed(
    tmp_path: Path,
    redis_target: RedisTarget,
    database: str,
    running: Callable[[Settings], Running],
) -> None:
    node = running(_settings(tmp_path / "a", "node-a", redis_target.url, redis_target.prefix,
                             database))  # fmt: skip
    client = redis.asyncio.Redis.from_url(redis_target.url)
    dsn = database.replace("postgresql+asyncpg://", "postgresql://")
    try:
        async with aiohttp.ClientSession() as session:
            await _until(lambda: _role(session, node, "leader"), 30, "node-a leads")
            token = int(await client.get(f"{redis_target.prefix}:epoch"))
            async with session.post(node.base + "/api/v1/agents/2001/login", headers=AUTH) as r:
                assert r.status == 200, await r.text()
            # Within the batch writer's 0.25 s: the journal refuses the next input (the lease
            # in Redis is another's), so the node steps down with the login's interval row
            # still buffered.
            await client.set(f"{redis_target.prefix}:leader", "intruder:999")
            async with session.post(
                node.base + "/api/v1/agents/2001/pause", headers=AUTH, json={"reason": "x"}
            ) as r:
                assert r.status == 503, await r.text()
            await _until(lambda: _role(session, node, "standby"), 10, "node-a stands by")
        await asyncio.sleep(1.0)  # the leader runtime's close (its last flush) is done
        connection = await asyncpg.connect(dsn, timeout=5)
        try:
            claimed = await connection.fetchval("SELECT token FROM cluster_fence WHERE id = 1")
            rows = await connection.fetch(
                "SELECT state FROM acd_agent_intervals WHERE agent_id = '2001'"
            )
        finally:
            await connection.close()
        assert claimed == token  # nobody else ever claimed the store
        assert [row["state"] for row in rows] != [], "the login's interval was dropped"
    finally:
        await client.aclose()


# --- (1)/(4) a deposed leader's API keeps deciding against the store --------------------------


async def _deposed(
    tmp_path: Path, redis_target: RedisTarget, database: str, start: Callable[[Settings], Running]
) -> tuple[Running, TcpProxy]:
    """A leader whose Redis link is cut: it steps down, and its replica cannot load."""
    host, port = redis_target.url.removeprefix("redis://").split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    url = f"redis://127.0.0.1:{proxy.port}/0"
    node = start(_settings(tmp_path / "a", "node-a", url, redis_target.prefix, database))
    async with aiohttp.ClientSession() as session:
        await _until(lambda: _role(session, node, "leader"), 30, "node-a leads")
        await proxy.cut()
        await _until(lambda: _role(session, node, "standby"), 10, "node-a stands down")
    await asyncio.sleep(0.5)  # its leader runtime is closed
    return node, proxy


async def test_a_deposed_leader_neither_writes_the_configuration_nor_hangs(
    tmp_path: Path,
    redis_target: RedisTarget,
    database: str,
    running: Callable[[Settings], Running],
) -> None:
    node, proxy = await _deposed(tmp_path, redis_target, database, running)
    try:
        status: int | str
        async with aiohttp.ClientSession() as session:
            try:
                async with session.put(
                    node.base + "/api/v1/queues/support",
                    headers=AUTH,
                    json={"name": "support", "skills": {"support": 1}, "wrap_up": 42},
                    timeout=aiohttp.ClientTimeout(total=3),
                ) as reply:
                    status = reply.status
            except TimeoutError:
                status = "no answer in 3 s"
        store = Database(database)
        try:
            queues = {q.name: q for q in await store.config.list_queues()}
        finally:
            await store.close()
        stored: Any = queues["support"].wrap_up
        # Answered at once (not_leader), and the store keeps the queue as the leader left it.
        assert (status, stored) == (503, 5.0), "a deposed leader changed the store and/or hung"
    finally:
        await proxy.close()


async def _following(session: aiohttp.ClientSession, node: Running) -> bool:
    try:
        async with session.get(node.base + "/readyz") as reply:
            body = await reply.json()
    except aiohttp.ClientError:
        return False
    return bool(body.get("role") == "standby" and body["checks"].get("replica_following"))


async def test_a_request_hung_on_the_old_leader_does_not_stall_the_standby(
    tmp_path: Path,
    redis_target: RedisTarget,
    database: str,
    running: Callable[[Settings], Running],
) -> None:
    node, proxy = await _deposed(tmp_path, redis_target, database, running)
    try:
        async with aiohttp.ClientSession() as session:
            hung = asyncio.ensure_future(
                session.post(node.base + "/api/v1/agents/2001/login", headers=AUTH)
            )
            await asyncio.sleep(0.5)
            # Answered at once by the node that stepped down (it never reaches the old
            # leader's services); when it does hang (a slow forward), the port's swap waits
            # at most the runner's shutdown timeout.
            # Redis back: the node (alone) wins the lease again at once and must lead; its
            # standby side first swaps its app in, waiting on the old runner's cleanup.
            await proxy.restore()
            try:
                await _until(lambda: _role(session, node, "leader"), 10, "node-a leads again")
            finally:
                hung.cancel()
    finally:
        await proxy.close()


# --- (4) a standby's reads of an agent's identity go stale ------------------------------------


async def test_a_standby_shows_an_agents_contact_changed_on_the_leader(
    tmp_path: Path,
    redis_target: RedisTarget,
    database: str,
    running: Callable[[Settings], Running],
) -> None:
    a = running(_settings(tmp_path / "a", "node-a", redis_target.url, redis_target.prefix,
                          database))  # fmt: skip
    async with aiohttp.ClientSession() as session:
        await _until(lambda: _role(session, a, "leader"), 30, "node-a leads")
        b = running(_settings(tmp_path / "b", "node-b", redis_target.url, redis_target.prefix,
                              database))  # fmt: skip
        await _until(lambda: _following(session, b), 30, "node-b follows")
        changed = {"name": "Renamed", "contact": "Local/2999@acd-sim-agent",
                   "skills": {"support": 3}}  # fmt: skip
        async with session.put(b.base + "/api/v1/agents/2001", headers=AUTH, json=changed) as r:
            assert r.status == 200, await r.text()  # forwarded to the leader

        async def on_standby() -> dict[str, Any]:
            async with session.get(b.base + "/api/v1/agents/2001", headers=AUTH) as reply:
                assert reply.status == 200, await reply.text()
                body: dict[str, Any] = await reply.json()
                return body

        async with session.post(a.base + "/api/v1/agents/2001/login", headers=AUTH) as r:
            assert r.status == 200, await r.text()

        async def replicated() -> bool:  # the login, journalled after the change, is applied
            return bool((await on_standby())["state"] == "available")

        await _until(replicated, 10, "the login on the standby")
        seen = await on_standby()
        shown = (seen["name"], seen["contact"], seen["skills"])
        assert shown == ("Renamed", "Local/2999@acd-sim-agent", {"support": 3}), shown

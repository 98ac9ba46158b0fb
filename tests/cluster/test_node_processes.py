"""Two `acd serve` processes with `[cluster]` on the real Redis and PostgreSQL, without an
Asterisk (its AMI port is closed: the leader leads but is not ready): the roles, the standby's
forwarded writes and replica reads, and a takeover after SIGKILL that keeps the agents' states
as the dead leader had them. tests/ha runs the same nodes against the real Asterisk."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import redis.asyncio

from .conftest import RedisTarget, free_port

pytestmark = [pytest.mark.redis, pytest.mark.xdist_group("cluster-nodes")]

PG = "postgresql://postgres@127.0.0.1:5432"
TOKEN = "cluster-test-token-0123456789abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Node:
    name: str
    workdir: Path
    env: dict[str, str]
    http_port: int
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / f"{self.name}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "acd", "serve", "--config", str(self.workdir / "acd.toml")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


@pytest.fixture
def nodes(tmp_path: Path, redis_target: RedisTarget, database: str) -> Iterator[list[Node]]:
    made: list[Node] = []
    closed_ami = free_port()  # nobody listens: the leader keeps trying to log in
    for name in ("node-a", "node-b"):
        workdir = tmp_path / name
        workdir.mkdir(mode=0o700)
        http_port = free_port()
        (workdir / "acd.toml").write_text(
            f"""api_token = "{TOKEN}"
[http]
port = {http_port}
[agi]
port = {free_port()}
secret = "agi-secret-of-this-test-0123456789"
[ami]
port = {closed_ami}
secret = "ami-secret-of-this-test"
[storage]
url = "{database}"
var_dir = "{workdir / "var"}"
[cluster]
redis_url = "{redis_target.url}"
node_id = "{name}"
key_prefix = "{redis_target.prefix}"
snapshot_every = 0.5
[[queues]]
name = "support"
skills = {{ support = 1 }}
[[agents]]
id = "2001"
contact = "Local/2001@acd-sim-agent"
skills = {{ support = 1 }}
"""
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
        made.append(Node(name, workdir, env, http_port))
    try:
        yield made
    finally:
        for node in made:
            node.stop()


async def _ready(session: aiohttp.ClientSession, node: Node) -> tuple[int, dict[str, Any]]:
    try:
        async with session.get(node.base + "/readyz") as reply:
            return reply.status, await reply.json()
    except aiohttp.ClientError:
        return 0, {}


async def _role(session: aiohttp.ClientSession, node: Node, role: str, within: float) -> float:
    """Seconds until the node's /readyz says `role`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        _, body = await _ready(session, node)
        if body.get("role") == role:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"{node.name} not {role} within {within} s: {node.log.read_text()[-3000:]}"
    )


async def _agent(session: aiohttp.ClientSession, node: Node) -> dict[str, Any]:
    async with session.get(node.base + "/api/v1/agents/2001", headers=AUTH) as reply:
        assert reply.status == 200, await reply.text()
        body: dict[str, Any] = await reply.json()
        return body


async def test_standby_forwards_writes_reads_its_replica_and_takes_over_with_the_states(
    nodes: list[Node],
) -> None:
    a, b = nodes
    async with aiohttp.ClientSession() as session:
        a.start()
        await _role(session, a, "leader", 30)
        b.start()
        await _role(session, b, "standby", 30)
        status, body = await _ready(session, b)
        assert status == 200, body  # a standby that follows is ready to serve reads
        assert body["checks"]["replica_following"] is True
        status, body = await _ready(session, a)
        assert status == 503, body  # the leader has no Asterisk here: not ready
        assert body["node"] == "node-a"

        # A write on the standby is the leader's; the standby's replica then has it too.
        async with session.post(b.base + "/api/v1/agents/2001/login", headers=AUTH) as reply:
            assert reply.status == 200, await reply.text()
        on_leader = await _agent(session, a)
        assert on_leader["state"] == "available"
        for _ in range(100):
            on_standby = await _agent(session, b)
            if on_standby["state"] == "available":
                break
            await asyncio.sleep(0.02)
        assert on_standby["idle_since"] == on_leader["idle_since"]
        async with session.post(
            b.base + "/api/v1/agents/2001/pause", headers=AUTH, json={"reason": "lunch"}
        ) as reply:
            assert reply.status == 200, await reply.text()
        await asyncio.sleep(1.2)  # a snapshot or two (snapshot_every 0.5) and a trim

        # The leader dies: the standby leads, with the pause the dead leader had applied.
        a.kill()
        took = await _role(session, b, "leader", 10)
        assert took < 6.0, took
        after = await _agent(session, b)
        assert (after["state"], after["pause_reason"]) == ("paused", "lunch")
        assert after["idle_since"] == on_leader["idle_since"]

        # The old leader comes back as a standby and follows the new one.
        a.start()
        await _role(session, a, "standby", 30)
        async with session.post(b.base + "/api/v1/agents/2001/unpause", headers=AUTH) as reply:
            assert reply.status == 200, await reply.text()
        for _ in range(100):
            if (await _agent(session, a))["state"] == "available":
                break
            await asyncio.sleep(0.02)
        assert (await _agent(session, a))["state"] == "available"
    assert b.stop() == 0
    assert a.stop() == 0


async def test_a_redis_that_forgot_its_epoch_gets_it_raised_past_the_stores_claim(
    nodes: list[Node], redis_target: RedisTarget, database: str
) -> None:
    a, _ = nodes
    dsn = database.replace("postgresql+asyncpg://", "postgresql://")
    client = redis.asyncio.Redis.from_url(redis_target.url)
    try:
        async with aiohttp.ClientSession() as session:
            a.start()
            await _role(session, a, "leader", 30)
            assert a.stop() == 0
            # Redis restarted empty (no appendonly); the store still has a leader's claim.
            keys = [k async for k in client.scan_iter(match=f"{redis_target.prefix}:*")]
            await client.delete(*keys)
            connection = await asyncpg.connect(dsn, timeout=5)
            try:
                await connection.execute("UPDATE cluster_fence SET token = 50 WHERE id = 1")
            finally:
                await connection.close()
            a.start()
            await _role(session, a, "leader", 30)
        assert int(await client.get(f"{redis_target.prefix}:epoch")) == 51
        connection = await asyncpg.connect(dsn, timeout=5)
        try:
            assert await connection.fetchval("SELECT token FROM cluster_fence") == 51
        finally:
            await connection.close()
        assert "Redis lost its epoch" in a.log.read_text()
    finally:
        await client.aclose()

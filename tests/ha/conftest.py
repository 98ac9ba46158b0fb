"""Fixtures of the HA tests: a probe on the worker's Asterisk, a fresh PostgreSQL database,
and `cluster_rig`, a factory of ClusterRigs stopped after the test. Redis: `cluster_redis`
(the shared server with a private key prefix, or a redis-server of the test's own where no
shared one answers) and tests/cluster's `durable_redis` (a private server a test may restart).

ACD_FAULTS_SOURCE=<dir> runs `python -m acd serve` from that tree (e.g. `git archive HEAD`
unpacked), as in tests/faults: one commit measured while the working tree moves."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from cluster.conftest import (
    SHARED_REDIS_URL,
    PrivateRedis,
    RedisTarget,
    durable_redis,
    private_redis,
    redis_target,
)
from faults.harness import Probe

from acd.asterisk.testing import RunningAsterisk

from .rig import ClusterRig, PgDatabase, fresh_database, unavailable

__all__ = ["durable_redis", "private_redis", "redis_target"]


@pytest.fixture
async def probe(asterisk: RunningAsterisk) -> AsyncIterator[Probe]:
    """A second AMI login; hangs up every channel of the instance at the end of the test. It
    also reads the dialplan and AGI classes: a lost call's trail (CallBook.trail)."""
    watcher = Probe(asterisk, events="call,system,dialplan,agi")
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.close(hangup=True)


@pytest.fixture
def cluster_redis(tmp_path: Path) -> Iterator[RedisTarget]:
    """The shared Redis with a private key prefix (as `redis_target`) or, on a machine where
    none answers at 127.0.0.1:6379, a `redis-server` of this test's own (skips, or fails
    under CI, only when neither is there)."""
    client = redis.Redis.from_url(SHARED_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable(f"no Redis at {SHARED_REDIS_URL} and no redis-server to start")
            raise AssertionError from None  # unreachable: skip/fail raise
        server = PrivateRedis(binary, tmp_path)
        server.start()
        try:
            yield RedisTarget(server.url, "acd-ha")
        finally:
            server.stop()
        return
    prefix = f"acd-test-{uuid.uuid4().hex[:12]}"
    try:
        yield RedisTarget(SHARED_REDIS_URL, prefix)
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
async def pg_database() -> AsyncIterator[PgDatabase]:
    async with fresh_database() as database:
        yield database


@pytest.fixture
async def cluster_rig(
    asterisk: RunningAsterisk, probe: Probe, pg_database: PgDatabase, tmp_path: Path
) -> AsyncIterator[Callable[..., ClusterRig]]:
    """`cluster_rig(redis_url=..., key_prefix=..., queues=[...], agents=[...])` → a ClusterRig
    (not started) on the worker's Asterisk and this test's database; closed after the test
    (before the probe hangs up what is left)."""
    made: list[ClusterRig] = []
    source = os.environ.get("ACD_FAULTS_SOURCE")

    def make(**options: Any) -> ClusterRig:
        if source:
            options.setdefault("source", Path(source))
        rig = ClusterRig(asterisk, tmp_path / f"rig-{len(made) + 1}", probe,
                         database=pg_database, **options)  # fmt: skip
        made.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in made:
            await rig.close()

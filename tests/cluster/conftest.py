"""Fixtures of the cluster tests: the shared Redis with a private key prefix, and a private
`redis-server` a test may stop and start again.

`redis_target` uses the Redis at 127.0.0.1:6379 (ACD_TEST_REDIS_URL overrides it), gives each
test its own key prefix and deletes that prefix's keys afterwards. When no Redis answers it
skips with the reason on a developer machine and fails under CI=true (CI has one).
`private_redis` runs its own server (no persistence) on a free port in a temp dir; it skips or
fails the same way when `redis-server` is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

SHARED_REDIS_URL = os.environ.get("ACD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class RedisTarget:
    url: str
    #: A key prefix of this test alone (`acd-test-<hex>`); keys are `<prefix>:…`.
    prefix: str


def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    client = redis.Redis.from_url(SHARED_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        _unavailable(f"no Redis answers at {SHARED_REDIS_URL}: {exc}")
    prefix = f"acd-test-{uuid.uuid4().hex[:12]}"
    try:
        yield RedisTarget(SHARED_REDIS_URL, prefix)
    finally:
        _delete_prefix(client, prefix)
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A `redis-server` of one test: `stop()` (or `kill()`) and `start()` again on the same
    port. Not `durable`: no RDB, no AOF, so a restart loses every key (the hardest case for the
    lease); `durable`: an AOF fsynced on every write, so a SIGKILL loses no acknowledged write
    (the setting a cluster's Redis needs, the journal's case)."""

    def __init__(self, binary: str, directory: Path, durable: bool = False) -> None:
        self.binary = binary
        self.directory = directory
        self.durable = durable
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 (the server keeps it)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else [
            "--appendonly", "no"]  # fmt: skip
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.directory), "--save", "", *persistence, "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 10
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log_text = (self.directory / "redis.log").read_text(errors="replace")
                        raise RuntimeError(f"redis-server did not start:\n{log_text}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash: a `durable` server's AOF keeps every acknowledged write."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


def _private_redis(directory: Path, durable: bool) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server is not installed (apt-get install redis-server)")
        raise AssertionError  # unreachable: skip/fail raise
    server = PrivateRedis(binary, directory, durable)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _private_redis(tmp_path, durable=False)


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _private_redis(tmp_path, durable=True)


PG_ADMIN = os.environ.get("ACD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    return _free_port()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A PostgreSQL database of this test alone on the shared server (dropped after): the
    `[storage] url` cluster nodes share. Skips with the reason on a developer machine without
    PostgreSQL, fails under CI=true."""
    import asyncpg  # only the tests that ask for a database need the driver loaded

    name = f"acd_node_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable(f"no PostgreSQL at {PG_ADMIN}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        server = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{server}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

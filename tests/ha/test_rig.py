"""The HA rig's own pieces, proven without a cluster: the TCP proxy's cut and heal, the AMI
action tap, the per-test PostgreSQL database under a single `acd serve`, and the call book's
counts of lost calls, calls offered twice and duplicated records, each shown to fire."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from cluster.conftest import RedisTarget
from faults.harness import ControllerProcess, Probe, TcpProxy, eventually, queue, sim_agent

from acd.asterisk.ports import LOOPBACK
from acd.asterisk.testing import RunningAsterisk
from acd.config.settings import load_settings

from .rig import (
    ActionLog,
    CallBook,
    ClusterRig,
    PgDatabase,
    _host_port,
    _with_port,
    fresh_database,
)


@pytest.fixture
async def echo_server() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(1024):
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, LOOPBACK, 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def _round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 2)
    finally:
        writer.close()


async def test_proxy_relays_cuts_both_ways_refuses_and_heals(echo_server: int) -> None:
    seen: list[tuple[int, str, bytes]] = []
    proxy = TcpProxy(LOOPBACK, echo_server, tap=lambda c, d, b: seen.append((c, d, b)))
    await proxy.start()
    try:
        assert await _round_trip(proxy.port, b"hello") == b"hello"
        assert (1, "up", b"hello") in seen
        assert (1, "down", b"hello") in seen
        reader, writer = await asyncio.open_connection(LOOPBACK, proxy.port)
        writer.write(b"x")
        await reader.readexactly(1)
        await proxy.cut()
        assert proxy.is_cut
        # The open connection is closed on the client's side...
        assert await asyncio.wait_for(reader.read(10), 2) == b""
        writer.close()
        # ...and a new one is refused while cut.
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(LOOPBACK, proxy.port)
        await proxy.restore()
        assert await _round_trip(proxy.port, b"again") == b"again"
        assert proxy.connections == 3
    finally:
        await proxy.close()


def test_action_log_parses_actions_split_across_chunks() -> None:
    log = ActionLog()
    log.tap(1, "up", b"Action: Login\r\nUsername: acd\r\n\r\nAction: Redi")
    log.tap(2, "up", b"action: Ping\r\nActionID: 1\r\n\r\n")
    log.tap(1, "down", b"Response: Success\r\n\r\n")  # replies are not actions
    log.tap(1, "up", b"rect\r\nChannel: Local/x;2\r\n\r\n")
    assert [(a.connection, a.name, a.acts) for a in log.sent] == [
        (1, "Login", False),
        (2, "Ping", False),
        (1, "Redirect", True),
    ]
    assert [a.name for a in log.acting_since(0.0)] == ["Redirect"]
    assert log.acting_since(time.monotonic() + 1) == []


def test_redis_urls_are_pointed_at_a_proxy() -> None:
    assert _host_port("redis://127.0.0.1:6379/0") == ("127.0.0.1", 6379)
    assert _host_port("redis://:pw@10.0.0.2:7000/3") == ("10.0.0.2", 7000)
    assert _with_port("redis://127.0.0.1:6379/0", 4242) == "redis://127.0.0.1:4242/0"
    assert _with_port("redis://:pw@10.0.0.2:7000/3", 1) == "redis://:pw@127.0.0.1:1/3"


@pytest.mark.redis
async def test_a_redis_client_through_the_proxy_loses_and_regains_its_link(
    redis_target: RedisTarget,
) -> None:
    host, port = _host_port(redis_target.url)
    proxy = TcpProxy(host, port)
    await proxy.start()
    client = aioredis.Redis.from_url(
        _with_port(redis_target.url, proxy.port), socket_timeout=1, socket_connect_timeout=1
    )
    try:
        await client.set(f"{redis_target.prefix}:k", "v")
        await proxy.cut()
        with pytest.raises(aioredis.ConnectionError):
            await client.get(f"{redis_target.prefix}:k")
        await proxy.restore()
        assert await client.get(f"{redis_target.prefix}:k") == b"v"
    finally:
        await client.aclose()
        await proxy.close()


@pytest.mark.postgres
async def test_fresh_database_is_created_and_dropped() -> None:
    async with fresh_database() as database:
        assert await database.rows("SELECT current_database()") == [(database.name,)]
        name = database.name
    async with fresh_database() as other:
        listed = await other.rows("SELECT datname FROM pg_database WHERE datname = $1", name)
        assert listed == []


@pytest.mark.postgres
async def test_single_node_on_the_test_database_counts_records_and_losses(
    asterisk: RunningAsterisk,
    probe: Probe,
    pg_database: PgDatabase,
    tmp_path: Path,
    controller_process: Callable[..., ControllerProcess],
) -> None:
    """One `acd serve` (no [cluster]) on the PostgreSQL database: its records land there, and
    every count of the rig fires on the case it names."""
    acd = controller_process(
        queues=[queue("support", ring_timeout=2, rona_action="delay", rona_delay=30)],
        agents=[sim_agent("2001"), sim_agent("2002")],
        storage_url=pg_database.url,
    )
    await acd.start()
    await acd.login_all()
    book = CallBook(probe)
    # Answered, talks 1 s and ends: neither lost nor offered twice.
    [fine] = await book.place("support", 1, talk=1)
    # Its agent never answers: ring-no-answer, then offered to the other agent.
    [twice] = await book.place("support", 1, talk=1, ring=-1)
    await eventually(lambda: len(book.offers(twice.call_id)) >= 2, within=15, what="re-offer")
    # Hung up by the test while waiting: not lost.
    [left] = await book.place("support", 1, talk=1)
    await eventually(lambda: _is_live(acd, left.call_id), what="registered")
    await book.hang_up(left)
    # Hung up behind the test's back (its ;2 half, as a crash of the dialplan would): lost.
    [dropped] = await book.place("support", 1, talk=1)
    await eventually(lambda: _is_live(acd, dropped.call_id), what="registered")
    await probe.hangup(await probe.channel_name(dropped.call_id))
    await eventually(lambda: book.ended_at(fine) is not None, within=15)
    await eventually(lambda: book.ended_at(dropped) is not None, within=15)
    await probe.hangup_caller(twice)  # behind the book's back: lost too (never connected)
    await eventually(lambda: book.ended_at(twice) is not None, within=15)

    assert sorted(book.lost()) == sorted([dropped.call_id, twice.call_id])
    assert list(book.offered_twice()) == [twice.call_id]
    assert book.bridged_at(fine.call_id) is not None
    await eventually(lambda: _no_open(pg_database), within=15, what="records closed in PG")
    finals = await pg_database.final_records()
    assert all(finals[c] == 1 for c in book.callers), finals
    assert await pg_database.duplicated_records() == []
    # A second row for one call visit is what the duplicate count exists to see.
    await _store_twice(pg_database, fine.call_id)
    assert await pg_database.duplicated_records() == [(fine.call_id, 0, 2)]


async def _store_twice(database: PgDatabase, call_id: str) -> None:
    columns = [
        str(r[0])
        for r in await database.rows(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'acd_call_records' ORDER BY ordinal_position"
        )
    ]
    values = ["'dup' || substr(id, 4)" if c == "id" else f'"{c}"' for c in columns]
    names = ", ".join(f'"{c}"' for c in columns)
    await database.rows(
        f"INSERT INTO acd_call_records ({names})"
        f" SELECT {', '.join(values)} FROM acd_call_records WHERE call_id = $1",
        call_id,
    )


async def _is_live(acd: ControllerProcess, call_id: str) -> bool:
    return any(c["id"] == call_id for c in await acd.live_calls())


async def _no_open(database: PgDatabase) -> bool:
    return not await database.open_records()


@pytest.fixture
async def controller_process(
    asterisk: RunningAsterisk, tmp_path: Path
) -> AsyncIterator[Callable[..., ControllerProcess]]:
    made: list[ControllerProcess] = []

    def make(**options: Any) -> ControllerProcess:
        process = ControllerProcess(asterisk, tmp_path / f"acd-{len(made) + 1}", **options)
        made.append(process)
        return process

    try:
        yield make
    finally:
        for process in made:
            await process.close()


def test_cluster_nodes_have_their_own_ports_and_a_cluster_config_acd_accepts(
    asterisk: RunningAsterisk, probe: Probe, tmp_path: Path
) -> None:
    rig = ClusterRig(
        asterisk, tmp_path, probe, database=PgDatabase("acd_ha_x"),
        redis_url="redis://127.0.0.1:6379/0", key_prefix="acd-test-x", agents=[sim_agent("21")],
    )  # fmt: skip
    ports: set[int] = set()
    for node in rig.nodes:
        node.workdir.mkdir(parents=True)
        node.config_path.write_text(node.config_text())
        settings = load_settings(node.config_path, env={})
        assert settings.cluster is not None
        assert settings.cluster.node_id == node.node_id
        assert settings.cluster.key_prefix == "acd-test-x"
        assert node.redis_proxy is not None
        assert settings.cluster.redis_url == f"redis://127.0.0.1:{node.redis_proxy.port}/0"
        assert settings.cluster.agi_address == f"127.0.0.1:{node.agi_port}"
        assert settings.cluster.api_url == node.base_url
        assert settings.ami.port == node.ami_proxy.port
        assert settings.agi.port == node.agi_port
        assert settings.storage.url == "postgresql+asyncpg://postgres@127.0.0.1:5432/acd_ha_x"
        ports |= {node.http_port, node.agi_port, node.ami_proxy.port, node.redis_proxy.port}
    assert len(ports) == 8
    assert asterisk.agi_port not in ports

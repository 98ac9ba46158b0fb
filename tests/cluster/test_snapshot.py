"""Router snapshots: a loaded router is the one dumped (views, internals, the decisions that
follow), a snapshot runs no code whatever its bytes, and only the lease holder stores one."""

from __future__ import annotations

import gc
import io
import os
import pickle
import random
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from router.router_streams import Pools, StreamMaker, assert_same_views

from acd.cluster import snapshot
from acd.cluster.journal import Fenced
from acd.cluster.lease import leader_key
from acd.cluster.snapshot import (
    SnapshotError,
    dump_router,
    load_router,
    read_snapshot,
    write_snapshot,
)
from acd.router import events as ev
from acd.router.model import PauseReason, QueueConfig
from acd.router.reference import ReferenceRouter
from acd.router.router import Router
from cluster.conftest import RedisTarget
from cluster.router_graph import assert_same_graph
from cluster.test_journal import elect, new_writer, random_batches

STREAMS = [
    (4, Pools(), None),
    (13, Pools(agents=12, calls=30, queues=3, skills=2, max_level=3), None),
    (2026, Pools(agents=12, calls=30, queues=4), 0),  # every set on its own agent heaps
]


def stream(seed: int, pools: Pools) -> Iterator[ev.Event]:
    """The differential tests' random stream (plausible ids from a reference router's state)."""
    maker = StreamMaker(random.Random(seed), pools)
    ref = ReferenceRouter()
    for event in maker.setup():
        ref.handle(event)
        yield event
    while True:
        event = maker.event(ref)
        ref.handle(event)
        yield event


@pytest.mark.parametrize(("seed", "pools", "scan_limit"), STREAMS)
def test_a_loaded_router_is_the_dumped_one_and_routes_the_same_from_there(
    seed: int, pools: Pools, scan_limit: int | None
) -> None:
    original = Router() if scan_limit is None else Router(class_scan_limit=scan_limit)
    events = stream(seed, pools)
    for _ in range(8):
        for _ in range(400):
            original.handle(next(events))
        data = dump_router(original)
        loaded = load_router(data)
        loaded._check()
        assert_same_views(original, loaded, pools)  # type: ignore[arg-type]
        assert loaded._class_scan_limit == original._class_scan_limit
        assert_same_graph(original, loaded)  # down to heap entries, counters and sharing
        for _ in range(300):
            event = next(events)
            assert loaded.handle(event) == original.handle(event), event
        assert_same_views(original, loaded, pools)  # type: ignore[arg-type]
    assert original.calls(), "the stream left no call to carry"


class NamesSeen(pickle.Unpickler):
    """An unrestricted unpickler that lists the globals a pickle names (for trusted bytes)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.names: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.names.add(f"{module}.{name}")
        return super().find_class(module, name)


def test_a_snapshot_names_only_router_classes_and_the_load_rebuilds_the_tables() -> None:
    router = Router(class_scan_limit=0)
    events = stream(5, Pools(agents=12, calls=30, queues=4))
    for _ in range(2000):
        router.handle(next(events))
    derived = {"_out", "_agent_rows", "_call_rows", "_agent_rows_for", "_call_rows_for", "_steps"}
    assert set(router.__getstate__()) == set(vars(router)) - derived
    data = dump_router(router)
    seen = NamesSeen(data.split(b"\n", 1)[1])
    seen.load()
    # No bound method (builtins.getattr), no function but the freezer, no states table.
    assert seen.names == {
        "acd.router.router.Router",
        "acd.router._records.Agent",
        "acd.router._records.AgentClass",
        "acd.router._records.Call",
        "acd.router._records.Queue",
        "acd.router._records.ReqSet",
        "acd.router.model.QueueConfig",
        "acd.router.model.EscalationStep",
        "acd.router.model.AgentState",
        "acd.router.model.CallState",
        "acd.router.model.AgentPolicy",
        "acd.router.model.RonaAction",
        "acd.cluster.snapshot._frozen",
    }
    loaded = load_router(data)
    assert set(vars(loaded)) == set(vars(router))
    assert loaded._steps.keys() == router._steps.keys()
    assert loaded._steps[ev.Tick][1] == loaded._on_tick  # bound to the loaded router
    assert loaded._agent_rows == router._agent_rows
    assert loaded._out == []


def test_read_only_mappings_come_back_read_only_in_their_order() -> None:
    router = Router()
    skills = types.MappingProxyType({"z": 2, "a": 1})  # not sorted: the order is kept
    router.handle(ev.QueueUpserted(1.0, QueueConfig("q", skills)))
    loaded = load_router(dump_router(router))
    config = loaded.queue("q")
    assert config is not None
    assert type(config.skills) is types.MappingProxyType
    assert list(config.skills.items()) == [("z", 2), ("a", 1)]
    assert config == router.queue("q")
    with pytest.raises(TypeError):
        config.skills["x"] = 1  # type: ignore[index]
    with pytest.raises(TypeError, match="mappingproxy"):  # why snapshot.py reduces them
        pickle.dumps(router)


def test_a_queue_keeps_its_target_and_pause_reasons_through_a_snapshot() -> None:
    router = Router()
    reasons = (PauseReason("lunch", "Lunch"), PauseReason("07", "Training"))
    router.handle(ev.QueueUpserted(1.0, QueueConfig("q", sl_target=0.9, pause_reasons=reasons)))
    loaded = load_router(dump_router(router))
    config = loaded.queue("q")
    assert config is not None
    assert (config.sl_target, config.pause_reasons) == (0.9, reasons)


class RunsCode:
    """What a Redis writer could put in the snapshot: a pickle that calls a function."""

    def __init__(self, call: Any, *args: Any) -> None:
        self.call, self.args = call, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.call, self.args


def header() -> bytes:
    return dump_router(Router()).split(b"\n", 1)[0] + b"\n"


def marker_command(marker: Path) -> str:
    return f"touch {marker}"


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_snapshot_that_would_run_code_is_refused_and_runs_nothing(
    tmp_path: Path, protocol: int
) -> None:
    marker = tmp_path / "ran"
    bombs = [
        RunsCode(os.system, marker_command(marker)),
        RunsCode(eval, f"__import__('os').system({marker_command(marker)!r})"),
        RunsCode(getattr, Router(), "_on_tick"),  # how pickle carries a bound method
        [Router(), RunsCode(os.system, marker_command(marker))],  # behind an allowed class
    ]
    for bomb in bombs:
        data = header() + pickle.dumps(bomb, protocol=protocol)
        with pytest.raises(SnapshotError, match="does not name"):
            load_router(data)
    assert not marker.exists()
    # The same bytes without the restriction do run: the test's bombs are live.
    pickle.loads(pickle.dumps(RunsCode(os.system, marker_command(marker))))
    assert marker.exists()


def test_a_router_state_with_a_foreign_object_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    router = Router()
    router._seq = RunsCode(os.system, marker_command(marker))  # type: ignore[assignment]
    with pytest.raises(SnapshotError, match="does not name"):
        load_router(header() + pickle.dumps(router, protocol=pickle.HIGHEST_PROTOCOL))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"not": "a router"}, "holds a dict"),
        (QueueConfig("q"), "holds a QueueConfig"),
    ],
)
def test_anything_but_a_router_is_refused(payload: object, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        load_router(dump_router(payload))  # type: ignore[arg-type]


def test_bad_bytes_and_other_versions_are_refused() -> None:
    good = dump_router(Router())
    with pytest.raises(SnapshotError, match="not a router snapshot of format"):
        load_router(pickle.dumps(Router()))  # no header
    with pytest.raises(SnapshotError, match="not a router snapshot of format"):
        load_router(good.replace(b"snapshot %d" % snapshot.FORMAT, b"snapshot 9", 1))
    with pytest.raises(SnapshotError, match="not a router snapshot of format"):
        load_router(good.replace(b"snapshot %d" % snapshot.FORMAT, b"snapshot 1", 1))
    with pytest.raises(SnapshotError, match="cannot load"):
        load_router(good[:-5])  # truncated
    with pytest.raises(SnapshotError, match="trailing bytes"):
        load_router(good + b"x")
    # A router state with an attribute this version does not have (or lacks one it has).
    router = Router()
    router.__dict__["_extra"] = 1
    with pytest.raises(SnapshotError, match="not a router state of this version"):
        load_router(dump_router(router))
    with pytest.raises(SnapshotError, match="holds a dict"):
        # The freezing function takes nothing but a dict (a proxy over a list, say).
        snapshot._frozen([1, 2])  # type: ignore[arg-type]


# --- in Redis ---------------------------------------------------------------------------------


@pytest.fixture
async def redis(redis_target: RedisTarget) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_target.url, socket_timeout=5)
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_the_holder_stores_a_snapshot_and_a_former_one_is_fenced(
    redis: Redis, redis_target: RedisTarget
) -> None:
    prefix = redis_target.prefix
    assert await read_snapshot(redis, prefix) is None
    writer = await new_writer(redis, prefix, "n1")
    holder = writer._holder
    router = Router()
    ids: list[str | None] = []
    for batch in random_batches(6, 200):
        ids = await writer.append(batch)
        for event in batch:
            router.handle(event)
    assert writer.next_seq is not None
    seq = writer.next_seq - 1
    entry_id = [i for i in ids if i is not None][-1]
    data = dump_router(router)
    await write_snapshot(redis, prefix, holder, seq, entry_id, data)
    stored = await read_snapshot(redis, prefix)
    assert stored == snapshot.Snapshot(holder, seq, entry_id, data)
    assert_same_graph(router, load_router(stored.data))

    await redis.delete(leader_key(prefix))  # n1 froze past its lease, n2 was elected
    new_holder = await elect(redis, prefix, "n2")
    with pytest.raises(Fenced):
        await write_snapshot(redis, prefix, holder, seq, entry_id, dump_router(Router()))
    assert await read_snapshot(redis, prefix) == stored  # nothing written
    fresh = dump_router(Router())
    await write_snapshot(redis, prefix, new_holder, seq, entry_id, fresh)
    assert await read_snapshot(redis, prefix) == snapshot.Snapshot(new_holder, seq, entry_id, fresh)


@pytest.mark.redis
async def test_a_snapshot_must_name_a_journal_position_that_exists(
    redis: Redis, redis_target: RedisTarget
) -> None:
    prefix = redis_target.prefix
    writer = await new_writer(redis, prefix, "n1")
    holder, data = writer._holder, dump_router(Router())
    with pytest.raises(SnapshotError, match="sequence 0 is at entry 0-0"):
        await write_snapshot(redis, prefix, holder, 0, "1-1", data)
    await write_snapshot(redis, prefix, holder, 0, "0-0", data)  # an empty journal
    ids = [i for i in await writer.append(next(random_batches(7, 60))) if i is not None]
    with pytest.raises(SnapshotError, match="is not sequence"):  # past the head
        await write_snapshot(redis, prefix, holder, len(ids) + 1, ids[-1], data)
    with pytest.raises(SnapshotError, match="is not sequence"):
        await write_snapshot(redis, prefix, holder, 3, ids[3], data)  # ids[3] is sequence 4
    await write_snapshot(redis, prefix, holder, 4, ids[3], data)
    with pytest.raises(SnapshotError, match="behind the stored 4"):
        await write_snapshot(redis, prefix, holder, 3, ids[2], data)
    stored = await read_snapshot(redis, prefix)
    assert stored is not None
    assert (stored.seq, stored.entry_id) == (4, ids[3])


def test_the_collector_is_paused_only_while_a_snapshot_is_made_or_loaded() -> None:
    assert gc.isenabled()
    data = dump_router(Router())
    assert gc.isenabled()
    load_router(data)
    assert gc.isenabled()
    gc.disable()  # an owner that runs without it keeps it off
    try:
        load_router(dump_router(Router()))
        assert not gc.isenabled()
    finally:
        gc.enable()

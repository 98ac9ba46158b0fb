"""Router snapshots: the leader's `Router` pickled into Redis, where a standby starts from.

A snapshot is the router's state after the journal entry `entry_id` (sequence `seq`) was
applied, written by the lease `holder` of that moment. A standby loads it, then follows the
journal from that entry (`acd.cluster.replica`); the leader trims the stream before a snapshot's
entry once it is written (`JournalWriter.trim_before`).

Format: a short header (`FORMAT`, bumped on an incompatible change), then a pickle of the
Router, which leaves out what it derives and rebuilds it on load (`Router.__getstate__`) and
refuses the state of another router version. Read-only mappings (`types.MappingProxyType`:
queue and escalation skills), which pickle cannot carry, travel as a plain dict and are frozen
again on load, iteration order kept.

Loading is restricted: whoever can write to Redis must not run code on a standby. The
unpickler resolves only the router's own record, model and enum classes and the one function
here that freezes a dict (`_ALLOWED`); any other global (`os.system`, `builtins.getattr`,
`builtins.eval`, ...) raises `SnapshotError` before anything is called, and so does anything
else that is not a Router of this version.

Redis: hash `<prefix>:snapshot` {holder, seq, entry_id, data}, written only by `WRITE_LUA`, which
runs `FENCE_CHECK_LUA` first (the holder must still hold the lease) and checks the position:
`entry_id` is the journal's entry of sequence `seq` (`0-0` for 0), and `seq` is not behind
the stored snapshot (a late write of an older one would send followers back to entries
already trimmed).
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import io
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from acd.cluster.journal import Fenced
from acd.cluster.lease import FENCE_CHECK_LUA, FENCED_ERROR, leader_key
from acd.router.router import Router

#: Bumped when the snapshot's form changes incompatibly; a node refuses any other.
#: 2: QueueConfig's sl_target and pause_reasons (PauseReason records).
#: 3: the agent record's state_since, the call record's answered_at (slots a format-2 record
#: lacks: its agents and calls would load without them).
#: 4: QueueConfig's exit_key, exit_target and transfer_code (slots a format-3 queue lacks).
FORMAT = 4
_HEADER = b"acd-router-snapshot %d\n" % FORMAT


class SnapshotError(Exception):
    """A snapshot that cannot be loaded or stored: refused, never half-applied."""


def snapshot_key(prefix: str) -> str:
    return f"{prefix}:snapshot"


def journal_key(prefix: str) -> str:
    """The journal stream of a cluster (its head is `journal.head_key` of it)."""
    return f"{prefix}:journal"


def _frozen(items: dict[str, Any]) -> MappingProxyType[str, Any]:
    """A read-only mapping again (the one callable a snapshot may name besides the classes)."""
    if type(items) is not dict:
        raise SnapshotError(f"a frozen mapping holds a dict, got {type(items).__name__}")
    return MappingProxyType(items)


def _reduce_proxy(proxy: MappingProxyType[str, Any]) -> tuple[Any, tuple[dict[str, Any]]]:
    return _frozen, (dict(proxy),)


#: copyreg's reductions plus read-only mappings, for our pickler only: nothing changes for the
#: other picklers of the process.
_DISPATCH: dict[type, Any] = {**copyreg.dispatch_table, MappingProxyType: _reduce_proxy}


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.dispatch_table = _DISPATCH


#: Every global a router snapshot names: (module, name) -> what it resolves to.
_ALLOWED: dict[tuple[str, str], Any] = {}


def _allow(*objects: Any) -> None:
    for obj in objects:
        _ALLOWED[(obj.__module__, obj.__qualname__)] = obj


def _fill_allowlist() -> None:
    from acd.router import _records, model

    _allow(Router, _records.Agent, _records.AgentClass, _records.Call, _records.Queue)
    _allow(_records.ReqSet, model.QueueConfig, model.EscalationStep, model.PauseReason)
    _allow(model.AgentState, model.CallState, model.AgentPolicy, model.RonaAction)
    _allow(_frozen)


_fill_allowlist()


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise SnapshotError(f"a router snapshot does not name {module}.{name}")
        return found


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic collector off for one bulk (un)pickling: it would walk the whole heap again
    and again while tens of thousands of records are made (about a third of the time at 10k
    agents, bench/snapshot.py). Nothing else runs meanwhile: these calls are synchronous."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def dump_router(router: Router) -> bytes:
    """The snapshot bytes of `router` (between two steps: it is not copied first).
    Runtime complexity: O(size of the router's state)."""
    out = io.BytesIO()
    out.write(_HEADER)
    with _no_gc():
        _Pickler(out).dump(router)
    return out.getvalue()


def load_router(data: bytes) -> Router:
    """The Router `data` holds; SnapshotError (and nothing run) when it is anything else."""
    if type(data) is not bytes or not data.startswith(_HEADER):
        head = data[:40] if isinstance(data, bytes) else type(data).__name__
        raise SnapshotError(f"not a router snapshot of format {FORMAT}: {head!r}")
    stream = io.BytesIO(data)
    stream.seek(len(_HEADER))
    try:
        with _no_gc():
            router = _Unpickler(stream).load()
    except SnapshotError:
        raise
    except Exception as exc:  # UnpicklingError, EOFError, a record refusing its state, ...
        raise SnapshotError(f"cannot load the router snapshot: {exc!r}") from None
    if type(router) is not Router:
        raise SnapshotError(f"a router snapshot holds a {type(router).__name__}")
    if stream.read(1):
        raise SnapshotError("trailing bytes after the router snapshot")
    return router


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One stored snapshot: the router after entry `entry_id` (sequence `seq`), by `holder`."""

    holder: str
    seq: int
    entry_id: str
    data: bytes
    """`dump_router` bytes; `load_router(snapshot.data)` is the Router."""


WRITE_LUA = (
    FENCE_CHECK_LUA
    + """
local seq = tonumber(ARGV[2])
local stored = tonumber(redis.call('HGET', KEYS[2], 'seq'))
if stored and stored > seq then
  return redis.error_reply('ACD_SNAPSHOT sequence ' .. seq .. ' is behind the stored ' .. stored)
end
if seq == 0 then
  if ARGV[3] ~= '0-0' then
    return redis.error_reply('ACD_SNAPSHOT sequence 0 is at entry 0-0, not ' .. ARGV[3])
  end
else
  local entry = redis.call('XRANGE', KEYS[3], ARGV[3], ARGV[3])
  local found = nil
  if entry[1] then
    local fields = entry[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 's' then found = tonumber(fields[i + 1]) end
    end
  end
  if found ~= seq then
    return redis.error_reply('ACD_SNAPSHOT entry ' .. ARGV[3] .. ' is not sequence ' .. seq)
  end
end
redis.call('HSET', KEYS[2], 'holder', ARGV[1], 'seq', ARGV[2], 'entry_id', ARGV[3],
           'data', ARGV[4])
return 1
"""
)
# KEYS: the leader key, the snapshot hash, the journal stream. ARGV: holder, seq, entry id,
# data. One script: the fence and the write cannot be separated by a takeover.


async def write_snapshot(
    redis: Redis, prefix: str, holder: str, seq: int, entry_id: str, data: bytes
) -> None:
    """Store `data` (`dump_router`) as the router after `entry_id`/`seq`, fenced on `holder`.
    Raises `journal.Fenced` (nothing written) when `holder` no longer has the lease, and
    SnapshotError when the position does not match the journal."""
    keys = (leader_key(prefix), snapshot_key(prefix), journal_key(prefix))
    try:
        await redis.eval(WRITE_LUA, 3, *keys, holder, str(seq), entry_id, data)
    except ResponseError as exc:
        if str(exc).startswith(FENCED_ERROR):
            raise Fenced(f"snapshot at {seq} refused: {exc}") from None
        raise SnapshotError(f"snapshot at {seq} ({entry_id}) refused: {exc}") from None


async def read_snapshot(redis: Redis, prefix: str) -> Snapshot | None:
    """The stored snapshot, or None when there is none. SnapshotError when the hash is not one
    `write_snapshot` wrote (the bytes are only checked by `load_router`)."""
    fields: dict[Any, Any] = await redis.hgetall(snapshot_key(prefix))
    if not fields:
        return None
    try:
        return Snapshot(
            holder=fields[b"holder"].decode(),
            seq=int(fields[b"seq"]),
            entry_id=fields[b"entry_id"].decode(),
            data=fields[b"data"],
        )
    except (KeyError, ValueError) as exc:
        raise SnapshotError(f"malformed snapshot hash, fields {sorted(fields)}: {exc!r}") from None

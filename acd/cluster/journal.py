"""The journal: every router input on a Redis Stream, appended by the leader, replayed by followers.

Replication rests on the router's determinism: the same events in the same order give the same
state. The leader appends each input before it applies it; a follower applies the same inputs,
in stream order, to its own `Router` with effects off, so its views equal the leader's.

Entry fields: `e` the encoded event (`acd.cluster.codec`), `t` the lease holder that wrote it
(`"<node_id>:<fencing token>"`, see `acd.cluster.lease`),
`s` the sequence number (1, 2, ... over the life of the stream). The writer assigns the
sequence itself, so a retried batch whose first try did land is recognised (the script finds
the head already at the batch's last number, written under the same token) and not appended
twice; a follower refuses any entry that is not exactly the next number.

Append-before-apply: `JournalWriter.append` returns once Redis holds the batch, and only then
may the engine apply it. A standby therefore never lacks an input the leader acted on; the
price is one round trip per batch, shared by every input queued since the previous one. While
Redis does not answer, `append` retries the same batch (same numbers: idempotent) until it
lands, the writer is fenced (the lease in Redis is no longer its holder: `FENCE_CHECK_LUA`
heads the append script) or the owner closes it (stepping down); so dispatch stops rather than
act on unjournalled inputs. Once fenced, a writer refuses everything at once.

No trimming on append (`MAXLEN ~` would drop inputs a follower without a snapshot still needs);
`trim_before` is for the snapshot step. All keys of one journal must hash to one slot on a
Redis Cluster (give them a common `{tag}`): the script touches the lease, the stream and its
head together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.cluster.codec import CodecError, decode, encode
from acd.cluster.lease import FENCE_CHECK_LUA, FENCED_ERROR, cancel_wins
from acd.router.decisions import Decision
from acd.router.events import Event
from acd.router.router import Router

log = logging.getLogger(__name__)

TRANSIENT = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError)
"""Redis gone, slow or still loading its data after a restart: retry, never give up on state."""

_APPEND = (
    FENCE_CHECK_LUA
    + """
local first = tonumber(ARGV[2])
local n = #ARGV - 2
local head = redis.call('HMGET', KEYS[3], 'seq', 'holder')
local last = tonumber(head[1]) or 0
if last ~= first - 1 then
  if last == first + n - 1 and head[2] == ARGV[1] then return {'already'} end
  return {'sequence', tostring(last)}
end
local ids = {'ok'}
for i = 1, n do
  ids[i + 1] = redis.call('XADD', KEYS[2], '*', 'e', ARGV[i + 2], 't', ARGV[1],
                          's', tostring(first + i - 1))
end
redis.call('HSET', KEYS[3], 'seq', tostring(first + n - 1), 'holder', ARGV[1])
return ids
"""
)
# KEYS: the leader key (lease.py), the stream, its head. ARGV: the holder, the first sequence,
# the encoded events. Fence, sequence check and XADDs are one atomic script: there is no moment
# between a leader's check and its write at which another could take over.


class JournalError(Exception):
    """The journal cannot be trusted from here on; the message says where."""


class Fenced(JournalError):
    """A newer leader holds the fencing token: this writer's owner must stop acting."""


class JournalClosed(JournalError):
    """The writer was closed; a batch still in flight may or may not have landed."""


class JournalGap(JournalError):
    """A follower found an entry that is not the next sequence number (lost or trimmed)."""


class JournalCorrupt(JournalError):
    """A follower found an entry it cannot decode or that breaks the journal's rules."""


class HolderChanged(JournalError):
    """A follower of one holder's entries (`one_holder`) found an entry another holder wrote:
    a new leader, whose router did not grow from the follower's state (reload its snapshot)."""


def head_key(stream_key: str) -> str:
    """The hash holding the last appended sequence number and the token that wrote it."""
    return f"{stream_key}:head"


def as_text(value: bytes | str) -> str:
    """A Redis reply field as text (the clients here return bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def entry_time(entry_id: str) -> float:
    """When Redis appended the entry (its id's millisecond part), epoch seconds."""
    return int(entry_id.split("-", 1)[0]) / 1000.0


class JournalWriter:
    """Appends router inputs in batches: one `EVAL` per round trip, whatever is queued."""

    def __init__(
        self,
        redis: Redis,
        stream_key: str,
        leader_key: str,
        holder: str,
        *,
        retry_delay: float = 0.05,
        retry_max: float = 1.0,
    ) -> None:
        """`leader_key` and `holder` are the lease's (`lease.leader_key(prefix)`,
        `RedisLease.holder` right after the election): every batch is fenced on them."""
        self._redis = redis
        self._keys = [leader_key, stream_key, head_key(stream_key)]
        self._holder = holder
        self._retry = (retry_delay, retry_max)
        self._next_seq: int | None = None
        self._pending: list[tuple[bytes, asyncio.Future[str]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.fenced = False
        self.round_trips: list[tuple[int, float]] = []
        """(batch size, seconds) per round trip that got a reply (for the benchmark)."""

    @property
    def next_seq(self) -> int | None:
        return self._next_seq

    async def open(self) -> int:
        """Read the journal's head; the writer continues after it. Call it once elected: from
        then on no other writer can move the head. Returns the last sequence number."""
        raw = await self._redis.hget(self._keys[2], "seq")
        last = int(raw) if raw is not None else 0
        self._next_seq = last + 1
        return last

    async def append(self, events: Sequence[Event]) -> list[str | None]:
        """Journal `events` in order; once Redis holds them, their entry ids.

        None for an event the codec refuses (logged): per the codec, the router rejects such
        an event as `invalid_event` before touching state, so the replica needs none of it.
        Concurrent calls share round trips. Raises `Fenced` (nothing of the batch appended),
        `JournalClosed`, or `JournalError` when the head is not where this writer left it."""
        if self.fenced:
            raise Fenced(f"the lease is no longer held by {self._holder}")
        if self._closed:
            raise JournalClosed("journal writer closed")
        if self._next_seq is None:
            raise JournalError("JournalWriter.open() was not called")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[str] | None] = []
        for event in events:
            try:
                data = encode(event)
            except CodecError as exc:
                log.warning("not journalled (the router rejects it): %r: %s", event, exc)
                futures.append(None)
                continue
            future: asyncio.Future[str] = loop.create_future()
            self._pending.append((data, future))
            futures.append(future)
        if self._pending and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush(), name="acd-journal-writer")
        return [None if future is None else await future for future in futures]

    async def close(self) -> None:
        """Stop retrying; whatever is pending fails with `JournalClosed` (stepping down)."""
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._fail_pending(JournalClosed("journal writer closed with a batch in flight"))

    async def trim_before(self, entry_id: str) -> int:
        """Drop the entries older than `entry_id` (a snapshot covers them). Returns how many.
        Never called on append: a follower without a snapshot needs the whole stream."""
        return int(await self._redis.xtrim(self._keys[1], minid=entry_id, approximate=False))

    def _fail_pending(self, exc: BaseException) -> None:
        pending, self._pending = self._pending, []
        for _, future in pending:
            if not future.done():
                future.set_exception(exc)

    async def _flush(self) -> None:
        batch: list[tuple[bytes, asyncio.Future[str]]] = []
        try:
            while self._pending and not self._closed:
                batch, self._pending = self._pending, []
                ids = await self._send([data for data, _ in batch])
                for (_, future), entry_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(entry_id)
                batch = []
        except JournalError as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            self._fail_pending(exc)
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.set_exception(JournalClosed("journal writer closed mid-batch"))
            raise

    async def _send(self, batch: list[bytes]) -> list[str]:
        assert self._next_seq is not None
        first = self._next_seq
        delay, most = self._retry
        while True:
            started = time.perf_counter()
            try:
                reply: Any = await self._redis.eval(
                    _APPEND, 3, *self._keys, self._holder, str(first), *batch
                )
                break
            except ResponseError as exc:
                if str(exc).startswith(FENCED_ERROR):
                    self.fenced = True
                    raise Fenced(f"batch {first}.. refused: {exc}") from None
                raise JournalError(f"journal append of {first}.. failed: {exc}") from exc
            except TRANSIENT as exc:
                last = first + len(batch) - 1
                log.warning("journal append of %d..%d: %r; retrying", first, last, exc)
                await asyncio.sleep(delay)
                delay = min(most, delay * 2)
        self.round_trips.append((len(batch), time.perf_counter() - started))
        status = as_text(reply[0])
        if status == "sequence":
            raise JournalError(
                f"journal head is at {as_text(reply[1])}, this writer expected {first - 1}"
                " (another writer with this holder, or Redis lost the journal)"
            )
        self._next_seq = first + len(batch)
        if status == "already":
            # An earlier try landed but its reply was lost: read back the ids it got.
            return await self._ids_of(first, len(batch))
        return [as_text(entry_id) for entry_id in reply[1:]]

    async def _ids_of(self, first: int, count: int) -> list[str]:
        entries: Any = await self._redis.xrevrange(self._keys[1], count=count)
        ids = [as_text(entry_id) for entry_id, _ in reversed(entries)]
        seqs = [int(fields[b"s"]) for _, fields in reversed(entries)]
        if seqs != list(range(first, first + count)):
            raise JournalError(f"journal tail {seqs} does not hold the batch {first}..")
        return ids


@dataclass(frozen=True, slots=True)
class Applied:
    """One journal entry a follower applied, with its decisions (effects off: nobody acts)."""

    entry_id: str
    seq: int
    event: Event
    decisions: Sequence[Decision]
    lag: float
    """Follower clock at apply - the event's `now`: the replica's distance behind real time."""
    commit_delay: float
    """Follower clock at apply - Redis's append time (the entry id): leader-append to apply."""


class JournalFollower:
    """Tails the journal and applies each input to its own router, in order, exactly once."""

    def __init__(
        self,
        redis: Redis,
        stream_key: str,
        router: Router,
        *,
        after_id: str = "0-0",
        after_seq: int = 0,
        on_applied: Callable[[Applied], None] | None = None,
        block: float = 1.0,
        count: int = 1000,
        clock: Callable[[], float] = time.time,
        retry_delay: float = 0.05,
        retry_max: float = 1.0,
        holder: str | None = None,
        one_holder: bool = False,
    ) -> None:
        """Start after entry `after_id`, whose sequence number is `after_seq` (a snapshot's
        position; `0-0`/0 replays the whole stream, which must then start at 1).

        `one_holder`: apply only entries written by one lease holder, `holder` (a snapshot's),
        or when None the holder of the first entry applied; an entry of another raises
        `HolderChanged` before it is applied. Without it any holder's entries are applied."""
        self._redis = redis
        self._key = stream_key
        self.router = router
        self.applied_id = after_id
        self.applied_seq = after_seq
        self._on_applied = on_applied
        self._block_ms = max(1, int(block * 1000))
        self._count = count
        self._clock = clock
        self._retry = (retry_delay, retry_max)
        self.lag: float = math.nan
        """Replication lag of the last applied entry, seconds (`acd_replication_lag_seconds`);
        0 after a read that waited a whole `block` and found nothing new (caught up)."""
        self.commit_delay: float = math.nan
        self.holder = holder
        self._one_holder = one_holder

    async def run(self) -> None:
        """Follow until cancelled. Raises `JournalGap`/`JournalCorrupt` (and `HolderChanged`
        with `one_holder`), and stops, on an entry it cannot apply in order: diverging silently
        is never an option."""
        delay, most = self._retry
        while True:
            try:
                # The bound catches a link that died without a reset (no reply ever comes).
                async with asyncio.timeout(self._block_ms / 1000 + 5.0):
                    reply: Any = await self._redis.xread(
                        {self._key: self.applied_id}, count=self._count, block=self._block_ms
                    )
            except (*TRANSIENT, TimeoutError) as exc:
                cancel_wins(exc)
                log.warning("journal read after %s: %r; retrying", self.applied_id, exc)
                await asyncio.sleep(delay)
                delay = min(most, delay * 2)
                continue
            delay = self._retry[0]
            # redis-py sends through asyncio.wait_for, which on Python 3.11 drops a cancel that
            # lands as the send completes; the read then returns as if nothing happened. A
            # cancel still pending wins here, before anything more is applied.
            cancel_wins()
            if not reply:
                # A whole block without an entry: caught up with the leader, who is idle (an
                # old entry's lag would otherwise stand for the replica's lag until the next).
                self.lag = 0.0
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    self._apply(as_text(entry_id), fields)

    def _apply(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        where = f"entry {entry_id} after {self.applied_id} (sequence {self.applied_seq})"
        try:
            seq = int(fields[b"s"])
            data = fields[b"e"]
        except (KeyError, ValueError) as exc:
            raise JournalCorrupt(f"{where}: malformed fields {sorted(fields)}") from exc
        if self._one_holder:
            written_by = fields.get(b"t")
            if written_by is None:
                raise JournalCorrupt(f"{where}: no holder field")
            if self.holder is not None and as_text(written_by) != self.holder:
                raise HolderChanged(f"{where}: written by {as_text(written_by)}, not {self.holder}")
        if seq != self.applied_seq + 1:
            raise JournalGap(f"{where}: sequence {seq}, expected {self.applied_seq + 1}")
        try:
            event = decode(data)
        except CodecError as exc:
            raise JournalCorrupt(f"{where}: cannot decode: {exc}") from exc
        try:
            decisions = self.router.handle(event)
        except Exception:  # the engine logs and goes on; the replica must do the same
            log.exception("router failed on journal %s: %r", entry_id, event)
            decisions = []
        now = self._clock()
        self.applied_id, self.applied_seq = entry_id, seq
        if self._one_holder and self.holder is None:
            self.holder = as_text(fields[b"t"])
        self.lag = now - event.now
        self.commit_delay = now - entry_time(entry_id)
        if self._on_applied is not None:
            self._on_applied(Applied(entry_id, seq, event, decisions, self.lag, self.commit_delay))

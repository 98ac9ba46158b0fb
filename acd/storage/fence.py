"""The store's write fence: once a new leader has claimed the shared PostgreSQL, nothing a
deposed leader writes gets in, and what it had in flight is in before the new leader starts.

    database = Database(url, fenced=True)    # a cluster node: database.fence is a WriteFence
    await database.fence.claim(lease_token)  # on becoming leader, before its first write
    database.fence.release()                 # on stepping down: its writes refused from now

`Database(url)` (a single node) has `fence` None: the stores issue no fence query at all.

One row, `cluster_fence(id=1, token)`, holds the lease token (`acd.cluster.lease`) of the
leader that owns the store (0: none yet). Every fenced write transaction opens with
`SELECT token FROM cluster_fence WHERE id = 1 FOR SHARE` (`begin_write`) and aborts with
`StoreFenced` unless the token is this node's claimed one; with no claim (`holder_token` None:
a standby, a leader that stepped down) it aborts without a query. `claim(t)` runs
`UPDATE cluster_fence SET token = t WHERE id = 1 AND token < t`, which on PostgreSQL waits for
every transaction holding the row FOR SHARE: the old leader's batch in flight commits first,
and its next one reads the new token and aborts. A token below the stored one is refused
(`StoreFenced`: a later leader has claimed the store); claiming one's own token again is fine.
Writes fenced: call records and agent intervals (`RecordStore`), durable agent states
(`AgentStateStore`); not the configuration (`ConfigStore`).

An old leader stopped inside a batch (SIGSTOP, a partition) would hold FOR SHARE, and the
claim, forever: a fenced PostgreSQL session has `idle_in_transaction_session_timeout` =
`STUCK_WRITER_TIMEOUT` (`SESSION_SETTINGS`), so the server ends it and rolls its batch back.
A leader is deposed only after its lease ran out (3 s), by then such a session is gone or
nearly; our own transactions are never idle that long unless the event loop stalls, and a
loop stalled that long has lost the lease anyway.

A fenced batch is neither refused rows nor a database that is down (`acd.storage.rejects`):
the writers (`acd.observe.store_writer`, `acd.recovery.agent_states`) drop it, log one warning
and count the rows (`fenced_rows`), because the new leader writes those rows itself.

Tokens must only grow: a Redis restarted empty hands out 1, 2, ... again, and `claim` then
refuses every leader until its epoch passes the stored token (run Redis with appendonly).
SQLite has no FOR SHARE and takes its write lock at the first write, so there the check is a
plain SELECT with the same rules but no ordering against a concurrent claim (a cluster refuses
SQLite anyway).

Runtime: one extra statement (one round trip) per fenced write transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from acd.errors import NotLeader
from acd.storage.tables import cluster_fence

#: Seconds a fenced session may sit idle inside a transaction before the server ends it.
STUCK_WRITER_TIMEOUT = 2.0
#: PostgreSQL settings of every fenced session (asyncpg `server_settings`).
SESSION_SETTINGS = {"idle_in_transaction_session_timeout": f"{STUCK_WRITER_TIMEOUT * 1000:.0f}"}

_ROW = cluster_fence.c.id == 1
_STORED_TOKEN = select(cluster_fence.c.token).where(_ROW)
# FOR SHARE on PostgreSQL (a claim's UPDATE waits for it); nothing on SQLite.
_LOCKED_TOKEN = _STORED_TOKEN.with_for_update(read=True)


class StoreFenced(NotLeader):
    """A write refused by the fence: a later leader owns the store (`stored` is its token), or
    this node holds no claim (`holder` None)."""

    def __init__(self, message: str, *, holder: int | None, stored: int | None) -> None:
        super().__init__(message)
        self.holder = holder
        self.stored = stored


class WriteFence:
    """This node's claim on the store. `holder_token` is the token claimed (None: none)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._holder: int | None = None

    @property
    def holder_token(self) -> int | None:
        return self._holder

    async def claim(self, token: int) -> None:
        """Make `token` the store's owner (one transaction); on PostgreSQL, returns once every
        write transaction of an earlier token has ended. Raises `StoreFenced` when the store
        holds a greater token (this node then holds no claim)."""
        self._holder = None
        async with self._engine.begin() as conn:
            await conn.execute(
                update(cluster_fence).where(_ROW, cluster_fence.c.token < token).values(token=token)
            )
            stored = (await conn.execute(_STORED_TOKEN)).scalar_one_or_none()
        if stored is None:
            raise RuntimeError("cluster_fence has no row 1: the store is not migrated (0005)")
        if stored != token:
            raise StoreFenced(
                f"store claimed by token {stored}, above {token}", holder=None, stored=stored
            )
        self._holder = token

    def release(self) -> None:
        """Stop writing (stepping down): every later write raises `StoreFenced`, no query."""
        self._holder = None

    async def check(self, conn: AsyncConnection) -> None:
        """First statement of a write transaction on `conn`: raises `StoreFenced` unless this
        node's token still owns the store; on PostgreSQL the row stays locked FOR SHARE until
        the transaction ends, so no claim passes in between."""
        holder = self._holder
        if holder is None:
            raise StoreFenced("this node holds no claim on the store", holder=None, stored=None)
        stored = (await conn.execute(_LOCKED_TOKEN)).scalar_one_or_none()
        if stored != holder:
            raise StoreFenced(
                f"store claimed by token {stored}, not {holder}", holder=holder, stored=stored
            )


@asynccontextmanager
async def begin_write(
    engine: AsyncEngine, fence: WriteFence | None
) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()` for a write: checked first by `fence` (None: unfenced, no query)."""
    async with engine.begin() as conn:
        if fence is not None:
            await fence.check(conn)
        yield conn

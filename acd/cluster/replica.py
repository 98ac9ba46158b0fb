"""A standby's copy of the leader's router: the snapshot in Redis, then the journal after it.

`Replica.run` loads the stored snapshot (none: a fresh Router at sequence 0, entry `0-0`) and
follows the journal from its position with a `JournalFollower` that applies only the entries of
the snapshot's holder. It loads the snapshot again, with a fresh router, whenever following
cannot go on from where it is:

- an entry written by another holder (`HolderChanged`): a new leader, whose router was built
  from the store, not grown from ours; it wrote its own snapshot before its first entry;
- a gap (`JournalGap`): the leader trimmed entries this replica had not read (it was stopped or
  too slow), which a newer snapshot covers;
- an entry it cannot decode (`JournalCorrupt`), in case a newer snapshot is past it;
- anything else unexpected (logged with its traceback): a standby never stops by itself.

Each reload is logged with its reason and counted (`resets`); reloads that make no progress
back off. Readers always go through `replica.router` (the object is replaced on a reload); the
`on_reset` hook is called with every router loaded, the first one included.

Promotion: a node that won the lease calls `drain(timeout)` (the replica reaches the journal's
head as of now; no other writer can move it any more) and then `stop()`, so that its own
first snapshot and entries do not reset the replica under it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from redis.asyncio import Redis

from acd.cluster.journal import (
    Applied,
    HolderChanged,
    JournalCorrupt,
    JournalFollower,
    JournalGap,
    head_key,
)
from acd.cluster.lease import cancel_wins
from acd.cluster.snapshot import Snapshot, journal_key, load_router, read_snapshot
from acd.router.router import Router

log = logging.getLogger(__name__)

_RELOAD = (HolderChanged, JournalGap, JournalCorrupt)


class Replica:
    """The router a standby keeps in step with the leader's (effects off: it decides nothing)."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        on_applied: Callable[[Applied], None] | None = None,
        on_reset: Callable[[Router], None] | None = None,
        block: float = 1.0,
        clock: Callable[[], float] = time.time,
        retry_delay: float = 0.05,
        retry_max: float = 1.0,
        load_timeout: float = 30.0,
    ) -> None:
        """`on_applied` gets every journal entry applied, `on_reset` every router loaded; both
        run on the replica's task and must not block (an exception is logged, not raised)."""
        self._redis = redis
        self._prefix = prefix
        self._stream = journal_key(prefix)
        self._on_applied = on_applied
        self._on_reset = on_reset
        self._block = block
        self._clock = clock
        self._retry = (retry_delay, retry_max)
        self._load_timeout = load_timeout
        self.router = Router()
        """The current copy; replaced on every (re)load."""
        self.snapshot: Snapshot | None = None
        """The snapshot the current router was loaded from (None: started empty)."""
        self.resets = 0
        """Reloads after the first load."""
        self.reset_reason: str | None = None
        self.load_error: str | None = None
        """Why the last load failed (Redis, or a snapshot refused); None once one loaded."""
        self._follower: JournalFollower | None = None
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._finished = False

    # --- what readers see ---------------------------------------------------------------------

    @property
    def applied_seq(self) -> int:
        """Sequence number of the last entry in `router` (the snapshot's right after a load)."""
        if self._follower is not None:
            return self._follower.applied_seq
        return 0 if self.snapshot is None else self.snapshot.seq

    @property
    def applied_id(self) -> str:
        if self._follower is not None:
            return self._follower.applied_id
        return "0-0" if self.snapshot is None else self.snapshot.entry_id

    @property
    def lag(self) -> float:
        """Seconds behind the leader at the last applied entry (its clock at apply - the
        event's `now`); NaN until one was applied since the last load."""
        return math.nan if self._follower is None else self._follower.lag

    @property
    def commit_delay(self) -> float:
        """Leader append (the entry id's time) to apply here, seconds; NaN until one applied."""
        return math.nan if self._follower is None else self._follower.commit_delay

    @property
    def following(self) -> bool:
        """A router is loaded and the journal is being followed (a standby's readiness)."""
        return self._follower is not None and not self._finished

    # --- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Load and follow until `stop()` (returns) or cancelled (raises CancelledError); it
        returns or raises for nothing else. Run again after a stop, it goes on from where it
        stopped (a reload if it must)."""
        if self._task is not None and not self._task.done() and not self._finished:
            raise RuntimeError("Replica.run() is already running")
        self._task = asyncio.current_task()
        self._stopping = self._finished = False
        delay, most = self._retry
        follower = self._follower
        try:
            while True:
                cancel_wins()
                if follower is None:
                    try:
                        follower = await self._load()
                    except Exception as exc:  # Redis, or a snapshot refused: never give up
                        cancel_wins(exc)
                        self.load_error = repr(exc)
                        log.error("replica cannot load the snapshot: %r; retrying", exc)
                        await asyncio.sleep(delay)
                        delay = min(most, delay * 2)
                        continue
                started_at = follower.applied_seq
                try:
                    await follower.run()
                except Exception as exc:
                    # _RELOAD as designed; anything else (a Redis error that is not transient,
                    # say) is logged with its traceback, and the same cure applies.
                    cancel_wins(exc)
                    self.resets += 1
                    self.reset_reason = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, _RELOAD):
                        log.warning("replica reloads the snapshot: %s", self.reset_reason)
                    else:
                        log.exception("replica failed following the journal; reloading")
                    if follower.applied_seq > started_at:
                        delay = self._retry[0]
                    else:  # nothing applied since the last load: the next snapshot is not
                        await asyncio.sleep(delay)  # there yet (or this one is broken)
                        delay = min(most, delay * 2)
                    follower = None
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            if self._task is not None:
                self._task.uncancel()
        finally:
            self._finished = True
            self._notify()

    def stop(self) -> None:
        """Stop following; `run` returns. The router stays as it is (a promoted node reads it)."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # A timeout parameter (ASYNC109) because running out of time is an answer here, not an
    # error: a promoted node then builds its agents from the store instead.
    async def caught_up(self, head_seq: int, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until the router holds entry `head_seq`; False if not within `timeout` seconds
        or the replica stopped first."""
        try:
            async with asyncio.timeout(timeout):
                while self.applied_seq < head_seq:
                    if self._finished:
                        return False
                    await self._progress.wait()
        except TimeoutError:
            return self.applied_seq >= head_seq
        return True

    async def journal_head(self) -> int:
        """The journal's last sequence number in Redis (0: empty)."""
        raw = await self._redis.hget(head_key(self._stream), "seq")
        return 0 if raw is None else int(raw)

    async def drain(self, timeout: float) -> int | None:  # noqa: ASYNC109 (as caught_up)
        """Follow to the journal's head as of now: the head's sequence number once the router
        holds it, None if not within `timeout`. For a node that holds the lease (nobody else
        can append): call `stop()` next, before it writes its own snapshot or entries."""
        head = await self.journal_head()
        return head if await self.caught_up(head, timeout) else None

    # --- internals ----------------------------------------------------------------------------

    async def _load(self) -> JournalFollower:
        async with asyncio.timeout(self._load_timeout):
            snapshot = await read_snapshot(self._redis, self._prefix)
        router = Router() if snapshot is None else load_router(snapshot.data)
        after_id, after_seq = ("0-0", 0) if snapshot is None else (snapshot.entry_id, snapshot.seq)
        follower = JournalFollower(
            self._redis,
            self._stream,
            router,
            after_id=after_id,
            after_seq=after_seq,
            on_applied=self._applied,
            block=self._block,
            clock=self._clock,
            retry_delay=self._retry[0],
            retry_max=self._retry[1],
            holder=None if snapshot is None else snapshot.holder,
            one_holder=True,
        )
        self.router, self.snapshot, self._follower = router, snapshot, follower
        self.load_error = None
        where = "empty" if snapshot is None else f"{snapshot.holder}'s"
        log.info("replica loaded the %s snapshot at sequence %d", where, after_seq)
        if self._on_reset is not None:
            try:
                self._on_reset(router)
            except Exception:
                log.exception("replica on_reset hook failed")
        self._notify()
        return follower

    def _applied(self, applied: Applied) -> None:
        if self._on_applied is not None:
            try:
                self._on_applied(applied)
            except Exception:
                log.exception("replica on_applied hook failed at %s", applied.entry_id)
        self._notify()

    def _notify(self) -> None:
        """Wake every `caught_up` waiter (each waits on the event current when it looked)."""
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()

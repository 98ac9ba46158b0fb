"""`acd serve` with `[cluster]`: one node of an active/standby ACD on Redis and PostgreSQL.

A node is always one of two runtimes, on one HTTP port (`HttpSlot` swaps the application):

  STANDBY   `Replica` follows the leader's journal into its own router; the API answers reads
            from it and forwards writes to the leader (api/forward.py, the leader's address
            from `<prefix>:leader_api`); the observers count the replayed steps and write
            nothing; no AMI, no FastAGI (Asterisk's connection is refused, and the dialplan's
            no-controller loop retries within ACD_RETRY_EVERY seconds, by then at the address
            the new leader published in GLOBAL(ACD_AGI)).
  LEADER    won the lease: the replica is drained to the journal's head and stopped; then
            the node is assembled exactly as a restarted controller (acd/compose.assemble),
            with a `NodeLeadership`: it claims the store's write fence with its lease token
            (nothing the old leader writes gets in from then on), takes the agents' states
            from the replica (exact; the store's lag ≤ 0.25 s), writes a snapshot of its fresh
            router at the journal's head (standbys reload on it) and journals every input
            before applying it. The controller then resyncs with Asterisk: the calls are
            adopted from their channels (the re-adoption path), the callbacks from the store.
            Every AMI action and FastAGI connection asks `lease.may_act()` first.

Leaving LEADER: the lease is lost (expired, another holder) or the journal refused a batch
(fenced): the leader runtime is closed without hanging up or moving anyone (its last writes
are refused by the fence once the new leader has claimed the store) and the node is a STANDBY
again. SIGTERM: a leader closes gracefully (records flushed), then releases the lease so a
standby takes over at once instead of after the ttl.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from acd.cluster.journal import Applied, JournalWriter, as_text
from acd.cluster.lease import LeaseTiming, RedisLease, Role, epoch_key, leader_key
from acd.cluster.replica import Replica
from acd.cluster.snapshot import dump_router, journal_key, write_snapshot
from acd.compose import Assembly, assemble, assemble_standby, start_controller
from acd.config import Settings
from acd.config.settings import ClusterSettings
from acd.engine import Step
from acd.gc_tuning import settle_heap
from acd.observe.metrics import ClusterRegistry
from acd.recovery.agent_states import AgentStates, stored_state
from acd.router.events import Event
from acd.router.model import AgentState
from acd.router.router import Router
from acd.service.health import HealthService
from acd.storage import Database
from acd.storage.agent_state_store import StoredAgentState
from acd.storage.fence import StoreFenced
from api.errors import error_response
from api.forward import forward_writes

log = logging.getLogger(__name__)

#: How long a new leader waits for its replica to reach the journal's head before it takes
#: the agents' states from the store instead.
DRAIN_TIMEOUT = 2.0
FORWARD_TIMEOUT = 10.0


#: KEYS[1] the lease's epoch, ARGV[1] a token the store holds: the epoch never stays below it.
RAISE_EPOCH_LUA = """
local epoch = tonumber(redis.call('GET', KEYS[1])) or 0
if epoch < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


def leader_api_key(prefix: str) -> str:
    return f"{prefix}:leader_api"


class HttpSlot:
    """One listening port whose application is replaced when the node changes runtime."""

    def __init__(self, settings: Settings, runner: Callable[[web.Application], web.AppRunner]):
        self._settings = settings
        self._make_runner = runner
        self._runner: web.AppRunner | None = None

    async def serve(self, app: web.Application) -> None:
        runner = self._make_runner(app)
        await runner.setup()
        old, self._runner = self._runner, runner
        if old is not None:
            await old.cleanup()  # frees the port (event streams end: clients reconnect)
        site = web.TCPSite(runner, self._settings.http.host, self._settings.http.port)
        await site.start()

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


class ReplicaAgentStates:
    """The agents' states as the replica holds them (what the old leader had applied), for
    `restore_agent_states`; rows the restore changes are saved to the store."""

    def __init__(self, router: Router, store: AgentStates, now: float) -> None:
        self._router = router
        self._store = store
        self._now = now

    async def load(self) -> list[StoredAgentState]:
        return [
            stored_state(view.id, view, self._now)
            for view in self._router.agents()
            if view.state is not AgentState.LOGGED_OUT
        ]

    async def save(self, rows: Sequence[StoredAgentState]) -> None:
        await self._store.save(rows)


class LeaderJournal:
    """The engine's `Journal` on a leader: batches to the `JournalWriter`, and a snapshot of
    the router every `every` seconds between two batches (the stream is trimmed behind it)."""

    def __init__(
        self,
        writer: JournalWriter,
        redis: Redis,
        prefix: str,
        holder: str,
        every: float,
        *,
        seq: int,
        entry_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer = writer
        self._redis = redis
        self._prefix = prefix
        self._holder = holder
        self._every = every
        self._clock = clock
        self.seq = seq
        self.entry_id = entry_id
        self._snapshot_at = clock()
        self._snapshotting: asyncio.Task[None] | None = None

    async def append(self, events: Sequence[Event]) -> None:
        ids = await self._writer.append(events)
        for entry_id in ids:
            if entry_id is not None:
                self.entry_id = entry_id
        assert self._writer.next_seq is not None
        self.seq = self._writer.next_seq - 1

    def stepped(self, router: Router) -> None:
        if self._clock() - self._snapshot_at < self._every:
            return
        if self._snapshotting is not None and not self._snapshotting.done():
            return
        self._snapshot_at = self._clock()
        data = dump_router(router)  # between two batches: the router is exactly at `seq`
        self._snapshotting = asyncio.create_task(
            self._store(self.seq, self.entry_id, data), name="acd-snapshot"
        )

    async def _store(self, seq: int, entry_id: str, data: bytes) -> None:
        try:
            await write_snapshot(self._redis, self._prefix, self._holder, seq, entry_id, data)
            if seq:
                trimmed = await self._writer.trim_before(entry_id)
                log.info("snapshot at %d (%d bytes); %d entries trimmed", seq, len(data), trimmed)
        except Exception as exc:
            log.warning("snapshot at %d not stored: %r", seq, exc)

    async def close(self) -> None:
        await self._writer.close()
        if self._snapshotting is not None:
            self._snapshotting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._snapshotting


class NodeLeadership:
    """`acd.compose.Leadership` for a node that holds the lease."""

    def __init__(
        self,
        cluster: ClusterSettings,
        redis: Redis,
        lease: RedisLease,
        replica_router: Router | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cluster = cluster
        self._redis = redis
        self._lease = lease
        self._replica = replica_router
        self._clock = clock
        holder, token = lease.holder, lease.token
        if holder is None or token is None:
            raise RuntimeError("NodeLeadership needs the lease")
        self.holder, self.token = holder, token
        self.journal: LeaderJournal | None = None

    async def claim_store(self, database: Database) -> None:
        if database.fence is None:
            raise RuntimeError("a cluster leader's store must be fenced (Database(fenced=True))")
        try:
            await database.fence.claim(self.token)
        except StoreFenced as exc:
            if exc.stored is not None and exc.stored > self.token:
                # Redis forgot its epoch (restarted without its data): tokens start again
                # below the store's. Raised past it, the next election draws a higher one.
                await self._redis.eval(RAISE_EPOCH_LUA, 1, epoch_key(self._cluster.key_prefix),
                                       str(exc.stored))  # fmt: skip
                log.error(
                    "the store is claimed by token %d, above ours (%d): Redis lost its epoch; "
                    "raised it to %d, standing down for a new election",
                    exc.stored,
                    self.token,
                    exc.stored,
                )
            raise

    async def begin(self, router: Router) -> LeaderJournal:
        prefix = self._cluster.key_prefix
        stream = journal_key(prefix)
        writer = JournalWriter(self._redis, stream, leader_key(prefix), self.holder)
        seq = await writer.open()
        entry_id = await _entry_at(self._redis, stream, seq)
        # Standbys reload on it: the router below was built from the store, not grown from
        # the old leader's (its first entries follow it).
        await write_snapshot(self._redis, prefix, self.holder, seq, entry_id, dump_router(router))
        self.journal = LeaderJournal(
            writer,
            self._redis,
            prefix,
            self.holder,
            self._cluster.snapshot_every,
            seq=seq,
            entry_id=entry_id,
        )
        return self.journal

    def agent_states(self, store: AgentStates) -> AgentStates:
        if self._replica is None:
            return store
        return ReplicaAgentStates(self._replica, store, self._clock())

    def may_act(self) -> bool:
        """This leadership's lease, not a later one of the same node: a runtime still closing
        after a step-down stays shut even if the node has won the lease again."""
        return self._lease.token == self.token and self._lease.may_act()

    async def close(self) -> None:
        if self.journal is not None:
            await self.journal.close()


async def _entry_at(redis: Redis, stream: str, seq: int) -> str:
    """The id of the journal's entry `seq` (its head: the last entry), "0-0" for none."""
    if seq == 0:
        return "0-0"
    entries: Any = await redis.xrevrange(stream, count=1)
    if not entries:
        raise RuntimeError(f"the journal's head is {seq} but its stream is empty")
    entry_id, fields = entries[0]
    if int(fields[b"s"]) != seq:
        raise RuntimeError(f"the journal's last entry is {fields[b's']!r}, its head {seq}")
    return as_text(entry_id)


class ClusterNode:
    def __init__(
        self,
        settings: Settings,
        http_runner: Callable[[web.Application], web.AppRunner],
    ) -> None:
        cluster = settings.cluster
        if cluster is None:
            raise ValueError("ClusterNode needs [cluster]")
        self.settings = settings
        self.cluster = cluster
        self.node_id = cluster.node_id
        self.timing = LeaseTiming(cluster.lease_ttl, cluster.renew_every, cluster.lease_margin)
        self._http = HttpSlot(settings, http_runner)
        self._stop = asyncio.Event()
        self.role = "standby"
        self.replica: Replica | None = None

    # --- HealthService's ClusterStatus ---------------------------------------------------------

    @property
    def following(self) -> bool:
        return self.replica is not None and self.replica.following

    # --- Metrics' ClusterGauges ---------------------------------------------------------------

    @property
    def leading(self) -> bool:
        return self.role == "leader"

    @property
    def lag(self) -> float:
        return math.nan if self.replica is None else self.replica.lag

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        url = self.cluster.redis_url
        # The lease's calls are bounded by its own rules; the data link's reads block (XREAD).
        lease_redis = Redis.from_url(url, socket_timeout=self.timing.ttl, socket_connect_timeout=1)
        data_redis = Redis.from_url(url, socket_connect_timeout=1, socket_keepalive=True)
        lease = RedisLease(
            lease_redis, self.node_id, prefix=self.cluster.key_prefix, timing=self.timing
        )
        lease_task = asyncio.create_task(lease.run(), name="acd-lease")
        session = aiohttp.ClientSession()
        status = 0
        try:
            while not self._stop.is_set():
                router, standby = await self._stand_by(data_redis, lease, session)
                if self._stop.is_set():
                    for assembly in standby:
                        await assembly.close()
                    break
                status = await self._lead(data_redis, lease, router, standby)
                if status:
                    break
        finally:
            lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lease_task
            if lease.role is Role.LEADER:
                await lease.release()  # a standby takes over now, not after the ttl
            await self._http.close()
            await session.close()
            await lease_redis.aclose()
            await data_redis.aclose()
        return status

    # --- standby -------------------------------------------------------------------------------

    async def _stand_by(
        self, redis: Redis, lease: RedisLease, session: aiohttp.ClientSession
    ) -> tuple[Router | None, list[Assembly]]:
        """Serve as a standby until elected (the replica's router, drained to the journal's
        head; None if it could not get there) or stopped (None); with the standby's read side,
        which keeps answering until the leader's replaces it."""
        self.role = "standby"
        health = HealthService(self)
        current: list[Assembly] = []
        rebuilt: asyncio.Queue[Router] = asyncio.Queue()

        def on_applied(applied: Applied) -> None:
            if current:
                current[-1].engine.replay(Step(applied.event, applied.decisions))

        replica = Replica(redis, self.cluster.key_prefix, on_applied=on_applied,
                          on_reset=rebuilt.put_nowait)  # fmt: skip
        self.replica = replica
        follow = asyncio.create_task(replica.run(), name="acd-replica")
        forward = forward_writes(
            self.node_id, lambda: self._leader_url(redis), session, FORWARD_TIMEOUT
        )
        elected = asyncio.ensure_future(lease.wait_role(Role.LEADER))
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                next_router = asyncio.ensure_future(rebuilt.get())
                done, _ = await asyncio.wait(
                    {next_router, elected, stopped, follow}, return_when=asyncio.FIRST_COMPLETED
                )
                if next_router in done:
                    router = next_router.result()
                    try:
                        assembly = await assemble_standby(
                            self.settings, router, health=health, middlewares=[forward]
                        )
                    except Exception as exc:  # PostgreSQL away: keep what serves, try again
                        log.error("standby read side not rebuilt (%r); retrying in 1 s", exc)
                        loop = asyncio.get_running_loop()
                        loop.call_later(1.0, _retry_unless_newer, rebuilt, router, replica)
                        continue
                    if assembly.metrics is not None:
                        assembly.metrics.cluster = self
                    settle_heap()
                    await self._http.serve(assembly.app)
                    current.append(assembly)
                    while len(current) > 1:
                        await current.pop(0).close()
                    continue
                next_router.cancel()
                if follow in done:  # it never returns by itself: log and start over
                    log.error("replica stopped: %r; following again", follow.exception())
                    follow = asyncio.create_task(replica.run(), name="acd-replica")
                    continue
                if stopped in done:
                    return None, current
                head = await replica.drain(DRAIN_TIMEOUT)
                if head is None:
                    log.warning(
                        "replica not at the journal's head within %.1f s: agent states come "
                        "from the store",
                        DRAIN_TIMEOUT,
                    )
                return (replica.router if head is not None else None), current
        finally:
            elected.cancel()
            stopped.cancel()
            replica.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follow
            self.replica = None

    async def _leader_url(self, redis: Redis) -> str | None:
        prefix = self.cluster.key_prefix
        holder, published = await redis.mget(leader_key(prefix), leader_api_key(prefix))
        if holder is None or published is None:
            return None
        published_holder, _, url = as_text(published).partition(" ")
        return url if published_holder == as_text(holder) else None

    # --- leader --------------------------------------------------------------------------------

    async def _lead(
        self,
        redis: Redis,
        lease: RedisLease,
        replica_router: Router | None,
        standby_left: list[Assembly],
    ) -> int:
        leadership: NodeLeadership | None = None
        assembly: Assembly | None = None
        reason = "stopped"
        try:
            await _until_may_act(lease)
            leadership = NodeLeadership(self.cluster, redis, lease, replica_router)
            log.info("leading as %s", leadership.holder)
            assembly = await assemble(self.settings, leadership=leadership)
            assembly.services.health.cluster = self
            if assembly.metrics is not None:
                assembly.metrics.cluster = self
            publish = {"ACD_AGI": self.cluster.agi_address}
            controller = await start_controller(
                assembly,
                gate=leadership.may_act,
                publish=publish,
                replica_calls=() if replica_router is None else replica_router.calls(),
            )
            await redis.set(
                leader_api_key(self.cluster.key_prefix),
                f"{leadership.holder} {self.cluster.api_url}",
            )
            settle_heap()
            self.role = "leader"  # from the moment its API answers
            await self._http.serve(assembly.app)
            for old in standby_left:
                await old.close()
            standby_left.clear()
            reason = await _first(
                {
                    "lease lost": lease.wait_role(Role.FOLLOWER),
                    "journal refused": assembly.engine.wait_halted(),
                    "controller failed": controller.wait_failed(),
                    "stopped": self._stop.wait(),
                }
            )
        except Exception:
            log.exception("could not lead")
            reason = "failed to lead"
        finally:
            log.info("leaving the lead: %s", reason)
            if reason != "stopped":
                self.role = "standby"  # at once: /readyz and acd_cluster_leader say it
                # Before the close: no request reaches the old leader's services from now on
                # (a standby's read side replaces this once the replica has loaded).
                try:
                    await self._http.serve(stepping_down_app(self))
                except Exception:
                    log.exception("could not take the leader's API off the port")
            # The store's fence is not released here: until a new leader claims it, what this
            # node still flushes is valid (and the new leader reads it after its claim).
            if leadership is not None:
                await leadership.close()
            if assembly is not None:
                await assembly.close()
            for old in standby_left:
                await old.close()
            held = leadership is not None and lease.token == leadership.token
            if reason != "stopped" and held and lease.role is Role.LEADER:
                await lease.release()
        if reason == "controller failed":
            return 1
        if reason == "failed to lead":
            await asyncio.sleep(self.timing.renew_every)  # PostgreSQL or Asterisk away: not a spin
        return 0


def _retry_unless_newer(queue: asyncio.Queue[Router], router: Router, replica: Replica) -> None:
    if queue.empty() and replica.router is router:
        queue.put_nowait(router)


def stepping_down_app(node: ClusterNode) -> web.Application:
    """What the port answers between a lost lead and the standby's read side: not ready, the
    cluster gauges, and 503 `not_leader` for everything else (the leader decides; a client
    retries there)."""

    async def answer(request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/v1")
        if path == "/healthz":
            return web.json_response({"status": "ok"})
        if path == "/readyz":  # a standby not following yet: what its read side will say
            body, ready = HealthService(node).report()
            return web.json_response(body, status=200 if ready else 503)
        if path == "/metrics":  # the cluster gauges: acd_cluster_leader is 0 from now on
            text = generate_latest(ClusterRegistry(node))
            return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})
        return error_response(503, "not_leader", "this node stepped down; retry at the leader")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


async def _until_may_act(lease: RedisLease) -> None:
    """A first token waits one ttl (acd/cluster/lease.py) before its holder may act."""
    delay = lease.rules.act_from - lease.clock()
    if delay > 0:
        await asyncio.sleep(delay)
    if not lease.may_act():
        raise RuntimeError("the lease was lost before it could be used")


async def _first(waits: dict[str, Awaitable[Any]]) -> str:
    futures = {asyncio.ensure_future(w): name for name, w in waits.items()}
    try:
        done, _ = await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
        return futures[next(iter(done))]
    finally:
        for future in futures:
            future.cancel()


async def run_node(
    settings: Settings, http_runner: Callable[[web.Application], web.AppRunner]
) -> int:
    node = ClusterNode(settings, http_runner)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, node.stop)
    try:
        return await node.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)

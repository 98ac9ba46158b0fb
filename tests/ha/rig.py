"""Process-level rig of the HA fault tests (issue #12): two (or N) `acd serve` nodes with a
`[cluster]` section on one real Asterisk, one fresh PostgreSQL database and one Redis key
prefix, with the faults a test controls around them.

    async with fresh_database() as database:
        rig = ClusterRig(asterisk, tmp_path, probe, database=database,
                         redis_url=target.url, key_prefix=target.prefix,
                         queues=[queue("support")], agents=[sim_agent("2001")])
        await rig.start()                       # node a leads, node b follows
        leader = await rig.wait_leader()
        await rig.kill(leader)                  # SIGKILL; rig.restart(leader): back as standby
        rig.freeze(leader); rig.thaw(leader)    # SIGSTOP / SIGCONT
        await leader.redis_proxy.cut()          # its Redis link only; .restore() heals it

Every node talks to Asterisk's AMI and to Redis through its own `TcpProxy`: the Redis one is
the cut a test makes, the AMI one taps what the node sends (`node.actions`, an `ActionLog`),
the Asterisk-side evidence that a frozen or cut-off leader issued no action.

`CallBook` plays and accounts the callers from Asterisk's own events (the Probe's AMI login,
`timestampevents = yes`): a call is *lost* when its caller went away by anything but the
test before its talk was over, *offered twice* when its channel dialled an agent twice.
`PgDatabase` reads the shared store for duplicated records.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from faults.harness import (
    AmiProxy,
    Caller,
    ControllerProcess,
    Probe,
    TcpProxy,
    chan_variables,
    eventually,
    headers_of,
)
from prometheus_client.parser import text_string_to_metric_families
from unavailable import unavailable

from acd.asterisk.ports import LOOPBACK, free_port
from acd.asterisk.testing import RunningAsterisk

PG_HOST = os.environ.get("ACD_TEST_PG_HOST", "127.0.0.1:5432")
PG_USER = os.environ.get("ACD_TEST_PG_USER", "postgres")
#: The [cluster] timing of the issue's design, written into every node unless overridden.
CLUSTER_TIMING = {"lease_ttl": 3.0, "renew_every": 1.0, "lease_margin": 0.5}
#: AMI actions that only read (what a standby or a resumed node may still send, e.g. on a
#: reconnect); any other action moves, rings or changes something in Asterisk.
READ_ONLY_ACTIONS = frozenset(
    a.lower()
    for a in (
        "Login", "Logoff", "Challenge", "Ping", "Events", "CoreShowChannels", "Status",
        "Getvar", "CoreSettings", "CoreStatus", "ListCommands", "BridgeList", "BridgeInfo",
        "DeviceStateList", "ExtensionStateList", "WaitEvent",
    )
)  # fmt: skip


# --- PostgreSQL: a database per test -----------------------------------------------------------


@dataclass(frozen=True)
class PgDatabase:
    """A database of one test on the shared server: `url` for `[storage]`, `rows` to look
    behind the API."""

    name: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{PG_USER}@{PG_HOST}/{self.name}"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}/{self.name}"

    async def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            return [tuple(r) for r in await connection.fetch(query, *args)]
        finally:
            await connection.close()

    async def duplicated_records(self) -> list[tuple[str, int, int]]:
        """(call_id, leg, rows) of every call visit stored more than once."""
        rows = await self.rows(
            "SELECT call_id, leg, COUNT(*) FROM acd_call_records"
            " GROUP BY call_id, leg HAVING COUNT(*) > 1 ORDER BY call_id, leg"
        )
        return [(str(c), int(leg), int(n)) for c, leg, n in rows]

    async def final_records(self) -> Counter[str]:
        """Per call id, how many of its records are final (an outcome and an end)."""
        rows = await self.rows(
            "SELECT call_id, COUNT(*) FROM acd_call_records"
            " WHERE outcome IS NOT NULL AND outcome <> 'overflowed' AND ended IS NOT NULL"
            " GROUP BY call_id"
        )
        return Counter({str(c): int(n) for c, n in rows})

    async def open_records(self) -> list[str]:
        rows = await self.rows("SELECT call_id FROM acd_call_records WHERE ended IS NULL")
        return sorted(str(r[0]) for r in rows)


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(f"postgresql://{PG_USER}@{PG_HOST}/test", timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {PG_HOST} (db test, user {PG_USER}) unreachable: {exc}")
        raise AssertionError from None  # unreachable: skip/fail raise


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[PgDatabase]:
    """CREATE DATABASE acd_ha_<hex>, dropped afterwards (FORCE: a node killed mid-session may
    leave a connection the server has not closed yet)."""
    database = PgDatabase(f"acd_ha_{uuid.uuid4().hex[:12]}")
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{database.name}"')
        yield database
    finally:
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            await admin.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
        await admin.close()


# --- what a node sends to Asterisk -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentAction:
    at: float  # time.monotonic() as the proxy relayed it
    connection: int
    name: str  # as sent ("Redirect")
    wall: float  # time.time() at the same moment (to compare with Asterisk's Timestamps)
    text: str = ""  # the whole action, headers joined by " | " (a failure's evidence)

    @property
    def acts(self) -> bool:
        return self.name.lower() not in READ_ONLY_ACTIONS


class ActionLog:
    """The AMI actions a node sent, parsed from the bytes its AMI proxy relays upstream (one
    buffer per relayed connection: an action may arrive in pieces)."""

    def __init__(self) -> None:
        self.sent: list[SentAction] = []
        self._buffers: dict[int, bytes] = {}

    def tap(self, connection: int, direction: str, data: bytes) -> None:
        if direction != "up":
            return
        buffer = self._buffers.get(connection, b"") + data
        *messages, rest = buffer.split(b"\r\n\r\n")
        self._buffers[connection] = rest
        now, wall = time.monotonic(), time.time()
        for message in messages:
            for line in message.split(b"\r\n"):
                key, _, value = line.partition(b":")
                if key.strip().lower() == b"action":
                    name = value.strip().decode(errors="replace")
                    text = message.decode(errors="replace").replace("\r\n", " | ")
                    self.sent.append(SentAction(now, connection, name, wall, text))
                    break

    def acting_since(self, since: float) -> list[SentAction]:
        """Actions that change something in Asterisk, relayed at or after `since`."""
        return [a for a in self.sent if a.at >= since and a.acts]


# --- a node and the cluster --------------------------------------------------------------------


class ClusterNode(ControllerProcess):
    """`acd serve` with a [cluster] section: its own HTTP port, FastAGI port, node_id and
    var_dir; AMI through `ami_proxy` (tapped into `actions`), Redis through `redis_proxy`."""

    def __init__(
        self,
        asterisk: RunningAsterisk,
        workdir: Path,
        *,
        node_id: str,
        agi_port: int,
        ami_proxy: AmiProxy,
        redis_proxy: TcpProxy | None,
        redis_url: str,
        cluster: Mapping[str, Any],
        **options: Any,
    ) -> None:
        super().__init__(asterisk, workdir, agi_port=agi_port, ami_port=ami_proxy.port, **options)
        self.node_id = node_id
        self.ami_proxy = ami_proxy
        self.redis_proxy = redis_proxy
        self.actions = ActionLog()
        ami_proxy.tap = self.actions.tap
        section = {
            "redis_url": redis_url,
            "node_id": node_id,
            **CLUSTER_TIMING,
            "api_url": self.base_url,
            "agi_address": f"{asterisk.agi_host}:{agi_port}",
            **cluster,
        }
        self.sections["cluster"] = {k: v for k, v in section.items() if v is not None}

    def __repr__(self) -> str:
        return f"<node {self.node_id} pid {self.pid}>"

    async def readiness(self) -> tuple[int, dict[str, Any]] | None:
        """/readyz status and body; None when the node does not answer (dead, frozen)."""
        try:
            reply = await self.api("GET", "/readyz", token="", within=1.0)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None
        body = reply.body if isinstance(reply.body, dict) else {}
        return reply.status, body

    async def role(self) -> str | None:
        """ "leader" or "standby" as /readyz says (whatever its status), None if no answer."""
        answer = await self.readiness()
        if answer is None:
            return None
        role = answer[1].get("role")
        return str(role) if role is not None else None

    async def metrics(self) -> dict[str, float]:
        """Every sample of /metrics by name with its labels (`name{k="v"}`), unlabelled as
        `name`."""
        reply = await self.api("GET", "/metrics", token="", within=5.0)
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(str(reply.body)):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def signal(self, sig: int) -> None:
        pid = self.pid
        if pid is None or not self.running:
            raise RuntimeError(f"{self} is not running")
        os.kill(pid, sig)

    def log_since(self, start: int) -> str:
        """The log from the `start`-th spawn on (the header line `--- start N`)."""
        text = self.log_text()
        marker = f"--- start {start} "
        return text[text.find(marker) :] if marker in text else text


class ClusterRig:
    """N nodes on one Asterisk, one PostgreSQL database and one Redis key prefix."""

    def __init__(
        self,
        asterisk: RunningAsterisk,
        workdir: Path,
        probe: Probe,
        *,
        database: PgDatabase,
        redis_url: str,
        key_prefix: str,
        nodes: int = 2,
        queues: Sequence[Mapping[str, Any]] = (),
        agents: Sequence[Mapping[str, Any]] = (),
        cluster: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        source: Path | None = None,
    ) -> None:
        self.asterisk = asterisk
        self.probe = probe
        self.database = database
        self.redis_url = redis_url
        self.key_prefix = key_prefix
        taken = {asterisk.agi_port, asterisk.ami_port, asterisk.sip_port}
        self.nodes: list[ClusterNode] = []
        host, port = _host_port(redis_url)
        for index in range(nodes):
            node_id = f"node-{chr(ord('a') + index)}"
            ami_proxy = AmiProxy(asterisk)
            redis_proxy = TcpProxy(host, port, avoid=taken | {ami_proxy.port})
            agi_port = free_port(
                socket.SOCK_STREAM, avoid=taken | {ami_proxy.port, redis_proxy.port}
            )
            taken |= {ami_proxy.port, redis_proxy.port, agi_port}
            node = ClusterNode(
                asterisk,
                workdir / node_id,
                node_id=node_id,
                agi_port=agi_port,
                ami_proxy=ami_proxy,
                redis_proxy=redis_proxy,
                redis_url=_with_port(redis_url, redis_proxy.port),
                cluster={"key_prefix": key_prefix, **(cluster or {})},
                queues=queues,
                agents=agents,
                storage_url=database.url,
                env=env,
                source=source,
            )
            taken.add(node.http_port)
            self.nodes.append(node)

    def node(self, node_id: str) -> ClusterNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def others(self, node: ClusterNode) -> list[ClusterNode]:
        return [n for n in self.nodes if n is not node]

    async def start(self, within: float = 30.0) -> ClusterNode:
        """The first node alone until it leads (it seeds the empty store), then the others
        until each is ready as a standby; the leader."""
        for node in self.nodes:
            await node.ami_proxy.start()
            if node.redis_proxy is not None:
                await node.redis_proxy.start()
        first, *rest = self.nodes
        await first.start(within)
        leader = await self.wait_leader(within=within)
        assert leader is first, (leader, await self.roles())
        for node in rest:
            await node.start(within)
            await self.wait_role(node, "standby", within=within)
        return leader

    async def roles(self) -> dict[str, str | None]:
        answers = await asyncio.gather(*(n.role() for n in self.nodes))
        return {n.node_id: r for n, r in zip(self.nodes, answers, strict=True)}

    async def leaders(self) -> list[ClusterNode]:
        roles = await self.roles()
        return [n for n in self.nodes if roles[n.node_id] == "leader"]

    async def wait_leader(
        self, within: float = 15.0, exclude: Sequence[ClusterNode] = ()
    ) -> ClusterNode:
        """Poll /readyz of every node (every 50 ms) until exactly one outside `exclude` says
        leader with 200 (ready: its controller is synced); that node."""
        deadline = time.monotonic() + within
        while True:
            candidates = [n for n in self.nodes if n not in exclude and n.running]
            answers = await asyncio.gather(*(n.readiness() for n in candidates))
            ready = [
                n
                for n, a in zip(candidates, answers, strict=True)
                if a is not None and a[0] == 200 and a[1].get("role") == "leader"
            ]
            if len(ready) == 1:
                return ready[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no single ready leader within {within} s: {await self.roles()}\n"
                    + self.log_tails()
                )
            await asyncio.sleep(0.05)

    async def wait_role(self, node: ClusterNode, role: str, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while await node.role() != role:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{node} not {role} within {within} s: {await self.roles()}\n"
                    + self.log_tails()
                )
            await asyncio.sleep(0.05)

    async def kill(self, node: ClusterNode, sig: int = signal.SIGKILL) -> int:
        return await node.kill(sig)

    async def restart(self, node: ClusterNode, within: float = 30.0) -> float:
        """Start a stopped node again (same config, var_dir); it joins as a standby."""
        assert not node.running, f"{node} still runs"
        ready = await node.start(within)
        await self.wait_role(node, "standby", within=within)
        return ready

    def freeze(self, node: ClusterNode) -> float:
        """SIGSTOP; the monotonic time it was sent."""
        node.signal(signal.SIGSTOP)
        return time.monotonic()

    def thaw(self, node: ClusterNode) -> float:
        """SIGCONT; the monotonic time it was sent."""
        node.signal(signal.SIGCONT)
        return time.monotonic()

    def queue_log(self) -> list[list[str]]:
        """Every node's queue_log lines (each node writes its own file while it leads)."""
        return [line for n in self.nodes for line in n.queue_log()]

    def queue_log_counts(self) -> Counter[tuple[str, str]]:
        """(call id, event) → lines over every node's queue_log."""
        return Counter((f[1], f[4]) for f in self.queue_log() if len(f) > 4 and f[1] != "NONE")

    async def live_calls(self) -> list[dict[str, Any]]:
        return await (await self.wait_leader()).live_calls()

    async def where_are(self, call_ids: set[str]) -> list[tuple[Any, ...]]:
        """Where these calls' dialplan halves are in Asterisk right now (a failure's
        evidence): uniqueid, context, extension, application and its data."""
        return [
            (c.get("Uniqueid"), c.get("Context"), c.get("Exten"), c.get("Application"),
             c.get("ApplicationData"))
            for c in await self.probe.channels()
            if c.get("Uniqueid") in call_ids
        ]  # fmt: skip

    def log_tails(self, lines: int = 25) -> str:
        return "\n".join(f"--- {n.node_id} (pid {n.pid}):\n{n.log_tail(lines)}" for n in self.nodes)

    async def close(self) -> None:
        """Stop every node (a frozen one is thawed first so SIGTERM reaches it), close the
        proxies, and give the instance its own FastAGI address back in GLOBAL(ACD_AGI) (a
        leader published its own; the worker's later tests run a controller on the fixture's
        port)."""
        for node in self.nodes:
            if node.running:
                with contextlib.suppress(ProcessLookupError):
                    node.signal(signal.SIGCONT)
        await asyncio.gather(*(n.close() for n in self.nodes), return_exceptions=True)
        for node in self.nodes:
            await node.ami_proxy.close()
            if node.redis_proxy is not None:
                await node.redis_proxy.close()
        if self.probe.manager is not None:
            with contextlib.suppress(Exception):
                await self.probe.action(
                    Action="Setvar",
                    Variable="ACD_AGI",
                    Value=f"{self.asterisk.agi_host}:{self.asterisk.agi_port}",
                )


def _host_port(url: str) -> tuple[str, int]:
    """host and port of a redis://host:port/db URL."""
    netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = netloc.rpartition(":")
    return (host or LOOPBACK), int(port or 6379)


def _with_port(url: str, port: int) -> str:
    """The same URL (scheme, credentials, db) pointing at 127.0.0.1:`port` (a proxy)."""
    scheme, rest = url.split("://", 1)
    netloc, slash, path = rest.partition("/")
    credentials = netloc.rpartition("@")[0]
    return f"{scheme}://{credentials + '@' if credentials else ''}{LOOPBACK}:{port}{slash}{path}"


# --- callers and what became of them -----------------------------------------------------------


@dataclass
class TrackedCaller:
    caller: Caller
    talk: float  # the agent hangs up after this long (sim agent)
    hung_up_by_test: bool = False


@dataclass
class CallBook:
    """Callers placed through the Probe and their fate, from Asterisk's events (their
    `Timestamp`, wall clock): DialBegin of a call's channel = an offer to an agent, BridgeEnter
    = connected, Hangup of the caller's far end = the caller gone."""

    probe: Probe
    callers: dict[str, TrackedCaller] = field(default_factory=dict)
    _index: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    _indexed: int = 0

    async def place(
        self, queue: str, count: int, *, talk: float, ring: float = 0, hold: int = 900,
        spacing: float = 0.02,
    ) -> list[Caller]:  # fmt: skip
        placed = []
        for _ in range(count):
            caller = await self.probe.call(queue, talk=talk, ring=ring, hold=hold)
            self.callers[caller.call_id] = TrackedCaller(caller, talk)
            placed.append(caller)
            if spacing:
                await asyncio.sleep(spacing)  # distinct entry times, a known order
        return placed

    async def hang_up(self, caller: Caller) -> None:
        """The caller hangs up (counted as the test's doing, not a loss)."""
        self.callers[caller.call_id].hung_up_by_test = True
        await self.probe.hangup_caller(caller)

    def _events(self, name: str, uniqueid: str) -> list[dict[str, Any]]:
        """The `name` events of channel `uniqueid`, in arrival order (indexed as they come:
        a bench sees hundreds of thousands)."""
        seen = self.probe.events.seen
        for message in seen[self._indexed :]:
            key = (str(message.get("Event")), str(message.get("Uniqueid")))
            if key[0] in ("DialBegin", "BridgeEnter", "Hangup"):
                self._index.setdefault(key, []).append(headers_of(message))
        self._indexed = len(seen)
        return self._index.get((name, uniqueid), [])

    def offers(self, call_id: str) -> list[dict[str, Any]]:
        """DialBegin events of the call's channel (acd-deliver dialling an agent)."""
        return self._events("DialBegin", call_id)

    def bridged_at(self, call_id: str) -> float | None:
        entered = self._events("BridgeEnter", call_id)
        return float(entered[0]["Timestamp"]) if entered else None

    def ended_at(self, caller: Caller) -> float | None:
        gone = self._events("Hangup", caller.leg)
        return float(gone[0]["Timestamp"]) if gone else None

    def lost(self) -> list[str]:
        """Calls whose caller went away by anything but the test before being connected, or
        while connected before its agent's talk time was over."""
        lost = []
        for call_id, tracked in self.callers.items():
            ended = self.ended_at(tracked.caller)
            if ended is None or tracked.hung_up_by_test:
                continue
            bridged = self.bridged_at(call_id)
            if bridged is None or ended < bridged + tracked.talk - 0.5:
                lost.append(call_id)
        return lost

    def offered_twice(self) -> dict[str, list[str]]:
        """Calls offered more than once: call id → the agents' channels it dialled."""
        twice = {}
        for call_id in self.callers:
            offers = self.offers(call_id)
            if len(offers) > 1:
                twice[call_id] = [str(o.get("DestChannel", "?")) for o in offers]
        return twice

    def offers_since(self, wall_time: float) -> list[dict[str, Any]]:
        """Every DialBegin of a placed call stamped at or after `wall_time` (time.time())."""
        offers = (o for call_id in self.callers for o in self.offers(call_id))
        return sorted(
            (o for o in offers if float(o.get("Timestamp") or 0) >= wall_time),
            key=lambda o: float(o["Timestamp"]),
        )

    def trail(self, call_id: str) -> list[str]:
        """The dialplan steps of a call's channel and how it ended (a failure's evidence),
        from the Probe's Newexten and Hangup events."""
        steps = []
        for m in self.probe.events.seen:
            if m.get("Uniqueid") != call_id:
                continue
            if m.get("Event") == "Newexten":
                steps.append(f"{m.get('Context')},{m.get('Extension')},{m.get('Priority')} "
                             f"{m.get('Application')}({m.get('AppData')})")  # fmt: skip
            elif m.get("Event") in ("Hangup", "AGIExecEnd", "AsyncAGIEnd"):
                # At a hang-up the event says where the channel was, with its ChanVariables.
                where = f"{m.get('Context')},{m.get('Exten')},{m.get('Priority')}"
                steps.append(f"{m.get('Event')} at {where}: {m.get('Cause-txt') or ''} "
                             f"{chan_variables(headers_of(m))}")  # fmt: skip
        return steps

    def still_here(self) -> list[str]:
        """Placed calls whose caller has not gone yet."""
        return [c for c, t in self.callers.items() if self.ended_at(t.caller) is None]

    async def wait_all_gone(self, within: float = 60.0) -> None:
        await eventually(lambda: not self.still_here(), within=within, what="every caller gone")


# --- the verdict of a fault test ---------------------------------------------------------------

#: queue_log events a call has exactly one of (its end), and at most one of each (its course).
FINAL_EVENTS = ("COMPLETECALLER", "COMPLETEAGENT", "ABANDON", "EXITWITHTIMEOUT")
ONCE_EVENTS = ("ENTERQUEUE", "CONNECT")


def actors(nodes: Sequence[ClusterNode]) -> list[str]:
    """Which node sent the acting AMI actions, in time order, runs collapsed: ["node-a",
    "node-b"] is one takeover; a node that appears twice acted again after another had."""
    timeline = sorted((a.at, n.node_id) for n in nodes for a in n.actions.sent if a.acts)
    collapsed: list[str] = []
    for _, node_id in timeline:
        if not collapsed or collapsed[-1] != node_id:
            collapsed.append(node_id)
    return collapsed


@dataclass
class Verdict:
    """What the issue counts over every fault test: each list empty when nothing was lost,
    stored twice or offered twice."""

    lost: list[str]
    offered_twice: dict[str, list[str]]
    duplicated_records: list[tuple[str, int, int]]
    not_one_final_record: dict[str, int]
    open_records: list[str]
    queue_log_repeats: dict[str, list[str]]

    @property
    def clean(self) -> bool:
        return not any(
            (self.lost, self.offered_twice, self.duplicated_records,
             self.not_one_final_record, self.open_records, self.queue_log_repeats)
        )  # fmt: skip


async def verdict(rig: ClusterRig, book: CallBook, settle: float = 20.0) -> Verdict:
    """Once every caller is gone: lost and twice-offered calls (Asterisk's events), records
    in PostgreSQL (waits up to `settle` s for the last batches to close them), queue_log."""
    with contextlib.suppress(AssertionError):
        await eventually(
            lambda: _all_closed(rig.database, book), within=settle, what="records closed"
        )
    finals = await rig.database.final_records()
    counts = rig.queue_log_counts()
    repeats: dict[str, list[str]] = {}
    for call_id in book.callers:
        events = [e for e in ONCE_EVENTS if counts[call_id, e] > 1]
        if sum(counts[call_id, e] for e in FINAL_EVENTS) != 1:
            events.append("final x" + str(sum(counts[call_id, e] for e in FINAL_EVENTS)))
        if events:
            repeats[call_id] = events
    return Verdict(
        lost=book.lost(),
        offered_twice=book.offered_twice(),
        duplicated_records=await rig.database.duplicated_records(),
        not_one_final_record={c: finals[c] for c in book.callers if finals[c] != 1},
        open_records=await rig.database.open_records(),
        queue_log_repeats=repeats,
    )


async def _all_closed(database: PgDatabase, book: CallBook) -> bool:
    finals = await database.final_records()
    return not await database.open_records() and all(finals[c] >= 1 for c in book.callers)


async def explain(rig: ClusterRig, book: CallBook, call_ids: set[str]) -> str:
    """Evidence for calls that went wrong: where they are in Asterisk, their trail, when their
    caller went, and every acting AMI action any node sent (with its text)."""
    lines = [f"in Asterisk now: {await rig.where_are(call_ids)}", f"lost: {book.lost()}"]
    for call_id in sorted(call_ids):
        ended = book.ended_at(book.callers[call_id].caller)
        lines.append(f"{call_id}: trail {book.trail(call_id)}, caller gone at {ended}")
    for node in rig.nodes:
        lines += [f"{node.node_id} {a.wall:.3f} {a.text}" for a in node.actions.sent if a.acts]
    return "\n".join(lines)

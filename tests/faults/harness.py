"""Process-level harness for fault tests: `acd serve` as a real subprocess on the real Asterisk
of the `asterisk` fixture, which the test may SIGKILL, SIGTERM and start again on the same
store, plus a probe (a second AMI login) that plays the callers and looks at Asterisk.

Only the stable outside of the ACD is used: the `acd` console script, its TOML configuration,
the HTTP API and the dialplan contract (acd-inbound, acd-sim-agent). Nothing is imported from
the controller's own packages, so the harness keeps working while they are restructured.

    controller = ControllerProcess(asterisk, tmp_path, queues=[queue("support")],
                                   agents=[sim_agent("2001")])
    await controller.start()                       # returns once /readyz is 200
    await controller.api("POST", "/agents/2001/login")
    probe = Probe(asterisk); await probe.start()
    caller = await probe.call("support", talk=30)
    await controller.kill(signal.SIGKILL)
    await controller.restart()                     # same config, same SQLite store
    calls = (await controller.api("GET", "/calls")).body

Faults beside the process: `AmiProxy` (a TCP relay between the controller and Asterisk's AMI
port that a test can sever and restore: the controller sees its AMI link drop without being
touched) and `restart_asterisk` (the fixture's own instance, stopped and started again on the
same ports). `ControllerProcess(ami_port=proxy.port)` points the controller at the proxy;
`TcpProxy` is the same relay to any TCP service (a Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json as jsonlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from watch import Watch, ami_probe, close_probe

from acd.asterisk.ports import LOOPBACK, free_port
from acd.asterisk.testing import RunningAsterisk

WAIT = 15.0
ADMIN_TOKEN = "faults-admin-token"
#: Paths served at the root without a token; everything else is under /api/v1.
ROOT_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json")
_serial = itertools.count(1)


# --- configuration -----------------------------------------------------------------------------


def queue(name: str, **options: Any) -> dict[str, Any]:
    """A queue document (contract shape) with test-friendly defaults: no skills needed, no
    wrap-up, 5 s ring timeout, no max wait (0 = none), no announcements, short abandon 0."""
    document: dict[str, Any] = {
        "name": name,
        "skills": {},
        "wrap_up": 0,
        "ring_timeout": 5,
        "max_wait": 0,
        "announce_every": 3600,
        "short_abandon": 0,
    }
    document.update(options)
    return document


def sim_agent(agent_id: str, **options: Any) -> dict[str, Any]:
    """A simulated agent: Asterisk answers for it in acd-sim-agent (`agent_id`: 2+ digits)."""
    document: dict[str, Any] = {
        "id": agent_id,
        "name": f"Sim {agent_id}",
        "contact": f"Local/{agent_id}@acd-sim-agent",
        "skills": {},
    }
    document.update(options)
    return document


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return jsonlib.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{jsonlib.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None
        )
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_table(header: str, values: Mapping[str, Any]) -> list[str]:
    lines = [header]
    lines += [f"{key} = {_toml_value(v)}" for key, v in values.items() if v is not None]
    return lines


@dataclass(frozen=True, slots=True)
class ApiReply:
    status: int
    body: Any  # parsed JSON, or the text when the body is not JSON


# --- the controller as a process ---------------------------------------------------------------


class ControllerProcess:
    """`acd serve --config <workdir>/acd.toml` as a subprocess on the fixture's Asterisk.

    The configuration (written at every start) names the Asterisk's AMI port and the FastAGI
    address its dialplan calls, a free HTTP port, an admin token and SQLite + queue_log under
    `<workdir>/var` (kept across restarts: a restart runs on the same store). Queues and
    agents seed the store at the first start only, as in production. stdout and stderr go to
    `<workdir>/acd-serve.log` (appended, one header line per start)."""

    def __init__(
        self,
        asterisk: RunningAsterisk,
        workdir: Path,
        *,
        queues: Sequence[Mapping[str, Any]] = (),
        agents: Sequence[Mapping[str, Any]] = (),
        token: str = ADMIN_TOKEN,
        env: Mapping[str, str] | None = None,
        http_port: int | None = None,
        source: Path | None = None,
        ami_port: int | None = None,
        agi_port: int | None = None,
        storage_url: str = "",
        sections: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.asterisk = asterisk
        #: Where the controller's AMI connects (an AmiProxy's port), default Asterisk's.
        self.ami_port = ami_port or asterisk.ami_port
        #: The FastAGI port it binds, default the one the instance's dialplan names (a cluster
        #: node's own port: the leader publishes it in GLOBAL(ACD_AGI)).
        self.agi_port = agi_port or asterisk.agi_port
        #: [storage] url: empty is SQLite under var/ (`database_path`), else e.g. PostgreSQL.
        self.storage_url = storage_url
        #: More TOML tables written as they are ({"cluster": {...}} → `[cluster]`).
        self.sections = {name: dict(values) for name, values in (sections or {}).items()}
        self.workdir = workdir
        self.queues = [dict(q) for q in queues] or [queue("support")]
        self.agents = [dict(a) for a in agents]
        self.token = token
        self.env = dict(env or {})
        #: Run the `acd` package of this source tree (e.g. an exported commit) instead of the
        #: installed one: `python -m acd` with PYTHONPATH=source.
        self.source = source
        self.http_port = http_port or free_port(
            socket.SOCK_STREAM, avoid={asterisk.agi_port, asterisk.ami_port}
        )
        self.config_path = workdir / "acd.toml"
        self.var_dir = workdir / "var"
        self.log_path = workdir / "acd-serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._started_at: float | None = None
        self._ready_after: float | None = None
        self._session: aiohttp.ClientSession | None = None

    # --- configuration and paths ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def database_path(self) -> Path:
        return self.var_dir / "acd.sqlite3"

    @property
    def queue_log_path(self) -> Path:
        return self.var_dir / "queue_log"

    def config_text(self) -> str:
        lines = [f"api_token = {_toml_value(self.token)}", ""]
        lines += _toml_table(
            "[ami]",
            {
                "host": self.asterisk.ami_host,
                "port": self.ami_port,
                "username": self.asterisk.ami_username,
                "secret": self.asterisk.ami_secret,
            },
        )
        lines += _toml_table(
            "[agi]",
            {
                "host": self.asterisk.agi_host,
                "port": self.agi_port,
                "secret": self.asterisk.agi_secret,
            },
        )
        lines += _toml_table("[http]", {"host": LOOPBACK, "port": self.http_port})
        lines += _toml_table("[storage]", {"url": self.storage_url, "var_dir": str(self.var_dir)})
        for name, values in self.sections.items():
            lines += _toml_table(f"[{name}]", values)
        for document in self.queues:
            lines += ["", *_toml_table("[[queues]]", document)]
        for document in self.agents:
            lines += ["", *_toml_table("[[agents]]", document)]
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        """The `acd` console script of this interpreter's environment (or `python -m acd`
        on `source`)."""
        script = Path(sys.executable).parent / "acd"
        if self.source is None and script.exists():
            return [str(script), "serve", "--config", str(self.config_path)]
        return [sys.executable, "-m", "acd", "serve", "--config", str(self.config_path)]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        """Start the process (do not wait for it); see `start`."""
        if self.running:
            raise RuntimeError(f"acd serve is already running (pid {self.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        # The test's own ACD_* variables must not leak into the controller's configuration.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source)
        env.update(self.env)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts} at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals from the test only
            )
        self._started_at = time.monotonic()
        self._ready_after = None

    async def start(self, within: float = 30.0) -> float:
        """Start and wait for /readyz 200; returns the seconds from spawn to ready."""
        self.spawn()
        return await self.wait_ready(within)

    async def wait_ready(self, within: float = 30.0) -> float:
        """Poll /readyz every 50 ms until 200 (start-up: nothing to wait on before the HTTP
        server listens). Raises with the log tail if the process exits or is not ready."""
        assert self._started_at is not None, "not started"
        deadline = time.monotonic() + within
        while True:
            if not self.running:
                code = None if self.process is None else self.process.returncode
                raise RuntimeError(f"acd serve exited ({code}):\n{self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                reply = await self.api("GET", "/readyz", within=2.0)
                if reply.status == 200:
                    self._ready_after = time.monotonic() - self._started_at
                    return self._ready_after
            if time.monotonic() > deadline:
                raise RuntimeError(f"acd serve not ready within {within} s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    def time_to_ready(self) -> float | None:
        """Seconds from the last spawn to its first /readyz 200 (None until then)."""
        return self._ready_after

    async def kill(self, sig: int = signal.SIGKILL, within: float = 20.0) -> int:
        """Send `sig` and wait for the process to exit; its exit status (negative: killed by
        that signal). A process still alive after `within` seconds is SIGKILLed."""
        process = self.process
        if process is None or process.poll() is not None:
            return 0 if process is None else process.returncode
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        deadline = time.monotonic() + within
        while process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                deadline = time.monotonic() + 5.0
            await asyncio.sleep(0.02)
        return process.returncode

    async def restart(self, sig: int | None = None, within: float = 30.0) -> float:
        """Stop a running process with `sig` (default SIGTERM) if it still runs, then start
        again on the same configuration and store; seconds from spawn to ready."""
        if self.running:
            await self.kill(signal.SIGTERM if sig is None else sig)
        return await self.start(within)

    async def close(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and the HTTP session."""
        try:
            await self.kill(signal.SIGTERM, within=10.0)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None

    # --- HTTP ----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        if not (path.startswith("/api/") or path.split("?")[0] in ROOT_PATHS):
            path = "/api/v1" + path
        return self.base_url + path

    async def api(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        token: str | None = None,
        within: float = WAIT,
    ) -> ApiReply:
        """One request: `path` under /api/v1 ('/calls') or a root path ('/readyz'); the admin
        token unless `token` is given ('' sends none)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self._session.request(
            method,
            self.url(path),
            json=json,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=within),
        ) as response:
            text = await response.text()
        try:
            body: Any = jsonlib.loads(text) if text else None
        except ValueError:
            body = text
        return ApiReply(response.status, body)

    async def login_all(self) -> None:
        for agent in self.agents:
            reply = await self.api("POST", f"/agents/{agent['id']}/login")
            if reply.status != 200:
                raise RuntimeError(f"login {agent['id']}: {reply.status} {reply.body}")

    async def live_calls(self) -> list[dict[str, Any]]:
        reply = await self.api("GET", "/calls")
        assert reply.status == 200, reply
        return list(reply.body)

    async def agent_states(self) -> dict[str, str]:
        reply = await self.api("GET", "/agents")
        assert reply.status == 200, reply
        return {a["id"]: a.get("state", "") for a in reply.body}

    async def agent_docs(self) -> dict[str, dict[str, Any]]:
        reply = await self.api("GET", "/agents")
        assert reply.status == 200, reply
        return {a["id"]: a for a in reply.body}

    async def call(self, call_id: str) -> dict[str, Any]:
        """GET /calls/{id}: the live call, or the finished call's stored record."""
        reply = await self.api("GET", f"/calls/{call_id}")
        assert reply.status == 200, (call_id, reply)
        return dict(reply.body)

    async def finished(self, call_id: str, within: float = WAIT) -> dict[str, Any]:
        """GET /calls/{id} every 0.1 s until the call is no longer live; its record."""
        deadline = time.monotonic() + within
        while True:
            body = await self.call(call_id)
            if not body.get("live"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"call {call_id} still live after {within} s: {body}")
            await asyncio.sleep(0.1)

    def queue_log(self) -> list[list[str]]:
        """The queue_log lines written so far, split at `|`."""
        try:
            text = self.queue_log_path.read_text()
        except OSError:
            return []
        return [line.split("|") for line in text.splitlines() if line]

    def queue_log_events(self, call_id: str) -> list[str]:
        """The queue_log events (ENTERQUEUE, CONNECT, ...) of one call, in order."""
        return [fields[4] for fields in self.queue_log() if fields[1] == call_id]

    def database_rows(self, query: str) -> list[tuple[Any, ...]]:
        """Read the SQLite store directly (a test's look behind the API)."""
        with contextlib.closing(sqlite3.connect(self.database_path)) as conn:
            return list(conn.execute(query))


async def eventually(
    check: Callable[[], Any], within: float = WAIT, every: float = 0.1, what: str = ""
) -> Any:
    """Call `check` (sync or async) until it returns something truthy; that value."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what or check}")
        await asyncio.sleep(every)


# --- faults beside the controller --------------------------------------------------------------


class TcpProxy:
    """A TCP relay from a free loopback port to `host:port`. `cut()` closes every relayed
    connection (both directions) and refuses new ones (the client sees its link drop, its
    process untouched); `restore()` accepts again on the same port. `tap(connection,
    direction, data)`, when given, sees every chunk relayed: the connection's serial (1, 2,
    ...), "up" (client to server) or "down" (the replies), the bytes."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        avoid: set[int] | None = None,
        tap: Callable[[int, str, bytes], None] | None = None,
    ) -> None:
        self.target_host = host
        self.target_port = port
        self.port = free_port(socket.SOCK_STREAM, avoid={port, *(avoid or set())})
        self.tap = tap
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections accepted since the start (a reconnect counts again).
        self.connections = 0

    @property
    def is_cut(self) -> bool:
        return self._server is None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, LOOPBACK, self.port)

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.cut()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        serial = self.connections
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer, serial, "up")),
            asyncio.ensure_future(self._pump(up_reader, writer, serial, "down")),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)
            for side in (writer, up_writer):
                side.close()
                self._writers.discard(side)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        serial: int,
        direction: str,
    ) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await source.read(65536):
                if self.tap is not None:
                    self.tap(serial, direction, data)
                sink.write(data)
                await sink.drain()


class AmiProxy(TcpProxy):
    """A TcpProxy to Asterisk's AMI: `ControllerProcess(ami_port=proxy.port)`."""

    def __init__(
        self, asterisk: RunningAsterisk, tap: Callable[[int, str, bytes], None] | None = None
    ) -> None:
        super().__init__(
            asterisk.ami_host,
            asterisk.ami_port,
            avoid={asterisk.agi_port, asterisk.sip_port},
            tap=tap,
        )
        self.asterisk = asterisk


async def restart_asterisk(asterisk: RunningAsterisk, *, crash: bool = False) -> float:
    """Stop the fixture's Asterisk and start it again on the same ports and configuration;
    seconds it was away. `crash`: SIGKILL (no event tells anyone anything), else a clean
    `core stop now` (every channel is hung up first, with its events)."""
    started = time.monotonic()
    instance = asterisk.instance
    pid = instance.pid()
    if crash and pid is not None:
        os.kill(pid, signal.SIGKILL)
        # Reap it through the Popen that started it (the instance keeps it privately), or
        # that Popen warns "still running" when it is dropped.
        process: subprocess.Popen[bytes] | None = getattr(instance, "_process", None)
        if process is not None:
            await asyncio.to_thread(process.wait, 10)
        await eventually(lambda: not instance.is_running(), within=10, what="Asterisk killed")
    await asyncio.to_thread(instance.stop)
    await asyncio.to_thread(instance.start)
    return time.monotonic() - started


# --- the probe: callers and a look at Asterisk -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    """A caller originated as Local/<queue>@acd-inbound/n: its ;1 half (the far end, where a
    hang-up is the caller hanging up) has the uniqueid `leg`; the ;2 half runs the dialplan
    and its uniqueid (`<leg>;2`) is the ACD's call id."""

    leg: str
    queue: str

    @property
    def call_id(self) -> str:
        return f"{self.leg};2"


def headers_of(message: Any) -> dict[str, Any]:
    """An AMI message as a plain dict; repeated headers (ChanVariable) stay lists."""
    return {str(k): v for k, v in dict(message).items()}


def chan_variables(message: Mapping[str, Any]) -> dict[str, str]:
    """The `ChanVariable: NAME=value` headers of an event (one or many) as a dict."""
    raw = message.get("ChanVariable")
    if raw is None:
        return {}
    values = raw if isinstance(raw, list) else [raw]
    pairs = (str(v).partition("=") for v in values)
    return {name: value for name, _, value in pairs}


class Probe:
    """A second AMI login (not the controller's): originates simulated callers, lists and
    hangs up channels, reads variables. `events` holds every call/system event it saw."""

    def __init__(self, asterisk: RunningAsterisk, events: str = "call,system") -> None:
        self.asterisk = asterisk
        self.event_classes = events
        self.events = Watch()
        self.manager: Any = None
        self.callers: list[Caller] = []

    async def start(self) -> None:
        self.manager = await ami_probe(self.asterisk, self.events, self.event_classes)

    async def close(self, hangup: bool = True) -> None:
        if self.manager is None:
            return
        try:
            if hangup:
                await self.hangup_all()
        finally:
            close_probe(self.manager)
            self.manager = None

    async def action(self, **headers: Any) -> Any:
        """One action; its response (a list for Originate and event-list actions)."""
        headers.setdefault("Async", "false")
        return await asyncio.wait_for(self.manager.send_action(headers), WAIT)

    async def listing(self, **headers: Any) -> list[dict[str, Any]]:
        """An action answered by an event list: its events (without the response and the
        closing *Complete event)."""
        result = await asyncio.wait_for(self.manager.send_action(headers, as_list=True), WAIT)
        messages = result if isinstance(result, list) else [result]
        return [
            headers_of(m)
            for m in messages
            if "Event" in m and not str(m["Event"]).endswith("Complete")
        ]

    # --- callers -------------------------------------------------------------------------------

    async def call(
        self,
        queue: str,
        *,
        talk: float = 5,
        ring: float = 0,
        hold: int = 300,
        variables: Mapping[str, str] | None = None,
        moh: str = "silent",
    ) -> Caller:
        """Originate a simulated caller into acd-inbound,<queue>. The agent it reaches talks
        `talk` s after ringing `ring` s (`__ACD_SIM_TALK`/`__ACD_SIM_RING`); the far end
        stays `hold` s (Wait) unless hung up."""
        caller = Caller(f"fault-{os.getpid()}-{next(_serial)}", queue)
        values = {
            "__ACD_SIM_TALK": str(talk),
            "__ACD_SIM_RING": str(ring),
            "__ACD_SIM_MOH": moh,
            "ACD_MOH": moh,
            **(variables or {}),
        }
        response = await self.action(
            Action="Originate",
            Channel=f"Local/{queue}@acd-inbound/n",
            Application="Wait",
            Data=str(hold),
            Async="true",
            ChannelId=caller.leg,
            Variable=[f"{k}={v}" for k, v in values.items()],
        )
        first = response[0] if isinstance(response, list) else response
        assert first.get("Response") == "Success", response
        self.callers.append(caller)
        return caller

    async def channel_name(self, uniqueid: str, within: float = WAIT) -> str:
        event = await self.events.first(
            lambda m: m.get("Event") == "Newchannel" and m.get("Uniqueid") == uniqueid, within
        )
        return str(event["Channel"])

    async def hangup_caller(self, caller: Caller) -> None:
        """The caller hangs up (its far end, the ;1 half, goes away)."""
        await self.hangup(await self.channel_name(caller.leg))

    async def gone(self, uniqueid: str, within: float = WAIT) -> dict[str, Any]:
        """The Hangup event of a channel (waits for it)."""
        event = await self.events.first(
            lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == uniqueid, within
        )
        return headers_of(event)

    # --- looking at Asterisk -------------------------------------------------------------------

    async def channels(self) -> list[dict[str, Any]]:
        """CoreShowChannels: one dict per live channel (Channel, Uniqueid, Context, Exten,
        Priority, ChannelStateDesc, Application, ApplicationData, BridgeId, Linkedid, ...;
        `ChanVariable` when manager.conf names channelvars)."""
        return await self.listing(Action="CoreShowChannels")

    async def status(
        self, channel: str | None = None, variables: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """The Status action: one Status event per channel (or the one named)."""
        headers: dict[str, Any] = {"Action": "Status"}
        if channel:
            headers["Channel"] = channel
        if variables:
            headers["Variables"] = ",".join(variables)
        return await self.listing(**headers)

    async def getvar(self, channel: str, name: str) -> str:
        response = await self.action(Action="Getvar", Channel=channel, Variable=name)
        return str(headers_of(response).get("Value", ""))

    async def hangup(self, channel: str) -> None:
        await self.action(Action="Hangup", Channel=channel)

    async def hangup_all(self) -> int:
        """Hang up every live channel of the instance; how many there were."""
        names = [str(c["Channel"]) for c in await self.channels()]
        for name in names:
            with contextlib.suppress(Exception):
                await self.hangup(name)
        return len(names)

    async def wait_channels(
        self, predicate: Callable[[list[dict[str, Any]]], bool], within: float = WAIT
    ) -> list[dict[str, Any]]:
        """Poll CoreShowChannels (every 0.1 s) until `predicate(channels)` holds."""
        deadline = time.monotonic() + within
        while True:
            listing = await self.channels()
            if predicate(listing):
                return listing
            if time.monotonic() > deadline:
                summary = [(c.get("Channel"), c.get("Application")) for c in listing]
                raise AssertionError(f"channels never matched within {within} s: {summary}")
            await asyncio.sleep(0.1)


def dialplan_halves(channels: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The ;2 halves of Local channels that entered through acd-inbound (callers' dialplan
    sides), whatever state they are in now."""
    return [
        c
        for c in channels
        if str(c.get("Channel", "")).startswith("Local/")
        and str(c.get("Channel", "")).endswith(";2")
        and "@acd-inbound" in str(c.get("Channel", ""))
    ]


def classify(channel: Mapping[str, Any]) -> str:
    """What a caller's ;2 half is doing, from its CoreShowChannel: `connected` (in a bridge),
    `ringing` (Dial in acd-deliver), `waiting` (acd-wait), `entering` (acd-queue/acd-inbound),
    or `other`. See FINDINGS.md."""
    application = str(channel.get("Application", ""))
    context = str(channel.get("Context", ""))
    if channel.get("BridgeId"):
        return "connected"
    if application == "Dial" or context == "acd-deliver":
        return "ringing"
    if context == "acd-wait":
        return "waiting"
    if context in ("acd-queue", "acd-inbound"):
        return "entering"
    return "other"


def in_state(call_id: str, wanted: str) -> Callable[[list[dict[str, Any]]], bool]:
    """A `Probe.wait_channels` predicate: call `call_id`'s ;2 half is `wanted` (`classify`)."""

    def check(channels: list[dict[str, Any]]) -> bool:
        return any(
            c.get("Uniqueid") == call_id and classify(c) == wanted
            for c in dialplan_halves(channels)
        )

    return check

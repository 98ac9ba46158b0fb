"""The FastAGI listener: one connection per AGI() call in the dialplan.

Only Asterisk drives the controller. Before any route runs, a request must pass two checks:

- **the key**: the controller asks the connecting side for `GLOBAL(ACD_AGI_KEY)` (one `GET
  VARIABLE`), which the real dialplan holds (extensions.conf `[globals]`, rendered from the
  instance's `secrets/agi.secret`), and compares it with its own `[agi]` secret in constant
  time. Asked for rather than passed in the AGI URL or arguments: res_agi logs the whole URL
  when a connection fails (the dialplan retries every few seconds while the controller is
  down), and the arguments appear in Status listings, CDRs and verbose logs;
- **the channel**: `agi_uniqueid` and `agi_channel` must be a live channel as AMI reported it
  (`check`, acd.controller.live_channels). While AMI is down nothing can tell: then only the
  routes in `unverified_ok` run, on the key alone (`enter` and `announce`: a call they
  register is settled against Asterisk's channel listing at the next resync, before the
  controller is ready again, and dropped if its channel does not exist), so callers keep
  entering through an AMI outage; agent feature codes and callbacks, whose effects no resync
  undoes, are refused until AMI is back.

A request that fails either is logged and its connection closed without an answer: to the
dialplan it looks like no controller (AGISTATUS=SUCCESS but nothing set), so a real caller on
a misconfigured key keeps waiting in the no-controller loop instead of being sent away.

Exhaustion: at most `max_connections` are open at once. Asterisk sends its environment and the
key answer within a millisecond, so a connection still waiting for either past a moment is
nobody's call: when a new connection finds the cap reached, the oldest connection still before
its key check is closed to make room (a flood of idle connections only displaces itself);
if every open connection is past the check, the new one is closed at once. Both are counted
(`on_refused("busy")`); to the dialplan a closed connection is the no-controller loop (retry
in ACD_RETRY_EVERY seconds). A request past its checks has ROUTE_TIMEOUT to finish, so not
even a key holder that stops answering keeps its place.

The port is bound by `bind()` when the controller starts, before it can serve (`start()`
after the first resync): a port taken by another process fails the start at once (OSError)
instead of after the AMI login, and no other user can take it meanwhile. Connections before
`start()` are closed at once (the no-controller loop, as when nothing listens).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from panoramisk.fast_agi import Request

from agi.channel import AgiChannel, AgiRequest

log = logging.getLogger(__name__)

#: Seconds Asterisk gets to send the AGI environment after connecting (it sends it at once:
#: well under a millisecond on loopback, tests/controller/test_agi_trust.py prints it).
HEADER_TIMEOUT = 2.0
#: Seconds the connecting side gets to answer the key request (likewise under a millisecond).
KEY_TIMEOUT = 2.0
#: Seconds a route may take once the request passed its checks: a few AGI round trips and one
#: engine step, milliseconds; past it the peer has stopped answering and would hold its place
#: under the cap for ever.
ROUTE_TIMEOUT = 10.0
#: Default cap on open FastAGI connections ([agi] max_connections; see AgiSettings).
MAX_CONNECTIONS = 256
#: Seconds between two warnings of one kind about connections closed early.
NOTE_EVERY = 5.0
#: What the controller asks for: the global, never a channel variable that could shadow it.
KEY_VARIABLE = "GLOBAL(ACD_AGI_KEY)"

Route = Callable[[AgiRequest], Awaitable[None]]


class LiveCheck(Protocol):
    async def is_live(self, uniqueid: str, channel: str) -> bool | None:
        """Whether Asterisk has this channel (uniqueid and name) live; None: cannot tell
        now (AMI down)."""
        ...


class FastAgiServer:
    def __init__(
        self,
        routes: Mapping[str, Route],
        host: str,
        port: int,
        *,
        secret: str,
        check: LiveCheck,
        unverified_ok: frozenset[str] = frozenset({"enter", "announce"}),
        max_connections: int = MAX_CONNECTIONS,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        """`gate`: asked as each connection arrives; False closes it unanswered (a cluster
        node that lost its lease: Asterisk's dialplan retries, by then at the new leader)."""
        if not secret:
            raise ValueError("the FastAGI server needs the key the dialplan passes")
        self.routes = routes
        self.host = host
        self.port = port
        self._secret = secret.encode()
        self.check = check
        self.unverified_ok = unverified_ok
        #: Requests refused by the key or the live-channel check.
        self.refused = 0
        #: Told each refusal's reason: no_key, wrong_key or not_live (the metrics).
        self.on_refused: Callable[[str], None] | None = None
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._serving = False
        #: Open connections still before their key check, oldest first (evicted first).
        self._unchecked: dict[asyncio.StreamWriter, None] = {}
        self._checked = 0
        self._notes: dict[str, tuple[float, int]] = {}
        self._gate = gate

    async def bind(self) -> None:
        """Take the port now (OSError if another process has it); serve only after `start`."""
        if self._server is not None:
            return
        try:
            # Never SO_REUSEPORT: the port must be this process's alone.
            self._server = await asyncio.start_server(self.serve, self.host, self.port)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"FastAGI port {self.host}:{self.port} ([agi] host/port) is taken by another "
                f"process ({exc.strerror}): whoever listens there talks to the callers' channels "
                "(see the Security section of the README); stop it or choose another port",
            ) from None
        log.info(
            "FastAGI port %s:%s bound (max %d connections)",
            self.host,
            self.port,
            self.max_connections,
        )

    async def start(self) -> None:
        await self.bind()
        self._serving = True
        log.info("FastAGI listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One FastAGI connection (the `asyncio.start_server` callback).

        Reads the AGI environment itself rather than through panoramisk's
        `Application.handler`, which loops forever on a connection closed before the blank
        line (a port scan would spin the controller); then runs the route with panoramisk's
        `Request` for the commands.
        """
        if not self._serving or (self._gate is not None and not self._gate()):
            writer.close()
            return
        if not self._admit(writer):
            return
        try:
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), HEADER_TIMEOUT)
            except (
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
                ConnectionError,
            ) as exc:
                if writer in self._unchecked:  # not displaced: its own doing
                    self._note(
                        "environment", f"a connection without a complete environment ({exc!r})"
                    )
                return
            headers = dict(
                line.split(": ", 1)
                for line in raw.decode("utf-8", "replace").splitlines()
                if ": " in line
            )
            script = headers.get("agi_network_script", "")
            route = self.routes.get(script)
            if route is None:
                log.warning("FastAGI request for unknown route %r", script[:80])
                return
            request = Request(None, headers, reader, writer)
            refusal = await self._refusal(request, script)
            if writer not in self._unchecked:  # displaced while it waited for its key
                return
            del self._unchecked[writer]
            self._checked += 1
            if refusal is not None:
                reason, detail = refusal
                self.refused += 1
                log.warning(
                    "FastAGI %r refused for %r (uniqueid %r): %s",
                    script,
                    headers.get("agi_channel", "")[:80],
                    headers.get("agi_uniqueid", "")[:80],
                    detail,
                )
                if self.on_refused is not None:
                    self.on_refused(reason)
                return
            routed: Any = request if self._gate is None else _Gated(request, self._gate)
            try:
                async with asyncio.timeout(ROUTE_TIMEOUT):
                    await route(routed)
            except TimeoutError:
                self._note("route", f"route {script!r} not done within {ROUTE_TIMEOUT} s: closed")
            except Exception:
                log.exception("FastAGI route %r failed", script)
            finally:
                self._checked -= 1
        finally:
            self._unchecked.pop(writer, None)
            writer.close()

    def _admit(self, writer: asyncio.StreamWriter) -> bool:
        """Make room for a new connection under the cap (module docstring); False: closed."""
        if len(self._unchecked) + self._checked >= self.max_connections:
            if not self._unchecked:
                writer.close()
                self._busy("a new connection")
                return False
            oldest = next(iter(self._unchecked))
            del self._unchecked[oldest]
            oldest.close()  # its pending read ends; its serve() returns without a word
            self._busy("the oldest connection still without its key")
        self._unchecked[writer] = None
        return True

    def _busy(self, which: str) -> None:
        self.refused += 1
        self._note("busy", f"at its cap of {self.max_connections} connections: {which} closed")
        if self.on_refused is not None:
            self.on_refused("busy")

    def _note(self, kind: str, message: str) -> None:
        """A warning at most every NOTE_EVERY seconds per kind (a flood must not flood the
        log), with how many like it were not logged."""
        now = time.monotonic()
        last, skipped = self._notes.get(kind, (-NOTE_EVERY, 0))
        if now - last < NOTE_EVERY:
            self._notes[kind] = (last, skipped + 1)
            return
        more = f" (and {skipped} more like it)" if skipped else ""
        log.warning("FastAGI: %s%s", message, more)
        self._notes[kind] = (now, 0)

    async def _refusal(self, request: AgiRequest, script: str) -> tuple[str, str] | None:
        """Why this request is not Asterisk's (reason, detail), or None (module docstring)."""
        channel = AgiChannel(request)
        try:
            async with asyncio.timeout(KEY_TIMEOUT):
                key = await channel.get(KEY_VARIABLE)
        except TimeoutError:
            return "no_key", "no answer to the key request"
        except Exception as exc:  # hung up, connection reset, garbage: not Asterisk's answer
            return "no_key", f"no key ({type(exc).__name__})"
        if not key:
            return "no_key", "no key"
        if not hmac.compare_digest(key.encode(), self._secret):
            return "wrong_key", "wrong key"
        live = await self.check.is_live(channel.uniqueid, channel.name)
        if live is None and script in self.unverified_ok:
            log.info(
                "FastAGI %r for %r served unverified: AMI is down (the resync settles it)",
                script,
                channel.name[:80],
            )
            return None
        if not live:
            return "not_live", "not a live channel" if live is False else "AMI down"
        return None


class _Gated:
    """A request whose every command asks the gate first: a node that lost the lease while a
    route ran writes nothing more on the channel (no ACD_AGENT: no offer). The refusal looks
    like a hang-up to the route, which then stops; the connection closes unanswered and the
    dialplan retries at the leader."""

    def __init__(self, request: Any, gate: Callable[[], bool]) -> None:
        self._request = request
        self._gate = gate
        self.headers = request.headers

    async def send_command(self, command: str) -> dict[str, Any]:
        if not self._gate():
            log.info("AGI %r not sent: this node no longer leads", command.split(" ", 1)[0])
            return {"error": "AGIResultHangup", "msg": "this node no longer leads"}
        result: dict[str, Any] = await self._request.send_command(command)
        return result

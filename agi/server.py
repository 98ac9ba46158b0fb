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
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from panoramisk.fast_agi import Request

from agi.channel import AgiChannel, AgiRequest

log = logging.getLogger(__name__)

#: Seconds Asterisk gets to send the AGI environment after connecting.
HEADER_TIMEOUT = 10.0
#: Seconds the connecting side gets to answer the key request.
KEY_TIMEOUT = 5.0
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
    ) -> None:
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
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self.serve, self.host, self.port)
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
        try:
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), HEADER_TIMEOUT)
            except (
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
                ConnectionError,
            ) as exc:
                log.warning("FastAGI connection without a complete environment: %r", exc)
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
            try:
                await route(request)
            except Exception:
                log.exception("FastAGI route %r failed", script)
        finally:
            writer.close()

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

"""The FastAGI listener: one connection per AGI() call in the dialplan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from panoramisk.fast_agi import Request

from agi.channel import AgiRequest

log = logging.getLogger(__name__)

#: Seconds Asterisk gets to send the AGI environment after connecting.
HEADER_TIMEOUT = 10.0

Route = Callable[[AgiRequest], Awaitable[None]]


class FastAgiServer:
    def __init__(self, routes: Mapping[str, Route], host: str, port: int) -> None:
        self.routes = routes
        self.host = host
        self.port = port
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
                log.warning("FastAGI request for unknown route %r", script)
                return
            try:
                await route(Request(None, headers, reader, writer))
            except Exception:
                log.exception("FastAGI route %r failed", script)
        finally:
            writer.close()

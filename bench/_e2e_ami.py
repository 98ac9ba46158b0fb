"""A minimal AMI client for the end-to-end benchmark's load generator and event log.

The benchmark shares two cores with Asterisk and the controller it measures, so its own AMI
link is lean: one asyncio stream, no reconnects, actions matched by ActionID, and events
passed straight to one callback as plain dicts (the benchmark keeps only a few kinds and asks
Asterisk to filter the rest out before they are sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping, Sequence

Message = dict[str, str]


class AmiClient:
    def __init__(self, on_event: Callable[[Message], None]) -> None:
        self._on_event = on_event
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None

    async def connect(
        self, host: str, port: int, username: str, secret: str, events: str = "call,agent"
    ) -> None:
        self._reader, self._writer = await asyncio.open_connection(host, port)
        await self._reader.readline()  # "Asterisk Call Manager/x.y.z"
        self._task = asyncio.create_task(self._read(), name="bench-ami-reader")
        response = await self.action(
            {"Action": "Login", "Username": username, "Secret": secret, "Events": events}
        )
        if response.get("Response") != "Success":
            raise RuntimeError(f"AMI login failed: {response.get('Message')}")

    async def add_filters(self, patterns: Sequence[str]) -> None:
        """Whitelist filters: Asterisk sends only events matching one of `patterns`."""
        for pattern in patterns:
            response = await self.action(
                {"Action": "Filter", "Operation": "Add", "Filter": pattern}
            )
            if response.get("Response") != "Success":
                raise RuntimeError(f"AMI filter {pattern!r}: {response.get('Message')}")

    def send(self, headers: Mapping[str, str | Sequence[str]]) -> asyncio.Future[Message]:
        """Write one action now; the future resolves to its response."""
        assert self._writer is not None
        action_id = f"b{next(self._ids)}"
        lines = [f"ActionID: {action_id}"]
        for key, value in headers.items():
            if isinstance(value, str):
                lines.append(f"{key}: {value}")
            else:
                lines.extend(f"{key}: {item}" for item in value)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return future

    async def action(self, headers: Mapping[str, str | Sequence[str]]) -> Message:
        return await asyncio.wait_for(self.send(headers), 10.0)

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(TimeoutError, OSError, ConnectionError):
                await asyncio.wait_for(self.action({"Action": "Logoff"}), 2.0)
            self._writer.close()
            self._writer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _read(self) -> None:
        assert self._reader is not None
        message: Message = {}
        while True:
            raw = await self._reader.readline()
            if not raw:
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(ConnectionError("AMI connection closed"))
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition(": ")
                message.setdefault(key, value)
                continue
            if not message:
                continue
            if "Event" in message:
                self._on_event(message)
            else:
                future = self._pending.pop(message.get("ActionID", ""), None)
                if future is not None and not future.done():
                    future.set_result(message)
            message = {}

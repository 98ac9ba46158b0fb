"""Things seen so far (steps, AMI events), and waiting for the first one that matches: the
one way every real-Asterisk test waits for something, with a deadline and no polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from panoramisk import Manager

from acd.asterisk.testing import RunningAsterisk

WAIT = 15.0


class Watch:
    """Things seen so far, and waiting for the first (or next) one that matches."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self._waiters: list[tuple[Callable[[Any], bool], asyncio.Future[Any]]] = []

    def add(self, item: Any) -> None:
        self.seen.append(item)
        for waiter in list(self._waiters):
            predicate, future = waiter
            if not future.done() and predicate(item):
                future.set_result(item)
                self._waiters.remove(waiter)

    async def first(
        self, predicate: Callable[[Any], bool], within: float = WAIT, since: int = 0
    ) -> Any:
        for item in self.seen[since:]:
            if predicate(item):
                return item
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            raise AssertionError(f"nothing matched within {within} s") from None

    def mark(self) -> int:
        return len(self.seen)


async def ami_probe(asterisk: RunningAsterisk, events: Watch, classes: str = "call,system") -> Any:
    """A second AMI login of a test (not the controller's): every event it reads goes into
    `events`. Returns the logged-in panoramisk Manager; close it with `close_probe`."""
    logged_in: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=asterisk.ami_host,
        port=asterisk.ami_port,
        username=asterisk.observer_username,
        secret=asterisk.observer_secret,
        events=classes,
        on_login=lambda _m: None if logged_in.done() else logged_in.set_result(None),
    )
    manager.register_event("*", lambda _m, message: events.add(message))
    manager.connect()
    await asyncio.wait_for(logged_in, WAIT)
    return manager


def close_probe(manager: Any) -> None:
    manager.connect = lambda *a, **k: None  # no reconnect on close
    manager.close()

"""AMI sessions for the Asterisk tests (panoramisk, logged in as the `acd` user)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from panoramisk import Manager

from acd.asterisk.testing import RunningAsterisk

Predicate = Callable[[Any], bool]


class AmiSession:
    """Every event received since login, in order, with a way to wait for a matching one."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        manager.register_event("*", self._on_event)

    def _on_event(self, manager: Manager, event: Any) -> None:
        self.events.put_nowait(event)

    async def wait_for(self, predicate: Predicate, within: float = 10.0) -> Any:
        """The first event (not yet consumed) matching `predicate`; earlier ones are dropped."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if predicate(event):
                    return event

    async def action(self, **fields: str) -> Any:
        return await self.manager.send_action(fields)


async def login(
    running: RunningAsterisk,
    secret: str | None = None,
    *,
    as_controller: bool = False,
    events: str = "on",
) -> Manager:
    """Connect and wait for the login outcome (connect() returns before login);
    `manager.authenticated` tells whether Asterisk accepted the credentials. A test's session
    is the observer's (unfiltered); `as_controller` logs in as the controller's `acd` user."""
    username = running.ami_username if as_controller else running.observer_username
    default_secret = running.ami_secret if as_controller else running.observer_secret
    outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def settle(login_response: asyncio.Future[Any]) -> None:
        accepted = not login_response.exception() and bool(login_response.result().success)
        if not outcome.done():
            outcome.set_result(accepted)

    def on_connect(manager: Manager) -> None:
        # connection_made has sent the Login action by the time this callback runs.
        manager.authenticated_future.add_done_callback(settle)

    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=running.ami_host,
        port=running.ami_port,
        username=username,
        secret=default_secret if secret is None else secret,
        events=events,
        on_connect=on_connect,
    )
    manager.connect()
    async with asyncio.timeout(10):
        await outcome
    return manager

"""The one place the router runs: a single ingress queue, a single consumer task.

AMI callbacks, FastAGI handlers and API requests all `submit` events here; the consumer stamps
each with the clock, feeds it to the router, and hands the resulting step to every listener
(effects, records, metrics, event stream) in order. Ticks are sent exactly when the router's
next deadline falls due, so nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from acd.router.decisions import Decision
from acd.router.events import Event, Tick
from acd.router.router import Router

log = logging.getLogger(__name__)

EventFactory = Callable[[float], Event]
"""Builds the event from the moment it is processed (`lambda now: AgentLoggedIn(now, "1001")`)."""


@dataclass(frozen=True, slots=True)
class Step:
    event: Event
    decisions: Sequence[Decision]


class Listener(Protocol):
    def on_step(self, step: Step) -> None:
        """Called in event order on the engine task. Must not block; may raise (logged)."""


class Engine:
    def __init__(self, router: Router, clock: Callable[[], float] = time.time) -> None:
        self.router = router
        self._clock = clock
        self._listeners: list[Listener] = []
        self._ingress: asyncio.Queue[tuple[EventFactory, asyncio.Future[list[Decision]] | None]]
        self._ingress = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def now(self) -> float:
        return self._clock()

    def post(self, factory: EventFactory) -> None:
        """Queue an event without waiting for its decisions (safe from any callback)."""
        self._ingress.put_nowait((factory, None))

    def submit(self, factory: EventFactory) -> asyncio.Future[list[Decision]]:
        """Queue an event; the future resolves to the decisions it produced."""
        future: asyncio.Future[list[Decision]] = asyncio.get_running_loop().create_future()
        self._ingress.put_nowait((factory, future))
        return future

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="acd-engine")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            deadline = self.router.next_deadline()
            try:
                if deadline is None:
                    item = await self._ingress.get()
                else:
                    delay = deadline - self._clock()
                    if delay <= 0:
                        raise TimeoutError
                    # asyncio.timeout, not wait_for: on 3.11 wait_for returns the item and
                    # drops a cancel that lands as the item arrives, and stop() then waits
                    # for a loop that never ends.
                    async with asyncio.timeout(delay):
                        item = await self._ingress.get()
            except TimeoutError:
                self._step(Tick(self._clock()), None)
                continue
            factory, future = item
            try:
                event = factory(self._clock())
            except Exception as exc:  # a bad factory must not stop routing
                log.exception("event factory failed")
                if future is not None and not future.done():
                    future.set_exception(exc)
                continue
            self._step(event, future)

    def _step(self, event: Event, future: asyncio.Future[list[Decision]] | None) -> None:
        try:
            decisions = self.router.handle(event)
        except Exception as exc:
            log.exception("router failed on %r", event)
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        step = Step(event, decisions)
        for listener in self._listeners:
            try:
                listener.on_step(step)
            except Exception:
                log.exception("listener %r failed on %r", listener, event)
        if future is not None and not future.done():
            future.set_result(decisions)
